"""The default model in PyTorch: the same Llama-family decoder as model-runtime/src/model/reference-forward.ts.

RMSNorm → grouped-query attention with rotary positions (Hugging Face's rotate-half pairing, θ from the config)
→ residual → RMSNorm → SwiGLU → residual; final RMSNorm; LM head tied to the embedding. Parameter names follow
Hugging Face Llama (`model.layers.N.self_attn.q_proj.weight` …), which is what the engine's loader reads.

Attention is block-sparse: FlexAttention with a BlockMask made from the runtime's CSR layout (data.kv_blocks),
or, for checking, a dense boolean mask with the same meaning (`dense_mask`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 16384
    d_model: int = 512
    num_layers: int = 6
    num_heads: int = 6
    num_kv_heads: int = 2
    head_dim: int = 64
    ffn_dim: int = 1536
    rope_theta: float = 500000.0
    norm_eps: float = 1e-5
    block_size: int = 64

    @staticmethod
    def from_longview_json(path: str) -> "Config":
        c = json.load(open(path))
        return Config(c["vocabSize"], c["dModel"], c["numLayers"], c["numHeads"], c["numKvHeads"], c["headDim"], c["ffnDim"], c["ropeTheta"], c["normEps"], c["blockSize"])


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.float()).to(x.dtype)


def rope_tables(c: Config, T: int, device, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin [T, hd/2] for positions 0..T-1, or [B, 1, T, hd/2] for explicit per-sample `positions` [B, T]."""
    half = c.head_dim // 2
    inv = c.rope_theta ** (-2.0 * torch.arange(half, dtype=torch.float64, device=device) / c.head_dim)
    if positions is None:
        ang = torch.arange(T, dtype=torch.float64, device=device)[:, None] * inv[None, :]
    else:
        ang = (positions.to(device=device, dtype=torch.float64)[..., None] * inv)[:, None]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """x [B, H, T, hd]; pairs (j, j + hd/2) rotate by position · inv[j] (reference-forward.ts `rope`)."""
    half = x.shape[-1] // 2
    a, b = x[..., :half].float(), x[..., half:].float()
    return torch.cat([a * cos - b * sin, b * cos + a * sin], dim=-1).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.q_proj = nn.Linear(c.d_model, c.num_heads * c.head_dim, bias=False)
        self.k_proj = nn.Linear(c.d_model, c.num_kv_heads * c.head_dim, bias=False)
        self.v_proj = nn.Linear(c.d_model, c.num_kv_heads * c.head_dim, bias=False)
        self.o_proj = nn.Linear(c.num_heads * c.head_dim, c.d_model, bias=False)

    def forward(self, x, cos, sin, attend):
        B, T, _ = x.shape
        c = self.c
        q = self.q_proj(x).view(B, T, c.num_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, c.num_kv_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, c.num_kv_heads, c.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        y = attend(q, k, v)  # [B, H, T, hd]
        return self.o_proj(y.transpose(1, 2).reshape(B, T, c.num_heads * c.head_dim))


class MLP(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.d_model, c.ffn_dim, bias=False)
        self.up_proj = nn.Linear(c.d_model, c.ffn_dim, bias=False)
        self.down_proj = nn.Linear(c.ffn_dim, c.d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.d_model, c.norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.d_model, c.norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, attend):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, attend)
        return x + self.mlp(self.post_attention_layernorm(x))


class Inner(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.d_model)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.num_layers))
        self.norm = RMSNorm(c.d_model, c.norm_eps)


class LongviewLM(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.reset_parameters()

    def reset_parameters(self):
        # GPT-2 style: N(0, 0.02), residual projections scaled by 1/sqrt(2 · layers) so the stream's variance stays flat.
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * self.c.num_layers) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def hidden(self, ids, attend, positions=None):
        """Final-normed hidden states [B, T, d]; `attend(q, k, v)` is the attention (sparse or dense); `positions`
        [B, T] replaces 0..T-1 for RoPE (training with stretched positions; the runtime always uses 0..T-1)."""
        T = ids.shape[1]
        cos, sin = rope_tables(self.c, T, ids.device, positions)
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, attend)
        return self.model.norm(x)

    def logits(self, h):
        return h @ self.model.embed_tokens.weight.t().to(h.dtype)


# The runtime's blocks are 64 tokens: FlexAttention's tiles must divide them (its H100 defaults are 128).
FLEX_KERNEL_OPTIONS = {"BLOCK_M": 64, "BLOCK_N": 64}


def allow_64_token_blocks_in_flex_backward() -> None:
    """PyTorch 2.11–2.13 pick ONE default backward tile per GPU (sm90, head dim 64: 64×128) and drop it when it
    does not divide the mask's block size, leaving no kernel at all for 64-token blocks. Offer a 64×64 tile then."""
    try:
        from torch._inductor.choices import InductorChoices
        from torch._inductor.template_heuristics.triton import FlexBwDConfig
    except ImportError as e:  # a PyTorch without these internals: leave it alone
        print("flex backward patch not applied:", e)
        return
    original = InductorChoices.get_flex_attention_bwd_configs

    def configs(self, head_dim, dtype, device_type):
        out = [c for c in original(self, head_dim, dtype, device_type) if all(64 % s == 0 for s in (c.block_m1, c.block_n1, c.block_m2, c.block_n2))]
        return out or [FlexBwDConfig(64, 64, 64, 64, 3, 4)]

    InductorChoices.get_flex_attention_bwd_configs = configs


def causal(b, h, q, kv):
    """FlexAttention mask_mod inside a kept block. One function object for every mask: compiled kernels are keyed on it."""
    return q >= kv


def dense_mask(row_cols: list[list[list[int]]], T: int, block: int, device) -> torch.Tensor:
    """Boolean [H, T, T] mask from per-head kept-block lists (row_cols[h][r] = kept columns of row r)."""
    H = len(row_cols)
    nb = (T + block - 1) // block
    bm = torch.zeros(H, nb, nb, dtype=torch.bool)
    for h in range(H):
        for r, cols in enumerate(row_cols[h][:nb]):
            bm[h, r, [c for c in cols if c < nb]] = True
    m = bm.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :T, :T].to(device)
    return m & torch.ones(T, T, dtype=torch.bool, device=device).tril()


def dense_attend(mask: torch.Tensor, num_heads: int, num_kv_heads: int):
    """SDPA with an explicit boolean mask, [H, T, T] for every sample or [B, H, T, T] (float32 check path)."""
    rep = num_heads // num_kv_heads
    batched = mask if mask.dim() == 4 else mask[None]

    def attend(q, k, v):
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=batched)

    return attend


def flex_attend(block_mask, flex):
    """FlexAttention over `block_mask` with grouped-query heads and 64-token tiles."""
    return lambda q, k, v: flex(q, k, v, block_mask=block_mask, enable_gqa=True, kernel_options=FLEX_KERNEL_OPTIONS)
