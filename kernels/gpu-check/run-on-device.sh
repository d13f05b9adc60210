#!/usr/bin/env bash
# Everything issue 4 still has to see on a GPU, in ONE device call (nvidia-h100-x1), ending well inside 6 minutes:
#   1. the shared kernel suite (kernels/testing) from Node on the CUDA addon (bf16 default path, fp16 mma.sync)
#      and on WebGPU through the NVIDIA Vulkan driver (default plan, split-K, no subgroups), with the Python
#      device check (check_gpu.py) of mma/wgmma and of the two experimental wgmma variants, each in its own
#      process so a deadlocked kernel only loses its own time;
#   2. the CUDA benchmark (bench_gpu.py) against compiled FlexAttention and dense causal SDPA, block 128,
#      head dim 128, bf16, 64k..1M, decode at 1M against the measured copy bandwidth;
#   3. the WebGPU backend on the benchmark's shapes that fit its 2 GiB bindings, as a ratio to the CUDA kernel;
# then a short table (kernels/gpu-check/summary.py), printed last.
#
# Prepare here first: bash kernels/gpu-check/prepare.sh   (builds dist/gpu-check/ and .device/, checks the size)
# Device call: carry [".device", "dist/gpu-check"], command: bash kernels/gpu-check/run-on-device.sh
# $OUT gets at most 8 files (the device tool's limit): run.log (every step's full output), status.tsv,
# suite-cuda.json, suite-webgpu.json, bench.json, webgpu-bench.json, summary.md.
# GPU_CHECK_BUDGET_S (default 300): the script plans its steps to end within this many seconds (expected: ~4 min;
# the CUDA benchmark takes what the other steps leave and drops its last cases rather than overrun).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
OUT=${OUT:-/tmp/lv-gpu-check-out}
mkdir -p "$OUT"
LOGS=$(mktemp -d /tmp/lv-gpu-check.XXXXXX)
RUNLOG=$OUT/run.log
STATUS=$OUT/status.tsv
: > "$RUNLOG"
printf 'step\trc\tseconds\tnote\n' > "$STATUS"
BUDGET=${GPU_CHECK_BUDGET_S:-300}
T0=$(date +%s)
export PYTHONUNBUFFERED=1

elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[gpu-check $(elapsed)s] $*" | tee -a "$RUNLOG"; }
# record STEP RC SECONDS NOTE
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$STATUS"; }
# Appends a finished step's log to run.log and shows the lines worth seeing on the console.
# Steps may run side by side: a lock keeps their logs and console lines in one piece each.
show() {
  local name=$1 pattern=$2
  {
    flock 9 2> /dev/null || true
    { echo "===== $name"; cat "$LOGS/$name.log"; } >> "$RUNLOG"
    grep -E "$pattern" "$LOGS/$name.log" | tail -n 25
  } 9> "$LOGS/.lock"
}
# step NAME CAP_SECONDS PATTERN COMMAND...: runs the command (killed after CAP seconds) into its own log.
step() {
  local name=$1 cap=$2 pattern=$3; shift 3
  local t=$(date +%s) rc max
  max=$(left); [ "$cap" -gt "$max" ] && cap=$max
  if [ "$cap" -lt 5 ]; then record "$name" skip 0 "no time left"; say "$name: SKIPPED (no time left)"; return 125; fi
  say "$name (cap ${cap}s)"
  timeout -k 5 "$cap" "$@" > "$LOGS/$name.log" 2>&1
  rc=$?
  show "$name" "$pattern"
  # The note: the last "N passed, M failed" line (suites and checks), and whether the cap killed it.
  local note
  note=$(grep -o -E '[0-9]+ passed, [0-9]+ failed' "$LOGS/$name.log" | tail -n 1)
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && note="$note killed at its ${cap}s cap"
  record "$name" "$rc" $(( $(date +%s) - t )) "$note"
  say "$name: exit $rc after $(( $(date +%s) - t ))s"
  return "$rc"
}

# ---- 0. Node, Dawn's Vulkan loaders, the CUDA build --------------------------------------------------------
if ! command -v node > /dev/null 2>&1; then
  if [ -f .device/env.sh ]; then
    # shellcheck disable=SC1091
    source .device/env.sh
  else
    say "no node and no .device/env.sh: the Node steps will be skipped (carry .device, see prepare.sh)"
  fi
fi
GPU_LINE=$( (nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader 2>&1 || echo "nvidia-smi failed") | head -n 1)
say "node $(node --version 2>/dev/null || echo missing); GPU: $GPU_LINE"
say "vulkan: $(ldconfig -p 2>/dev/null | grep -c libvulkan.so.1) loader(s); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"

STAGE=$ROOT/dist/gpu-check
# prepare.sh packs the CUDA addon and library (xz) to stay inside the device call's 64 MiB.
[ -f "$STAGE/cuda-binaries.tar.xz" ] && tar -xJf "$STAGE/cuda-binaries.tar.xz" -C "$STAGE"
export LONGVIEW_CUDA_ADDON=$STAGE/longview_cuda.node
export LONGVIEW_CUDA_LIB=$STAGE/liblongview_cuda.so
BUILD_NOTE="carried build (nvcc here, CUDA sources match)"
if [ ! -f "$LONGVIEW_CUDA_LIB" ] || ! sha256sum --quiet -c "$STAGE/cuda-sources.sha256" > "$LOGS/hash.log" 2>&1; then
  # The carried build is missing or older than the sources: build the library for Python here (no Node
  # headers here, so the Node addon cannot be rebuilt: its suite then runs the carried one, flagged STALE).
  BUILD_NOTE="CUDA sources differ from the carried build: library rebuilt here; Node addon STALE (rerun prepare.sh)"
  [ -f "$LONGVIEW_CUDA_LIB" ] || BUILD_NOTE="no carried build: library built here; no Node addon (rerun prepare.sh)"
  say "$BUILD_NOTE"
  step cuda-build $(( $(left) < 180 ? $(left) : 180 )) "error|warning" make -C kernels/cuda -j"$(nproc)"
  export LONGVIEW_CUDA_LIB=$ROOT/kernels/cuda/build/nvcc/liblongview_cuda.so
fi
record cuda-build-source 0 0 "$BUILD_NOTE"
if command -v cuobjdump > /dev/null 2>&1 && [ -f "$LONGVIEW_CUDA_LIB" ]; then
  cuobjdump -sass "$LONGVIEW_CUDA_LIB" > "$LOGS/sass.txt" 2>&1
  SASS="HGMMA $(grep -c HGMMA "$LOGS/sass.txt"), UTMALDG $(grep -c UTMALDG "$LOGS/sass.txt"), local-memory LDL/STL $(grep -c -E 'LDL|STL' "$LOGS/sass.txt")"
  say "sass of $(basename "$LONGVIEW_CUDA_LIB"): $SASS"
  record sass 0 0 "$SASS"
fi

NODE_ENTRY=(node "$STAGE/gpu-check.js")
have_node() { command -v node > /dev/null 2>&1 && [ -f "$STAGE/gpu-check.js" ]; }

# ---- 1. correctness: the Node suites and the Python check of the default paths, side by side ---------------
# They are timing-insensitive and mostly single-threaded on the CPU (the float64 reference), so they share
# the machine; each has its own cap.
SUITE_PATTERN='FAIL|ERROR|SKIP|\[gpu-check\]|passed, .* failed'
CHECK_PATTERN='FAIL|Error|error|^\[check\]'
if have_node; then
  step suite-cuda 90 "$SUITE_PATTERN" "${NODE_ENTRY[@]}" suite-cuda --json "$OUT/suite-cuda.json" --budget-s 50 &
  step suite-webgpu 100 "$SUITE_PATTERN" "${NODE_ENTRY[@]}" suite-webgpu --json "$OUT/suite-webgpu.json" --budget-s 60 &
else
  record suite-cuda skip 0 "no node or no dist/gpu-check/gpu-check.js"
  record suite-webgpu skip 0 "no node or no dist/gpu-check/gpu-check.js"
fi
( cd kernels/cuda/bench && step check-mma-wgmma 60 "$CHECK_PATTERN" python3 check_gpu.py --paths mma,wgmma --quick ) &
wait

# ---- 2. the experimental wgmma variants: checked one process each; only those that pass are benchmarked -----
PASSED=wgmma
for P in wgmma-pipe wgmma-pingpong; do
  ( cd kernels/cuda/bench && step "check-$P" 35 "$CHECK_PATTERN" python3 check_gpu.py --paths "$P" --quick ) && PASSED="$PASSED,$P"
done
grep -q "^check-mma-wgmma"$'\t'"0"$'\t' "$STATUS" || { PASSED=""; say "mma/wgmma check did not pass: benchmarking the mma.sync path only"; }
say "wgmma variants benchmarked: ${PASSED:-none}"

# ---- 3. the CUDA benchmark, with the time that is left (the WebGPU bench and the summary keep ~75 s) ----------
CAP=$(( $(left) - 75 ))
( cd kernels/cuda/bench && step bench-cuda "$CAP" '^\[bench\]|^  |^Not run' python3 bench_gpu.py --wgmma-paths="$PASSED" \
    --prefill 65536:strided,65536:random5%,262144:strided,1048576:strided,65536:local+global,16384:strided,262144:random5%,1048576:local+global \
    --decode 1048576:strided,131072:strided,1048576:local+global,1048576:dense \
    --prefill-budget-s $(( CAP - 95 )) --budget-s $(( CAP - 35 )) --json "$OUT/bench.json" )

# ---- 4. WebGPU on the benchmark's shapes (f32 K/V must fit a 2 GiB binding: 64k prefill, 128k decode) --------
if have_node; then
  CAP=$(( $(left) - 10 ))
  [ "$CAP" -gt 100 ] && CAP=100
  step bench-webgpu "$CAP" '\[gpu-check\]|\[webgpu bench\]' "${NODE_ENTRY[@]}" bench-webgpu --json "$OUT/webgpu-bench.json" \
    --shapes prefill:64k:strided:16/16,decode:128k:strided:32/8 --budget-s $(( CAP > 40 ? CAP - 40 : 0 ))
else
  record bench-webgpu skip 0 "no node or no dist/gpu-check/gpu-check.js"
fi

# ---- 5. the table, last ---------------------------------------------------------------------------------------
say "done in $(elapsed)s; logs: run.log; the table below is also in summary.md"
python3 kernels/gpu-check/summary.py "$OUT" | tee "$OUT/summary.md"
rm -rf "$LOGS"
