"""PhaseQuant (Fairy2i), exactly as ../../shared/docs/fairy2i-math.md sections 1-3.

All functions work on torch float32 tensors and are meant to run under torch.no_grad();
QAT uses them through the straight-through estimator in model.py.
"""
import math

import torch

PI_4 = math.pi / 4
PI_3_4 = 3 * math.pi / 4


def split_widely_linear(A):
    """Real (2n x 2m) weight -> (U_re, U_im, W_re, W_im), each n x m (lossless, math doc section 1)."""
    n2, m2 = A.shape
    assert n2 % 2 == 0 and m2 % 2 == 0, "widely-linear split needs even sizes"
    n, m = n2 // 2, m2 // 2
    A11, A12, A21, A22 = A[:n, :m], A[:n, m:], A[n:, :m], A[n:, m:]
    return (A11 + A22) / 2, (A21 - A12) / 2, (A11 - A22) / 2, (A12 + A21) / 2


def merge_widely_linear(U_re, U_im, W_re, W_im):
    """(U, W) -> real matrix [[W_re + U_re, W_im - U_im], [W_im + U_im, -W_re + U_re]]."""
    top = torch.cat([W_re + U_re, W_im - U_im], dim=1)
    bot = torch.cat([W_im + U_im, -W_re + U_re], dim=1)
    return torch.cat([top, bot], dim=0)


def phase_codes_atan2(re, im):
    """Codes 0:+1 1:+i 2:-1 3:-i from phi = atan2(im, re) computed in float64 (IEEE, signed zeros)."""
    phi = torch.atan2(im.double(), re.double())
    codes = torch.full(re.shape, 2, dtype=torch.uint8)  # -1: phi >= 3pi/4 or phi < -3pi/4
    codes[(phi >= -PI_4) & (phi < PI_4)] = 0
    codes[(phi >= PI_4) & (phi < PI_3_4)] = 1
    codes[(phi >= -PI_3_4) & (phi < -PI_4)] = 3
    return codes


def phase_codes(re, im):
    """Same codes as phase_codes_atan2, by exact float32 comparisons (the manifest's comparison form)
    plus the signed-zero rule for re = im = 0: (+0, +-0) -> +1, (-0, +-0) -> -1. Fast; used in training.
    check_quant.py verifies it equals phase_codes_atan2 bit for bit."""
    codes = torch.zeros(re.shape, dtype=torch.uint8)
    codes[(im > 0) & (-im < re) & (re <= im)] = 1
    codes[(re < 0) & (re < im) & (im <= -re)] = 2
    codes[(im < 0) & (im <= re) & (re < -im)] = 3
    zero = (re == 0) & (im == 0)
    codes[zero & torch.signbit(re)] = 2
    return codes


def stage_scales(re, im, codes):
    """s_re = mean |re| over entries coded +-1, s_im = mean |im| over entries coded +-i
    (float64 accumulation, float32 result; empty -> 0; clamp >= 1e-6)."""
    is_re = (codes & 1) == 0
    is_im = ~is_re
    n_re, n_im = int(is_re.sum()), int(is_im.sum())
    s_re = re.double().abs()[is_re].sum() / n_re if n_re else torch.zeros((), dtype=torch.float64)
    s_im = im.double().abs()[is_im].sum() / n_im if n_im else torch.zeros((), dtype=torch.float64)
    s_re = s_re.float().clamp(min=1e-6)
    s_im = s_im.float().clamp(min=1e-6)
    return s_re, s_im


def dequant_stage(codes, s_re, s_im):
    """Codes + scales -> (q_re, q_im) float32: +1 -> (s_re, 0), +i -> (0, s_im), -1 -> (-s_re, 0), -i -> (0, -s_im)."""
    sign = 1.0 - (codes >> 1).float() * 2.0  # codes 0,1 -> +1 ; 2,3 -> -1
    is_re = ((codes & 1) == 0).float()
    q_re = sign * is_re * s_re
    q_im = sign * (1.0 - is_re) * s_im
    return q_re, q_im


def phasequant(re, im, stages, exact_angles=False):
    """Residual PhaseQuant of one complex tensor. Returns (q_re, q_im, codes[list], scales[list of (s_re, s_im)])."""
    codes_fn = phase_codes_atan2 if exact_angles else phase_codes
    e_re, e_im = re, im
    q_re = q_im = None
    all_codes, all_scales = [], []
    for _ in range(stages):
        c = codes_fn(e_re, e_im)
        s_re, s_im = stage_scales(e_re, e_im, c)
        d_re, d_im = dequant_stage(c, s_re, s_im)
        q_re = d_re if q_re is None else q_re + d_re  # ((q1 + q2) + q3) + q4
        q_im = d_im if q_im is None else q_im + d_im
        e_re, e_im = e_re - d_re, e_im - d_im  # residual e_k = e_{k-1} - q_k
        all_codes.append(c)
        all_scales.append((s_re, s_im))
    return q_re, q_im, all_codes, all_scales


@torch.no_grad()
def quantize_matrix(A, stages, exact_angles=False):
    """Real weight A (2n x 2m, float32) -> dequantized A_quant after `stages` PhaseQuant stages on U and W."""
    U_re, U_im, W_re, W_im = split_widely_linear(A.float())
    Uq_re, Uq_im, _, _ = phasequant(U_re, U_im, stages, exact_angles)
    Wq_re, Wq_im, _, _ = phasequant(W_re, W_im, stages, exact_angles)
    return merge_widely_linear(Uq_re, Uq_im, Wq_re, Wq_im)


@torch.no_grad()
def ternary_matrix(A, eps=1e-5):
    """BitNet b1.58 absmean ternary, per tensor: s = mean|A|, A_t = s * clamp(round(A / s), -1, 1)."""
    s = A.abs().mean().clamp(min=eps)
    return (A / s).round().clamp(-1, 1) * s
