#!/usr/bin/env bash
# Issue 5's H100 targets, measured in ONE device call (nvidia-h100-x1): the engine end to end (bench/bench-engine-gpu.ts)
# with the bundled model, a full prefill of repository-like layouts of 16k..1M tokens, then time to first answer token
# with the KV cache warm in memory and decode:
#   1. attention on CUDA (through the product's dispatch, --backend cuda): 16k, 64k, 256k, 1M, smallest first; a
#      context whose projected prefill does not fit the time left is probed instead (TTFT and decode over a cache
#      filled with values, prefill projected from the timed chunks); the 1M probe's time is kept aside;
#   2. the same on the native CPU attention (16k, 64k, 256k as time allows), to compare;
#   3. WebGPU through the NVIDIA Vulkan driver at 16k, when .device carries the webgpu package;
# then one table (bench-engine-gpu --report), printed last.
#
# Prepare here first: bash bench/engine-gpu/prepare.sh   (builds dist/engine-gpu/ and .device/, checks the size)
# Device call: carry [".device", "dist/engine-gpu"], command: bash bench/engine-gpu/run-on-device.sh, timeout_s 300.
# $OUT gets: run.log (every step's full output), status.tsv, cuda.json, cpu.json, webgpu.json, summary.md.
# ENGINE_GPU_BUDGET_S (default 230): the script plans its steps to end within this many seconds.
# For a dry run elsewhere: ENGINE_GPU_{CUDA,CPU,WEBGPU}_CONTEXTS (comma lists), ENGINE_GPU_THREADS.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
OUT=${OUT:-/tmp/lv-engine-gpu-out}
mkdir -p "$OUT"
LOGS=$(mktemp -d /tmp/lv-engine-gpu.XXXXXX)
RUNLOG=$OUT/run.log
STATUS=$OUT/status.tsv
: > "$RUNLOG"
printf 'step\trc\tseconds\tnote\n' > "$STATUS"
BUDGET=${ENGINE_GPU_BUDGET_S:-230}
T0=$(date +%s)
STAGE=$ROOT/dist/engine-gpu
ADDONS=$STAGE/native/linux-x64

elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[engine-gpu $(elapsed)s] $*" | tee -a "$RUNLOG"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$STATUS"; }
min() { [ "$1" -lt "$2" ] && echo "$1" || echo "$2"; }

# bench NAME CAP ARGS...: one bench process (its own budget CAP - 15 s, killed at CAP), full log into run.log, progress
# lines on the console.
bench() {
  local name=$1 cap=$2; shift 2
  local t rc note
  t=$(date +%s)
  cap=$(min "$cap" "$(left)")
  if [ "$cap" -lt 30 ]; then record "$name" skip 0 "no time left"; say "$name: SKIPPED (no time left)"; return 125; fi
  say "$name (cap ${cap}s): $*"
  timeout -k 5 "$cap" node --expose-gc "$STAGE/bench-engine-gpu.js" --label "$name" --model model-runtime/assets/model --budget-s $((cap - 15)) --json "$OUT/$name.json" \
    ${ENGINE_GPU_THREADS:+--threads "$ENGINE_GPU_THREADS"} "$@" > "$LOGS/$name.log" 2>&1
  rc=$?
  { echo "===== $name"; cat "$LOGS/$name.log"; } >> "$RUNLOG"
  grep -E '^\[bench-engine-gpu\]|Error|error' "$LOGS/$name.log" | tail -n 20
  note=""
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && note="killed at its ${cap}s cap"
  [ "$rc" != 0 ] && [ -z "$note" ] && note=$(grep -m1 -E 'Error' "$LOGS/$name.log" | cut -c1-160)
  record "$name" "$rc" $(( $(date +%s) - t )) "$note"
  say "$name: exit $rc after $(( $(date +%s) - t ))s"
}

# ---- 0. Node, the machine, the carried build ---------------------------------------------------------------
if ! command -v node > /dev/null 2>&1; then
  if [ -f .device/env.sh ]; then
    # shellcheck disable=SC1091
    source .device/env.sh
  fi
fi
if ! command -v node > /dev/null 2>&1 || [ ! -f "$STAGE/bench-engine-gpu.js" ]; then
  say "no node (.device/env.sh) or no dist/engine-gpu/bench-engine-gpu.js: carry [\".device\", \"dist/engine-gpu\"] after bench/engine-gpu/prepare.sh"
  echo "engine-gpu: nothing ran (no node or no dist/engine-gpu); see run.log" > "$OUT/summary.md"
  exit 1
fi
say "node $(node --version); setup took $(elapsed)s"
say "GPU: $( (nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 || echo "nvidia-smi failed") | head -n 1)"
say "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -x -E 'avx2|avx512f|avx512bw|avx512vl|avx512_vnni|avx_vnni|amx_int8' | tr '\n' ' ')"
say "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB total, " $7 " GiB available"}')"
if sha256sum --quiet -c "$STAGE/native-sources.sha256" > "$LOGS/hash.log" 2>&1; then
  BUILD_NOTE="carried addons built from these sources"
else
  BUILD_NOTE="STALE: native sources changed since prepare.sh built the carried addons (rerun prepare.sh)"
fi
say "$BUILD_NOTE"
record build 0 0 "$BUILD_NOTE"
# The loaders would find dist/engine-gpu/native/linux-x64 beside the bundle anyway; naming them rules out any other copy.
export LONGVIEW_CUDA_ADDON=$ADDONS/longview_cuda.node LONGVIEW_CPU_ADDON=$ADDONS/longview_cpu.node LONGVIEW_DENSE_ADDON=$ADDONS/longview_dense.node
HAVE_WEBGPU=0
node -e 'require.resolve("webgpu")' > /dev/null 2>&1 && HAVE_WEBGPU=1

# ---- 1. CUDA: what the targets are about; it keeps all but what the comparisons need -------------------------
KEEP=$(( HAVE_WEBGPU ? 80 : 50 ))
bench cuda $(( $(left) - KEEP )) --backend cuda --contexts "${ENGINE_GPU_CUDA_CONTEXTS:-16384,65536,262144,1048576}" --decode-box-s 10

# ---- 2. the native CPU attention on the same layouts ---------------------------------------------------------
bench cpu "$(min 45 $(( $(left) - (HAVE_WEBGPU ? 30 : 5) )))" --backend cpu --contexts "${ENGINE_GPU_CPU_CONTEXTS:-16384,65536,262144}" --decode-box-s 4

# ---- 3. WebGPU through Vulkan (f32, no tensor cores) ----------------------------------------------------------
if [ "$HAVE_WEBGPU" = 1 ]; then
  bench webgpu "$(min 30 $(( $(left) - 5 )))" --backend webgpu --contexts "${ENGINE_GPU_WEBGPU_CONTEXTS:-16384}" --decode-box-s 3
else
  record webgpu skip 0 "no webgpu package in .device (prepare.sh --no-webgpu or over 64 MiB)"
fi

# ---- 4. the table, last ---------------------------------------------------------------------------------------
say "done in $(elapsed)s; step status:"
column -t -s $'\t' "$STATUS" 2> /dev/null || cat "$STATUS"
reports=$(for f in cuda cpu webgpu; do [ -f "$OUT/$f.json" ] && echo "$OUT/$f.json"; done | paste -sd, -)
if [ -n "$reports" ]; then
  node "$STAGE/bench-engine-gpu.js" --report "$reports" --summary "$OUT/summary.md" > "$LOGS/report.log" 2>&1 || cat "$LOGS/report.log"
  # The steps' status goes first, so the table stays last.
  { printf 'Device run %s, %ss: ' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(elapsed)"; tail -n +2 "$STATUS" | awk -F'\t' '{printf "%s rc %s %ss%s; ", $1, $2, $3, ($4 != "" ? " (" $4 ")" : "")}'; printf '\n\n'; cat "$OUT/summary.md"; } > "$LOGS/summary.md"
  cp "$LOGS/summary.md" "$OUT/summary.md"
  echo
  cat "$OUT/summary.md"
else
  echo "engine-gpu: no step produced a report; see run.log" | tee "$OUT/summary.md"
fi
rm -rf "$LOGS"
