// The end of every UI suite: close the browser, keep the server's logs (and the network guard's log) under
// test-results, stop code-server, and delete the suite's temporary folders unless KEEP is set.
import fs from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import type { CodeServer } from "./code-server";
import { repoRoot } from "./paths";

export interface UiSuiteState {
  browser?: Browser;
  server?: CodeServer;
  /** Name of the logs folder (test-results/logs/<name>). */
  logsName: string;
  guardLog?: string;
  screenshots: string;
  /** Temporary folders to delete: the workspace's parent and scratch space. */
  temporary: Array<string | undefined>;
}

export async function tearDownUiSuite(s: UiSuiteState): Promise<void> {
  await s.browser?.close().catch(() => undefined);
  if (s.server) {
    const logs = s.server.saveLogs(s.logsName);
    if (s.guardLog && fs.existsSync(s.guardLog)) fs.copyFileSync(s.guardLog, path.join(logs, "network-guard.jsonl"));
    console.log(`logs: ${path.relative(repoRoot, logs)}; screenshots: ${path.relative(repoRoot, s.screenshots)}`);
    await s.server.stop();
  }
  // stop() waits for code-server's whole process group (an extension host outliving the main process once appended to
  // the network guard's log here mid-delete: ENOTEMPTY in CI); Node's retries stay as a second guard.
  if (!process.env.KEEP) for (const dir of s.temporary) if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}
