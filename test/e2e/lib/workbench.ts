// Drives the VS Code workbench the way a person does: command palette, quick open, editor, hovers,
// notifications, the status bar and webview views. Selectors are VS Code's own DOM (checked with 1.139).
import fs from "node:fs";
import path from "node:path";
import type { FrameLocator, Locator, Page } from "playwright-core";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value; fails with `what` and the last value/error. */
export async function until<T>(what: string, check: () => Promise<T>, timeoutMs: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error instanceof Error ? error.message.split("\n")[0] : error;
    }
    if (Date.now() > deadline) throw new Error(`${what} (waited ${timeoutMs / 1000} s; last: ${JSON.stringify(last)})`);
    await sleep(250);
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export class Workbench {
  constructor(readonly page: Page, private readonly shotsDir: string) {}

  async waitReady(timeoutMs = 90_000): Promise<void> {
    await this.page.locator(".monaco-workbench").waitFor({ timeout: timeoutMs });
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(this.shotsDir, { recursive: true });
    const file = path.join(this.shotsDir, `${name}.png`);
    await sleep(300); // let fades (palette closing, toast opening) settle, so the picture shows the result
    await this.page.screenshot({ path: file, animations: "disabled" });
    return file;
  }

  activityBarEntry(labelPrefix: string): Locator {
    return this.page.locator(`.activitybar [aria-label^="${labelPrefix}"]`).first();
  }

  statusBarItem(text: string | RegExp): Locator {
    return this.page.locator(".statusbar-item", { hasText: text }).first();
  }

  get quickInput(): Locator {
    return this.page.locator(".quick-input-widget");
  }

  private quickInputRows(): Locator {
    return this.page.locator(".quick-input-list .monaco-list-row");
  }

  private async openPalette(text: string, keepSelection = false): Promise<void> {
    // Escape closes whatever is open, but in an editor it also drops the selection.
    if (!keepSelection) await this.page.keyboard.press("Escape");
    await this.page.keyboard.press("F1");
    const input = this.quickInput.locator("input").first();
    await input.waitFor({ timeout: 10_000 });
    await input.fill(text);
  }

  /**
   * Runs a command from the palette by its full title ("Category: Title"). Retries because the palette can
   * open before an extension's commands are registered; fails naming the command if it never shows up.
   */
  async runCommand(title: string, timeoutMs = 30_000, options: { keepSelection?: boolean } = {}): Promise<void> {
    const row = this.quickInputRows().filter({ hasText: new RegExp(`^${escapeRegExp(title)}`) }).first();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.openPalette(`>${title}`, options.keepSelection);
      try {
        await row.waitFor({ timeout: 3_000 });
        break;
      } catch {
        if (Date.now() > deadline) {
          await this.page.keyboard.press("Escape");
          throw new Error(`command "${title}" is not in the command palette`);
        }
        await sleep(1_000);
      }
    }
    await row.click();
  }

  /** Titles the palette lists for a filter, e.g. ">Longview:". */
  async paletteTitles(filter: string): Promise<string[]> {
    await this.openPalette(filter);
    await this.quickInputRows().first().waitFor({ timeout: 10_000 }).catch(() => undefined);
    await sleep(500); // the list fills in batches
    const titles = await this.quickInputRows().locator(".label-name").allInnerTexts();
    await this.page.keyboard.press("Escape");
    return titles.map((t) => t.trim());
  }

  /** Clicks the row of the open quick pick whose label matches (waits for it to show). */
  async pickQuickItem(label: string | RegExp, timeoutMs = 10_000): Promise<void> {
    const row = this.quickInputRows().filter({ has: this.page.locator(".label-name", { hasText: label }) }).first();
    await row.waitFor({ timeout: timeoutMs });
    await row.click();
  }

  /** Labels of the open quick pick's rows, once `expected` rows show (the list fills in batches). */
  async quickItemLabels(expected = 1): Promise<string[]> {
    const labels = () => this.page.locator(".quick-input-widget .quick-input-list .monaco-list-row .label-name").allInnerTexts();
    return until(`${expected} quick pick rows`, async () => {
      const l = (await labels()).map((t) => t.trim());
      return l.length >= expected ? l : undefined;
    }, 10_000);
  }

  /** The text the panel's editors show (the Output view's visible lines: the end of the channel, where new lines go). */
  async outputText(): Promise<string> {
    // Editors render spaces as no-break spaces.
    return (await this.page.locator(".part.panel .monaco-editor .view-lines").allInnerTexts().catch(() => [])).join("\n").replace(/\u00a0/g, " ");
  }

  /** A view's title-bar action, by its label (e.g. "Clear Chat History"). */
  viewAction(label: string): Locator {
    return this.page.locator(`.part.sidebar .title-actions a.action-label[aria-label="${label}"], .part.sidebar .pane-header .actions a.action-label[aria-label="${label}"]`).first();
  }

  /**
   * Opens a workspace file through Quick Open, as a person would, and waits for its editor. Tries twice: a hover
   * or a notification that still has the focus can swallow the first Ctrl+P.
   */
  /**
   * Types `line` as a new last line of `relativePath` in the editor, as a person would, saves, and waits until the
   * file on disk (under `workspace`) holds it.
   */
  async appendLineAndSave(workspace: string, relativePath: string, line: string): Promise<void> {
    await this.openFile(relativePath);
    const editor = this.page.locator(".editor-group-container.active .monaco-editor .view-lines").first();
    await editor.click();
    await this.page.keyboard.press("Control+End");
    await this.page.keyboard.press("Enter");
    await this.page.keyboard.type(line);
    await this.page.keyboard.press("Control+S");
    await until(`${relativePath} saved with ${line}`, async () => fs.readFileSync(path.join(workspace, relativePath), "utf8").includes(line), 15_000);
  }

  async openFile(relativePath: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await this.page.mouse.move(1, 1); // away from any hover
      await this.page.keyboard.press("Escape");
      await this.page.keyboard.press("Control+P");
      const input = this.quickInput.locator("input").first();
      try {
        await input.waitFor({ timeout: 10_000 });
        await input.fill(relativePath);
        // Enter takes the FIRST row: wait until the list has been filtered down to the file.
        await until(`Quick Open to list ${relativePath} first`, async () =>
          (await this.quickInputRows().first().innerText({ timeout: 1_000 })).includes(path.basename(relativePath)), 15_000);
        await this.page.keyboard.press("Enter");
        await this.activeTab(path.basename(relativePath)).waitFor({ timeout: attempt === 1 ? 7_000 : 15_000 });
        return;
      } catch (error) {
        if (attempt >= 2) throw error;
      }
    }
  }

  activeTab(label: string): Locator {
    return this.page.locator(".tabs-container .tab.active", { hasText: label }).first();
  }

  /** A rendered token of the active editor whose text is exactly `word`, on the line that contains `lineText`. */
  editorWord(word: string, lineText: string): Locator {
    return this.page
      .locator(".editor-group-container.active .monaco-editor .view-line", { hasText: lineText })
      .first()
      .locator("span span", { hasText: new RegExp(`^${escapeRegExp(word)}$`) })
      .first();
  }

  /** 1-based cursor line of the active editor, read from the status bar's "Ln X, Col Y". */
  async cursorLine(): Promise<number | undefined> {
    const text = await this.page.locator('[id="status.editor.selection"]').innerText({ timeout: 2_000 }).catch(() => "");
    const m = /Ln (\d+)/.exec(text);
    return m ? Number(m[1]) : undefined;
  }

  notification(text: string | RegExp): Locator {
    return this.page.locator(".notifications-toasts .notification-toast", { hasText: text }).first();
  }

  async clearNotifications(): Promise<void> {
    await this.runCommand("Notifications: Clear All Notifications").catch(() => undefined);
  }

  /** Moves the mouse onto an element until a hover matching `text` shows (hovers need a settled pointer). */
  async hover(target: Locator, text: string | RegExp, timeoutMs = 30_000): Promise<Locator> {
    const hover = this.page.locator(".monaco-hover", { hasText: text }).first();
    await until(`a hover containing ${text}`, async () => {
      const box = await target.boundingBox();
      if (!box) return false;
      await this.page.mouse.move(box.x + 1, box.y + 1);
      await this.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 3 });
      return hover.waitFor({ timeout: 2_500 }).then(() => true, () => false);
    }, timeoutMs);
    return hover;
  }

  /** Text of whatever hover is showing (for failure messages). */
  async visibleHoverText(): Promise<string> {
    return this.page.locator(".monaco-hover").first().innerText({ timeout: 1_000 }).catch(() => "(no hover)");
  }

  /** The DOM of an extension's webview: an outer iframe (with the extension id in its src) then #active-frame. */
  webview(extensionId: string): FrameLocator {
    return this.page
      .locator(`iframe.webview.ready[src*="extensionId=${extensionId}"]`)
      .first()
      .contentFrame()
      .locator("#active-frame")
      .contentFrame();
  }
}
