// Worker threads for the Node entry (Node, Deno and Bun): node:worker_threads, which all three
// implement. Unlike their Web Workers, an unreferenced one does not keep the process alive, and Deno
// can terminate one that is blocked in Atomics.wait. The worker's code is a string run with
// { eval: true }, so it works the same from src/ (tsx) and from the bundles.

import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { NODE_WORKER_SOURCE, type ThreadPlatform, type WorkerMessage } from '../threads.js';

export const nodeThreads: ThreadPlatform = {
  cores: () => (typeof availableParallelism === 'function' ? availableParallelism() : cpus().length),
  unavailable: () => (typeof SharedArrayBuffer === 'undefined' ? 'SharedArrayBuffer is not available' : null),
  spawn(init, onMessage) {
    const w = new Worker(NODE_WORKER_SOURCE, { eval: true });
    // Referenced until it has started (load awaits that); then unreferenced, so that a model that is
    // never disposed does not keep the process alive. Listeners re-reference a worker, so unref()
    // comes after them.
    w.on('message', (m: WorkerMessage) => {
      if ('ready' in m || 'error' in m) w.unref();
      onMessage(m);
    });
    w.on('error', (e: Error) => onMessage({ error: e.message }));
    w.postMessage(init);
    return { terminate: () => void w.terminate() };
  },
};
