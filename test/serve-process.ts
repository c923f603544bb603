// A real `fairy2i-wasm serve` process for the server suites: spawned on 127.0.0.1 with port 0 and
// the bundled model, found ready by its start line, its request log collected, and always ended
// (SIGINT, then SIGKILL after a bounded wait).
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export interface ServeProcess {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Every stdout line so far (the start line, then one per request). */
  lines: string[];
  stderr: () => string;
  /** SIGINT, then the exit code (SIGKILL after `ms`). */
  stop(ms?: number): Promise<number | null>;
}

export const MODEL = 'models/default.gguf';

export function startServe(args: string[] = [], env: Record<string, string> = {}): Promise<ServeProcess> {
  const proc = spawn(process.execPath, ['bin/fairy2i-wasm.js', 'serve', '-m', MODEL, '--port', '0', '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  let err = '';
  let partial = '';
  proc.stderr!.on('data', (d) => { err += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const stop = async (ms = 10_000) => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
    const t = setTimeout(() => proc.kill('SIGKILL'), ms);
    const code = await exited;
    clearTimeout(t);
    return code;
  };
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { void stop(100); reject(new Error(`serve did not start in 30 s: ${err}`)); }, 30_000);
    proc.stdout!.on('data', (d) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const m = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(line);
        if (m) { clearTimeout(t); resolve({ url: m[1], port: Number(m[2]), proc, lines, stderr: () => err, stop }); }
      }
    });
    void exited.then((code) => { clearTimeout(t); reject(new Error(`serve exited with ${code} before it was ready: ${err}`)); });
  });
}

/** Waits until `pred` holds, polling every 20 ms, failing after `ms`. */
export async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A raw TCP connection to the server, for requests no HTTP client would send. */
export function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Everything the socket receives until it closes (or `ms` passes, then it is destroyed). */
export function readUntilClose(s: Socket, ms: number): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve) => {
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('error', () => {});
    const t = setTimeout(() => { s.destroy(); resolve({ data, closed: false }); }, ms);
    s.once('close', () => { clearTimeout(t); resolve({ data, closed: true }); });
  });
}

export async function health(url: string): Promise<any> {
  return (await fetch(url + 'health')).json();
}
