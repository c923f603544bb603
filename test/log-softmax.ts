// The per-position statistics of the precision suite and bench/precision.ts (fast against exact).

/** log-softmax of row t of logits (T, V) into out. */
export function logSoftmax(logits: Float32Array, t: number, V: number, out: Float64Array): void {
  let mx = -Infinity;
  for (let i = 0; i < V; i++) mx = Math.max(mx, logits[t * V + i]);
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[t * V + i] - mx);
  const lz = mx + Math.log(z);
  for (let i = 0; i < V; i++) out[i] = logits[t * V + i] - lz;
}
