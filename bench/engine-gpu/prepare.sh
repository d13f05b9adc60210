#!/usr/bin/env bash
# Prepares, on this machine (no GPU needed), what bench/engine-gpu/run-on-device.sh needs on the GPU machine, in two
# git-ignored folders the device call carries:
#   dist/engine-gpu/   bench-engine-gpu.js (one bundle, no npm package needed at run time) and the three native
#                      addons it loads from dist/engine-gpu/native/linux-x64/ (the folder the product's loaders look in
#                      beside a bundle): the CUDA attention addon (nvcc here: CUDA 13, cudart static, sm_80 + sm_90a),
#                      the CPU attention addon and the dense-op addon (both pick AVX-512 / AVX2 / portable kernels
#                      at run time, so one build runs on the device CPU whatever it has), plus the SHA-256 of the
#                      sources they were built from.
#   .device/           Node.js and, when it fits, the `webgpu` package with the Vulkan loaders (../shared/device/prepare.sh).
# The bundled model (model-runtime/assets/model) and the tokenizer are tracked files: the call carries them anyway.
# Then it measures what the call would carry against the device tool's 64 MiB and prints the `run` arguments.
# usage (repo root, after npm ci):  bash bench/engine-gpu/prepare.sh [--keep-device-kit] [--no-webgpu]
#   --keep-device-kit: reuse an existing .device/ (no apt/network) when it holds Node (and webgpu unless --no-webgpu)
#   --no-webgpu: leave the webgpu package out of .device/ (the device script then skips its WebGPU comparison)
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
stage=dist/engine-gpu
limit=$((64 * 1024 * 1024))
keep=0; webgpu=1
for a in "$@"; do
  case "$a" in
    --keep-device-kit) keep=1 ;;
    --no-webgpu) webgpu=0 ;;
    *) echo "prepare: unknown option $a" >&2; exit 2 ;;
  esac
done
[ -x node_modules/.bin/esbuild ] && [ -d node_modules/node-gyp ] || { echo "prepare: node_modules is incomplete: run npm ci first" >&2; exit 2; }

# stale OUTPUT SOURCE...: true when OUTPUT is missing or a source file is newer (builds are shared: rebuild only then).
stale() {
  local out=$1; shift
  [ -f "$out" ] || return 0
  [ -n "$(find "$@" -type f -newer "$out" -print -quit 2>/dev/null)" ]
}

echo "== native addons (built here, rebuilt only when their sources are newer)"
cpu_src=(kernels/cpu/binding.gyp kernels/cpu/src)
dense_src=(model-runtime/src/engine/native/binding.gyp model-runtime/src/engine/native/src kernels/cpu/src/thread_pool.cc kernels/cpu/src/thread_pool.h)
cuda_src=(kernels/cuda/Makefile kernels/cuda/binding.gyp kernels/cuda/src kernels/cuda/include kernels/cuda/addon)
cpu_node=kernels/cpu/build/Release/longview_cpu.node
dense_node=model-runtime/src/engine/native/build/Release/longview_dense.node
cuda_node=kernels/cuda/build/Release/longview_cuda.node
if stale "$cpu_node" "${cpu_src[@]}"; then nice -n 10 npm run -s build:native; else echo "  $cpu_node is current"; fi
if stale "$dense_node" "${dense_src[@]}"; then nice -n 10 npm run -s build:native-engine; else echo "  $dense_node is current"; fi
if stale "$cuda_node" "${cuda_src[@]}"; then nice -n 10 npm run -s build:cuda; else echo "  $cuda_node is current"; fi

rm -rf "$stage" && mkdir -p "$stage/native/linux-x64"
cp "$cpu_node" "$dense_node" "$cuda_node" "$stage/native/linux-x64/"
find "${cpu_src[@]}" "${dense_src[@]}" "${cuda_src[@]}" -type f -print0 | sort -z | xargs -0 sha256sum > "$stage/native-sources.sha256"

echo "== bundle -> $stage/bench-engine-gpu.js"
node_modules/.bin/esbuild bench/bench-engine-gpu.ts --bundle --platform=node --format=cjs --target=node20 --minify \
  --external:vscode --external:webgpu --external:onnxruntime-node --external:'*.node' \
  --alias:web-tree-sitter="$root/node_modules/web-tree-sitter/web-tree-sitter.cjs" --log-level=warning --outfile="$stage/bench-engine-gpu.js"
# The staged addons must at least load here (the CUDA one too: cudart finds no driver only when first used).
node -e '
  for (const f of ["longview_cpu.node", "longview_dense.node", "longview_cuda.node"]) process.dlopen({ exports: {} }, require("path").resolve(process.argv[1], f));
  console.log("  the three staged addons load here");' "$stage/native/linux-x64"

echo "== .device (Node$([ $webgpu = 1 ] && echo ' + webgpu + Vulkan loaders'))"
kit_ok() {
  [ -f .device/env.sh ] && [ -f .device/stage.tar.xz ] || return 1
  local list; list=$(tar -tJf .device/stage.tar.xz) || return 1
  grep -qx './node' <<< "$list" || return 1
  if [ $webgpu = 1 ]; then grep -qx './node_modules/webgpu/package.json' <<< "$list"; else ! grep -q '^./node_modules/' <<< "$list"; fi
}
build_kit() { if [ $webgpu = 1 ]; then bash ../shared/device/prepare.sh webgpu; else bash ../shared/device/prepare.sh; fi; }
if [ $keep = 1 ] && kit_ok; then echo "  keeping the existing .device/"; else build_kit; fi

echo "== what the device call carries (limit 64 MiB)"
bytes_of() { xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
measure() {
  tracked=$(git ls-files -z | bytes_of)
  untracked=$(git ls-files -z -o --exclude-standard | bytes_of)
  device_kit=$(find .device -type f -print0 | bytes_of)
  staged=$(find "$stage" -type f -print0 | bytes_of)
  shared=0; [ -d shared ] && shared=$(find shared -type f -print0 | bytes_of)
  total=$((tracked + untracked + device_kit + staged + shared))
  printf '  tracked %s, untracked-not-ignored %s, shared/ %s, .device %s, %s %s: total %s\n' \
    "$(mib "$tracked")" "$(mib "$untracked")" "$(mib "$shared")" "$(mib "$device_kit")" "$stage" "$(mib "$staged")" "$(mib "$total")"
}
measure
if [ "$total" -gt "$limit" ] && [ $webgpu = 1 ]; then
  echo "  over 64 MiB with webgpu: rebuilding .device without it (the WebGPU comparison will be skipped)"
  webgpu=0; build_kit; measure
fi
if [ "$total" -gt "$limit" ]; then echo "prepare: over the 64 MiB the device tool carries" >&2; exit 1; fi
echo "  headroom $(mib $((limit - total)))"

cat <<'ARGS'
== run tool arguments (one call; the script plans for 230 s and ends by itself):
  kind: nvidia-h100-x1
  carry: [".device", "dist/engine-gpu"]
  timeout_s: 300
  command: bash bench/engine-gpu/run-on-device.sh
ARGS
