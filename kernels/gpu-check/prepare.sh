#!/usr/bin/env bash
# Prepares, on this machine (no GPU needed), what kernels/gpu-check/run-on-device.sh needs on the GPU machine,
# in two git-ignored folders that the device call carries:
#   .device/          Node.js, the `webgpu` package (Dawn) and the Vulkan/GL loaders: ../shared/device/prepare.sh webgpu
#   dist/gpu-check/   the bundled Node entry (gpu-check.js), the CUDA addon and shared library built HERE with nvcc
#                     (packed as cuda-binaries.tar.xz; run-on-device.sh unpacks them)
#                     (CUDA 13.0 here and there, cudart linked statically, sm_80 + sm_90a machine code), and the
#                     SHA-256 of the CUDA sources they came from (the device script rebuilds the library if they differ)
# Then it measures what the call would carry (tracked + untracked-not-ignored files + the two folders) against
# the device tool's 64 MiB, and prints the `run` arguments.
# usage (repo root, after npm ci):  bash kernels/gpu-check/prepare.sh [--keep-device-kit]
#   --keep-device-kit: reuse an existing .device/ that already holds the webgpu package (no apt/network)
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
stage=dist/gpu-check
limit=$((64 * 1024 * 1024))

[ -d node_modules/webgpu ] || { echo "prepare: node_modules/webgpu missing: run npm ci first" >&2; exit 2; }

echo "== CUDA backend (nvcc here; the GPU machine only runs it)"
npm run -s build:cuda
rm -rf "$stage" && mkdir -p "$stage"
# xz-packed (6.7 MB -> ~1 MB): with the committed model the tree alone is ~31 MB, and the call carries 64 MiB in all.
tar -cJf "$stage/cuda-binaries.tar.xz" -C kernels/cuda/build/Release longview_cuda.node -C ../nvcc liblongview_cuda.so
sha256sum kernels/cuda/Makefile kernels/cuda/binding.gyp kernels/cuda/src/* kernels/cuda/include/* kernels/cuda/addon/* > "$stage/cuda-sources.sha256"

echo "== Node entry -> $stage/gpu-check.js"
node_modules/.bin/esbuild kernels/gpu-check/gpu-check.ts --bundle --platform=node --format=cjs --target=node20 \
  --external:webgpu --external:'*.node' --log-level=warning --outfile="$stage/gpu-check.js"

echo "== .device (node + webgpu + Vulkan loaders)"
if [ "${1:-}" = --keep-device-kit ] && [ -f .device/env.sh ] && tar -tJf .device/stage.tar.xz ./node_modules/webgpu/package.json >/dev/null 2>&1; then
  echo "keeping the existing .device/"
else
  bash ../shared/device/prepare.sh webgpu
fi

echo "== what the device call carries (limit 64 MiB)"
bytes_of() { xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
tracked=$(git ls-files -z | bytes_of)
untracked=$(git ls-files -z -o --exclude-standard | bytes_of)
device_kit=$(find .device -type f -print0 | bytes_of)
staged=$(find "$stage" -type f -print0 | bytes_of)
shared=0; [ -d shared ] && shared=$(find shared -type f -print0 | bytes_of)
total=$((tracked + untracked + device_kit + staged + shared))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
printf '  tracked %s, untracked-not-ignored %s, shared/ %s, .device %s, %s %s: total %s\n' \
  "$(mib "$tracked")" "$(mib "$untracked")" "$(mib "$shared")" "$(mib "$device_kit")" "$stage" "$(mib "$staged")" "$(mib "$total")"
if [ "$total" -gt "$limit" ]; then echo "prepare: over the 64 MiB the device tool carries" >&2; exit 1; fi

cat <<'ARGS'
== run tool arguments (one call; the script plans for 300 s and ends by itself):
  kind: nvidia-h100-x1
  carry: [".device", "dist/gpu-check"]
  timeout_s: 360
  command: bash kernels/gpu-check/run-on-device.sh
ARGS
