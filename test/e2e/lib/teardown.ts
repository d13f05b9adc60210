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
  // An extension host can outlive code-server's main process by a moment and still append to the network guard's
  // log in these folders (ENOTEMPTY mid-delete, seen once in CI): Node's own retries wait it out.
  if (!process.env.KEEP) for (const dir of s.temporary) if (dir) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}
