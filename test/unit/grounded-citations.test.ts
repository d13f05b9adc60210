import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { GroundedDecoder, PathTrie, asksForExplanation, questionFocus, resolveCitationLine } from "../../model-runtime/src/answer/grounded-citations";
import { DefinedNames, editDistance } from "../../model-runtime/src/answer/grounded-labels";
import { Sampler } from "../../model-runtime/src/engine/sampling";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { parseCitations } from "../../model-runtime/src/training-data/answer-format";
import { indexFolder, makeTree, removeTree } from "../helpers/tmp-tree";

// Lines (1-based): rate 1 in rates.ts; computeTotal 3, its uses of `rate` 5 and 6; Ledger 9, record 10 (uses rate at 11).
const FILES = {
  "src/rates.ts": "export function rate(x: number): number {\n  return x * 2;\n}\n",
  "src/billing.ts": [
    'import { rate } from "./rates";',
    "",
    "export function computeTotal(items: number[]): number {",
    "  let t = 0;",
    "  for (const i of items) t += rate(i);",
    "  return t + rate(0);",
    "}",
    "",
    "export class Ledger {",
    "  record(n: number) {",
    "    return rate(n);",
    "  }",
    "}",
    "",
  ].join("\n"),
  "src/billing.test.ts": '// tests\nimport { computeTotal } from "./billing";\ncomputeTotal([1]);\n',
  // A private member (#dispatch, line 4): its label is "App.#dispatch".
  "src/app.ts": "export class App {\n  handle(r: string) { return this.#dispatch(r); }\n\n  #dispatch(r: string) { return r; }\n}\n",
};

let dir: string;
let index: WorkspaceIndex;
let tok: CodeTokenizer;
let ids: { cite: number; endCite: number; colon: number; endAnswer: number };

before(async () => {
  dir = makeTree(FILES);
  index = await indexFolder(dir);
  tok = CodeTokenizer.load();
  ids = { cite: tok.specialTokenId("<|cite|>"), endCite: tok.specialTokenId("<|endcite|>"), colon: tok.encode(":")[0], endAnswer: tok.specialTokenId("<|endanswer|>") };
});
after(() => removeTree(dir));

const trieOf = (paths: string[]) => PathTrie.build(paths.map((p) => ({ root: "ws", path: p })), (p) => tok.encode(p));

/**
 * A fake model: at each step a one-hot preference for the next token of `plan` (logit 10, everything else 0). The
 * decoder may override it (masking, forced coordinates); when it closes a citation, the plan skips to after its own
 * <|endcite|>, so a plan that wants a wrong line ("999") stays in step.
 */
function decode(question: string, plan: number[], paths = Object.keys(FILES), vocab = tok.vocabSize, names?: DefinedNames): { text: string; decoder: GroundedDecoder; chosen: number[] } {
  const decoder = new GroundedDecoder({
    trie: trieOf(paths),
    index,
    question,
    ids,
    names,
    encode: (s) => tok.encode(s),
    decodeBytes: (x) => tok.decodeBytes(x),
  });
  const sampler = new Sampler();
  const chosen: number[] = [];
  let k = 0;
  for (let step = 0; step < 200; step++) {
    const logits = new Float32Array(vocab);
    logits[plan[k] ?? ids.endAnswer] = 10;
    const t = decoder.choose(logits, (l) => sampler.sample(l));
    chosen.push(t.id);
    if (t.id === ids.endAnswer) break;
    if (t.id !== ids.endCite) k++;
    else k = plan.indexOf(ids.endCite, k) >= 0 ? plan.indexOf(ids.endCite, k) + 1 : plan.length;
  }
  return { text: tok.decode(chosen), decoder, chosen };
}

const text = (s: string) => [...tok.encode(s)];
const cite = (path: string, line: string) => [ids.cite, ...text(path), ...text(`:${line}`), ids.endCite];

test("the line of a cited definition comes from the index, not from the model's digits", () => {
  const plan = [...text("computeTotal "), ...cite("src/billing.ts", "999"), ids.endAnswer];
  const { text: out, decoder } = decode("Where is `computeTotal` defined?", plan);
  assert.deepEqual(parseCitations(out), [{ path: "src/billing.ts", line: 3 }]);
  assert.deepEqual(decoder.citations, [{ root: "ws", path: "src/billing.ts", line: 3, label: "computeTotal" }]);
  // Labels may be qualified (Container.member): the member's line in that file.
  const member = decode("Where is `record` defined?", [...text("Ledger.record "), ...cite("src/billing.ts", "1"), ids.endAnswer]);
  assert.deepEqual(parseCitations(member.text), [{ path: "src/billing.ts", line: 10 }]);
  // A JavaScript private member keeps its "#" in the label (it had been cited at line 1).
  const priv = decode("what does the app dispatch to?", [...text("App.#dispatch "), ...cite("src/app.ts", "1"), ids.endAnswer]);
  assert.deepEqual(parseCitations(priv.text), [{ path: "src/app.ts", line: 4 }]);
});

test("paths are constrained to the layout's files: a path that does not exist cannot be written", () => {
  // The model wants src/billing.tsx (no such file) and a ":" after "src/" (not a whole path).
  const plan = [...text("computeTotal "), ids.cite, ...text("src/"), ids.colon, ...text("billing.tsx"), ...text(":12"), ids.endCite, ids.endAnswer];
  const { text: out, chosen } = decode("Where is `computeTotal` defined?", plan);
  const cited = parseCitations(out);
  assert.equal(cited.length, 1, out);
  assert.ok(Object.keys(FILES).includes(cited[0].path), `cited ${cited[0].path}, not a laid-out file`);
  // The cited path's ids are exactly the layout's encoding of it (the model copies header tokens).
  const start = chosen.indexOf(ids.cite) + 1;
  assert.deepEqual(chosen.slice(start, start + tok.encode(cited[0].path).length), [...tok.encode(cited[0].path)]);
  // Even when the model's favourite is <|endcite|> or a digit mid-path, only trie tokens come out.
  const stubborn = decode("Where is `rate` defined?", [ids.cite, ids.endCite, ...text("7"), ...text("7"), ids.endAnswer]);
  assert.equal(parseCitations(stubborn.text).length, 1, stubborn.text);
});

test("who-uses answers cite the use inside the labelled encloser, each use once", () => {
  const plan = [...text("computeTotal "), ...cite("src/billing.ts", "3"), ...text("\ncomputeTotal "), ...cite("src/billing.ts", "3"), ...text("\nLedger.record "), ...cite("src/billing.ts", "40"), ids.endAnswer];
  const { text: out, decoder } = decode("Who uses `rate`?", plan);
  assert.deepEqual(parseCitations(out), [
    { path: "src/billing.ts", line: 5 },
    { path: "src/billing.ts", line: 6 },
    { path: "src/billing.ts", line: 11 },
  ]);
  assert.deepEqual(decoder.citations.map((c) => c.label), ["computeTotal", "computeTotal", "Ledger.record"]);
  // Uses at the top level (no encloser, empty label): the import, then the call.
  const top = decode("Where is `computeTotal` used?", [...cite("src/billing.test.ts", "9"), ...text("\n"), ...cite("src/billing.test.ts", "9"), ids.endAnswer]);
  assert.deepEqual(parseCitations(top.text), [
    { path: "src/billing.test.ts", line: 2 },
    { path: "src/billing.test.ts", line: 3 },
  ]);
});

test("a label that names no definition in the cited file falls back to the question's symbol, then line 1", () => {
  const a = decode("Where is `rate` defined?", [...text("the rate function "), ...cite("src/rates.ts", "5"), ids.endAnswer]);
  assert.deepEqual(parseCitations(a.text), [{ path: "src/rates.ts", line: 1 }]);
  const b = decode("What does `computeTotal` call?", [...text("something "), ...cite("src/rates.ts", "5"), ids.endAnswer]);
  assert.deepEqual(parseCitations(b.text), [{ path: "src/rates.ts", line: 1 }]);
  // The question's symbol used (not defined) in the cited file: its first use.
  const c = decode("Explain `computeTotal`.", [...text("see "), ...cite("src/billing.test.ts", "7"), ids.endAnswer]);
  assert.deepEqual(parseCitations(c.text), [{ path: "src/billing.test.ts", line: 2 }]);
});

test("without laid-out files no citation can start; <|endcite|> never appears in prose", () => {
  const { text: out } = decode("Where is `rate` defined?", [ids.cite, ids.endCite, ...text("none"), ids.endAnswer], []);
  assert.ok(!out.includes("<|cite|>") && !out.includes("<|endcite|>"), out);
});

test("questionFocus reads the symbol and whether uses are asked, for every training template", () => {
  assert.deepEqual(questionFocus("Who uses `Ledger`?"), { symbol: "Ledger", kind: "uses" });
  assert.deepEqual(questionFocus("Where is `x_y` used?"), { symbol: "x_y", kind: "uses" });
  assert.deepEqual(questionFocus("Find the references to parseArgs."), { symbol: "parseArgs", kind: "uses" });
  assert.deepEqual(questionFocus("Which code mentions `Foo.bar`?"), { symbol: "Foo.bar", kind: "uses" });
  assert.deepEqual(questionFocus("Where is computeTotal defined?"), { symbol: "computeTotal", kind: "other" });
  assert.deepEqual(questionFocus("Go to the definition of rate."), { symbol: "rate", kind: "other" });
  assert.deepEqual(questionFocus("What does run depend on?"), { symbol: "run", kind: "other" });
  assert.deepEqual(questionFocus("List what `main` calls."), { symbol: "main", kind: "other" });
  assert.deepEqual(questionFocus("Describe Ledger."), { symbol: "Ledger", kind: "other" });
  assert.equal(questionFocus("how are invoices totalled?").symbol, undefined);
  // People type the templates in lower case too.
  assert.equal(questionFocus("what does compose do?").symbol, "compose");
  assert.equal(questionFocus("where is computeTotal defined?").symbol, "computeTotal");
  assert.deepEqual(questionFocus("who calls rate?"), { symbol: "rate", kind: "uses" });
  assert.equal(questionFocus("explain the request context").symbol, undefined);
  assert.equal(questionFocus("how does compose work?").symbol, "compose");
  assert.equal(questionFocus("what is rate used for?").symbol, "rate");
  assert.equal(questionFocus("how does the app context work?").symbol, undefined);
  assert.equal(questionFocus("How does gin work out the real client IP?").symbol, undefined);
});

test("questionFocus in everyday words: 'the X class' names X unless X is a concept word; a determiner is never the symbol", () => {
  assert.equal(questionFocus("what does the Flask class do?").symbol, "Flask");
  assert.equal(questionFocus("how does the Config class load files?").symbol, "Config", "capitalised: a name even if generic");
  assert.equal(questionFocus("what does the parse_args function do?").symbol, "parse_args");
  assert.equal(questionFocus("what is the purpose of the session interface?").symbol, undefined);
  assert.equal(questionFocus("Explain the request context.").symbol, undefined);
  assert.equal(questionFocus("Where is find defined?").symbol, "find", "a stop word can still be a template's name");
  assert.ok(asksForExplanation("what does the Flask class do?") && asksForExplanation("What is the purpose of `AppContext`?"));
  // "… and who calls it?" asks for the definition first (its callers are listed after it); "Who calls X?" for uses.
  assert.deepEqual(questionFocus("Where is `Ledger` defined and who calls it?"), { symbol: "Ledger", kind: "other" });
  assert.deepEqual(questionFocus("Who calls `Ledger`?"), { symbol: "Ledger", kind: "uses" });
});

test("the same path in two roots: the root whose file defines the label", () => {
  const fake = {
    get: (root: string, path: string) => {
      if (path !== "a.ts") return undefined;
      const defs = root === "two" ? [{ name: "f", kind: "function" as const, startLine: 4, startColumn: 0, endLine: 6, endColumn: 1, nameLine: 4, nameColumn: 9, signature: "", doc: "" }] : [];
      return { root, path, language: "typescript", hash: "", size: 0, mtimeMs: 0, lineCount: 9, encoding: "utf-8" as const, definitions: defs, imports: [], references: {}, hasErrors: false };
    },
  };
  const at = resolveCitationLine(fake, [{ root: "one", path: "a.ts" }, { root: "two", path: "a.ts" }], "f", { symbol: "f", kind: "other" });
  assert.deepEqual(at, { root: "two", path: "a.ts", line: 5 });
});

test("a label the index knows keeps only the files that define it open (symbol-grounded paths)", () => {
  // The model wants rates.ts for computeTotal; only billing.ts defines it, so the path is steered there.
  const plan = [...text("computeTotal "), ...cite("src/rates.ts", "1"), ids.endAnswer];
  const { decoder } = decode("Where is `computeTotal` defined?", plan);
  assert.deepEqual(decoder.citations.map((c) => `${c.path}:${c.line}`), ["src/billing.ts:3"]);
  // A label the index does not know leaves every path open: the model's choice stands.
  const free = decode("Where is `computeTotal` defined?", [...text("somethingElse "), ...cite("src/rates.ts", "1"), ids.endAnswer]);
  assert.deepEqual(free.decoder.citations.map((c) => c.path), ["src/rates.ts"]);
});

test("who-uses citations are steered to files where the label's definition uses the symbol", () => {
  const plan = [...text("record "), ...cite("src/rates.ts", "1"), ids.endAnswer];
  const { decoder } = decode("Who uses `rate`?", plan);
  assert.deepEqual(decoder.citations.map((c) => `${c.path}:${c.line}`), ["src/billing.ts:11"]);
});

test("PathTrie.restrictedTo keeps exactly the accepted files' branches", () => {
  const trie = trieOf(["src/a.ts", "src/ab.ts", "lib/c.ts"]);
  const sub = trie.restrictedTo((f) => f.path !== "src/a.ts")!;
  assert.equal(sub.size, 2);
  assert.equal(trie.restrictedTo(() => false), undefined);
});

/** The fixture's defined names, as the model service collects them from the laid-out files. */
const fixtureNames = () => new DefinedNames(Object.keys(FILES).flatMap((p) => index.get("ws", p)?.definitions.map((d) => d.name) ?? []));

test("DefinedNames.nearest: a defined name, else the one name within 1 edit (≤ 8 chars) or 2, else nothing", () => {
  const names = new DefinedNames(["is_pep695", "is_pep593", "computeTotal", "rate", "Ledger", "record", "recorder", "parse_args"]);
  assert.equal(names.nearest("computeTotal"), "computeTotal");
  assert.equal(names.nearest("computeTotl"), "computeTotal", "a dropped letter");
  assert.equal(names.nearest("compuetTotal"), "computeTotal", "two neighbours swapped count one edit");
  assert.equal(names.nearest("is_pep696"), "is_pep695");
  assert.equal(names.nearest("recordd"), "record", "one edit from record, two from recorder");
  assert.equal(names.nearest("Ledgr"), "Ledger");
  assert.equal(names.nearest("rat"), undefined, "short names are not guessed");
  assert.equal(names.nearest("Leddgrr"), undefined, "too far");
  assert.equal(names.nearest("parse_argz"), "parse_args");
  const tied = new DefinedNames(["handleA", "handleB"]);
  assert.equal(tied.nearest("handleC"), undefined, "two names equally near: no guess");
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("ab", "ba"), 1);
  assert.equal(editDistance("abcdef", "uvwxyz", 2), 2, "the cap returns early");
});

test("a misspelt label is read as the nearest defined name: the citation stands on it, the text stays the model's", () => {
  const plan = [...text("computeTotl "), ...cite("src/rates.ts", "1"), ids.endAnswer];
  const repaired = decode("Where is `computeTotal` defined?", plan, undefined, undefined, fixtureNames());
  assert.deepEqual(repaired.decoder.citations, [{ root: "ws", path: "src/billing.ts", line: 3, label: "computeTotal" }]);
  assert.ok(repaired.text.startsWith("computeTotl "), repaired.text);
  // Without repair the label names nothing: every path stays open and the model's wrong file is cited at line 1.
  const free = decode("Where is `computeTotal` defined?", plan);
  assert.deepEqual(free.decoder.citations.map((c) => `${c.path}:${c.line}`), ["src/rates.ts:1"]);
  // A qualified label keeps its container; who-uses labels (enclosers) are repaired too.
  const member = decode("Where is `record` defined?", [...text("Ledger.recrod "), ...cite("src/rates.ts", "1"), ids.endAnswer], undefined, undefined, fixtureNames());
  assert.deepEqual(member.decoder.citations.map((c) => `${c.label} ${c.path}:${c.line}`), ["Ledger.record src/billing.ts:10"]);
  const uses = decode("Who uses `rate`?", [...text("Ledger.recrd "), ...cite("src/rates.ts", "1"), ids.endAnswer], undefined, undefined, fixtureNames());
  assert.deepEqual(uses.decoder.citations.map((c) => `${c.path}:${c.line}`), ["src/billing.ts:11"]);
  // A label far from every name is left alone.
  const far = decode("Where is `computeTotal` defined?", [...text("somethingElse "), ...cite("src/rates.ts", "1"), ids.endAnswer], undefined, undefined, fixtureNames());
  assert.deepEqual(far.decoder.citations.map((c) => `${c.label} ${c.path}:${c.line}`), ["somethingElse src/rates.ts:1"]);
});

test("lead: the answer starts with the searched label whatever the model's first choice, then decodes as usual", () => {
  const decoder = new GroundedDecoder({ trie: trieOf(Object.keys(FILES)), index, question: "Where is `computeTotal` defined?", ids, encode: (x) => tok.encode(x), decodeBytes: (x) => tok.decodeBytes(x) });
  const lead = [...tok.encode("computeTotal ")];
  decoder.lead(lead);
  // The model wants "rate" while the lead is written, then src/rates.ts; computeTotal's only file is billing.ts.
  const plan = [...lead.map(() => text("rate")[0]), ...cite("src/rates.ts", "1"), ids.endAnswer];
  const sampler = new Sampler();
  const chosen: number[] = [];
  for (let step = 0, k = 0; step < 60; step++) {
    const logits = new Float32Array(tok.vocabSize);
    logits[plan[Math.min(k, plan.length - 1)]] = 10;
    const t = decoder.choose(logits, (l) => sampler.sample(l));
    chosen.push(t.id);
    k++;
    if (t.id === ids.endAnswer) break;
  }
  assert.ok(tok.decode(chosen).startsWith("computeTotal "), tok.decode(chosen));
  assert.deepEqual(decoder.citations.map((c) => `${c.label} ${c.path}:${c.line}`), ["computeTotal src/billing.ts:3"]);
});

test("Ruby names ending in ! or ?, operators, setters and dotted namespaces: the question names them, a label cites their own lines", async () => {
  const { candidateSymbols } = await import("../../model-runtime/src/answer/index-answer");
  const dir = makeTree({
    "lib/base.rb": [
      "class Base",
      "  def call!(env)",
      "    invoke { dispatch! }",
      "  end",
      "",
      "  def dispatch!",
      "    invoke { route! }",
      "  end",
      "",
      "  def empty?",
      "    true",
      "  end",
      "",
      "  def invoke",
      "    yield",
      "  end",
      "",
      "  def <=>(other)",
      "    0",
      "  end",
      "",
      "  def body=(value)",
      "    @body = value",
      "  end",
      "end",
      "",
    ].join("\n"),
    "src/Bson/BsonType.cs": "using System;\nnamespace Newtonsoft.Json.Bson\n{\n    internal enum BsonType\n    {\n        Number = 1\n    }\n}\n",
    // A module and a method of one name in one file (axum's routing/mod.rs): Router.route is the method.
    "src/routing.rs": "mod route;\n\npub struct Router;\n\nimpl Router {\n    pub fn route(self) -> Self {\n        self\n    }\n}\n",
    "lib/res.js": "var res = module.exports = {};\n\nres.render = function render(view) {\n  return view;\n};\n",
  });
  try {
    const index = await indexFolder(dir);
    assert.deepEqual(questionFocus("where is dispatch! defined?"), { symbol: "dispatch!", kind: "other" });
    assert.deepEqual(questionFocus("what does `empty?` do?"), { symbol: "empty?", kind: "other" });
    assert.equal(questionFocus("who calls invoke?").symbol, "invoke", "the question's own mark is not the name's");
    assert.ok(candidateSymbols("where is dispatch! defined?").includes("dispatch!"));
    const file = [{ root: "ws", path: "lib/base.rb" }];
    assert.equal(resolveCitationLine(index, file, "Base.dispatch!", { symbol: "dispatch!", kind: "other" }).line, 6);
    assert.equal(resolveCitationLine(index, file, "empty?", { kind: "other" }).line, 10);
    // Who uses invoke: each caller's own line, not the first use in the file.
    const uses = { symbol: "invoke", kind: "uses" as const };
    assert.equal(resolveCitationLine(index, file, "Base.dispatch!", uses).line, 7);
    assert.equal(resolveCitationLine(index, file, "Base.call!", uses).line, 3);
    // "invoke?" (the sentence's mark after a name defined without one) is still invoke.
    assert.equal(resolveCitationLine(index, file, "invoke?", { kind: "other" }).line, 14);
    // Names that are not identifiers are read whole: an operator, a setter, a dotted namespace.
    assert.equal(resolveCitationLine(index, file, "Base.<=>", { kind: "other" }).line, 18);
    assert.equal(resolveCitationLine(index, file, "Base.body=", { kind: "other" }).line, 22);
    assert.equal(resolveCitationLine(index, [{ root: "ws", path: "src/Bson/BsonType.cs" }], "Newtonsoft.Json.Bson", { kind: "other" }).line, 2);
    assert.equal(resolveCitationLine(index, [{ root: "ws", path: "src/Bson/BsonType.cs" }], "BsonType", { kind: "other" }).line, 4);
    assert.equal(resolveCitationLine(index, [{ root: "ws", path: "src/routing.rs" }], "Router.route", { kind: "other" }).line, 6);
    assert.equal(resolveCitationLine(index, [{ root: "ws", path: "src/routing.rs" }], "route", { kind: "other" }).line, 1);
    // No definition in that container: one without a container (Express's res.render assignment).
    assert.equal(resolveCitationLine(index, [{ root: "ws", path: "lib/res.js" }], "res.render", { kind: "other" }).line, 3);
  } finally {
    removeTree(dir);
  }
});
