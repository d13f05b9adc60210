#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine (root, or sudo; network: Debian apt and the npm registry only) for
# everything the tests need. Idempotent: a second run checks and returns in seconds.
#   1. apt packages   2. npm dependencies (npm ci when node_modules is missing or older than the lock)
#   3. Node 24 + code-server, a real VS Code that runs offline, into .vscode-test/ (scripts/setup-vscode.sh)
# usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

T0=$(date +%s)
phase() { echo "setup: [+$(( $(date +%s) - T0 ))s] $*"; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# ---- 1. apt packages -----------------------------------------------------------------------------------------
# chromium: drives the VS Code workbench in the UI tests (playwright-core, never `npx playwright install`).
# libkrb5-dev: headers for the kerberos addon that code-server's install compiles (with python3, make, g++).
# unzip: the UI test checks what the packaged VSIX holds.
APT_PACKAGES=(chromium libkrb5-dev python3 make g++ unzip)
# >>> MORE APT PACKAGES: other test needs go here, e.g. APT_PACKAGES+=(xvfb). Packages that need their own
# >>> apt source (Mesa's Vulkan from bookworm-backports for WebGPU: scripts/setup-lavapipe.sh) run as a step
# >>> below, in "extra system setup".
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  phase "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
phase "apt packages ready"

# ---- extra system setup (steps with their own scripts) --------------------------------------------------------
# Mesa's software Vulkan (lavapipe) from bookworm-backports: the WebGPU kernels' tests run on it.
bash scripts/setup-lavapipe.sh
phase "lavapipe (software Vulkan for WebGPU) ready"

# ---- 2. npm dependencies --------------------------------------------------------------------------------------
# npm writes node_modules/.package-lock.json at the end of every install: older than package-lock.json means the
# lock changed since (a pull, a new dependency).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  phase "npm ci"
  # npm ci runs dependencies' install scripts (allowScripts only warns there). onnxruntime-node's would fetch
  # its CUDA provider from api.nuget.org, which CI cannot reach; its CPU binaries ship in the npm package.
  ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}" npm ci --no-audit --no-fund --loglevel=error
fi
phase "npm dependencies ready"

# ---- native kernels -------------------------------------------------------------------------------------------
# The CPU attention addon (g++, Node's local headers), and the CUDA kernels + addon (nvcc). Without a GPU the CUDA
# build only compiles; its tests check that the addon loads and reports the missing device. CI (CI=1) has nvcc and
# must build it; elsewhere a missing nvcc is only a notice.
npm run -s build:native
npm run -s build:native-engine
phase "CPU attention and dense (engine) addons built"
if [ -n "${CI:-}" ]; then npm run -s build:cuda; else LONGVIEW_CUDA_OPTIONAL=1 npm run -s build:cuda; fi
phase "CUDA kernels built (or skipped without nvcc)"

# ---- 3. Node 24 + code-server ---------------------------------------------------------------------------------
bash scripts/setup-vscode.sh
phase "done"
