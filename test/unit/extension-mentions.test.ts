import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { definedNamesIn } from "../../extension/src/answerer";
import { mentionCompletions, parseMentions, resolveMention, resolveScope } from "../../extension/src/mentions";
import { answerInScope } from "../../extension/src/scoped-answer";
import { answerFromIndex } from "../../model-runtime/src/answer/index-answer";
import { Indexer } from "../../model-runtime/src/index/indexer";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import { indexFolder, makeTree, removeTree } from "../helpers/tmp-tree";

const files: Record<string, string> = {
  "src/billing.ts": [
    'import { rate } from "./rates";',
    "/** Computes the invoice total with tax. */",
    "export function computeTotal(items: number[]): number {",
    "  return items.reduce((a, b) => a + b, 0) * rate();",
    "}",
    "/** Formats a total for people. */",
    "export function formatTotal(cents: number): string {",
    "  return (cents / 100).toFixed(2);",
    "}",
  ].join("\n"),
  "src/rates.ts": "/** The tax rate applied to totals. */\nexport function rate(): number {\n  return 1.2;\n}\n",
  "lib/report.ts": 'import { computeTotal } from "../src/billing";\n/** Prints a total report. */\nexport function printTotal(): void {\n  console.log(computeTotal([1, 2]));\n}\n',
  "docs/notes.md": "billing notes\n",
};

let dir: string;
let index: WorkspaceIndex;
before(async () => {
  dir = makeTree(files);
  index = await indexFolder(dir);
});
after(() => removeTree(dir));

function lineOf(path: string, needle: string): number {
  return files[path].split("\n").findIndex((l) => l.includes(needle)) + 1;
}

test("parseMentions takes @tokens at word starts, keeps e-mail addresses, and leaves the rest of the question", () => {
  const p = parseMentions("@src/billing.ts how is the total computed? mail me@example.com about @rate, and @rate again");
  assert.deepEqual(p.mentions, ["src/billing.ts", "rate"], "trailing punctuation is not part of a mention");
  assert.equal(p.text, "how is the total computed? mail me@example.com about , and again");
  assert.deepEqual(parseMentions("no mentions here").mentions, []);
});

test("a mention resolves to a file (exact, root-qualified or unique suffix) before a definition", () => {
  assert.deepEqual(resolveMention(index, "src/billing.ts"), { kind: "file", root: "ws", path: "src/billing.ts" });
  assert.deepEqual(resolveMention(index, "ws/src/rates.ts"), { kind: "file", root: "ws", path: "src/rates.ts" });
  assert.deepEqual(resolveMention(index, "report.ts"), { kind: "file", root: "ws", path: "lib/report.ts" });
  assert.deepEqual(resolveMention(index, "computeTotal"), { kind: "symbol", name: "computeTotal" });
  assert.deepEqual(resolveMention(index, "rate,"), { kind: "symbol", name: "rate" }, "trailing punctuation is not part of the mention");
  assert.equal(resolveMention(index, "nothingLikeThis"), undefined);
  assert.deepEqual(resolveScope(index, ["src/billing.ts", "rate", "nope"]), { files: [{ root: "ws", path: "src/billing.ts" }], symbols: ["rate"], unknown: ["nope"] });
});

test("@file restricts the answer's definitions to that file; uses still come from the whole workspace", () => {
  const unscoped = answerFromIndex(index, "total");
  const definitionFiles = (md: string) => [...md.matchAll(/at ([\w./]+):\d+/g)].map((m) => m[1]);
  assert.ok(definitionFiles(unscoped.markdown).some((p) => p !== "src/billing.ts"), `the unscoped answer reaches beyond the file: ${unscoped.markdown}`);

  const scoped = answerInScope(index, "total", resolveScope(index, ["src/billing.ts"]));
  const defs = definitionFiles(scoped.markdown);
  assert.ok(defs.length > 0, scoped.markdown);
  assert.deepEqual([...new Set(defs)], ["src/billing.ts"], `scoped definitions: ${scoped.markdown}`);
  assert.match(scoped.markdown, /Scoped to `src\/billing.ts`/);

  const bySymbol = answerInScope(index, "", resolveScope(index, ["src/billing.ts", "computeTotal"]));
  assert.ok(bySymbol.citations.some((c) => c.path === "lib/report.ts" && c.line === lineOf("lib/report.ts", "console.log(computeTotal")), "a use in another file is cited");
});

test("@file alone outlines the file's definitions, each cited at its line", () => {
  const a = answerInScope(index, "", resolveScope(index, ["src/billing.ts"]));
  for (const name of ["computeTotal", "formatTotal"]) {
    const line = lineOf("src/billing.ts", `function ${name}`);
    assert.ok(a.citations.some((c) => c.path === "src/billing.ts" && c.line === line), `${name} cited at ${line}: ${JSON.stringify(a.citations)}`);
    assert.ok(a.markdown.includes(`src/billing.ts:${line}`));
  }
  assert.ok(!a.citations.some((c) => c.path !== "src/billing.ts"));
});

test("a question that matches nothing in the mentioned file says so and outlines it", () => {
  const a = answerInScope(index, "ledger balance", resolveScope(index, ["src/rates.ts"]));
  assert.match(a.markdown, /Nothing in this file matches/);
  assert.ok(a.citations.every((c) => c.path === "src/rates.ts"));
});

test("@Symbol answers about exactly that definition; unknown mentions are named", () => {
  const a = answerInScope(index, "tell me everything", resolveScope(index, ["formatTotal", "ghost"]));
  assert.ok(a.citations[0].path === "src/billing.ts" && a.citations[0].line === lineOf("src/billing.ts", "function formatTotal"));
  assert.match(a.markdown, /`@ghost`: no file or definition/);
  assert.ok(!a.markdown.includes("computeTotal") || a.markdown.indexOf("formatTotal") < a.markdown.indexOf("computeTotal"));
});

test("completions: file-name prefix before path match, names by prefix; kinds and places shown", () => {
  const items = mentionCompletions(index, "bill");
  const files = items.filter((i) => i.kind === "file");
  assert.equal(files[0]?.insert, "src/billing.ts");
  const totals = mentionCompletions(index, "Total");
  const symbols = totals.filter((i) => i.kind === "symbol").map((i) => i.insert);
  assert.deepEqual(symbols.slice().sort(), ["computeTotal", "formatTotal", "printTotal"]);
  const compute = totals.find((i) => i.insert === "computeTotal")!;
  assert.equal(compute.detail, `function · src/billing.ts:${lineOf("src/billing.ts", "function computeTotal")}`);
  const rateItems = mentionCompletions(index, "rate");
  assert.equal(rateItems[0].kind, "symbol", "a bare word lists definitions first");
  assert.equal(mentionCompletions(index, "rates.")[0].kind, "file", "a path-like fragment lists files first");
  assert.ok(mentionCompletions(index, "", 5).length <= 5);
  assert.deepEqual(mentionCompletions(index, "zzzz"), []);
});

test("completions in a multi-root index insert root/path", async () => {
  const other = makeTree({ "src/billing.ts": "export function refund(): number {\n  return 0;\n}\n" });
  try {
    const ix = new Indexer({ roots: [{ name: "one", path: dir }, { name: "two", path: other }], threads: 0 });
    await ix.build();
    await ix.dispose();
    const inserts = mentionCompletions(ix.index, "billing").filter((i) => i.kind === "file").map((i) => i.insert).sort();
    assert.deepEqual(inserts, ["one/src/billing.ts", "two/src/billing.ts"]);
    assert.deepEqual(resolveMention(ix.index, "two/src/billing.ts"), { kind: "file", root: "two", path: "src/billing.ts" });
  } finally {
    removeTree(other);
  }
});

test("definedNamesIn lists the selection's names that the index defines, in order of use", () => {
  const names = definedNamesIn(index, "const t = formatTotal(computeTotal(xs)); rate(); unknownThing(); formatTotal(1);");
  assert.deepEqual(names, ["formatTotal", "computeTotal", "rate"]);
});
