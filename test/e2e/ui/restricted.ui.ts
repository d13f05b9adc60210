// UI end-to-end test of Restricted Mode, and of stopping an answer: the packaged VSIX in a real VS Code
// (code-server) with workspace trust ON, opening a folder it does not trust. Longview declares "limited" support:
// it must still index and answer from its index, but load no native code. The extension host runs under
// test/e2e/lib/guard-preload.cjs, which records every native addon loaded (and blocks the network), and the VSIX
// carries the native addons (dist/native/<platform>-<arch>/, when they were built): a trusted workspace loads them
// (the main UI and model suites check that), this one must not.
//
// The folder is the polyglot fixture plus a few thousand generated files, so that a full index build takes
// seconds: a question asked during a rebuild waits for the index, and Escape / the Stop button cancel it.
//
// usage: npm run test:ui-restricted   (after `npm run package`)
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe } from "node:test";
import type { Browser } from "playwright-core";
import { ChatPanel, citationIn, describeCitations } from "../lib/chat";
import { launchChromium, startCodeServer, type CodeServer } from "../lib/code-server";
import { copyFixture } from "../lib/fixture";
import { writeBulkSources } from "../lib/generated";
import { byLongview, describeEntry, guardPreload, readGuardLog, unguardedExtensionHosts } from "../lib/guard";
import { lineOf } from "../lib/lines";
import { extensionId, repoRoot, screenshotsDir, vsixPath } from "../lib/paths";
import { showIndexStatus } from "../lib/status";
import { createSteps } from "../lib/steps";
import { tearDownUiSuite } from "../lib/teardown";
import { sleep, until, Workbench } from "../lib/workbench";

const ANSWER_TIMEOUT_MS = Number(process.env.LONGVIEW_UI_ANSWER_TIMEOUT_MS ?? 120_000);
const SHOTS = path.join(screenshotsDir, "restricted");
/** Enough generated files that a full build takes a few seconds on two cores (about 3 s per 3000 here). */
const BULK_FILES = Number(process.env.LONGVIEW_UI_BULK_FILES ?? 3000);

let server: CodeServer;
let browser: Browser;
let wb: Workbench;
let workspace: string;
let scratch: string;
let guardLog: string;
let chat: ChatPanel;

const step = createSteps(() => ({ wb, server }), ANSWER_TIMEOUT_MS + 60_000);

/**
 * Asks `question` while a fresh index build runs (Rebuild Index), waits until the chat says it is waiting for
 * the index, then stops the answer with `stop`. Returns the stopped answer's element.
 */
async function askDuringRebuildThenStop(question: string, stop: () => Promise<void>) {
  await chat.show();
  await chat.input.click();
  await chat.input.fill(question);
  await wb.clearNotifications();
  await wb.runCommand("Longview: Rebuild Index");
  const before = await chat.answers().count();
  await chat.input.click();
  await chat.input.press("Enter");
  const status = chat.frame.locator("#status .status-text", { hasText: "Waiting for the index" });
  await status.waitFor({ timeout: 15_000 }).catch(() => {
    throw new Error("the question did not wait for the index (did the rebuild finish before it was asked?)");
  });
  assert.ok(await chat.frame.locator("button#stop").isVisible(), "the Stop button shows while an answer is in progress");
  await wb.screenshot(`waiting-for-the-index-${question.length}`);
  await stop();
  const stopped = chat.answers().nth(before);
  await stopped.locator(".stopped-note", { hasText: "Stopped." }).waitFor({ timeout: 10_000 });
  await chat.frame.locator("button#stop").waitFor({ state: "hidden", timeout: 10_000 });
  assert.equal(await stopped.locator(".body").count(), 0, "nothing was answered before the stop");
  // Once the index is ready the stopped question still gets no answer: it was cancelled, not delayed.
  await wb.notification("index rebuilt").waitFor({ timeout: ANSWER_TIMEOUT_MS });
  await sleep(1_000);
  assert.equal(await stopped.locator(".body").count(), 0, "the cancelled answer arrived after all");
  assert.equal(await chat.answers().count(), before + 1);
}

describe("Longview in Restricted Mode (UI)", () => {
  before(async () => {
    fs.rmSync(SHOTS, { recursive: true, force: true });
    workspace = copyFixture("polyglot");
    writeBulkSources(workspace, "generated-bulk", BULK_FILES);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "longview-restricted-"));
    guardLog = path.join(scratch, "guard.jsonl");
    server = await startCodeServer({
      vsix: [vsixPath],
      workspaceTrust: true,
      nodeArgs: ["--require", guardPreload],
      env: { LONGVIEW_GUARD_LOG: guardLog },
    });
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    wb = new Workbench(page, SHOTS);
    chat = new ChatPanel(wb, wb.webview(extensionId), ANSWER_TIMEOUT_MS);
    await page.goto(server.url(workspace));
  }, { timeout: 180_000 });

  after(() => tearDownUiSuite({ browser, server, logsName: "restricted", guardLog, screenshots: SHOTS, temporary: [workspace && path.dirname(workspace), scratch] }));

  step("the untrusted folder opens in Restricted Mode and Longview still activates", async () => {
    await wb.waitReady();
    await wb.statusBarItem("Restricted Mode").waitFor({ timeout: 60_000 }).catch(() => {
      throw new Error('no "Restricted Mode" status bar item: the workspace was trusted (is workspace trust on?)');
    });
    await wb.statusBarItem("Longview").waitFor({ timeout: 90_000 }).catch(() => {
      throw new Error("no Longview status bar item: the extension did not activate in Restricted Mode");
    });
  }, { essential: true });

  step("it indexes the folder; Show Index Status says Restricted Mode and the TypeScript kernels", async () => {
    await until('the status bar to leave "indexing"', async () => !/indexing/i.test(await wb.statusBarItem("Longview").innerText()), ANSWER_TIMEOUT_MS);
    const { notice, details: out } = await showIndexStatus(wb, server, ANSWER_TIMEOUT_MS);
    const files = Number(/(\d+) files/.exec(notice)?.[1]);
    assert.ok(files > BULK_FILES, `${files} files indexed, expected more than the ${BULK_FILES} generated ones`);
    assert.match(out, /workspace trust: Restricted Mode \(index answers; no native code is loaded\)/);
    // Restricted Mode is index-only: the model is not even opened (it would run on the TypeScript kernels, far too slow).
    assert.match(out, /model state: off \(Restricted Mode/);
    assert.match(out, /attention backend: auto → TypeScript kernels \(js\) \[Restricted Mode: no native code\]/);
  });

  step("the chat answers from the index, with citations that open the file", async () => {
    const line = lineOf(workspace, "src/billing.ts", "export function computeInvoiceTotal") + 1;
    const from = await chat.ask("Where is computeInvoiceTotal defined?", "enter");
    const answer = await chat.nextAnswer(from, `a citation of src/billing.ts:${line}`, (a) => citationIn(a, "src/billing.ts", line)).catch(async (e) => {
      throw new Error(`${(e as Error).message}; last answer: ${await describeCitations(chat.answers().last()).catch(() => "(none)")}`);
    });
    assert.match(await answer.locator(".notice").innerText(), /^Answered from the index: Restricted Mode/);
    await chat.frame.locator('#model[data-kind="off"]', { hasText: "Index only: Restricted Mode" }).waitFor({ timeout: 10_000 });
    assert.match(await wb.statusBarItem("Longview model").innerText(), /Longview model: off/);
    await answer.locator(`a.citation[data-path="src/billing.ts"][data-line="${line}"]`).first().click();
    await wb.activeTab("billing.ts").waitFor({ timeout: 15_000 });
    await until(`cursor on line ${line}`, async () => (await wb.cursorLine()) === line, 10_000);
  });

  step("Escape stops an answer that is waiting for the index", async () => {
    await askDuringRebuildThenStop("Where is RateLimiter defined?", () => chat.input.press("Escape"));
  });

  step("the Stop button stops an answer that is waiting for the index", async () => {
    await askDuringRebuildThenStop("Who calls computeInvoiceTotal?", () => chat.frame.locator("button#stop").click());
    // And the next question is answered normally.
    const from = await chat.ask("Where is RateLimiter defined?", "enter");
    const line = lineOf(workspace, "src/rateLimiter.ts", "export class RateLimiter") + 1;
    await chat.nextAnswer(from, `a citation of src/rateLimiter.ts:${line}`, (a) => citationIn(a, "src/rateLimiter.ts", line));
  });

  step("Select Backend in Restricted Mode says native backends are not loaded", async () => {
    await wb.clearNotifications();
    await wb.runCommand("Longview: Select Backend");
    await wb.pickQuickItem(/^cpu$/);
    const text = await wb.notification("Longview backend: cpu").innerText({ timeout: 30_000 });
    assert.match(text, /cpu → TypeScript kernels \(js\)/, text);
    assert.match(text, /not loaded in a restricted workspace/, text);
  });

  step("no native addon was loaded and no connection attempted by Longview", async () => {
    const entries = readGuardLog(guardLog);
    assert.deepEqual(unguardedExtensionHosts(server.dir, entries), [], "extension hosts that ran without the guard");
    const natives = entries.filter((e) => e.event === "dlopen" && (byLongview(e) || /longview_/.test(e.target)));
    assert.deepEqual(natives.map(describeEntry), [], "native addons loaded by Longview in Restricted Mode");
    const network = entries.filter((e) => (e.event === "blocked" || e.event === "attempt") && byLongview(e));
    assert.deepEqual(network.map(describeEntry), [], "network attempts by Longview");
    assert.ok(entries.some((e) => e.event === "installed" && e.what === "extension host worker"), "the index's worker threads ran guarded too");
  });
});
