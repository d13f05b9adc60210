// Per-definition shares of a model answer's attention: the read map's per-line and per-anchor mass (RepoSession.readMap)
// against a brute-force walk of every token of the layout, and the definitions they become (definition-reads.ts) on a
// real session over a small indexed repository with a random tiny model; then the gathering rules on hand-made
// readings (innermost definition, lines outside definitions, anchors, limits).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { JsAttentionBackend } from "../../kernels/js";
import { definitionReads } from "../../model-runtime/src/answer/definition-reads";
import { readShares } from "../../model-runtime/src/answer/model-answer";
import { Engine } from "../../model-runtime/src/engine/engine";
import { type ReadMap, RepoSession } from "../../model-runtime/src/engine/repo-session";
import type { Definition } from "../../model-runtime/src/index/types";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import { RepoLayout } from "../../model-runtime/src/layout/repo-layout";
import { readLayoutSources } from "../../model-runtime/src/layout/sources";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../model-runtime/src/model/config";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { freshSeed, indexFolder, makeTree, removeTree } from "../helpers/tmp-tree";

const seed = freshSeed();
console.log(`attention-definitions seed=${seed} (replay with TEST_SEED=${seed})`);

/** The shipped tokenizer's vocabulary and block size, everything else tiny. */
const TINY: ModelConfig = { ...DEFAULT_MODEL_CONFIG, dModel: 32, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 16, ffnDim: 64, pattern: { ...DEFAULT_MODEL_CONFIG.pattern, budget: 12, localBlocks: 4, anchorRowBudget: 24 } };

const method = (name: string, i: number) => `  ${name}(amount: number): number {\n    const scaled = amount * ${i + 2};\n    this.total += scaled;\n    return this.total - ${i};\n  }\n`;
const REPO: Record<string, string> = {
  "src/ledger.ts":
    `import { rate } from "./rates";\n\n/** Money in and out. */\nexport class Ledger {\n  total = 0;\n\n` +
    ["post", "refund", "settle", "close", "audit", "reopen"].map(method).join("\n") +
    `}\n\nexport function openLedger(): Ledger {\n  const l = new Ledger();\n  l.post(rate(1));\n  return l;\n}\n`,
  "src/rates.ts": Array.from({ length: 12 }, (_, i) => `export function rate${i ? i : ""}(x: number): number {\n  const base = ${i} + x;\n  return base * base;\n}\n`).join("\n"),
  "tools/report.py":
    `import json\n\nclass Report:\n    def __init__(self, rows):\n        self.rows = rows\n\n` +
    Array.from({ length: 8 }, (_, i) => `    def part${i}(self):\n        total = sum(r[${i}] for r in self.rows)\n        return json.dumps({"part": ${i}, "total": total})\n`).join("\n") +
    `\ndef main():\n    print(Report([]).part0())\n`,
};

let dir: string;
let index: WorkspaceIndex;
let layout: RepoLayout;
let session: RepoSession;
let read: ReadMap;

before(async () => {
  dir = makeTree(REPO, "longview-attention-defs-");
  index = await indexFolder(dir);
  const tokenizer = CodeTokenizer.load();
  layout = RepoLayout.build(readLayoutSources(index, [{ name: "ws", path: dir }]), tokenizer, { blockSize: TINY.blockSize });
  const engine = await Engine.create({ config: TINY, weights: randomWeights(TINY, { seed, std: 0.1 }) }, { backend: "cpu", dense: "typescript", attentionBackend: new JsAttentionBackend() });
  session = RepoSession.create(engine, layout, { answerRoom: 256 });
  await session.prefillRepository();
  for await (const _ of session.ask("What does `Ledger.post` do?", { maxNewTokens: 8, sampling: { temperature: 0 } })) void _;
  read = session.readMap()!;
});

after(() => removeTree(dir));

const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test("read map: each file's mass per line and per anchor equals a walk over every token of the layout", () => {
  const B = layout.blockSize;
  const lines = new Map<string, number>();
  const anchors = new Map<string, number>();
  for (let b = 0; b < layout.numBlocks; b++) {
    const locs = Array.from({ length: B }, (_, i) => layout.locate(b * B + i));
    const named = locs.filter((l) => (l.kind === "anchor" || l.kind === "map") && l.path !== undefined).length;
    const content = locs.filter((l) => l.kind !== "pad").length;
    for (const l of locs) {
      if (l.kind === "body") lines.set(`${l.path}:${l.line}`, (lines.get(`${l.path}:${l.line}`) ?? 0) + read.blocks[b] / content);
      if (l.kind === "anchor") anchors.set(`${l.path}:${l.definition.name}:${l.line}`, (anchors.get(`${l.path}:${l.definition.name}:${l.line}`) ?? 0) + read.blocks[b] / named);
    }
  }
  let linesSeen = 0;
  let anchorsSeen = 0;
  for (const f of read.files) {
    const inLines = f.lines.reduce((s, l) => s + l.mass, 0);
    const inAnchors = f.anchors.reduce((s, a) => s + a.mass, 0);
    assert.ok(inLines + inAnchors <= f.mass + 1e-12, `${f.path}: lines ${inLines} + anchors ${inAnchors} > file ${f.mass}`);
    for (let i = 1; i < f.lines.length; i++) assert.ok(f.lines[i].line > f.lines[i - 1].line, "lines sorted and distinct");
    for (const l of f.lines) near(l.mass, lines.get(`${f.path}:${l.line}`) ?? NaN, `${f.path}:${l.line}`);
    for (const a of f.anchors) near(a.mass, anchors.get(`${f.path}:${a.name}:${a.line}`) ?? NaN, `anchor ${a.name} of ${f.path}`);
    linesSeen += f.lines.length;
    anchorsSeen += f.anchors.length;
  }
  // Every line and anchor with mass is reported (none lost in the walk over blocks with mass).
  assert.equal(linesSeen, [...lines.values()].filter((m) => m > 0).length);
  assert.equal(anchorsSeen, [...anchors.values()].filter((m) => m > 0).length);
  assert.ok(linesSeen > 0 && anchorsSeen > 0, "the answer read some lines and some anchors");
});

test("definition shares: sorted, within the file's share, pointing at real definitions' name lines", () => {
  const files = readShares(session, index);
  assert.ok(files.length > 0);
  let withDefinitions = 0;
  for (const f of files) {
    const defs = index.get(f.root, f.path)!.definitions;
    // All definitions (no threshold) to check the gathering on every file, then the shipped limits.
    for (const list of [definitionReads(read.files.find((r) => r.path === f.path)!, defs, { minShare: 0, max: Infinity }), f.definitions ?? []]) {
      const sum = list.reduce((s, d) => s + d.share, 0);
      assert.ok(sum <= f.share + 1e-12, `${f.path}: definitions ${sum} > file ${f.share}`);
      for (let i = 1; i < list.length; i++) assert.ok(list[i].share <= list[i - 1].share, `${f.path}: sorted by share`);
      for (const d of list) {
        const def = defs.find((x) => x.nameLine + 1 === d.line && d.name.endsWith(x.name));
        assert.ok(def, `${f.path}: ${d.name} at line ${d.line} is a definition`);
        assert.equal(d.name, def.container ? `${def.container}.${def.name}` : def.name);
      }
    }
    assert.ok((f.definitions ?? []).length <= 5 && (f.definitions ?? []).every((d) => d.share >= 0.01));
    if (f.definitions?.length) withDefinitions++;
  }
  assert.ok(withDefinitions > 0, `some file has definitions over 1%: ${JSON.stringify(files)}`);
  // Methods are found inside their class (innermost), so the class is not the only definition of ledger.ts read.
  const ledger = definitionReads(read.files.find((r) => r.path === "src/ledger.ts")!, index.get("ws", "src/ledger.ts")!.definitions, { minShare: 0, max: Infinity });
  assert.ok(ledger.some((d) => d.name.startsWith("Ledger.")), JSON.stringify(ledger));
});

function def(name: string, startLine: number, endLine: number, container?: string): Definition {
  return { name, kind: container ? "method" : "class", startLine, startColumn: 0, endLine, endColumn: 0, nameLine: startLine, nameColumn: 6, signature: name, doc: "", container };
}

test("definition shares: innermost definition, lines outside definitions stay with the file, anchors, limits", () => {
  // `inner` starts on openLedger's line (a nested definition on the same line): it is still the innermost.
  const defs = [def("Ledger", 3, 20), def("post", 5, 9, "Ledger"), def("refund", 11, 15, "Ledger"), def("inner", 22, 24, "openLedger"), def("openLedger", 22, 26)];
  const lines = [
    { line: 0, mass: 0.2 }, // an import: no definition
    { line: 4, mass: 0.05 }, // a field of the class
    { line: 6, mass: 0.1 },
    { line: 9, mass: 0.02 }, // post's last line
    { line: 10, mass: 0.03 }, // between methods: the class
    { line: 12, mass: 0.04 },
    { line: 21, mass: 0.5 }, // between definitions
    { line: 23, mass: 0.005 },
    { line: 25, mass: 0.002 },
  ];
  const anchors = [
    { name: "refund", line: 11, mass: 0.06 },
    { name: "gone", line: 7, mass: 0.01 }, // the index no longer has it: counts as line 7 (post)
  ];
  const got = definitionReads({ lines, anchors }, defs, { minShare: 0, max: 10 });
  const share = Object.fromEntries(got.map((d) => [d.name, d.share]));
  near(share["Ledger.post"], 0.13, "post: its lines and the stale anchor on its line");
  near(share["Ledger.refund"], 0.1, "refund: its line and its anchor");
  near(share.Ledger, 0.08, "the class: its own lines only");
  near(share["openLedger.inner"], 0.005, "inner");
  near(share.openLedger, 0.002, "openLedger: past inner's end");
  assert.deepEqual(got.map((d) => [d.name, d.line]), [["Ledger.post", 6], ["Ledger.refund", 12], ["Ledger", 4], ["openLedger.inner", 23], ["openLedger", 23]]);
  // Defaults: shares under 1% dropped; at most `max`.
  assert.deepEqual(definitionReads({ lines, anchors }, defs).map((d) => d.name), ["Ledger.post", "Ledger.refund", "Ledger"]);
  assert.deepEqual(definitionReads({ lines, anchors }, defs, { max: 1 }).map((d) => d.name), ["Ledger.post"]);
  assert.deepEqual(definitionReads({ lines, anchors }, []), []);
});
