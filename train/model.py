"""A small LLaMA-2 (Hugging Face conventions) whose linear layers can train quantization-aware.

QLinear.mode: "fp" (float), "pq1"/"pq2" (PhaseQuant V1/V2, fairy2i-math.md sections 1-3) or
"ternary" (BitNet b1.58 absmean, per tensor). Quantized modes use the straight-through estimator:
full-precision master weight w, forward with w + (Q(w) - w).detach().
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

import phasequant as pq


@dataclass
class Config:
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 6
    n_heads: int = 8
    n_kv_heads: int = 4
    ffn_dim: int = 688
    ctx: int = 256
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_embeddings: bool = False

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    def to_dict(self):
        return asdict(self)


class QLinear(nn.Linear):
    def __init__(self, in_features, out_features):
        assert in_features % 2 == 0 and out_features % 2 == 0, "widely-linear split needs even sizes"
        super().__init__(in_features, out_features, bias=False)
        self.mode = "fp"

    def quantized_weight(self):
        """The weight the forward pass uses (no gradient), as a plain tensor."""
        w = self.weight.detach()
        if self.mode == "fp":
            return w
        if self.mode == "pq1":
            return pq.quantize_matrix(w, 1)
        if self.mode == "pq2":
            return pq.quantize_matrix(w, 2)
        if self.mode == "ternary":
            return pq.ternary_matrix(w)
        raise ValueError(self.mode)

    def forward(self, x):
        w = self.weight
        if self.mode != "fp":
            w = w + (self.quantized_weight() - w).detach()  # straight-through estimator
        return F.linear(x, w)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.q_proj = QLinear(c.dim, c.n_heads * hd)
        self.k_proj = QLinear(c.dim, c.n_kv_heads * hd)
        self.v_proj = QLinear(c.dim, c.n_kv_heads * hd)
        self.o_proj = QLinear(c.n_heads * hd, c.dim)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        c, hd = self.c, self.c.head_dim
        q = self.q_proj(x).view(B, T, c.n_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = c.n_heads // c.n_kv_heads
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd)) + mask
        y = F.softmax(att, dim=-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, c.n_heads * hd))


class MLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = QLinear(c.dim, c.ffn_dim)
        self.up_proj = QLinear(c.dim, c.ffn_dim)
        self.down_proj = QLinear(c.ffn_dim, c.dim)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.dim, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.dim, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.dim)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.n_layers)])
        self.norm = RMSNorm(c.dim, c.rms_norm_eps)
        self.lm_head = None if c.tie_embeddings else QLinear(c.dim, c.vocab_size)
        hd = c.head_dim
        inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        freqs = torch.outer(torch.arange(c.ctx, dtype=torch.float64), inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        mask = torch.full((c.ctx, c.ctx), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("layernorm.weight") or name == "norm.weight":
                nn.init.ones_(p)
            elif name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.c.n_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    def qlinears(self):
        return [m for m in self.modules() if isinstance(m, QLinear)]

    def set_mode(self, mode):
        for m in self.qlinears():
            m.mode = mode

    def forward(self, idx):
        T = idx.shape[1]
        x = self.embed_tokens(idx)
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        if self.lm_head is None:
            return F.linear(x, self.embed_tokens.weight)
        return self.lm_head(x)

    def hf_state_dict(self):
        """Tensors under Hugging Face LlamaForCausalLM names (master / float weights)."""
        out = {}
        for name, p in self.named_parameters():
            out[name if name.startswith("lm_head") else "model." + name] = p.detach().float().contiguous()
        return out
