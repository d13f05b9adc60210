// OPTIONAL path for machines with internet: the same integration suite through @vscode/test-electron's
// runTests, which downloads a desktop VS Code (needs a display or xvfb-run on Linux). CI uses the offline
// code-server route instead (npm run test:integration).
//
// usage: npm run test:electron
// env: LONGVIEW_VSCODE_VERSION   VS Code to download (default "stable")
//      LONGVIEW_VSCODE_EXECUTABLE an installed VS Code to use instead of downloading; test/e2e/electron/
//                                 code-server-shim.sh is one, which runs the suite in offline code-server
import { runTests } from "@vscode/test-electron";
import fs from "node:fs";
import path from "node:path";
import { bundleIntegrationSuite } from "../lib/bundle-suite";
import { copyFixture } from "../lib/fixture";
import { repoRoot } from "../lib/paths";

async function main(): Promise<void> {
  const extensionTestsPath = await bundleIntegrationSuite();
  const workspace = copyFixture("polyglot");
  try {
    await runTests({
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath,
      launchArgs: [workspace, "--disable-extensions", "--disable-workspace-trust", "--skip-welcome", "--skip-release-notes"],
      vscodeExecutablePath: process.env.LONGVIEW_VSCODE_EXECUTABLE,
      version: process.env.LONGVIEW_VSCODE_VERSION ?? "stable",
    });
  } finally {
    if (!process.env.KEEP) fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
  }
}

main().then(
  () => console.log("test-electron: integration tests passed"),
  (error) => {
    console.error(`test-electron: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  },
);
