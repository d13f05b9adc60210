#!/bin/sh
# A stand-in "VS Code executable" for @vscode/test-electron's runTests({ vscodeExecutablePath }) (or
# @vscode/test-cli's useInstallation.fromPath): keeps --extensionDevelopmentPath, --extensionTestsPath and the first
# folder argument, ignores the desktop-only flags, and runs the suite in offline code-server instead.
# Environment variables (runTests' extensionTestsEnv) reach the extension host.
DEV= TESTS= FOLDER=
for a in "$@"; do
  case "$a" in
    --extensionDevelopmentPath=*) DEV="${a#*=}" ;;
    --extensionTestsPath=*) TESTS="${a#*=}" ;;
    -*) ;;
    *) [ -z "$FOLDER" ] && FOLDER="$a" ;;
  esac
done
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
exec node --import tsx "$ROOT/test/e2e/run-integration.ts" --dev "$DEV" --tests "$TESTS" ${FOLDER:+--folder "$FOLDER"}
