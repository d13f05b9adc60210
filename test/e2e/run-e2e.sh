#!/usr/bin/env bash
# npm run test:e2e: build + package the VSIX, then EVERY suite (a failing one must not hide the others' results),
# timing each; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
status=0
results=()
run() {
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  "$@" || rc=$?
  results+=("$(printf '  %-12s %4ss %s' "$name" "$(( $(date +%s) - start ))" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")")
  [ "$rc" -eq 0 ] || status=1
  return "$rc"
}
# `package` runs vscode:prepublish (the production build) before vsce packs dist/.
if run package npm run -s package; then
  run integration npm run -s test:integration
  run ui npm run -s test:ui
  run restricted npm run -s test:ui-restricted
  run model npm run -s test:ui-model
fi
echo "e2e:"
printf '%s\n' "${results[@]}"
exit "$status"
