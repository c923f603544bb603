// The Web Worker script (bundled to dist/worker.js) that loadModelInWorker starts.
import { serveModel } from './serve.js';

serveModel();
