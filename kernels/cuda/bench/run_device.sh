#!/usr/bin/env bash
# One device call: build, inspect the machine code, check correctness, benchmark. Logs go to $OUT.
# usage (from the repo root, on the GPU machine): bash kernels/cuda/bench/run_device.sh [quick]
set -u
OUT=${OUT:-/tmp/lvout}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv | tee "$OUT/gpu.txt"
t0=$(date +%s)
make -j16 > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
echo "[build] $(( $(date +%s) - t0 )) s"
cuobjdump -sass build/nvcc/prefill_wgmma.o > "$OUT/sass_wgmma.txt" 2>&1
echo "[sass] wgmma kernels: HGMMA $(grep -c HGMMA "$OUT/sass_wgmma.txt"), UTMALDG $(grep -c UTMALDG "$OUT/sass_wgmma.txt"), LDL/STL $(grep -c -E 'LDL|STL' "$OUT/sass_wgmma.txt")"
cuobjdump -sass build/nvcc/decode.o | grep -c -E "LDL|STL" | sed 's/^/[sass] decode LDL\/STL: /'
cd bench
MODE=${1:-full}
Q=""; [ "$MODE" = quick ] && Q="--quick"
timeout 200 python3 check_gpu.py --paths mma $Q 2>&1 | tee "$OUT/check_mma.log" | grep -E "FAIL|^\[check\]"
echo "[check mma] exit ${PIPESTATUS[0]}"
# Each wgmma variant is checked in its own process (a deadlocked kernel only loses its own time); only the
# variants that pass are benchmarked.
PASSED=""
for P in wgmma wgmma-pipe wgmma-pingpong; do
  timeout 90 python3 check_gpu.py --paths $P $Q 2>&1 | tee "$OUT/check_$P.log" | grep -E "FAIL|^\[check\] [0-9]"
  RC=${PIPESTATUS[0]}
  echo "[check $P] exit $RC"
  [ "$RC" = 0 ] && PASSED="$PASSED,$P"
done
NOWG="--wgmma-paths=${PASSED#,}"
timeout ${BENCH_TIMEOUT:-330} python3 bench_gpu.py $Q $NOWG --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log" | grep -v "^  "
echo "[bench] exit ${PIPESTATUS[0]}"
