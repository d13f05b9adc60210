import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { Indexer } from "../../model-runtime/src/index/indexer";
import type { Definition, FileRecord } from "../../model-runtime/src/index/types";
import { buildImportGraph, dependencyOrder } from "../../model-runtime/src/layout/import-graph";
import { RepoLayout } from "../../model-runtime/src/layout/repo-layout";
import { readLayoutSources } from "../../model-runtime/src/layout/sources";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { copyFixture } from "../e2e/lib/fixture";
import { freshSeed, rng } from "../helpers/tmp-tree";

const tokenizer = CodeTokenizer.load();

function record(p: string, defs: Array<Partial<Definition> & { name: string; nameLine: number }>, imports: string[] = [], language = "typescript"): FileRecord {
  return {
    root: "r",
    path: p,
    language,
    hash: `${p}#${Math.random()}`,
    size: 0,
    mtimeMs: 0,
    lineCount: 0,
    encoding: "utf-8",
    definitions: defs.map((d) => ({
      kind: "function",
      startLine: d.nameLine,
      startColumn: 0,
      endLine: d.nameLine,
      endColumn: 0,
      nameColumn: 0,
      signature: d.name,
      doc: "",
      ...d,
    })),
    imports: imports.map((source, line) => ({ source, line })),
    references: {},
    hasErrors: false,
  };
}

/** Random source-like text: identifiers, punctuation, indentation, blank lines, non-ASCII and emoji. */
function randomText(rand: () => number, lines: number): string {
  const words = ["const", "x", "computeTotal", "return", "=>", "{", "}", "(", ")", ";", "\t", "    ", "é", "日本", "😀", "'str'", "42", "//", "a_b", "\r"];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const n = Math.floor(rand() * 12);
    const parts: string[] = [];
    for (let j = 0; j < n; j++) parts.push(words[Math.floor(rand() * words.length)]);
    out.push(parts.join(rand() < 0.5 ? " " : ""));
  }
  return out.join("\n");
}

test("every body token maps back to the exact (line, column) of its text, on random files", () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const sources = Array.from({ length: 12 }, (_, i) => {
    const text = randomText(rand, 5 + Math.floor(rand() * 80));
    return { record: record(`dir${i % 3}/file${i}.ts`, [{ name: `fn${i}`, nameLine: 0 }]), text };
  });
  const layout = RepoLayout.build(sources, tokenizer, { blockSize: 16 });
  const ids = layout.tokenIds();
  const texts = new Map(sources.map((s) => [s.record.path, s.text]));
  const bodyTokens = new Map<string, number[]>();
  for (let t = 0; t < ids.length; t++) {
    const loc = layout.locate(t);
    if (loc.kind !== "body") continue;
    const text = texts.get(loc.path)!;
    const lineStart = text.split("\n").slice(0, loc.line).reduce((a, l) => a + l.length + 1, 0);
    const offset = lineStart + loc.column;
    // The token's bytes start inside the character at `offset` (exactly at it when the token starts on a character boundary).
    const bytes = tokenizer.decodeBytes([ids[t]]);
    const charBytes = Buffer.from(text.slice(offset, offset + 2)).subarray(0, bytes.length);
    assert.ok(offset < text.length, `seed ${seed}: token ${t} located past the end of ${loc.path}`);
    const startsAtChar = (bytes[0] & 0xc0) !== 0x80;
    if (startsAtChar) assert.equal(Buffer.from(bytes).subarray(0, 1)[0], charBytes[0], `seed ${seed}: token ${t} at ${loc.path}:${loc.line}:${loc.column}`);
    (bodyTokens.get(loc.path) ?? bodyTokens.set(loc.path, []).get(loc.path)!).push(ids[t]);
  }
  // And the body tokens of each file, in order, are the file's exact bytes.
  for (const s of sources) {
    const got = Buffer.from(tokenizer.decodeBytes(bodyTokens.get(s.record.path) ?? []));
    assert.ok(got.equals(Buffer.from(s.text)), `seed ${seed}: body of ${s.record.path} round-trips`);
  }
});

test("segments are block-aligned and padded; every definition's anchor entry maps back to it", () => {
  const defs = Array.from({ length: 30 }, (_, i) => ({ name: `handler${i}`, nameLine: i * 3 }));
  const sources = [
    { record: record("a.ts", defs), text: "x\n".repeat(100) },
    { record: record("b.py", [{ name: "main", nameLine: 4, kind: "function" as const }], [], "python"), text: "import a\n\n\n\ndef main(): pass\n" },
  ];
  const B = 32;
  const layout = RepoLayout.build(sources, tokenizer, { blockSize: B });
  for (const f of layout.fileBlocks()) {
    const span = layout.fileSpan(f.root, f.path)!;
    assert.equal(span.start % B, 0, "each file starts a block");
    for (let t = span.start + span.length; t < f.endBlock * B; t++) assert.equal(layout.locate(t).kind, "pad");
  }
  const pad = tokenizer.specialTokenId("<|pad|>");
  assert.equal(layout.tokenIds().filter((x) => x === pad).length, layout.stats().padTokens);
  for (const s of sources) {
    for (const d of s.record.definitions) {
      const block = layout.anchorBlockOf("r", s.record.path, d);
      assert.ok(block >= 0 && block < layout.blockFacts().anchorBlocks.length, `${d.name} has an anchor in the map`);
      let found = false;
      for (let t = block * B; t < (block + 1) * B + 8 && !found; t++) {
        const loc = layout.locate(t);
        found = loc.kind === "anchor" && loc.definition.name === d.name && loc.path === s.record.path && loc.line === d.nameLine;
      }
      assert.ok(found, `anchor of ${d.name} locates to its definition`);
    }
  }
  const facts = layout.blockFacts();
  assert.equal(facts.numBlocks, layout.numBlocks);
  for (let b = 1; b < facts.numBlocks; b++) assert.ok(facts.segmentStart![b] <= b && facts.segmentStart![b] >= facts.segmentStart![b - 1]);
});

test("the question region starts on a fresh block after the repository and leaves its tokens untouched", () => {
  const sources = [{ record: record("a.ts", [{ name: "alpha", nameLine: 0 }]), text: "export function alpha() {}\n" }];
  const layout = RepoLayout.build(sources, tokenizer, { blockSize: 16 });
  const repo = Int32Array.from(layout.tokenIds());
  const q = layout.withQuestion("where is alpha defined?");
  assert.equal(q.questionStart, layout.numTokens);
  assert.equal(q.questionStart % 16, 0);
  assert.deepEqual(q.ids.subarray(0, repo.length), repo);
  assert.equal(q.ids[q.questionStart], tokenizer.specialTokenId("<|question|>"));
  assert.equal(q.ids[q.ids.length - 1], tokenizer.specialTokenId("<|answer|>"));
  assert.equal(tokenizer.decode(Array.from(q.ids.subarray(q.questionStart + 1, q.ids.length - 1))), "where is alpha defined?");
  assert.equal(q.facts.numBlocks, Math.ceil(q.ids.length / 16));
  assert.equal(q.facts.segmentStart![q.facts.numBlocks - 1], layout.numBlocks, "the region is its own segment");
});

test("import order puts dependencies first across languages", () => {
  const files = [
    record("src/app.ts", [], ["./billing", "./util/format"]),
    record("src/billing.ts", [], ["./rates"]),
    record("src/rates.ts", []),
    record("src/util/format.ts", [], ["../rates"]),
    record("pkg/report.py", [], ["pkg.config", ".helpers"], "python"),
    record("pkg/config.py", [], [], "python"),
    record("pkg/helpers.py", [], [], "python"),
    record("svc/main.go", [], ["example.com/proj/svc/ledger"], "go"),
    record("svc/ledger/ledger.go", [], [], "go"),
    // Go in a checkout named like its module's last piece (root "r", module github.com/acme/r): the root package.
    record("cmd/tool.go", [], ["github.com/acme/r"], "go"),
    record("root.go", [], [], "go"),
    record("crates/x/src/lib.rs", [], ["crate::scoring::Score"], "rust"),
    record("crates/x/src/scoring.rs", [], [], "rust"),
    record("native/a.c", [], ["checksum.h"], "c"),
    record("native/checksum.h", [], [], "cpp"),
    // Ruby: require_relative from the file's folder, require from the load path (lib/).
    record("lib/shop/cart.rb", [], ["item", "shop/tax"], "ruby"),
    record("lib/shop/item.rb", [], [], "ruby"),
    record("lib/shop/tax.rb", [], [], "ruby"),
    record("spec/item.rb", [], [], "ruby"),
    // PHP: a namespaced class through composer's autoload folder; C#: a namespace's folder.
    record("app/Http/Controller.php", [], ["App\\Models\\Invoice"], "php"),
    record("app/Models/Invoice.php", [], [], "php"),
    record("Src/Json/JsonConvert.cs", [], ["Json.Linq", "System.Text"], "csharp"),
    record("Src/Json/Linq/JToken.cs", [], [], "csharp"),
    record("app/Main.kt", [], ["com.example.model.Invoice"], "kotlin"),
    record("lib/src/main/kotlin/com/example/model/Invoice.kt", [], [], "kotlin"),
  ];
  const graph = buildImportGraph(files);
  const order = dependencyOrder(files, graph).map((i) => files[i].path);
  const before = (a: string, b: string) => assert.ok(order.indexOf(a) < order.indexOf(b), `${a} before ${b} in ${order.join(", ")}`);
  before("src/rates.ts", "src/billing.ts");
  before("src/billing.ts", "src/app.ts");
  before("src/util/format.ts", "src/app.ts");
  before("src/rates.ts", "src/util/format.ts");
  before("pkg/config.py", "pkg/report.py");
  before("pkg/helpers.py", "pkg/report.py");
  before("svc/ledger/ledger.go", "svc/main.go");
  before("root.go", "cmd/tool.go");
  before("crates/x/src/scoring.rs", "crates/x/src/lib.rs");
  before("native/checksum.h", "native/a.c");
  before("lib/shop/item.rb", "lib/shop/cart.rb");
  before("lib/shop/tax.rb", "lib/shop/cart.rb");
  before("app/Models/Invoice.php", "app/Http/Controller.php");
  before("Src/Json/Linq/JToken.cs", "Src/Json/JsonConvert.cs");
  before("lib/src/main/kotlin/com/example/model/Invoice.kt", "app/Main.kt");
  const imported = (p: string) => graph.inDegree[files.findIndex((f) => f.path === p)];
  assert.deepEqual(["lib/shop/item.rb", "spec/item.rb", "app/Models/Invoice.php", "Src/Json/Linq/JToken.cs", "root.go", "svc/main.go"].map(imported), [1, 0, 1, 1, 1, 0]);
  assert.equal(order.length, files.length);
  assert.equal(graph.inDegree[files.findIndex((f) => f.path === "src/rates.ts")], 2);
});

test("a one-file edit rewrites only that file's slot and the map; other files keep their tokens and positions", () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const sources = Array.from({ length: 20 }, (_, i) => ({
    record: record(`m${i}.ts`, [{ name: `f${i}`, nameLine: 0 }]),
    text: randomText(rand, 20 + Math.floor(rand() * 40)),
  }));
  const layout = RepoLayout.build(sources, tokenizer, { blockSize: 16 });
  const before = Int32Array.from(layout.tokenIds());
  const spansBefore = new Map(layout.fileBlocks().map((f) => [f.path, f]));
  const victim = sources[7];
  // An edit that cannot grow the file's tokens (its last line deleted) must fit its slot.
  const shorter = victim.text.slice(0, victim.text.lastIndexOf("\n"));
  const edited = { record: { ...victim.record, hash: "edited-small", definitions: [...victim.record.definitions, { ...victim.record.definitions[0], name: "g7", nameLine: 1 }] }, text: shorter };
  const u1 = layout.update([edited], []);
  assert.equal(u1.needsRebuild, false);
  const after = layout.tokenIds();
  const victimSpan = spansBefore.get(victim.record.path)!;
  const map = layout.blockFacts().anchorBlocks;
  const mapEnd = (map[map.length - 1] + 1) * 16;
  for (const f of layout.fileBlocks()) {
    if (f.path === victim.record.path) continue;
    assert.deepEqual(f, spansBefore.get(f.path), `${f.path} did not move`);
    assert.deepEqual(after.subarray(f.startBlock * 16, f.endBlock * 16), before.subarray(f.startBlock * 16, f.endBlock * 16), `${f.path} tokens unchanged`);
  }
  assert.deepEqual(layout.fileBlocks().find((f) => f.path === victim.record.path), victimSpan, "an edit that fits stays in place");
  assert.ok(u1.changedBlocks.every(([s, e]) => (s >= victimSpan.startBlock && e <= victimSpan.endBlock) || e * 16 <= mapEnd + 64));
  assert.ok(layout.anchorBlockOf("r", victim.record.path, { name: "g7", nameLine: 1 }) >= 0, "the new definition is anchored");

  // A growing edit moves the file to the end and leaves a hole; a removal leaves a hole too.
  const grown = { record: { ...victim.record, hash: "edited-big" }, text: victim.text + "\n" + randomText(rand, 200) };
  const u2 = layout.update([grown], [{ root: "r", path: sources[3].record.path }]);
  const moved = layout.fileBlocks().find((f) => f.path === victim.record.path)!;
  assert.ok(moved.startBlock >= victimSpan.endBlock, "the grown file was appended");
  assert.equal(layout.fileSpan("r", sources[3].record.path), undefined);
  for (let t = victimSpan.startBlock * 16; t < victimSpan.endBlock * 16; t++) assert.equal(layout.locate(t).kind, "pad");
  assert.ok(u2.edits.some((e) => e.oldEnd === e.start && e.newEnd > e.start), "an append edit is reported");
  // The moved file's body still maps back exactly.
  const span = layout.fileSpan("r", victim.record.path)!;
  const ids = layout.tokenIds().subarray(span.start + span.headerLength, span.start + span.length - 1);
  assert.ok(Buffer.from(tokenizer.decodeBytes(ids)).equals(Buffer.from(grown.text)));
});

test("lock files and big data files are indexed but left out of the layout; the token budget drops least-imported files", () => {
  const lock = { record: record("package-lock.json", [], [], "text"), text: '{"a": 1}\n' };
  const data = { record: record("data/dump.json", [], [], "text"), text: '{"k": [1,2,3]}\n'.repeat(4000) };
  const core = { record: record("core.ts", [{ name: "core", nameLine: 0 }]), text: "export function core() {}\n" };
  const users = Array.from({ length: 6 }, (_, i) => ({ record: record(`user${i}.ts`, [], ["./core"]), text: "import { core } from './core';\n".repeat(30) }));
  const layout = RepoLayout.build([lock, data, core, ...users], tokenizer, { blockSize: 16, maxTokens: 16 * 60, repoMapTokens: 64 });
  const omitted = new Map(layout.stats().omittedFiles.map((f) => [f.path, f.reason]));
  assert.equal(omitted.get("package-lock.json"), "data");
  assert.equal(omitted.get("data/dump.json"), "data");
  assert.ok(layout.fileSpan("r", "core.ts"), "the most-imported file is kept");
  assert.ok([...omitted.values()].includes("budget"), "some user files exceed the budget");
  assert.ok(layout.numTokens <= 16 * 60);
});

test("golden: the polyglot fixture's layout order and repository map", async () => {
  const dir = copyFixture("polyglot");
  const indexer = new Indexer({ roots: [{ name: "polyglot", path: dir }], threads: 0 });
  await indexer.build();
  await indexer.dispose();
  const layout = RepoLayout.build(readLayoutSources(indexer.index, indexer.roots), tokenizer, { blockSize: 64 });
  const facts = layout.blockFacts();
  const mapIds = layout.tokenIds().subarray(0, (facts.anchorBlocks[facts.anchorBlocks.length - 1] + 1) * 64);
  const mapText = tokenizer.decode(Array.from(mapIds).filter((id) => id !== tokenizer.specialTokenId("<|pad|>")));
  const summary = [
    "# order",
    ...layout.fileBlocks().map((f) => `${f.path} blocks ${f.startBlock}-${f.endBlock}`),
    "# map",
    ...mapText.split("<|path|>").map((s) => s.trim()),
  ].join("\n");
  const golden = path.join(__dirname, "golden", "polyglot-layout.txt");
  if (process.env.UPDATE_GOLDEN || !fs.existsSync(golden)) {
    fs.mkdirSync(path.dirname(golden), { recursive: true });
    fs.writeFileSync(golden, summary + "\n");
  }
  assert.equal(summary + "\n", fs.readFileSync(golden, "utf8"), "layout changed: inspect, then UPDATE_GOLDEN=1 to accept");
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
});
