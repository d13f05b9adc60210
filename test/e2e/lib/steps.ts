// One UI test per contract item: runs the body, screenshots the result, and on failure screenshots `-FAILED` and
// adds the extension host's new error lines to the message. A failed `essential` step skips the rest.
import path from "node:path";
import { it } from "node:test";
import type { CodeServer } from "./code-server";
import { repoRoot } from "./paths";
import type { Workbench } from "./workbench";

export interface StepOptions {
  essential?: boolean;
  timeout?: number;
}

export function createSteps(get: () => { wb: Workbench; server: CodeServer }, defaultTimeoutMs: number) {
  let stepNumber = 0;
  let fatal: string | undefined;
  return function step(name: string, body: () => Promise<void>, options: StepOptions = {}): void {
    const n = String(++stepNumber).padStart(2, "0");
    const slug = `${n}-${name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}`.slice(0, 100);
    it(name, { timeout: options.timeout ?? defaultTimeoutMs }, async (t) => {
      if (fatal) {
        t.skip(`skipped: ${fatal}`);
        return;
      }
      // A step may open a new window: the workbench is looked up again after the body.
      const { server } = get();
      const knownHostErrors = server.extensionHostErrors().length;
      try {
        await body();
        const shot = await get().wb.screenshot(slug);
        t.diagnostic(`screenshot ${path.relative(repoRoot, shot)}`);
      } catch (error) {
        const shot = await get().wb.screenshot(`${slug}-FAILED`).catch(() => "(no screenshot)");
        const hostErrors = server.extensionHostErrors().slice(knownHostErrors).slice(-15);
        if (options.essential) fatal = `"${name}" failed`;
        const message = error instanceof Error ? error.message : String(error);
        throw new Error(
          `${message}\n  screenshot: ${path.relative(repoRoot, shot)}` +
            (hostErrors.length ? `\n  extension host errors:\n    ${hostErrors.join("\n    ")}` : ""),
        );
      } finally {
        await get().wb.page.keyboard.press("Escape").catch(() => undefined);
      }
    });
  };
}
