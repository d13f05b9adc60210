// "Longview: Show Index Status" as a person runs it — palette, notification, Details — and the detail lines it
// wrote to the Longview output channel, read from the channel's log file (the Output view renders only the lines in
// sight, and Show Index Status writes more than a normal-sized panel shows).
import type { CodeServer } from "./code-server";
import { until, type Workbench } from "./workbench";

export async function showIndexStatus(wb: Workbench, server: CodeServer, timeoutMs: number): Promise<{ notice: string; details: string }> {
  const before = server.outputChannel("Longview").length;
  await wb.clearNotifications();
  await wb.runCommand("Longview: Show Index Status");
  const toast = wb.notification("Longview index:");
  await toast.waitFor({ timeout: timeoutMs });
  const notice = await toast.innerText();
  await toast.locator(".monaco-button", { hasText: "Details" }).click();
  // Details shows the channel; its last line (the attention backend) is written once the backend is open.
  await wb.page.locator(".part.panel .monaco-editor .view-lines", { hasText: "[status]" }).first().waitFor({ timeout: 30_000 });
  const details = await until("Show Index Status to write its details to the output channel", async () => {
    const text = server.outputChannel("Longview").slice(before);
    return /\[status\]\s+attention backend:/.test(text) ? text : undefined;
  }, 30_000);
  return { notice, details };
}
