#!/usr/bin/env bash
# One device call (~2-3 min on an H100): prefill launch options side by side on this GPU against the defaults.
# Builds the library on the device, checks each option against the float64 reference (check_gpu.py --quick), then
# times every option that passed side by side with FlexAttention in one bench_gpu.py run. Only what passed is timed.
# Options (bench_gpu.py's PATH_OPTIONS; join with / to combine): heads (heads-fastest tile order), stages2 (a 2-deep
# K/V ring), lean / eager (the sequential wgmma kernel's softmax).
# Runs: 2026-12-07 `heads stages2 heads/stages2` (docs/benchmarks/launch-options-2026-12-07.log, the default
# arguments); 2026-12-07 `lean` (docs/benchmarks/softmax-2026-12-07.log).
# usage (repo root, on the GPU machine; the run tool's kind nvidia-h100-x1, timeout_s 480):
#   bash kernels/cuda/bench/launch_options_device.sh [OPTION ...]
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
# Instructions per class in the sequential kernels (bf16, D 128, 128-row tiles, 3-deep ring): eager (0) vs lean (3).
for v in 0 3; do
  f="_ZN2lv20prefill_wgmma_kernelI13__nv_bfloat16Li128ELi2ELi128ELi${v}ELi3EEEv14CUtensorMap_stS2_S2_NS_6ParamsE"
  cuobjdump -sass -fun "$f" build/nvcc/prefill_wgmma.o 2>/dev/null | grep -oE '^ +/\*[0-9a-f]{4}\*/ +(@!?U?P[0-9T] +)?[A-Z0-9]+' \
    | awk '{print $NF}' | sort | uniq -c | sort -rn | head -12 | awk -v v=$v 'BEGIN{printf "[sass] variant %s:", v} {printf " %s %s", $2, $1} END{print ""}'
done
cd bench
opt_env() {  # opt_env heads/stages2 -> the environment assignments of those options
  local o
  for o in ${1//\// }; do
    case $o in
      heads) echo LONGVIEW_CUDA_PREFILL_ORDER=heads ;;
      stages2) echo LONGVIEW_CUDA_WGMMA_STAGES=2 ;;
      lean) echo LONGVIEW_CUDA_WGMMA_SOFTMAX=lean ;;
      eager) echo LONGVIEW_CUDA_WGMMA_SOFTMAX=eager ;;
      *) echo "unknown option $o" >&2; return 1 ;;
    esac
  done
}
check() {  # check NAME ENV... : the mma and wgmma paths under these options
  local name=$1; shift
  env "$@" timeout 90 python3 check_gpu.py --paths mma,wgmma --quick > "/tmp/launch-options-check-$name.log" 2>&1
  local rc=$?
  echo "[check $name] exit $rc: $(grep -E '^\[check\] [0-9]' "/tmp/launch-options-check-$name.log")"
  grep FAIL "/tmp/launch-options-check-$name.log" | head -3
  return $rc
}
[ $# -gt 0 ] || set -- heads stages2 heads/stages2
PATHS=wgmma
check default LONGVIEW_CUDA_PREFILL_ORDER= || PATHS=""
for opt in "$@"; do
  envs=$(opt_env "$opt") || exit 2
  # shellcheck disable=SC2086
  check "${opt//\//-}" $envs && PATHS="$PATHS,wgmma/$opt"
done
PATHS=${PATHS#,}
echo "[bench] timing: ${PATHS:-mma only}"
timeout 260 python3 bench_gpu.py --wgmma-paths="$PATHS" --decode '' --budget-s 180 --json /tmp/launch-options-bench.json \
  --prefill 65536:strided,65536:random5%,1048576:strided,262144:strided,65536:local+global,262144:random5%,16384:strided,1048576:local+global \
  > /tmp/launch-options-bench.log 2>&1
echo "[bench] exit $?"
grep -E "^\[bench\]|^Not run" /tmp/launch-options-bench.log
sed -n '/Every timed/,/^$/p' /tmp/launch-options-bench.log
echo "[total] $(( $(date +%s) - T0 )) s"
