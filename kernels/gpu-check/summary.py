#!/usr/bin/env python3
"""The short table at the end of kernels/gpu-check/run-on-device.sh: what passed, the CUDA kernel against
FlexAttention / SDPA and the issue's H100 targets, and WebGPU as a ratio to the CUDA kernel on the same calls.
Reads OUT/status.tsv, suite-cuda.json, suite-webgpu.json, bench.json (bench_gpu.py), webgpu-bench.json;
any of them may be missing (a step that did not run) and is then shown as such. Plain Python, no torch.
usage: python3 summary.py OUT_DIR"""
import json
import math
import os
import sys

PREFILL_FLEX_TARGET = 1.2  # prefill >= 1.2x FlexAttention (>= 64k tokens, density <= 10 %)
PREFILL_MATMUL_TARGET = 0.5  # >= 50 % of the measured dense bf16 matmul rate, on kept blocks
DECODE_BW_TARGET = 0.7  # decode at 1M >= 70 % of the measured copy bandwidth, on the bytes it must read
WGMMA_PATHS = ("wgmma", "wgmma-pipe", "wgmma-pingpong")


def load(out, name):
    try:
        with open(os.path.join(out, name)) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def status_rows(out):
    rows = {}
    try:
        with open(os.path.join(out, "status.tsv")) as fh:
            next(fh, None)
            for line in fh:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3:
                    rows[parts[0]] = {"rc": parts[1], "seconds": parts[2], "note": parts[3] if len(parts) > 3 else ""}
    except OSError:
        pass
    return rows


def fmt(x, spec=".3f", missing="—"):
    return missing if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def ratio(x, digits=2):
    return fmt(x, f".{digits}f") + ("x" if x is not None and math.isfinite(x) else "")


def length_label(n):
    return f"{n // 1048576}M" if n % 1048576 == 0 else f"{n // 1024}k"


def best_prefill(r):
    """(ms, path) of the fastest of our prefill paths in a bench_gpu.py row."""
    cands = [(r[p], p) for p in WGMMA_PATHS + ("mma",) if isinstance(r.get(p), (int, float))]
    return min(cands) if cands else (None, None)


def suite_lines(name, data, status):
    if data is None:
        st = status.get(name, {})
        return [f"| Node suite {name[6:]} | not run | {st.get('note') or 'exit ' + st.get('rc', '?')} |"]
    lines = []
    for p in data.get("phases", []):
        detail = f"{p['passed']} passed, {p['failed']} failed, {p['seconds']:.0f} s"
        if p.get("seed") is not None:
            detail += f", seed {p['seed']}"
        if p.get("note"):
            detail += f"; {p['note'][:120]}"
        lines.append(f"| Node {p['phase']} | {p['verdict'].upper()} | {detail} |")
    if data.get("verdict") == "partial":
        lines.append(f"| Node suite {name[6:]} | INCOMPLETE | stopped (time cap?) after the phases above; see run.log |")
    elif not lines:
        lines.append(f"| Node suite {name[6:]} | {data.get('verdict', '?').upper()} | {data.get('note', '')[:120]} |")
    return lines


def check_lines(status):
    lines = []
    for name in ("check-mma-wgmma", "check-wgmma-pipe", "check-wgmma-pingpong"):
        st = status.get(name)
        if st is None:
            lines.append(f"| Python {name} | not run | |")
            continue
        verdict = "not run" if st["rc"] == "skip" else "PASS" if st["rc"] == "0" else ("TIMEOUT" if st["rc"] in ("124", "137") else f"FAIL (exit {st['rc']})")
        lines.append(f"| Python {name} | {verdict} | {st['seconds']} s {st['note']} |")
    return lines


def main(out):
    status = status_rows(out)
    bench = load(out, "bench.json")
    wg = load(out, "webgpu-bench.json")
    lines = ["", "## GPU check summary", ""]
    if "cuda-build-source" in status:
        lines.append(f"CUDA build: {status['cuda-build-source']['note']}." + (f" SASS: {status['sass']['note']}." if "sass" in status else ""))
    if bench:
        lines.append(f"GPU: {bench['gpu']}, torch {bench['torch']}; measured dense bf16 matmul {bench['matmul_tflops']:.0f} TFLOP/s, copy {bench['copy_gbs']:.0f} GB/s.")
    lines += ["", "| check | result | detail |", "|---|---|---|"]
    lines += suite_lines("suite-cuda", load(out, "suite-cuda.json"), status)
    lines += suite_lines("suite-webgpu", load(out, "suite-webgpu.json"), status)
    lines += check_lines(status)

    cuda_ms = {}  # (mode, length, pattern) -> our best CUDA ms, for the WebGPU ratio
    targets = []
    if bench:
        mm, bw = bench["matmul_tflops"], bench["copy_gbs"]
        lines += ["", "| CUDA prefill (H16, d128, b128, bf16) | density | ours best (path) ms | TFLOP/s kept | % matmul | Flex ms | vs Flex | SDPA dense ms | vs SDPA |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in bench.get("prefill", []):
            ms, path = best_prefill(r)
            if ms is None:
                continue
            cuda_ms[("prefill", r["L"], r["pattern"])] = ms
            tf = r["flops"] / ms / 1e9
            flex = r.get("flex")
            sd = min([r[k] for k in ("sdpa-flash", "sdpa-cudnn") if isinstance(r.get(k), (int, float))], default=None)
            vs_flex = flex / ms if flex else None
            lines.append(f"| {length_label(r['L'])} {r['pattern']} | {r['density']:.1%} | {ms:.3f} ({path}) | {tf:.0f} | {tf / mm:.0%} | {fmt(flex)} | "
                         f"{ratio(vs_flex)} | {fmt(sd)} | {ratio(sd / ms if sd else None, 1)} |")
            if r["L"] >= 65536 and r["density"] <= 0.10:
                targets.append(f"prefill {length_label(r['L'])} {r['pattern']} ({r['density']:.1%}): {ratio(vs_flex)} Flex "
                               f"[{'met' if vs_flex and vs_flex >= PREFILL_FLEX_TARGET else 'NOT met'} >= {PREFILL_FLEX_TARGET}x], "
                               f"{tf / mm:.0%} of matmul [{'met' if tf / mm >= PREFILL_MATMUL_TARGET else 'NOT met'} >= 50%]")
        lines += ["", "| CUDA decode (H32/8, d128, b128, bf16) | kept | MB read | ours us | GB/s | % copy BW | Flex us | vs Flex | SDPA dense us |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in bench.get("decode", []):
            ms = r["ours"]
            cuda_ms[("decode", r["L"], r["pattern"])] = ms
            gbs = r["bytes"] / ms / 1e6
            flex = r.get("flex")
            lines.append(f"| kv {length_label(r['L'])} {r['pattern']} | {r['density']:.1%} | {r['bytes'] / 1e6:.0f} | {ms * 1000:.1f} | {gbs:.0f} | {gbs / bw:.0%} | "
                         f"{fmt(flex * 1000 if flex else None, '.1f')} | {ratio(flex / ms if flex else None)} | {fmt(r['sdpa'] * 1000 if r.get('sdpa') else None, '.1f')} |")
            if r["L"] >= 1048576 and r["pattern"] != "dense":
                targets.append(f"decode kv {length_label(r['L'])} {r['pattern']}: {gbs / bw:.0%} of copy BW [{'met' if gbs / bw >= DECODE_BW_TARGET else 'NOT met'} >= 70%]")
        if bench.get("not_run"):
            lines.append(f"\nCUDA cases not run (time budget): {', '.join(bench['not_run'])}")
    else:
        st = status.get("bench-cuda", {})
        lines.append(f"\nCUDA benchmark: no bench.json ({st.get('note') or 'exit ' + st.get('rc', 'not run')}).")

    if wg and wg.get("verdict") == "partial":
        lines.append("WebGPU benchmark stopped before its last shape (time cap?): the rows below are those it finished.")
    if wg and not wg.get("rows"):
        lines.append(f"\nWebGPU benchmark: {wg.get('verdict', '?')} on {wg.get('device', '?')}: {wg.get('note', '')}")
    elif wg:
        lines += ["", f"| WebGPU on {wg.get('device', '?')[:60]} (f32) | WebGPU ms | CUDA ms | WebGPU / CUDA time | WebGPU rate | check |", "|---|---|---|---|---|---|"]
        for r in wg.get("rows", []):
            w = r.get("webgpuMs")
            c = cuda_ms.get((r["mode"], r["length"], r["pattern"]))
            rate = None
            if w:
                rate = f"{r['flops'] / w / 1e9:.1f} TFLOP/s" if r["mode"] == "prefill" else f"{r['bytes'] / w / 1e6:.0f} GB/s (bf16 bytes)"
            check = (r.get("check") or "") + (" FAIL" if r.get("checkOk") is False else "")
            lines.append(f"| {r['label']} {r['pattern']} | {fmt(w)} | {fmt(c)} | {ratio(w / c if (w and c) else None, 1)} | {rate or '—'} | {check or r.get('note', '')[:80]} |")
    else:
        st = status.get("bench-webgpu", {})
        lines.append(f"\nWebGPU benchmark: no webgpu-bench.json ({st.get('note') or 'exit ' + st.get('rc', 'not run')}).")

    if targets:
        lines += ["", "Targets (issue 4, H100): " + "; ".join(targets) + "."]
    slow = [f"{k} {v['rc']}" for k, v in status.items() if v["rc"] in ("124", "137")]
    if slow:
        lines.append("Steps killed at their time cap: " + ", ".join(slow) + ".")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
