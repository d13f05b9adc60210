#!/usr/bin/env python3
"""GPU benchmark of the CUDA block-sparse attention kernels against PyTorch peers, measured in one run:
FlexAttention (torch.compile'd flex_attention, BlockMask built from the SAME CSR layout: off-diagonal kept
blocks as full blocks, the diagonal as a partial block with a causal mask_mod) and dense causal SDPA
(FlashAttention and cuDNN backends). Also measures the machine's dense bf16 matmul rate and HBM copy
bandwidth, which the targets are stated against.

FLOPs are counted on kept blocks, causal-exact: 4 * head_dim * (attended query-key pairs); SDPA's dense
causal FLOPs are counted the same way (2 * L^2 * d * H). Decode bytes = the K and V rows the kept blocks
cover (each KV head once), which is the least any kernel must read.
Usage: python3 bench_gpu.py [--quick] [--json out.json] [--prefill 65536:strided,...] [--decode 1048576:strided,...]
                            [--prefill-budget-s S] [--budget-s S]
--prefill / --decode pick the cases (length:pattern; patterns strided, local+global, random5%, dense); the
budgets stop STARTING prefill cases / any case after S seconds from the start (the cases left out are listed;
the first case of each kind always runs), so a device call with a hard time limit still ends with its table.
The JSON is rewritten after every case.
--wgmma-paths also takes launch options after a slash, timed as paths of their own in the same run: the earlier
defaults `wgmma/heads` (heads-fastest tile order: LONGVIEW_CUDA_PREFILL_ORDER=heads) and `wgmma/stages2` (a 2-deep
K/V ring: LONGVIEW_CUDA_WGMMA_STAGES=2) and `wgmma/eager` (the softmax that rescales every tile:
LONGVIEW_CUDA_WGMMA_SOFTMAX=eager), e.g. --wgmma-paths wgmma,wgmma/heads,wgmma/stages2,wgmma/eager."""
import argparse
import contextlib
import os
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import layouts as L
from lvcuda import LvCuda

B = 128
D = 128


def timeit(fn, budget_s=1.0, max_reps=50, min_reps=3):
    fn()
    torch.cuda.synchronize()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    fn()
    e.record()
    torch.cuda.synchronize()
    first = s.elapsed_time(e)
    n = max(min_reps, min(max_reps, int(budget_s * 1000 / max(first, 1e-3))))
    evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
    for a, b in evs:
        a.record()
        fn()
        b.record()
    torch.cuda.synchronize()
    times = [a.elapsed_time(b) for a, b in evs]
    return statistics.median(times), (min(times), max(times))


def timeit_batched(fn, batch=20, reps=7):
    """For sub-millisecond calls: events around `batch` back-to-back calls, median over reps."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    res = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(batch):
            fn()
        b.record()
        torch.cuda.synchronize()
        res.append(a.elapsed_time(b) / batch)
    return statistics.median(res), (min(res), max(res))


def machine_rates():
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    ms, _ = timeit(lambda: a @ b, budget_s=1.0, max_reps=20)
    tflops = 2 * n ** 3 / ms / 1e9
    del a, b
    x = torch.randn(2 ** 30, device="cuda", dtype=torch.bfloat16)  # 2 GiB
    y = torch.empty_like(x)
    ms_c, _ = timeit(lambda: y.copy_(x), budget_s=1.0, max_reps=20)
    bw = 2 * x.numel() * 2 / ms_c / 1e6  # GB/s, read + write
    del x, y
    torch.cuda.empty_cache()
    return tflops, bw


# ---- layouts (one layout shared by all heads) --------------------------------------------------------
def strided(rows, local=8, stride=32):
    return L.build_fast(B, rows, lambda r: torch.cat([torch.arange(r - local + 1, r + 1), torch.arange(stride - 1, max(r + 1, stride - 1), stride), torch.tensor([0])]))


def local_global(rows, local=16, anchors=8):
    spread = torch.linspace(0, max(rows - 1, 0), anchors // 2).long()
    glob = torch.cat([torch.arange(anchors // 2), spread])
    return L.build_fast(B, rows, lambda r: torch.cat([torch.arange(r - local + 1, r + 1), glob]))


def random_density(rows, density, seed=1):
    g = torch.Generator().manual_seed(seed)
    return L.build_fast(B, rows, lambda r: torch.nonzero(torch.rand(r + 1, generator=g) < density).flatten())


def dense(rows):
    return L.build_fast(B, rows, lambda r: torch.arange(r + 1))


def flex_block_mask(layout, q_len, kv_len, decode_row=None):
    """BlockMask from the CSR layout: off-diagonal kept blocks are full, the diagonal partial (causal)."""
    from torch.nn.attention.flex_attention import BlockMask

    rows = layout["numBlockRows"]
    m = L.dense_blocks(layout, 0)
    if decode_row is not None:
        # one query row at position kv_len-1: every kept block of its row is fully visible (keys < kv_len)
        full = m[decode_row: decode_row + 1].clone()
        part = torch.zeros_like(full)
        mask_mod = None
    else:
        eye = torch.eye(rows, dtype=torch.bool, device="cuda")
        full = m & ~eye
        part = m & eye

        def mask_mod(b, h, q_idx, kv_idx):
            return q_idx >= kv_idx

    def ordered(x):
        num = x.sum(-1).to(torch.int32)
        idx = torch.argsort((~x).to(torch.int8), dim=-1, stable=True).to(torch.int32)
        return num[None, None], idx[None, None]

    kn, ki = ordered(part)
    fn, fi = ordered(full)
    kw = dict(BLOCK_SIZE=(B, B), mask_mod=mask_mod)
    try:
        return BlockMask.from_kv_blocks(kn, ki, fn, fi, seq_lengths=(q_len, kv_len), **kw)
    except TypeError:
        return BlockMask.from_kv_blocks(kn, ki, fn, fi, **kw)


def decode_bytes(layout, pos, hkv):
    rp = layout["rowPtr"][0].long()
    ci = layout["colIdx"][0].long()
    r = pos // B
    cols = ci[rp[r]:rp[r + 1]]
    keys = int((cols < r).sum()) * B + (pos - r * B + 1 if bool((cols == r).any()) else 0)
    return keys * D * 2 * 2 * hkv


PATH_OPTIONS = {"heads": ("LONGVIEW_CUDA_PREFILL_ORDER", "heads"), "stages2": ("LONGVIEW_CUDA_WGMMA_STAGES", "2"),
                "lean": ("LONGVIEW_CUDA_WGMMA_SOFTMAX", "lean"), "eager": ("LONGVIEW_CUDA_WGMMA_SOFTMAX", "eager")}


@contextlib.contextmanager
def path_options(spec):
    """`wgmma/heads/stages2` -> the C API path `wgmma`, with the launch options' environment set while it runs."""
    path, *opts = spec.split("/")
    env = dict(PATH_OPTIONS[o] for o in opts)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield path
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def parse_cases(spec, patterns):
    """'65536:strided,1048576:dense' -> [(65536, 'strided'), (1048576, 'dense')]"""
    cases = []
    for item in filter(None, (x.strip() for x in spec.split(","))):
        length, pat = item.split(":", 1)
        if pat not in patterns:
            raise SystemExit(f"unknown pattern {pat!r} in {item!r}")
        cases.append((int(length), pat))
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--wgmma-paths", default="wgmma,wgmma-pipe,wgmma-pingpong", help="wgmma variants to time (those that passed the check)")
    ap.add_argument("--no-flex", action="store_true")
    ap.add_argument("--prefill", default=None, help="prefill cases, length:pattern,... (default: the full or --quick list)")
    ap.add_argument("--decode", default=None, help="decode cases, length:pattern,... ('' for none)")
    ap.add_argument("--prefill-budget-s", type=float, default=math.inf, help="start no prefill case after this many seconds")
    ap.add_argument("--budget-s", type=float, default=math.inf, help="start no case at all after this many seconds")
    a = ap.parse_args()
    prefill_override = parse_cases(a.prefill, ("strided", "local+global", "random5%", "dense")) if a.prefill is not None else None
    decode_override = parse_cases(a.decode, ("strided", "local+global", "dense")) if a.decode is not None else None
    t_start = time.time()
    skipped = []

    def out_of_time(kind, Ln, pat):
        """The first case of each kind always runs (list the headline case first); later ones only within budget."""
        done = rows_out if kind == "prefill" else dec_out
        limit = min(a.budget_s, a.prefill_budget_s) if kind == "prefill" else a.budget_s
        if not done or time.time() - t_start <= limit:
            return False
        skipped.append(f"{kind} {Ln}:{pat}")
        print(f"[bench] time budget: {kind} {Ln}:{pat} not run", flush=True)
        return True

    def dump():
        if a.json:
            with open(a.json, "w") as fh:
                json.dump({"gpu": name, "torch": torch.__version__, "matmul_tflops": mm, "copy_gbs": bw, "prefill": rows_out, "decode": dec_out,
                           "not_run": skipped}, fh, indent=1)
    torch.manual_seed(0)
    lv = LvCuda()
    wgmma_paths = [p for p in a.wgmma_paths.split(",") if p] if lv.info.hasWgmmaPath else []
    hopper = bool(wgmma_paths)
    name = torch.cuda.get_device_name()
    print(f"[bench] {name}, torch {torch.__version__}, driver/runtime {lv.info.driverVersion}/{lv.info.runtimeVersion}, wgmma path {hopper}", flush=True)
    mm, bw = machine_rates()
    print(f"[bench] dense bf16 matmul 8192^3: {mm:.0f} TFLOP/s; HBM device copy (read+write): {bw:.0f} GB/s", flush=True)
    rows_out = []

    flex = None
    if not a.no_flex:
        from torch.nn.attention.flex_attention import flex_attention
        torch._dynamo.config.cache_size_limit = 64
        flex = torch.compile(flex_attention, dynamic=False)

    H = 16
    prefill_cases = [(4096, "strided"), (16384, "strided"), (65536, "strided"), (65536, "local+global"), (65536, "random5%"),
                     (262144, "strided"), (262144, "random5%"), (1048576, "strided"), (1048576, "local+global")]
    if a.quick:
        prefill_cases = [(4096, "strided"), (65536, "strided")]
    if prefill_override is not None:
        prefill_cases = prefill_override
    dec_out = []
    for Ln, pat in prefill_cases:
        if out_of_time("prefill", Ln, pat):
            continue
        rows = Ln // B
        lay = {"strided": strided, "local+global": local_global, "random5%": lambda r: random_density(r, 0.05), "dense": dense}[pat](rows)
        kept, flops1, density = L.kept_stats(lay, 0, 0, Ln, D)
        flops = flops1 * H
        lay_dev = L.to_device(lay)
        q = torch.randn(H, Ln, D, device="cuda", dtype=torch.bfloat16)
        k = torch.randn(H, Ln, D, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(H, Ln, D, device="cuda", dtype=torch.bfloat16)
        out = torch.empty_like(q)
        lse = torch.empty(H, Ln, device="cuda", dtype=torch.float32)
        res = {"L": Ln, "H": H, "pattern": pat, "density": density, "flops": flops}
        shape = f"prefill L={Ln // 1024}k H={H} d={D} b={B}"
        paths = wgmma_paths + ["mma"]
        res["paths"] = paths
        for path in paths:
            with path_options(path) as api_path:
                ms, spread = timeit(lambda: lv.attention(q, k, v, out, lse, lay_dev, 0, Ln, path=api_path))
            res[path] = ms
            print(f"  {shape} {pat:12s} dens {density:6.2%} ours-{path:10s} {ms:9.3f} ms {flops / ms / 1e9:6.0f} TFLOP/s", flush=True)
        ours_out = out.clone()
        if flex is not None:
            try:
                t0 = time.time()
                bm = flex_block_mask(lay_dev, Ln, Ln)
                fo = flex(q[None], k[None], v[None], block_mask=bm, scale=D ** -0.5)
                torch.cuda.synchronize()
                comp = time.time() - t0
                diff = float((fo[0].float() - ours_out.float()).abs().max() / fo.float().abs().max())
                ms, _ = timeit(lambda: flex(q[None], k[None], v[None], block_mask=bm, scale=D ** -0.5))
                res["flex"] = ms
                res["flex_vs_ours_maxrel"] = diff
                print(f"  {shape} {pat:12s} flex                {ms:9.3f} ms {flops / ms / 1e9:6.0f} TFLOP/s  (compile+first {comp:.1f}s, |ours-flex|/max {diff:.1e})", flush=True)
                del bm, fo
            except Exception as e:
                print(f"  flex failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
        if Ln <= 262144:
            dflops = 2.0 * Ln * Ln * D * H
            from torch.nn.attention import SDPBackend, sdpa_kernel
            for be_name, be in (("sdpa-flash", SDPBackend.FLASH_ATTENTION), ("sdpa-cudnn", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel([be]):
                        ms, _ = timeit(lambda: F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True), budget_s=0.5)
                    res[be_name] = ms
                    print(f"  {shape} dense causal {be_name:10s}     {ms:9.3f} ms {dflops / ms / 1e9:6.0f} TFLOP/s (dense)", flush=True)
                except Exception as e:
                    print(f"  {be_name} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
        rows_out.append(res)
        dump()
        del q, k, v, out, lse, ours_out
        torch.cuda.empty_cache()

    # ---- decode ---------------------------------------------------------------------------------------
    Hq, Hkv = 32, 8
    decode_cases = [(131072, "strided"), (1048576, "strided"), (1048576, "local+global"), (1048576, "dense")]
    if a.quick:
        decode_cases = [(1048576, "strided")]
    if decode_override is not None:
        decode_cases = decode_override
    for Ln, pat in decode_cases:
        if out_of_time("decode", Ln, pat):
            continue
        rows = Ln // B
        lay = {"strided": lambda r: strided(r, local=32, stride=16), "local+global": local_global, "dense": dense}[pat](rows)
        lay_dev = L.to_device(lay)
        pos = Ln - 1
        nbytes = decode_bytes(lay, pos, Hkv)
        kept = int(lay["rowPtr"][0, pos // B + 1] - lay["rowPtr"][0, pos // B])
        density = kept / (pos // B + 1)
        k = torch.randn(Hkv, Ln, D, device="cuda", dtype=torch.bfloat16)
        v = torch.randn(Hkv, Ln, D, device="cuda", dtype=torch.bfloat16)
        q = torch.randn(Hq, 1, D, device="cuda", dtype=torch.bfloat16)
        out = torch.empty_like(q)
        lse = torch.empty(Hq, 1, device="cuda", dtype=torch.float32)
        res = {"L": Ln, "Hq": Hq, "Hkv": Hkv, "pattern": pat, "density": density, "bytes": nbytes}
        shape = f"decode kv={Ln // 1024}k H={Hq}/{Hkv} d={D} b={B}"
        ms, _ = timeit_batched(lambda: lv.attention(q, k, v, out, lse, lay_dev, pos, Ln))
        res["ours"] = ms
        print(f"  {shape} {pat:12s} dens {density:6.2%} ours        {ms * 1000:9.1f} us {nbytes / ms / 1e6:6.0f} GB/s ({nbytes / ms / 1e6 / bw:5.1%} of copy BW)", flush=True)
        if flex is not None:
            try:
                bm = flex_block_mask(lay_dev, 1, Ln, decode_row=pos // B)
                fo = flex(q.view(1, Hq, 1, D), k[None], v[None], block_mask=bm, scale=D ** -0.5, enable_gqa=True)
                torch.cuda.synchronize()
                diff = float((fo[0].float() - out.float()).abs().max() / fo.float().abs().max())
                ms, _ = timeit_batched(lambda: flex(q.view(1, Hq, 1, D), k[None], v[None], block_mask=bm, scale=D ** -0.5, enable_gqa=True))
                res["flex"] = ms
                print(f"  {shape} {pat:12s} flex               {ms * 1000:9.1f} us {nbytes / ms / 1e6:6.0f} GB/s  (|ours-flex|/max {diff:.1e})", flush=True)
            except Exception as e:
                print(f"  flex decode failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
        try:
            ms, _ = timeit_batched(lambda: F.scaled_dot_product_attention(q.view(1, Hq, 1, D), k[None], v[None], enable_gqa=True), batch=5, reps=5)
            res["sdpa"] = ms
            print(f"  {shape} dense sdpa (all {Ln // 1024}k keys)       {ms * 1000:9.1f} us", flush=True)
        except Exception as e:
            print(f"  sdpa decode failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
        dec_out.append(res)
        dump()
        del k, v
        torch.cuda.empty_cache()

    # ---- table -----------------------------------------------------------------------------------------
    print()
    print(f"GPU: {name}; measured dense bf16 matmul {mm:.0f} TFLOP/s, HBM copy {bw:.0f} GB/s; bf16, head dim {D}, block {B}")
    print("| shape | pattern | density | wgmma ms | wgmma pipelined ms | wgmma ping-pong ms | mma.sync ms | TFLOP/s (best, kept) | % of matmul | FlexAttention ms | best vs Flex | SDPA dense causal ms | best vs SDPA |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows_out:
        best = min(r.get("wgmma", math.inf), r.get("wgmma-pipe", math.inf), r.get("wgmma-pingpong", math.inf), r["mma"])
        tf = r["flops"] / best / 1e9
        sd = min(r.get("sdpa-flash", math.inf), r.get("sdpa-cudnn", math.inf))
        f = lambda x: f"{x:.3f}" if x is not None and x != math.inf else "—"
        print(f"| prefill {r['L'] // 1024}k H{r['H']} | {r['pattern']} | {r['density']:.2%} | {f(r.get('wgmma'))} | {f(r.get('wgmma-pipe'))} | {f(r.get('wgmma-pingpong'))} | {f(r['mma'])} | {tf:.0f} | {tf / mm:.0%} | "
              f"{f(r.get('flex'))} | {(r['flex'] / best) if 'flex' in r else float('nan'):.2f}x | {f(sd)} | {(sd / best) if sd != math.inf else float('nan'):.2f}x |")
    print()
    print("Every timed path (launch options after a slash):")
    print("| shape | pattern | path | ms | TFLOP/s (kept) | % of matmul | vs Flex |")
    print("|---|---|---|---|---|---|---|")
    for r in rows_out:
        for path in r["paths"]:
            tf = r["flops"] / r[path] / 1e9
            vs = f"{r['flex'] / r[path]:.2f}x" if "flex" in r else "—"
            print(f"| prefill {r['L'] // 1024}k H{r['H']} | {r['pattern']} | {path} | {r[path]:.3f} | {tf:.0f} | {tf / mm:.0%} | {vs} |")
    print()
    print("| decode | pattern | kept blocks | bytes read (MB) | ours us | GB/s | % of copy BW | FlexAttention us | vs Flex | SDPA dense us |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in dec_out:
        gbs = r["bytes"] / r["ours"] / 1e6
        fl = r.get("flex")
        print(f"| kv {r['L'] // 1024}k H{r['Hq']}/{r['Hkv']} | {r['pattern']} | {r['density']:.2%} | {r['bytes'] / 1e6:.0f} | {r['ours'] * 1000:.1f} | {gbs:.0f} | {gbs / bw:.0%} | "
              f"{(fl * 1000) if fl else float('nan'):.1f} | {(fl / r['ours']) if fl else float('nan'):.2f}x | {r.get('sdpa', float('nan')) * 1000:.1f} |")
    if skipped:
        print(f"\nNot run (time budget): {', '.join(skipped)}")
    dump()


if __name__ == "__main__":
    main()
