#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) that Dawn accepts, so the WebGPU kernels run on a machine
# without a GPU (CI, this dev box). Debian 12's own mesa-vulkan-drivers 22.3.6 lacks
# shaderUniform/Sampled/StorageImageArrayDynamicIndexing, so Dawn's requestAdapter() returns null; Mesa 25 from
# bookworm-backports works (../shared/notes/treesitter-webgpu.md, Part B).
# Idempotent: does nothing when a Mesa >= 25 lavapipe is already installed. Run as root (or with sudo available).
# usage: bash scripts/setup-lavapipe.sh
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

installed_mesa_major() {
  dpkg-query -W -f='${Status} ${Version}\n' mesa-vulkan-drivers 2>/dev/null \
    | awk '$3 == "installed" { split($4, v, "."); print v[1] + 0 }'
}

have_loader() { dpkg-query -W -f='${Status}\n' libvulkan1 2>/dev/null | grep -q "install ok installed"; }

major="$(installed_mesa_major || true)"
if [ "${major:-0}" -ge 25 ] && have_loader; then
  echo "setup-lavapipe: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) already installed"
  exit 0
fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
  # Newer Debian/Ubuntu releases ship Mesa >= 24 in their main archive, which Dawn accepts.
  echo "setup-lavapipe: ${PRETTY_NAME:-unknown OS}: installing the distribution's mesa-vulkan-drivers"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1
  exit 0
fi

# Same mirror as the main archive (CI and dev boxes may point at a proxy or snapshot), plus the backports suite.
src=/etc/apt/sources.list.d/longview-backports.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  uri="$(awk '/^URIs:/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  if [ -z "$uri" ]; then
    uri="$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)"
  fi
  uri="${uri:-http://deb.debian.org/debian}"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
    | $SUDO tee "$src" >/dev/null
  echo "setup-lavapipe: added $src ($uri bookworm-backports)"
fi

$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  -t bookworm-backports mesa-vulkan-drivers
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libvulkan1

major="$(installed_mesa_major || true)"
if [ "${major:-0}" -lt 25 ]; then
  echo "setup-lavapipe: expected mesa-vulkan-drivers >= 25, got $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)" >&2
  exit 1
fi
echo "setup-lavapipe: mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers) installed"
