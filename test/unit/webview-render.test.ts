// The chat webview's renderer in a DOM (jsdom): repository text is untrusted, so whatever markdown an answer
// carries, nothing executable, loadable or navigable may come out of it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { answerFromIndex } from "../../model-runtime/src/answer/index-answer";
import type { CitationLink } from "../../webview/src/protocol";
import { indexFolder, rng } from "../helpers/tmp-tree";

// Typed structurally on purpose: the main typecheck has no DOM lib (it clashes with the WebGPU types), so this
// file neither names DOM types nor lets TypeScript follow its import of the webview's renderer (that code is
// checked by webview/tsconfig.json).
interface El {
  tagName: string;
  innerHTML: string;
  textContent: string | null;
  classList: { contains(name: string): boolean };
  attributes: ArrayLike<{ name: string; value: string }>;
  getAttribute(name: string): string | null;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  appendChild(node: unknown): unknown;
}
interface Render {
  renderMarkdown(markdown: string, citations: CitationLink[]): unknown;
}
interface Jsdom {
  window: { document: { createElement(tag: string): El }; NodeFilter: unknown; close(): void };
}

let render: Render;
let dom: Jsdom;
const document = () => dom.window.document;

before(async () => {
  // DOMPurify binds to the global window when its module loads: the DOM must exist first.
  const { JSDOM } = require("jsdom") as { JSDOM: new (html: string) => Jsdom };
  dom = new JSDOM("<!DOCTYPE html><body></body>");
  const g = globalThis as Record<string, unknown>;
  g.window = dom.window;
  g.document = dom.window.document;
  g.NodeFilter = dom.window.NodeFilter;
  const renderer = "../../webview/src/render";
  render = (await import(renderer)) as Render;
});
after(() => dom.window.close());

const PAYLOADS = [
  "<script>alert(1)</script>",
  '<img src=x onerror="alert(2)">',
  "<iframe src=\"https://example.invalid/\"></iframe>",
  '<b onmouseover="alert(3)">bold</b>',
  '<a href="command:workbench.action.terminal.new">raw link</a>',
  "[terminal](command:workbench.action.terminal.new)",
  "[steal](javascript:alert(4))",
  "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg1KTwvc2NyaXB0Pg==)",
  "<command:workbench.action.files.newUntitledFile>",
  "<javascript:alert(6)>",
  "![pixel](https://example.invalid/track.png)",
  "<style>body{display:none}</style>",
  '<svg onload="alert(7)"><circle/></svg>',
  "[x](JaVaScRiPt:alert(8))",
  "[y](  command:foo  )",
  "<details open ontoggle=alert(9)>",
  '<form action="https://example.invalid"><input autofocus onfocus=alert(10)></form>',
  "&lt;script&gt;alert(11)&lt;/script&gt;",
];
const MARKDOWN_BITS = ["# heading\n", "**bold** ", "`code` ", "\n\n", "> quote ", "- item\n", "```ts\nconst a = 1;\n```\n", "[ok](https://example.com/docs) ", "src/a.ts:3 ", "plain words "];

/** Every way a rendered fragment could run code, load something or navigate. */
function dangers(root: El): string[] {
  const out: string[] = [];
  for (const el of Array.from(root.querySelectorAll("*"))) {
    const tag = el.tagName.toLowerCase();
    if (["script", "img", "iframe", "style", "svg", "object", "embed", "form", "input", "link", "meta", "video", "audio", "details", "b"].includes(tag)) out.push(`<${tag}>`);
    for (const attr of Array.from(el.attributes)) {
      if (/^on/i.test(attr.name)) out.push(`${tag}[${attr.name}]`);
      if (/^\s*(javascript|command|data|vbscript):/i.test(attr.value)) out.push(`${tag}[${attr.name}=${attr.value}]`);
      if (attr.name === "href" && !(tag === "a" && el.classList.contains("citation") && attr.value === "#")) out.push(`${tag}[href=${attr.value}]`);
      if (attr.name === "src" || attr.name === "srcset" || attr.name === "style" || attr.name === "action") out.push(`${tag}[${attr.name}]`);
    }
  }
  return out;
}

function host(fragment: unknown): El {
  const div = document().createElement("div");
  div.appendChild(fragment);
  return div;
}

test("each hostile payload renders as inert text", () => {
  for (const payload of PAYLOADS) {
    const div = host(render.renderMarkdown(`Doc: ${payload}`, []));
    assert.deepEqual(dangers(div), [], `payload ${payload} → ${div.innerHTML}`);
  }
  const div = host(render.renderMarkdown("> <script>alert(1)</script> and [t](command:x)", []));
  assert.match(div.textContent ?? "", /<script>alert\(1\)<\/script>/, "the markup is shown as text, not dropped silently");
  assert.match(div.textContent ?? "", /\[t\]\(command:x\)/);
});

test("random mixes of markdown and payloads never produce anything live (fresh seed each run)", () => {
  const seed = Date.now() >>> 0;
  const random = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  for (let i = 0; i < 300; i++) {
    const parts: string[] = [];
    const n = 1 + Math.floor(random() * 8);
    for (let j = 0; j < n; j++) {
      const p = random() < 0.5 ? pick(PAYLOADS) : pick(MARKDOWN_BITS);
      // Payloads inside markdown structure too: lists, quotes, headings, link labels.
      parts.push(random() < 0.3 ? `${pick(["- ", "> ", "## ", "[", "**"])}${p}${pick(["](https://example.com)", "\n", "**", " "])}` : p);
    }
    const markdown = parts.join(random() < 0.5 ? " " : "\n");
    const citations: CitationLink[] = [{ root: "ws", path: "src/a.ts", line: 3 }];
    const div = host(render.renderMarkdown(markdown, citations));
    assert.deepEqual(dangers(div), [], `seed ${seed}, case ${i}: ${JSON.stringify(markdown)} → ${div.innerHTML}`);
  }
});

test("http(s) links keep their target only as a tooltip: nothing in an answer navigates", () => {
  const div = host(render.renderMarkdown("See [the docs](https://example.com/docs).", []));
  const a = div.querySelector("a")!;
  assert.equal(a.getAttribute("href"), null);
  assert.equal(a.getAttribute("title"), "https://example.com/docs");
  assert.ok(a.classList.contains("external"));
});

test("only citations the host sent become links; code blocks and unknown path:line stay text", () => {
  const md = "Defined at src/a.ts:3, also src/a.ts:4 and lib/b.ts:9.\n\n```\nsrc/a.ts:3\n```";
  const div = host(render.renderMarkdown(md, [{ root: "ws", path: "src/a.ts", line: 3 }, { root: "ws", path: "lib/b.ts", line: 9 }]));
  const links = Array.from(div.querySelectorAll("a.citation")).map((a) => `${a.getAttribute("data-root")}/${a.getAttribute("data-path")}:${a.getAttribute("data-line")}`);
  assert.deepEqual(links, ["ws/src/a.ts:3", "ws/lib/b.ts:9"]);
  assert.equal(div.querySelector("pre a"), null, "nothing is linked inside code");
});

test("a model answer's list lines stay lines: one `label path:line` per line, each citation linked", () => {
  const md = "http_block src/http.c:2\nmail_block src/mail.c:2\n<b>x</b> lib/b.ts:9";
  const citations = [{ root: "ws", path: "src/http.c", line: 2 }, { root: "ws", path: "src/mail.c", line: 2 }, { root: "ws", path: "lib/b.ts", line: 9 }];
  const div = host(render.renderMarkdown(md, citations));
  assert.equal(div.querySelectorAll("br").length, 2);
  assert.equal(div.querySelectorAll("a.citation").length, 3);
  assert.equal(div.querySelector("b"), null, "raw HTML stays text");
});

test("the same path:line in two workspace folders links each occurrence to its own folder, in order", () => {
  const md = "refund at src/billing.ts:8 uses `total` src/billing.ts:8";
  const citations = [{ root: "companion", path: "src/billing.ts", line: 8 }, { root: "polyglot", path: "src/billing.ts", line: 8 }];
  const div = host(render.renderMarkdown(md, citations));
  assert.deepEqual(Array.from(div.querySelectorAll("a.citation")).map((a) => a.getAttribute("data-root")), ["companion", "polyglot"]);
});

test("every code block gets a copy button next to its code", () => {
  const code = "const x = 1;\nconst y = '<b>';";
  const div = host(render.renderMarkdown(`text\n\n\`\`\`typescript\n${code}\n\`\`\`\n\nmore\n\n\`\`\`\nplain\n\`\`\``, []));
  const blocks = Array.from(div.querySelectorAll(".code-block"));
  assert.equal(blocks.length, 2);
  for (const b of blocks) assert.ok(b.querySelector("button.copy-code") && b.querySelector("pre"));
  assert.equal(blocks[0].querySelector("pre")!.textContent, `${code}\n`);
});

test("an index answer about the hostile fixture renders inert (the real answer pipeline)", async () => {
  const root = path.resolve(__dirname, "../fixtures/hostile-docs");
  assert.ok(fs.existsSync(root));
  const answer = answerFromIndex(await indexFolder(root, "hostile-docs"), "what does `renderUntrustedBanner` do?");
  assert.match(answer.markdown, /<script>alert\(1\)<\/script>/, "the doc comment reaches the answer");
  const div = host(render.renderMarkdown(answer.markdown, answer.citations));
  assert.deepEqual(dangers(div), [], div.innerHTML);
  assert.match(div.textContent ?? "", /<img src=x onerror="alert\(2\)">/);
  assert.ok(div.querySelectorAll("a.citation").length > 0, "its citations are still links");
});
