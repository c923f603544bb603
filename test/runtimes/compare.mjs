// Logits against a reference, position by position: the criterion every golden check shares
// (max |Δ| ≤ maxRel × max|reference logit| of that position, and the same arg-max). Plain JS with no
// imports, so Node, Deno, Bun and the browser page load it unchanged.

/**
 * @param {Float32Array} ours  [T × V]
 * @param {Float32Array} ref   [T × V]
 * @returns {{ worstRelErr: number, problems: string[] }} one problem string per failing position
 */
export function compareLogits(what, ours, ref, V, maxRel) {
  const problems = [];
  if (ours.length !== ref.length || ref.length % V !== 0 || ref.length === 0) {
    return { worstRelErr: Infinity, problems: [`${what}: ${ours.length} values, the reference has ${ref.length} (vocab ${V})`] };
  }
  let worstRelErr = 0;
  for (let t = 0; t < ref.length / V; t++) {
    let maxAbs = 0, worst = 0, a = 0, b = 0;
    for (let i = 0; i < V; i++) {
      const o = ours[t * V + i], r = ref[t * V + i];
      maxAbs = Math.max(maxAbs, Math.abs(r));
      worst = Math.max(worst, Math.abs(o - r));
      if (o > ours[t * V + a]) a = i;
      if (r > ref[t * V + b]) b = i;
    }
    worstRelErr = Math.max(worstRelErr, worst / maxAbs);
    if (!(worst <= maxRel * maxAbs)) problems.push(`${what} position ${t}: max |Δ| ${worst} > ${maxRel} × ${maxAbs}`);
    if (a !== b) problems.push(`${what} position ${t}: arg-max ${a}, reference ${b}`);
  }
  return { worstRelErr, problems };
}
