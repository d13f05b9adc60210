"""Export a trained model for the engine, and the logits the engine must reproduce.

* `export_int8`: every matrix as int8 with one float32 scale per output row, quantized exactly as the engine's
  `quantizeMatrix` (scale = max|row| / 127 in float32; q = floor(w · (1/scale) + 0.5) in float64, clamped to
  ±127), norms in float32, Hugging Face Llama tensor names. Written as safetensors PARTS of ≤ 16 MiB (the GPU
  machine returns files up to that size); `scripts/training/assemble-model.ts` joins them into the model folder.
* `write_reference`: logits of the EXPORTED (dequantized int8) weights in float32 with an exact dense mask made
  from the runtime's CSR, at a few positions of one real sample longer than the pattern's budget (so rows are
  sparse), plus the sample's block facts; test/unit/model-reference.test.ts runs the engine on the same input.
  It also reports how far the bf16 FlexAttention path (what training used) is from that float32 reference.
"""
from __future__ import annotations

import base64
import copy
import json
import os
import struct

import numpy as np
import torch

import data as D
from model import LongviewLM, causal, dense_attend, dense_mask, flex_attend

PART_LIMIT = 16 * 2**20 - 4096


def quantize_rows(w: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    w64 = w.detach().double().cpu()
    scale = (w64.abs().amax(dim=1) / 127).float()  # Float32Array semantics
    inv = torch.where(scale > 0, 1.0 / scale.double(), torch.zeros_like(scale, dtype=torch.float64))
    q = torch.floor(w64 * inv[:, None] + 0.5).clamp(-127, 127).to(torch.int8)
    return q.numpy(), scale.numpy().astype("<f4")


def dequantize(q: np.ndarray, scale: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(q.astype(np.float32) * scale[:, None])


def write_safetensors(path: str, tensors: list[tuple[str, str, list, bytes]], metadata: dict) -> None:
    header, offset = {"__metadata__": metadata}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for *_, data in tensors:
            f.write(data)
    os.replace(path + ".tmp", path)


def int8_tensors(model: LongviewLM) -> list[tuple[str, str, list, bytes]]:
    out = []
    for name, p in model.state_dict().items():
        if p.dim() == 2:
            q, s = quantize_rows(p)
            out.append((name, "I8", list(q.shape), q.tobytes()))
            out.append((name + "_scale", "F32", [len(s)], s.tobytes()))
        else:
            out.append((name, "F32", list(p.shape), p.detach().float().cpu().numpy().astype("<f4").tobytes()))
    return out


def export_int8(model: LongviewLM, folder: str) -> list[str]:
    """Writes model-partN.safetensors (each ≤ 16 MiB) into `folder`; returns their names."""
    tensors, parts, cur, size = int8_tensors(model), [], [], 0
    for t in tensors:
        if cur and size + len(t[3]) > PART_LIMIT:
            parts.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += len(t[3])
    parts.append(cur)
    names = []
    for i, part in enumerate(parts):
        name = f"model-part{i + 1}-of-{len(parts)}.safetensors"
        write_safetensors(os.path.join(folder, name), part, {"format": "pt", "producer": "longview-training"})
        names.append(name)
    return names


def read_int8_state(parts: list[str]) -> dict:
    """A state dict from export_int8's parts: int8 matrices dequantized with their per-row scales, vectors as stored."""
    tensors = {}
    for path in parts:
        buf = open(path, "rb").read()
        (n,) = np.frombuffer(buf, "<u8", 1)
        header = json.loads(buf[8 : 8 + n])
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            a, b = meta["data_offsets"]
            dt = np.dtype({"I8": np.int8, "F32": "<f4"}[meta["dtype"]])
            tensors[name] = np.frombuffer(buf, dt, (b - a) // dt.itemsize, 8 + int(n) + a).reshape(meta["shape"])
    return {name: dequantize(t, tensors[name + "_scale"]) if name + "_scale" in tensors else torch.from_numpy(t.copy()) for name, t in tensors.items() if not name.endswith("_scale")}


def dequantized_copy(model: LongviewLM) -> LongviewLM:
    m = copy.deepcopy(model).float()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 2:
                p.copy_(dequantize(*quantize_rows(p)).to(p.device))
    return m


def write_reference(model: LongviewLM, sample: D.PackedSample, head_specs: list, path: str, flex) -> dict:
    c = model.c
    dev = next(model.parameters()).device
    T = len(sample.tokens)
    rows = D.head_rows(sample, head_specs, c.num_heads)
    ids = torch.from_numpy(sample.tokens.astype(np.int64))[None].to(dev)
    positions = sorted({T // 8 - 1, T // 2 - 1, (3 * T) // 4 - 1, T - 65, T - 2, T - 1})
    mq = dequantized_copy(model)
    with torch.no_grad():
        mask = dense_mask(rows, T, c.block_size, dev)
        h = mq.hidden(ids, dense_attend(mask, c.num_heads, c.num_kv_heads))
        logits = mq.logits(h[0, positions]).float().cpu()
        report = {"reference_tokens": T, "reference_blocks": sample.num_blocks, "kept_blocks_per_row_head0": sum(len(r) for r in rows[0]) / len(rows[0])}
        if dev.type == "cuda":
            from torch.nn.attention.flex_attention import BlockMask

            R = sample.num_blocks
            pn, pi, fn, fi = (torch.from_numpy(a)[None].to(dev) for a in D.kv_blocks(rows, R))
            bm = BlockMask.from_kv_blocks(pn, pi, fn, fi, BLOCK_SIZE=c.block_size, mask_mod=causal)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                hf = mq.hidden(ids, flex_attend(bm, flex))
            lf = mq.logits(hf[0, positions].float()).float().cpu()
            report["flex_bf16_vs_dense_f32_max_abs"] = float((lf - logits).abs().max())
            report["flex_bf16_vs_dense_f32_argmax_agree"] = float((lf.argmax(-1) == logits.argmax(-1)).float().mean())
    seg = sample.as_shard_sample(c.num_heads)
    ref = {
        "note": "float32 logits of the exported int8 weights (dequantized), dense mask from the runtime CSR",
        "tokens": sample.tokens.tolist(),
        "facts": {"numBlocks": sample.num_blocks, "blockSize": sample.block_size, "anchorBlocks": seg.anchor_blocks, "anchorTier": seg.anchor_tiers, "segmentStart": seg.segment_start(), "sinkBlocks": sample.sink_blocks},
        "positions": positions,
        "logits": [base64.b64encode(logits[i].numpy().astype("<f4").tobytes()).decode() for i in range(len(positions))],
    }
    json.dump(ref, open(path, "w"))
    return report
