#!/usr/bin/env bash
# One device call (~2 min on an H100): the prefill launch options side by side on this GPU — the defaults (KV-head-major
# tile order, a 3-deep K/V ring) against the earlier ones (LONGVIEW_CUDA_PREFILL_ORDER=heads: heads fastest;
# LONGVIEW_CUDA_WGMMA_STAGES=2: a 2-deep ring). First run 2026-12-07: docs/benchmarks/launch-options-2026-12-07.log.
# Builds the library on the device, checks each option against the float64 reference (check_gpu.py --quick), then
# times every combination side by side with FlexAttention in one bench_gpu.py run. Only what passed is timed.
# usage (repo root, on the GPU machine; the run tool's kind nvidia-h100-x1, timeout_s 480):
#   bash kernels/cuda/bench/launch_options_device.sh
# $OUT gets one file, launch-options.log (the bench's JSON goes to /tmp).
set -u
OUT=${OUT:-/tmp/lvout}
mkdir -p "$OUT"
exec > >(tee "$OUT/launch-options.log") 2>&1
export PYTHONUNBUFFERED=1
T0=$(date +%s)
nvidia-smi --query-gpu=name,clocks.max.sm,driver_version --format=csv,noheader
cd "$(dirname "$0")/.."
make -j16 > /tmp/launch-options-build.log 2>&1 || { tail -20 /tmp/launch-options-build.log; exit 1; }
echo "[build] $(( $(date +%s) - T0 )) s"
cd bench
check() {  # check NAME ENV... : the mma and wgmma paths under these options
  local name=$1; shift
  env "$@" timeout 90 python3 check_gpu.py --paths mma,wgmma --quick > "/tmp/launch-options-check-$name.log" 2>&1
  local rc=$?
  echo "[check $name] exit $rc: $(grep -E '^\[check\] [0-9]' "/tmp/launch-options-check-$name.log")"
  grep FAIL "/tmp/launch-options-check-$name.log" | head -3
  return $rc
}
PATHS=wgmma
check default LONGVIEW_CUDA_PREFILL_ORDER= || PATHS=""
check heads LONGVIEW_CUDA_PREFILL_ORDER=heads && PATHS="$PATHS,wgmma/heads"
check stages2 LONGVIEW_CUDA_WGMMA_STAGES=2 && PATHS="$PATHS,wgmma/stages2"
check heads-stages2 LONGVIEW_CUDA_PREFILL_ORDER=heads LONGVIEW_CUDA_WGMMA_STAGES=2 && PATHS="$PATHS,wgmma/heads/stages2"
PATHS=${PATHS#,}
echo "[bench] timing: ${PATHS:-mma only}"
timeout 260 python3 bench_gpu.py --wgmma-paths="$PATHS" --decode '' --budget-s 180 --json /tmp/launch-options-bench.json \
  --prefill 65536:strided,65536:random5%,1048576:strided,262144:strided,65536:local+global,262144:random5%,16384:strided,1048576:local+global \
  > /tmp/launch-options-bench.log 2>&1
echo "[bench] exit $?"
grep -E "^\[bench\]|^Not run" /tmp/launch-options-bench.log
sed -n '/Every timed/,/^$/p' /tmp/launch-options-bench.log
echo "[total] $(( $(date +%s) - T0 )) s"
