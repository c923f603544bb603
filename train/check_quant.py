"""Check phasequant.py against the golden quantizer data (../shared/golden/quant/*).

Usage: /usr/bin/python3 train/check_quant.py [golden_dir]
Exits non-zero on any code difference, scale off by more than 1e-6 relative, or A_quant off by more
than 1e-5 relative to the matrix's max |entry|.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import phasequant as pq  # noqa: E402

GOLDEN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "golden")


def load(path, dtype, shape):
    return torch.from_numpy(np.fromfile(path, dtype=dtype).reshape(shape).copy())


def check_unit(name, info, exact_angles):
    d = os.path.join(GOLDEN, "quant", name)
    n, m = info["n"], info["m"]
    A = load(os.path.join(d, "A.f32.bin"), np.float32, (2 * n, 2 * m))
    parts = pq.split_widely_linear(A)
    UW = load(os.path.join(d, "UW.f32.bin"), np.float32, (4, n, m))
    split_diff = max(float((p - g).abs().max()) for p, g in zip(parts, UW))
    n_stages = 4
    gc = {"U": load(os.path.join(d, "codes_U.u8.bin"), np.uint8, (n_stages, n, m)),
          "W": load(os.path.join(d, "codes_W.u8.bin"), np.uint8, (n_stages, n, m))}
    gs = load(os.path.join(d, "scales.f32.bin"), np.float32, (2, n_stages, 2))
    code_diffs, scale_rel = 0, 0.0
    q = {}
    for t, (re, im) in (("U", parts[0:2]), ("W", parts[2:4])):
        _, _, codes, scales = pq.phasequant(re, im, n_stages, exact_angles)
        q[t] = (re, im)
        ti = 0 if t == "U" else 1
        for s in range(n_stages):
            code_diffs += int((codes[s] != gc[t][s]).sum())
            for k in range(2):
                g = float(gs[ti, s, k])
                scale_rel = max(scale_rel, abs(float(scales[s][k]) - g) / max(abs(g), 1e-30))
    aq_rel = 0.0
    for v in range(1, 5):
        G = load(os.path.join(d, f"A_quant_v{v}.f32.bin"), np.float32, (2 * n, 2 * m))
        Q = pq.quantize_matrix(A, v, exact_angles)
        aq_rel = max(aq_rel, float((Q - G).abs().max()) / max(float(G.abs().max()), 1e-30))
    return split_diff, code_diffs, scale_rel, aq_rel


def check_forms_agree():
    """The fast comparison form must equal float64 atan2 everywhere, incl. diagonals and signed zeros."""
    g = torch.Generator().manual_seed(0)
    re = torch.randn(200000, generator=g)
    im = torch.randn(200000, generator=g)
    im[:50000] = re[:50000] * torch.tensor([1.0, -1.0]).repeat(25000)        # exact diagonals
    im[50000:60000] = torch.nextafter(re[50000:60000], torch.tensor(float("inf")))  # 1 ulp off
    im[60000:70000] = torch.nextafter(-re[60000:70000], torch.tensor(float("-inf")))
    re[70000:71000] = 0.0
    im[71000:72000] = 0.0
    z = torch.tensor([0.0, -0.0])
    re_z = z.repeat_interleave(2)
    im_z = z.repeat(2)
    re = torch.cat([re, re_z])
    im = torch.cat([im, im_z])
    a = pq.phase_codes_atan2(re, im)
    b = pq.phase_codes(re, im)
    signed_zero = a[-4:].tolist()  # (+0,+0) (+0,-0) (-0,+0) (-0,-0)
    return int((a != b).sum()), signed_zero


def main():
    manifest = json.load(open(os.path.join(GOLDEN, "manifest.json")))
    ok = True
    for exact_angles in (True, False):
        label = "float64 atan2" if exact_angles else "float32 comparison form"
        print(f"== codes by {label}")
        for name, info in manifest["quantizer_units"].items():
            if info.get("informational"):
                continue
            split_diff, code_diffs, scale_rel, aq_rel = check_unit(name, info, exact_angles)
            good = split_diff == 0 and code_diffs == 0 and scale_rel <= 1e-6 and aq_rel <= 1e-5
            ok &= good
            print(f"{name:16s} split max|diff| {split_diff:.1e}  code differences {code_diffs}  "
                  f"scales max rel {scale_rel:.2e}  A_quant v1..v4 max rel {aq_rel:.2e}  "
                  f"{'OK' if good else 'FAIL'}")
    diffs, sz = check_forms_agree()
    good = diffs == 0 and sz == [0, 0, 2, 2]
    ok &= good
    print(f"comparison form vs float64 atan2 on 200004 hard entries: {diffs} differences; "
          f"signed zeros (+0,+0) (+0,-0) (-0,+0) (-0,-0) -> codes {sz}  {'OK' if good else 'FAIL'}")
    print("ALL OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
