#!/usr/bin/env python3
"""Device-side correctness check of the CUDA kernels against a float64 reference (torch, upcast inputs).

Fresh random inputs every run (seed printed; replay with --seed). Every case: NaN-poisoned outputs inside
guard zones, a NaN-filled KV-cache tail past kvLength (any read of it would reach the output), inputs
compared bit for bit afterwards, and the errors of kernels/testing/precision.ts:
out = max|out - ref| / max|ref|, lse = max|lse - ref| / max(1, |ref|), bound 1e-2 for bf16/fp16.
Usage: python3 check_gpu.py [--seed N] [--paths mma,wgmma] [--quick]"""
import argparse
import math
import random
import sys
import time

import torch

import layouts as L
from lvcuda import LvCuda

GUARD = 64  # elements; keeps the views 16-byte aligned as the kernels require
TOL = {"out": 1e-2, "lse": 1e-2}
BLOCK_ROWS = {16: (5, 24), 32: (3, 16), 64: (3, 12), 128: (2, 8), 256: (2, 5)}


def guarded(n, dtype, fill):
    buf = torch.full((n + 2 * GUARD,), 1234.5, dtype=dtype, device="cuda")
    view = buf[GUARD:GUARD + n]
    view.fill_(fill)
    return buf, view


def guards_intact(buf, n):
    sentinel = torch.full((GUARD,), 1234.5, dtype=buf.dtype, device="cuda")
    return torch.equal(buf[:GUARD], sentinel) and torch.equal(buf[GUARD + n:], sentinel)


def bits(t):
    return t.view(torch.int16) if t.element_size() == 2 else t.view(torch.int32)


def reference(q, k, v, layout, qs, kv_len, scale, rows=None):
    H, qlen, D = q.shape
    Hkv = k.shape[0]
    g = H // Hkv
    B = layout["blockSize"]
    r = torch.arange(qlen, device="cuda") if rows is None else rows
    pos = qs + r
    keys = torch.arange(kv_len, device="cuda")
    out = torch.empty(H, len(r), D, dtype=torch.float64, device="cuda")
    lse = torch.empty(H, len(r), dtype=torch.float64, device="cuda")
    blocks = {}
    for h in range(H):
        l = h % layout["numLayouts"]
        if l not in blocks:
            blocks[l] = L.dense_blocks(layout, l)
        m = blocks[l][(pos // B)[:, None], (keys // B)[None, :]] & (keys[None, :] <= pos[:, None])
        s = (q[h, r].double() @ k[h // g, :kv_len].double().T) * scale
        s = s.masked_fill(~m, -math.inf)
        lse[h] = torch.logsumexp(s, -1)
        out[h] = torch.exp(s - lse[h][:, None]) @ v[h // g, :kv_len].double()
    return out, lse, r


def run_call(lv, rng, c, q, k, v, layout_dev, layout, qs, kv_len, path):
    """One kernel call with all the checks; returns (problems, out_err, lse_err)."""
    H, qlen, D = q.shape
    problems = []
    obuf, out = guarded(H * qlen * D, q.dtype, float("nan"))
    lbuf, lse = guarded(H * qlen, torch.float32, float("nan"))
    out = out.view(H, qlen, D)
    lse = lse.view(H, qlen)
    copies = [bits(t).clone() for t in (q, k, v)]
    scale = D ** -0.5
    lv.attention(q, k, v, out, lse, layout_dev, qs, kv_len, scale, path)
    torch.cuda.synchronize()
    if not torch.isfinite(out).all():
        problems.append(f"out has {int((~torch.isfinite(out)).sum())} unwritten/non-finite elements")
    if not torch.isfinite(lse).all():
        problems.append(f"lse has {int((~torch.isfinite(lse)).sum())} unwritten/non-finite elements")
    for buf, n in ((obuf, H * qlen * D), (lbuf, H * qlen)):
        if not guards_intact(buf, n):
            problems.append("wrote outside out/lse")
    for name, t, cp in zip("qkv", (q, k, v), copies):
        if not torch.equal(bits(t), cp):
            problems.append(f"modified input {name}")
    rows = None
    if qlen > 2048:
        rows = torch.unique(torch.cat([torch.tensor([0, qlen - 1]), torch.randint(0, qlen, (254,), generator=torch.Generator().manual_seed(rng.randint(0, 2**31)))])).cuda()
    ref_out, ref_lse, r = reference(q, k, v, layout, qs, kv_len, scale, rows)
    got = out[:, r].double()
    oerr = float((got - ref_out).abs().max() / ref_out.abs().max().clamp_min(1e-30))
    lerr = float(((lse[:, r].double() - ref_lse).abs() / ref_lse.abs().clamp_min(1)).max())
    if math.isnan(oerr):
        oerr = math.inf
    if math.isnan(lerr):
        lerr = math.inf
    cond = max(1.0, c.get("score_scale", 1.0))
    if oerr > TOL["out"] * cond:
        problems.append(f"out error {oerr:.2e}")
    if lerr > TOL["lse"] * cond:
        problems.append(f"lse error {lerr:.2e}")
    return problems, oerr, lerr


def run_case(lv, seed, c, path):
    rng = random.Random(seed)
    B, D, mode = c["block"], c["dim"], c["mode"]
    H, Hkv = c["heads"]
    dtype = c["dtype"]
    std = math.sqrt(c.get("score_scale", 1.0))
    if "length" in c:
        length = rng.randint(*c["length"])
    else:
        lo, hi = BLOCK_ROWS[B]
        length = rng.randint(lo * B + 1, hi * B + B - 1) * (2 if mode == "decode" else 1)
    steps = c.get("steps", 3 if mode == "decode" else 1)
    end_len = length + steps - 1
    cap = end_len + (0 if rng.random() < 0.3 else rng.randint(1, B + 5))
    rows = -(-cap // B) + rng.randint(0, 2)
    nl = c.get("layouts") or rng.choice([n for n in (1, 2, 3, H) if n <= H])
    if c.get("fast_layout"):
        layout = c["fast_layout"](B, rows)
    else:
        layout = L.random_pattern(rng, c["pattern"], B, rows, nl)
    layout_dev = L.to_device(layout)
    gen = torch.Generator(device="cuda").manual_seed(seed)
    k = torch.full((Hkv, cap, D), float("nan"), dtype=dtype, device="cuda")
    v = torch.full((Hkv, cap, D), float("nan"), dtype=dtype, device="cuda")
    k[:, :length] = (torch.randn(Hkv, length, D, generator=gen, device="cuda") * std).to(dtype)
    v[:, :length] = torch.randn(Hkv, length, D, generator=gen, device="cuda").to(dtype)
    if c.get("rising"):  # keys grow along the sequence, so a row's max keeps jumping from tile to tile
        k[:, :length] = (k[:, :length].float() * torch.linspace(0.1, c["rising"], length, device="cuda")[None, :, None]).to(dtype)
    if mode == "prefill":
        first_qs = 0
    elif mode == "decode":
        first_qs = length - 1
    else:
        first_qs = B * rng.randint(1, (length - 1) // B) if rng.random() < 0.25 and length > B else rng.randint(1, length - 1)
    problems, oerr, lerr = [], 0.0, 0.0
    for step in range(steps):
        kv_len = length + step
        if step > 0:  # the cache grows in place: the new row lands in the NaN tail
            k[:, kv_len - 1] = (torch.randn(Hkv, D, generator=gen, device="cuda") * std).to(dtype)
            v[:, kv_len - 1] = torch.randn(Hkv, D, generator=gen, device="cuda").to(dtype)
        qs = first_qs if step == 0 else kv_len - 1
        q = (torch.randn(H, kv_len - qs, D, generator=gen, device="cuda") * std).to(dtype)
        p, o, l = run_call(lv, rng, c, q, k, v, layout_dev, layout, qs, kv_len, path)
        problems += [f"step {step} (qs {qs}, kv {kv_len}, cap {cap}): {x}" for x in p]
        oerr, lerr = max(oerr, o), max(lerr, l)
    return problems, oerr, lerr, f"H{H}/{Hkv} d{D} B{B} L{nl if not c.get('fast_layout') else 1} kv{length}/{cap}"


def strided_fast(local, stride):
    def make(B, rows):
        return L.build_fast(B, rows, lambda r: torch.cat([torch.arange(r - local + 1, r + 1), torch.arange(stride - 1, max(r + 1, stride - 1), stride), torch.tensor([0, 1])]))
    return make


def cases(quick):
    out = []
    dims = [(64, 1), (128, 4), (64, 8), (128, 1), (64, 4), (128, 8)]
    k = 0
    picked = 0  # rotates head dim / GQA / dtype over the cases actually run, quick or not
    for mode in ("prefill", "chunked", "decode"):
        for pattern in ("local", "strided", "dilated", "global", "random", "dense"):
            for B in (16, 32, 64, 128, 256):
                if quick and (k % 3):
                    k += 1
                    continue
                D, g = dims[picked % len(dims)]
                heads = (4, 4) if g == 1 else (8, 8 // g)
                dtype = torch.bfloat16 if picked % 4 else torch.float16
                picked += 1
                out.append({"name": f"{mode}/{pattern}/b{B}/d{D}/gqa{g}/{'bf16' if dtype == torch.bfloat16 else 'fp16'}",
                            "mode": mode, "pattern": pattern, "block": B, "dim": D, "heads": heads, "dtype": dtype})
                k += 1
    bf = torch.bfloat16
    out += [
        {"name": "edge/shorter-than-one-block", "mode": "prefill", "pattern": "local", "block": 64, "dim": 64, "heads": (8, 2), "dtype": bf, "length": (1, 63)},
        {"name": "edge/first-token-decode", "mode": "decode", "pattern": "global", "block": 16, "dim": 128, "heads": (8, 1), "dtype": bf, "length": (1, 1), "steps": 18},
        {"name": "edge/decode-opens-a-block", "mode": "decode", "pattern": "strided", "block": 64, "dim": 64, "heads": (4, 4), "dtype": bf, "length": (321, 321), "steps": 2},
        {"name": "edge/spiky-scores", "mode": "prefill", "pattern": "random", "block": 128, "dim": 128, "heads": (8, 2), "dtype": bf, "length": (700, 1000), "score_scale": 8.0},
        {"name": "edge/rising-scores", "mode": "prefill", "pattern": "dense", "block": 128, "dim": 128, "heads": (8, 2), "dtype": bf, "length": (1500, 2100), "score_scale": 4.0, "rising": 3.0},
        {"name": "edge/layout-per-head-gqa", "mode": "chunked", "pattern": "random", "block": 64, "dim": 128, "heads": (8, 2), "dtype": bf, "length": (600, 900), "layouts": 8},
        {"name": "edge/decode-per-head-layouts-gqa8", "mode": "decode", "pattern": "strided", "block": 128, "dim": 128, "heads": (32, 4), "dtype": bf, "length": (3000, 5000), "layouts": 4},
        {"name": "edge/decode-gqa32", "mode": "decode", "pattern": "global", "block": 64, "dim": 128, "heads": (32, 1), "dtype": bf, "length": (2000, 3000), "layouts": 1},
        {"name": "big/prefill-8k", "mode": "prefill", "pattern": "strided", "block": 128, "dim": 128, "heads": (8, 2), "dtype": bf, "length": (8000, 8300)},
        {"name": "big/chunked-8k-past", "mode": "chunked", "pattern": "global", "block": 128, "dim": 128, "heads": (8, 8), "dtype": bf, "length": (8200, 9000)},
        {"name": "big/prefill-4k-d64-b64", "mode": "prefill", "pattern": "local", "block": 64, "dim": 64, "heads": (8, 4), "dtype": torch.float16, "length": (4000, 4200)},
        {"name": "big/decode-128k", "mode": "decode", "block": 128, "dim": 128, "heads": (32, 8), "dtype": bf, "length": (120000, 131072), "steps": 2, "fast_layout": strided_fast(16, 20)},
        {"name": "big/decode-1M", "mode": "decode", "block": 128, "dim": 128, "heads": (32, 8), "dtype": bf, "length": (1040000, 1048575), "steps": 2, "fast_layout": strided_fast(32, 16)},
        {"name": "big/decode-300k-b64-d64", "mode": "decode", "block": 64, "dim": 64, "heads": (16, 2), "dtype": torch.float16, "length": (290000, 310000), "steps": 2, "fast_layout": strided_fast(8, 9)},
    ]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--paths", default="mma,wgmma,wgmma-pipe,wgmma-pingpong")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randint(0, 2**31 - 1)
    lv = LvCuda()
    print(f"[check] device {lv.info.name.decode()} cc {lv.info.major}.{lv.info.minor} wgmma={bool(lv.info.hasWgmmaPath)} seed={seed} (replay with --seed {seed})", flush=True)
    paths = [p for p in a.paths.split(",") if p]
    fails = 0
    total = 0
    worst = {}
    t0 = time.time()
    for path in paths:
        if path.startswith("wgmma") and not lv.info.hasWgmmaPath:
            print("[check] wgmma path: not available on this device (skipped)")
            continue
        for i, c in enumerate(cases(a.quick)):
            if a.only and a.only not in c["name"]:
                continue
            if path.startswith("wgmma") and (c["block"] % 64 or c["mode"] == "decode"):
                continue  # decode never takes the wgmma path; the wgmma path needs block % 64 == 0
            cseed = (seed * 1000003 + i) % (2**31)
            t = time.time()
            try:
                problems, oerr, lerr, desc = run_case(lv, cseed, c, path)
            except Exception as e:  # a launch error is a failure of the case, not of the run
                problems, oerr, lerr, desc = [f"raised {e}"], math.inf, math.inf, ""
            total += 1
            ok = not problems
            fails += 0 if ok else 1
            key = (path, c["name"].split("/")[0])
            worst[key] = max(worst.get(key, 0.0), oerr)
            print(f"{'ok  ' if ok else 'FAIL'} {path:10s} {c['name']:44s} {desc:36s} out {oerr:.1e} lse {lerr:.1e} {1000 * (time.time() - t):.0f} ms"
                  + ("" if ok else " — " + "; ".join(problems[:3])), flush=True)
    print(f"[check] {total - fails} passed, {fails} failed in {time.time() - t0:.1f} s (seed {seed})")
    print("[check] worst out error per path/mode: " + ", ".join(f"{p}/{m} {e:.1e}" for (p, m), e in sorted(worst.items())))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
