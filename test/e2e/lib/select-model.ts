// "Longview: Select Model" → "Choose a model folder…" → VS Code's own folder picker (a quick input with a path box).
import { sleep, until, type Workbench } from "./workbench";

export async function selectModelFolder(wb: Workbench, folder: string): Promise<void> {
  await wb.clearNotifications();
  await wb.runCommand("Longview: Select Model");
  await wb.pickQuickItem("Choose a model folder");
  const input = wb.quickInput.locator("input").first();
  await until("the folder picker", async () => (await input.inputValue()).startsWith("/"), 10_000);
  // The picker rewrites its box while it lists the current folder: type until the path stays.
  await until(`the folder picker to hold ${folder}/`, async () => {
    await input.fill(`${folder}/`);
    await sleep(500);
    return (await input.inputValue()) === `${folder}/`;
  }, 15_000);
  await wb.page.keyboard.press("Enter");
}
