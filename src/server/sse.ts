// Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, then `data: [DONE]\n\n`.
// The body pulls one event at a time from the generator, so a slow reader holds generation back
// instead of piling chunks up in memory; a reader that goes away (the client disconnected) cancels
// the body, which calls `onCancel` (abort the generation) and ends the generator.

const enc = new TextEncoder();

export function sseResponse(events: AsyncGenerator<unknown, void>, onCancel: () => void, headers: Record<string, string> = {}): Response {
  let finished = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const r = await events.next();
        if (r.done) {
          finished = true;
          controller.enqueue(enc.encode('data: [DONE]\n\n'));
          controller.close();
        } else {
          controller.enqueue(enc.encode(`data: ${JSON.stringify(r.value)}\n\n`));
        }
      } catch (e) {
        // Headers are sent already: report in-band as OpenAI does, then end the stream.
        finished = true;
        const message = e instanceof Error ? e.message : String(e);
        controller.enqueue(enc.encode(`data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code: null } })}\n\n`));
        controller.close();
      }
    },
    async cancel() {
      if (finished) return;
      finished = true;
      onCancel();
      await events.return();
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers },
  });
}
