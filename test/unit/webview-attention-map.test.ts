// The chat's attention map ("What it read") and a model answer's layout, in a DOM (jsdom): ranked rows that open
// files, shares, the keyboard, the "N more" toggle, untrusted paths kept as text; the notice and the collapsed index
// results under a model answer.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { AnswerContent, AttentionMap } from "../../webview/src/protocol";

// Typed structurally: the main typecheck has no DOM lib (see webview-render.test.ts).
interface El {
  tagName: string;
  hidden: boolean;
  open: boolean;
  textContent: string | null;
  className: string;
  dataset: Record<string, string | undefined>;
  style: { width: string };
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  appendChild(node: unknown): unknown;
  focus(): void;
  click(): void;
  dispatchEvent(e: unknown): boolean;
}
interface AttentionModule {
  renderAttentionMap(map: AttentionMap): El | undefined;
  formatShare(share: number): string;
  VISIBLE_FILES: number;
}
interface ConversationModule {
  Conversation: new (container: El) => { renderAnswer(id: string, m: AnswerContent, streaming?: boolean): void };
}
interface Jsdom {
  window: { document: { body: El; activeElement: unknown; createElement(tag: string): El }; KeyboardEvent: new (type: string, init: object) => unknown; close(): void };
}

let dom: Jsdom;
let attention: AttentionModule;
let conversation: ConversationModule;

before(async () => {
  const { JSDOM } = require("jsdom") as { JSDOM: new (html: string) => Jsdom };
  dom = new JSDOM("<!DOCTYPE html><body></body>");
  const g = globalThis as Record<string, unknown>;
  g.window = dom.window;
  g.document = dom.window.document;
  g.NodeFilter = (dom.window as unknown as { NodeFilter: unknown }).NodeFilter;
  const a = "../../webview/src/attention-map";
  const c = "../../webview/src/conversation";
  attention = (await import(a)) as AttentionModule;
  conversation = (await import(c)) as ConversationModule;
});
after(() => dom.window.close());

const files = (n: number) => Array.from({ length: n }, (_, i) => ({ root: "ws", path: `src/f${i}.ts`, share: (n - i) / (4 * n) }));

test("files are ranked by share, bars scale to the largest, numbers are absolute shares", () => {
  const map = attention.renderAttentionMap({ files: [{ root: "ws", path: "src/small.ts", share: 0.05 }, { root: "ws", path: "src/big.ts", share: 0.6, line: 12 }, { root: "ws", path: "src/mid.ts", share: 0.3 }] })!;
  const links = Array.from(map.querySelectorAll("a.attention-link"));
  assert.deepEqual(links.map((a) => a.dataset.path), ["src/big.ts", "src/mid.ts", "src/small.ts"]);
  assert.deepEqual(links.map((a) => a.querySelector(".attention-share")!.textContent), ["60%", "30%", "5%"]);
  assert.deepEqual(links.map((a) => a.querySelector(".attention-fill")!.style.width), ["100%", "50%", "8%"]);
  assert.equal(links[0].dataset.line, "12", "a click opens the cited line");
  assert.equal(links[1].dataset.line, "1", "…or the first line");
  assert.ok(links.every((a) => a.className.includes("citation")), "the chat's click handler opens them");
  assert.match(links[0].getAttribute("aria-label")!, /^src\/big\.ts: 60% of the answer's attention/);
  assert.match(map.querySelector(".attention-other")!.textContent!, /^5% elsewhere/);
  assert.equal(attention.formatShare(0.004), "<1%");
  assert.equal(attention.renderAttentionMap({ files: [] }), undefined);
});

test("beyond the first rows a button shows the rest; Up/Down/Home/End move between visible rows", () => {
  const n = attention.VISIBLE_FILES + 3;
  const map = attention.renderAttentionMap({ files: files(n) })!;
  dom.window.document.body.appendChild(map);
  const rows = () => Array.from(map.querySelectorAll(".attention-files > li"));
  assert.equal(rows().filter((r) => r.hidden).length, 3);
  const more = map.querySelector("button.attention-more")!;
  assert.equal(more.textContent, "3 more files");
  more.click();
  assert.equal(rows().filter((r) => r.hidden).length, 0);
  assert.equal(more.getAttribute("aria-expanded"), "true");
  more.click();
  assert.equal(rows().filter((r) => r.hidden).length, 3);

  const links = Array.from(map.querySelectorAll("a.attention-link"));
  const key = (k: string) => (dom.window.document.activeElement as El).dispatchEvent(new dom.window.KeyboardEvent("keydown", { key: k, bubbles: true, cancelable: true }));
  links[0].focus();
  key("ArrowDown");
  assert.equal(dom.window.document.activeElement, links[1]);
  key("End");
  assert.equal(dom.window.document.activeElement, links[attention.VISIBLE_FILES - 1], "End stops at the last VISIBLE row");
  key("ArrowDown");
  assert.equal(dom.window.document.activeElement, links[attention.VISIBLE_FILES - 1]);
  key("Home");
  assert.equal(dom.window.document.activeElement, links[0]);
  key("ArrowUp");
  assert.equal(dom.window.document.activeElement, links[0]);
});

test("definitions, when reported, are rows under their file that open the definition's line", () => {
  const map = attention.renderAttentionMap({ files: [{ root: "ws", path: "src/billing.ts", share: 0.5, definitions: [{ name: "tax", line: 30, share: 0.1 }, { name: "computeInvoiceTotal", line: 8, share: 0.3 }] }] })!;
  const defs = Array.from(map.querySelectorAll(".attention-definitions a.attention-link"));
  assert.deepEqual(defs.map((d) => [d.querySelector(".attention-label")!.textContent, d.dataset.line]), [["computeInvoiceTotal", "8"], ["tax", "30"]]);
});

test("untrusted paths stay text: nothing executable or loadable comes out of the map", () => {
  const evil = '<img src=x onerror="alert(1)">.ts';
  const map = attention.renderAttentionMap({ files: [{ root: "ws", path: evil, share: 1 }] })!;
  assert.equal(map.querySelectorAll("img, script").length, 0);
  assert.equal(map.querySelector(".attention-label")!.textContent, evil);
  assert.equal(map.querySelector("a")!.getAttribute("href"), "#");
});

test("a model answer shows its notice-free body, the map, and the index results collapsed (kept open while streaming)", () => {
  const container = dom.window.document.createElement("div");
  const chat = new conversation.Conversation(container);
  const answer: AnswerContent = {
    markdown: "Defined at src/billing.ts:8.",
    citations: [{ root: "ws", path: "src/billing.ts", line: 8 }],
    source: "model",
    files: [],
    attention: { files: [{ root: "ws", path: "src/billing.ts", share: 0.7, line: 8 }] },
    indexFacts: { markdown: "**computeInvoiceTotal** at src/billing.ts:8", citations: [{ root: "ws", path: "src/billing.ts", line: 8 }] },
  };
  chat.renderAnswer("a1", { ...answer, attention: undefined }, true);
  const el = container.querySelector(".message.answer")!;
  assert.ok(el.className.includes("streaming"));
  assert.equal(el.querySelector(".badge")!.textContent, "model");
  assert.equal(el.querySelector(".body a.citation")!.dataset.line, "8");
  const facts = el.querySelector("details.index-facts")!;
  assert.equal(facts.open, false, "index results start collapsed");
  assert.equal(facts.querySelector("summary")!.textContent, "Index results");
  assert.equal(facts.querySelector(".facts-body a.citation")!.dataset.path, "src/billing.ts");
  assert.equal(el.querySelectorAll(".body").length, 1, "one .body per answer (the index results have their own class)");
  facts.open = true;
  chat.renderAnswer("a1", answer, false);
  assert.equal(el.querySelector("details.index-facts")!.open, true, "the reader's open section stays open");
  assert.ok(!el.className.includes("streaming"));
  assert.equal(el.querySelectorAll(".attention-map a.attention-link").length, 1);
  assert.equal(el.querySelector(".notice"), null);

  chat.renderAnswer("a3", { ...answer, attention: undefined }, true);
  (chat as unknown as { markStopped(id: string): void }).markStopped("a3");
  const stopped = container.querySelectorAll(".message.answer")[1];
  assert.ok(!stopped.className.includes("streaming") && stopped.className.includes("stopped"), "a stopped answer loses its streaming caret");

  chat.renderAnswer("a2", { markdown: "x", citations: [], source: "index", files: [], notice: "Answered from the index: the model is still reading the repository (42%)." });
  const second = container.querySelectorAll(".message.answer")[2];
  assert.match(second.querySelector(".notice")!.textContent!, /still reading/);
  assert.equal(second.querySelector(".badge")!.textContent, "index results");
});
