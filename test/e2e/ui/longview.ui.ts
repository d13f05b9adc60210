// UI end-to-end test: the packaged VSIX installed in a real VS Code (code-server), driven through Chromium as a
// person would: command palette, chat webview, citations, hover, status bar, notifications, editing and saving.
// One test per contract item; a screenshot per step in test-results/screenshots/ui/ (NN-step.png, and
// NN-step-FAILED.png when a step fails).
//
// usage: npm run test:ui   (after `npm run package`; LONGVIEW_VSIX overrides dist/longview.vsix)
// env: LONGVIEW_UI_ANSWER_TIMEOUT_MS (default 120000) for answers of the model, KEEP=1 keeps temp folders.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, FrameLocator, Locator } from "playwright-core";
import { launchChromium, startCodeServer, type CodeServer } from "../lib/code-server";
import { copyFixture } from "../lib/fixture";
import { lineOf } from "../lib/lines";
import { extensionId, repoRoot, screenshotsDir, vsixPath } from "../lib/paths";
import { vsixEntries } from "../lib/vsix";
import { sleep, until, Workbench } from "../lib/workbench";

const ANSWER_TIMEOUT_MS = Number(process.env.LONGVIEW_UI_ANSWER_TIMEOUT_MS ?? 120_000);
const SHOTS = path.join(screenshotsDir, "ui");
const CODE_FILE = /\.(ts|tsx|js|py|go|rs|java|c|h|cpp|hpp)$/;

let server: CodeServer;
let browser: Browser;
let wb: Workbench;
let workspace: string;
let chat: FrameLocator;
let stepNumber = 0;
let fatal: string | undefined;

/**
 * A contract item: runs `body`, screenshots the result, and on failure screenshots `-FAILED` and adds the
 * extension host's error lines to the message. A failed `essential` step (workbench, activation) skips the rest.
 */
function step(name: string, body: () => Promise<void>, options: { essential?: boolean; timeout?: number } = {}): void {
  const n = String(++stepNumber).padStart(2, "0");
  const slug = `${n}-${name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}`;
  it(name, { timeout: options.timeout ?? ANSWER_TIMEOUT_MS + 60_000 }, async (t) => {
    if (fatal) {
      t.skip(`skipped: ${fatal}`);
      return;
    }
    const knownHostErrors = server.extensionHostErrors().length;
    try {
      await body();
      const shot = await wb.screenshot(slug);
      t.diagnostic(`screenshot ${path.relative(repoRoot, shot)}`);
    } catch (error) {
      const shot = await wb.screenshot(`${slug}-FAILED`).catch(() => "(no screenshot)");
      const hostErrors = server.extensionHostErrors().slice(knownHostErrors).slice(-15);
      if (options.essential) fatal = `"${name}" failed`;
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(
        `${message}\n  screenshot: ${path.relative(repoRoot, shot)}` +
          (hostErrors.length ? `\n  extension host errors:\n    ${hostErrors.join("\n    ")}` : ""),
      );
    } finally {
      await wb.page.keyboard.press("Escape").catch(() => undefined);
    }
  });
}

const answers = () => chat.locator("#messages .message.answer");

/** Waits for an answer after the `before`-th one that passes `accept`, and returns it. */
async function nextAnswer(before: number, what: string, accept: (answer: Locator) => Promise<boolean>): Promise<Locator> {
  return until(`the chat shows ${what}`, async () => {
    const count = await answers().count();
    for (let i = count - 1; i >= before; i--) if (await accept(answers().nth(i))) return answers().nth(i);
    return undefined;
  }, ANSWER_TIMEOUT_MS);
}

async function citationIn(answer: Locator, file: string, line: number): Promise<boolean> {
  const citation = answer.locator(`a.citation[data-path="${file}"][data-line="${line}"]`);
  return (await citation.count()) > 0;
}

async function describeCitations(answer: Locator): Promise<string> {
  const cites = await answer.locator("a.citation").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-path")}:${e.getAttribute("data-line")}`));
  return `${JSON.stringify((await answer.innerText()).slice(0, 300))}, citations ${JSON.stringify(cites)}`;
}

async function askInChat(question: string, via: "enter" | "button"): Promise<number> {
  await showChat();
  const before = await answers().count();
  const box = chat.locator("textarea#question");
  await box.click();
  await box.fill(question);
  if (via === "enter") await box.press("Enter");
  else await chat.locator("button#send").click();
  await chat.locator("#messages", { hasText: question }).waitFor({ timeout: 15_000 });
  return before;
}

/** The chat's input is visible: the view is revealed and its webview rendered (an empty #messages has no size). */
async function chatShown(timeout: number, why: string): Promise<void> {
  await chat.locator("textarea#question").waitFor({ timeout }).catch(() => {
    throw new Error(`the Chat webview (textarea#question) is not showing ${why}`);
  });
  await chat.locator("#messages").waitFor({ state: "attached", timeout: 1_000 });
}

async function showChat(): Promise<void> {
  if (await chat.locator("textarea#question").isVisible().catch(() => false)) return;
  await wb.runCommand("Longview: Focus on Chat View"); // VS Code's own command for every view
  await chatShown(30_000, "after Focus on Chat View");
}

describe("Longview in VS Code (UI)", () => {
  before(async () => {
    fs.rmSync(SHOTS, { recursive: true, force: true });
    workspace = copyFixture("polyglot");
    server = await startCodeServer({ vsix: [vsixPath] });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    wb = new Workbench(page, SHOTS);
    chat = wb.webview(extensionId);
    await page.goto(server.url(workspace));
  }, { timeout: 180_000 });

  after(async () => {
    await browser?.close().catch(() => undefined);
    if (server) {
      const logs = server.saveLogs("ui");
      console.log(`logs: ${path.relative(repoRoot, logs)}; screenshots: ${path.relative(repoRoot, SHOTS)}`);
      await server.stop();
    }
    if (workspace && !process.env.KEEP) fs.rmSync(path.dirname(workspace), { recursive: true, force: true });
  });

  step("the VSIX holds what runs and nothing else", async () => {
    const entries = vsixEntries(vsixPath);
    const files = entries.filter((e) => e.startsWith("extension/")).map((e) => e.slice("extension/".length));
    const main = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).main.replace(/^\.\//, "");
    const grammars = fs.readdirSync(path.join(repoRoot, "dist/grammars")).filter((f) => f.endsWith(".wasm")).map((f) => `dist/grammars/${f}`);
    const required = ["package.json", main, "dist/web-tree-sitter.wasm", "dist/webview/main.js", "media/longview.svg", ...grammars];
    if (fs.existsSync(path.join(repoRoot, "README.md"))) required.push("readme.md"); // vsce renames it
    const missing = required.filter((f) => !files.some((e) => e.toLowerCase() === f.toLowerCase()));
    assert.deepEqual(missing, [], `missing from ${path.relative(repoRoot, vsixPath)}: ${missing.join(", ")}`);
    const unwanted = files.filter((f) =>
      /(^|\/)node_modules\/|\.map$|\.vsix$|\.tsx?$|^(extension|webview|model-runtime|kernels|test|bench|scripts|docs|\.ci|\.vscode-test)\/|^dist\/(test|bench)\//.test(f));
    assert.deepEqual(unwanted, [], `the VSIX ships files users do not run: ${unwanted.slice(0, 20).join(", ")}`);
    const megabytes = fs.statSync(vsixPath).size / 1e6;
    assert.ok(megabytes < 60, `the VSIX is ${megabytes.toFixed(1)} MB`);
  });

  step("workbench loads and the extension activates", async () => {
    await wb.waitReady();
    await wb.activityBarEntry("Longview").waitFor({ timeout: 60_000 }).catch(() => {
      throw new Error('no activity-bar entry whose aria-label starts with "Longview" (VSIX not installed or no view container)');
    });
    // Contributions show without activation; the status bar item exists only once activate() ran.
    await wb.statusBarItem("Longview").waitFor({ timeout: 90_000 }).catch(() => {
      throw new Error('no status bar item with "Longview": the extension did not activate');
    });
  }, { essential: true });

  step("the palette lists the four Longview commands", async () => {
    const titles = await wb.paletteTitles(">Longview:");
    const expected = [
      "Longview: Ask About Workspace",
      "Longview: Explain Symbol at Cursor",
      "Longview: Rebuild Index",
      "Longview: Show Index Status",
    ];
    const missing = expected.filter((t) => !titles.includes(t));
    assert.deepEqual(missing, [], `missing from the palette: ${missing.join(", ")} (listed: ${titles.join(", ")})`);
  });

  step("status bar shows a Longview item", async () => {
    const text = await wb.statusBarItem("Longview").innerText();
    assert.match(text, /Longview/);
  });

  step("Show Index Status reports files and definitions", async () => {
    // A person reads the status once the status bar says indexing is over.
    await until("the status bar to leave \"indexing\"", async () => !/indexing/i.test(await wb.statusBarItem("Longview").innerText()), ANSWER_TIMEOUT_MS);
    await wb.clearNotifications();
    await wb.runCommand("Longview: Show Index Status");
    const toast = wb.notification("Longview index:");
    await toast.waitFor({ timeout: ANSWER_TIMEOUT_MS });
    const text = await toast.innerText();
    assert.match(text, /^Longview index:/m, text);
    const files = Number(/(\d+) files/.exec(text)?.[1]);
    const definitions = Number(/(\d+) definitions/.exec(text)?.[1]);
    assert.ok(files > 0 && definitions > 0, `expected "<N> files" and "<M> definitions" in ${JSON.stringify(text)}`);
    const all = fs.readdirSync(workspace, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
      .map((e) => path.relative(workspace, path.join(e.parentPath, e.name)));
    const indexable = all.filter((p) => !/^(generated|node_modules|\.longview|\.git)\//.test(p) && !p.endsWith(".log"));
    const code = indexable.filter((p) => CODE_FILE.test(p));
    assert.ok(files >= code.length && files <= indexable.length, `${files} files: expected ${code.length}..${indexable.length} for this workspace`);
  });

  step("Ask About Workspace: input box, then the Chat view shows question and answer", async () => {
    await wb.runCommand("Longview: Ask About Workspace");
    await wb.quickInput.filter({ hasText: "Ask Longview" }).waitFor({ timeout: 10_000 }).catch(() => {
      throw new Error('no input box with a prompt containing "Ask Longview"');
    });
    const question = "Where is computeInvoiceTotal defined?";
    await wb.quickInput.locator("input").first().fill(question);
    await wb.page.keyboard.press("Enter");
    await chatShown(30_000, "after asking from the palette");
    await chat.locator("#messages", { hasText: question }).waitFor({ timeout: 15_000 });
    await nextAnswer(0, "an answer", async (a) => (await a.innerText()).trim().length > 0);
  });

  step("an index answer carries the 'index results' badge and cites the definition", async () => {
    const line = lineOf(workspace, "src/billing.ts", "export function computeInvoiceTotal") + 1;
    const answer = await nextAnswer(0, `a citation of src/billing.ts:${line}`, (a) => citationIn(a, "src/billing.ts", line))
      .catch(async (e) => {
        const last = answers().last();
        throw new Error(`${(e as Error).message}; last answer: ${await describeCitations(last).catch(() => "(none)")}`);
      });
    const citation = answer.locator(`a.citation[data-path="src/billing.ts"][data-line="${line}"]`).first();
    assert.match(await citation.innerText(), new RegExp(`src/billing\\.ts:${line}\\b`));
    const badge = answer.locator(".badge", { hasText: "index results" });
    assert.ok((await badge.count()) > 0, `the answer has no .badge "index results": ${await describeCitations(answer)}`);
  });

  step("clicking a citation opens the file at that line", async () => {
    const line = lineOf(workspace, "src/billing.ts", "export function computeInvoiceTotal") + 1;
    await showChat();
    await chat.locator(`a.citation[data-path="src/billing.ts"][data-line="${line}"]`).first().click({ timeout: 10_000 });
    await wb.activeTab("billing.ts").waitFor({ timeout: 15_000 });
    await until(`cursor on line ${line} of src/billing.ts`, async () => (await wb.cursorLine()) === line, 10_000);
  });

  step("chat input: Shift+Enter adds a line, Enter sends", async () => {
    await showChat();
    const box = chat.locator("textarea#question");
    const before = await answers().count();
    await box.click();
    await box.fill("");
    await box.pressSequentially("first line");
    await box.press("Shift+Enter");
    await box.pressSequentially("second line");
    assert.equal(await box.inputValue(), "first line\nsecond line", "Shift+Enter must insert a newline");
    await sleep(1_000);
    assert.equal(await answers().count(), before, "Shift+Enter sent the message");
    await box.fill("");
    const from = await askInChat("How does RateLimiter refill its tokens?", "enter");
    assert.equal(await box.inputValue(), "", "the input is not cleared after sending");
    await nextAnswer(from, "an answer about RateLimiter", async (a) => (await a.innerText()).trim().length > 0);
  });

  step("hover over an indexed identifier shows Longview and the definition's path:line", async () => {
    const line = lineOf(workspace, "src/billing.ts", "export function computeInvoiceTotal") + 1;
    await wb.openFile("src/api/invoiceRoutes.ts");
    const word = wb.editorWord("computeInvoiceTotal", "totalCents: computeInvoiceTotal(");
    await word.waitFor({ timeout: 20_000 });
    const expected = new RegExp(`src/billing\\.ts:${line}\\b`);
    await wb.hover(word, "Longview").catch(async (e) => {
      throw new Error(`${(e as Error).message}; hover showed: ${JSON.stringify(await wb.visibleHoverText())}`);
    });
    const text = await wb.visibleHoverText();
    assert.match(text, expected, `hover lacks src/billing.ts:${line}: ${JSON.stringify(text)}`);
  });

  step("Explain Symbol at Cursor answers about the symbol and cites its definition", async () => {
    const line = lineOf(workspace, "src/rateLimiter.ts", "export class RateLimiter") + 1;
    await wb.openFile("src/api/invoiceRoutes.ts");
    const word = wb.editorWord("RateLimiter", "new RateLimiter(10, 2)");
    await word.waitFor({ timeout: 20_000 });
    await word.click();
    const before = await answers().count().catch(() => 0);
    await wb.runCommand("Longview: Explain Symbol at Cursor");
    await chatShown(30_000, "after Explain Symbol at Cursor");
    const answer = await nextAnswer(before, `an answer citing src/rateLimiter.ts:${line}`, (a) => citationIn(a, "src/rateLimiter.ts", line))
      .catch(async (e) => {
        throw new Error(`${(e as Error).message}; last answer: ${await describeCitations(answers().last()).catch(() => "(none)")}`);
      });
    assert.match(await answer.innerText(), /RateLimiter/, "the answer does not name the symbol");
  });

  step("Rebuild Index finishes with 'index rebuilt'", async () => {
    await wb.clearNotifications();
    await wb.runCommand("Longview: Rebuild Index");
    await wb.notification("index rebuilt").waitFor({ timeout: ANSWER_TIMEOUT_MS });
    assert.match(await wb.statusBarItem("Longview").innerText(), /Longview/);
  });

  step("an edit saved in the editor reaches the index and the chat", async () => {
    const file = "src/currency.ts";
    await wb.openFile(file);
    const editor = wb.page.locator(".editor-group-container.active .monaco-editor .view-lines").first();
    await editor.click();
    await wb.page.keyboard.press("Control+End");
    await wb.page.keyboard.press("Enter");
    await wb.page.keyboard.type("export function freshlyAddedHelper() {}");
    await wb.page.keyboard.press("Control+S");
    await until(`${file} saved with freshlyAddedHelper`, async () =>
      fs.readFileSync(path.join(workspace, file), "utf8").includes("export function freshlyAddedHelper() {}"), 15_000);
    const line = lineOf(workspace, file, "export function freshlyAddedHelper") + 1;
    // The index updates asynchronously: ask again until the answer cites the new definition.
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      const from = await askInChat("where is freshlyAddedHelper defined", "button");
      const answer = await nextAnswer(from, "an answer", async (a) => (await a.innerText()).trim().length > 0);
      await sleep(1_000); // let a streaming answer finish adding citations
      if (await citationIn(answer, file, line)) break;
      if (Date.now() > deadline) throw new Error(`no answer cites ${file}:${line}; last: ${await describeCitations(answer)}`);
      await sleep(3_000);
    }
  });
});
