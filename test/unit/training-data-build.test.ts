import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { ANCHOR_TIER } from "../../model-runtime/src/layout/repo-layout";
import { EncodingCache } from "../../model-runtime/src/layout/tokens";
import { SourceParser } from "../../model-runtime/src/parse/extract";
import { buildPatterns } from "../../model-runtime/src/patterns";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import type { AnswerPart } from "../../model-runtime/src/training-data/answer-format";
import { buildContext } from "../../model-runtime/src/training-data/context";
import { SubsetPicker } from "../../model-runtime/src/training-data/file-subset";
import { buildTrainingData, headSpecsOf } from "../../model-runtime/src/training-data/pipeline";
import { indexUnit } from "../../model-runtime/src/training-data/repo-files";
import { blockFactsOf, pickDocs, questionsFor } from "../../model-runtime/src/training-data/sample";
import { readShard } from "../../model-runtime/src/training-data/shard-format";
import { siblingKeys } from "../../model-runtime/src/training-data/questions";
import { LOSS_CLASS } from "../../model-runtime/src/training-data/tasks";
import { copyFixture } from "../e2e/lib/fixture";
import { freshSeed, rng } from "../helpers/tmp-tree";

const tokenizer = CodeTokenizer.load();
const fixture = copyFixture("polyglot");
const unit = { id: "local/polyglot", path: fixture, licence: "test fixture", origin: "test/fixtures/polyglot" };

/** (label, citation) pairs of a cited list answer. */
function labelled(parts: AnswerPart[]): Array<{ label: string; path: string; line: number }> {
  const out: Array<{ label: string; path: string; line: number }> = [];
  let label = "";
  for (const p of parts) {
    if ("cite" in p) {
      out.push({ label, ...p.cite });
      label = "";
    } else label = p.text.trim();
  }
  return out;
}

test("every (a)/(b) answer cites a line that holds the name it is about; removed docs are gone from the context", async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const repo = await indexUnit(unit, { threads: 0 });
  const tools = { tokenizer, cache: new EncodingCache(), parser: new SourceParser() };
  const picker = new SubsetPicker(repo.records);
  let checked = 0;
  for (let round = 0; round < 6; round++) {
    const budget = [2048, 4096, 8192][round % 3];
    const ctx = await buildContext(repo, picker.pick(budget, rand), { blockSize: 64, maxTokens: budget }, tools, pickDocs(6, rand));
    const items = questionsFor(ctx, { whereDefined: 6, whatCalls: 6, whoUses: 6, needle: 3, explain: 3 }, rand);
    const lineOf = (p: string, line: number) => ctx.texts.get(p)!.split("\n")[line - 1] ?? "";
    const word = (name: string) => new RegExp(`(^|[^\\w$])${name.replace(/\$/g, "\\$")}(?![\\w$])`);
    for (const item of items) {
      assert.ok(ctx.fileOrder.size > 0);
      for (const c of item.truth) assert.ok(ctx.texts.has(c.path), `seed ${seed}: ${item.task} cites ${c.path}, which is not laid out`);
      if (item.task === "whereDefined" || item.task === "whoUses" || item.task === "needle") {
        for (const c of item.truth) assert.match(lineOf(c.path, c.line), word(item.symbol), `seed ${seed}: ${item.question} → ${c.path}:${c.line}`);
        checked += item.truth.length;
      }
      if (item.task === "whatCalls") {
        for (const c of labelled(item.answer)) assert.match(lineOf(c.path, c.line), word(c.label), `seed ${seed}: ${item.question} → ${c.label} at ${c.path}:${c.line}`);
        checked++;
      }
    }
    for (const r of ctx.removed) {
      const edited = ctx.texts.get(r.path)!.split("\n");
      const original = ctx.originalTexts.get(r.path)!.split("\n");
      // A doc may hold empty lines inside; it starts and ends with text.
      assert.ok(original[r.range.startLine].trim() !== "" && original[r.range.endLine].trim() !== "", `seed ${seed}: range ${JSON.stringify(r.range)} starts or ends empty`);
      for (let i = r.range.startLine; i <= r.range.endLine; i++) {
        assert.ok(edited[i].trim() === "" || edited[i].trim() === "pass", `seed ${seed}: doc line ${r.path}:${i + 1} still there`);
      }
      assert.equal(ctx.index.get(ctx.root, r.path)!.definitions.find((d) => d.name === r.def.name && d.nameLine === r.def.nameLine)?.doc, "", `seed ${seed}`);
    }
    const explains = items.filter((i) => i.task === "explain");
    for (const e of explains) assert.ok(ctx.removed.some((r) => r.def.doc === e.reference), `seed ${seed}: explanation not from a removed doc`);
  }
  assert.ok(checked > 20, `seed ${seed}: only ${checked} citations checked`);
});

test("siblingKeys: names one word apart share a key; unrelated names do not", () => {
  const share = (a: string, b: string) => siblingKeys(a).some((k) => siblingKeys(b).includes(k));
  for (const [a, b] of [
    ["ngx_http_add_addrs", "ngx_mail_add_addrs"],
    ["trimLeftByte", "trimRightByte"],
    ["TestMap", "Map"],
    ["NGX_INT32_LEN", "NGX_INT64_LEN"],
    ["parseHTTPRequest", "parseRequest"],
  ]) assert.ok(share(a, b), `${a} / ${b}`);
  for (const [a, b] of [
    ["ngx_http_add_addrs", "ngx_http_init_phases"],
    ["trimLeftByte", "indexByte"],
    ["Map", "Mapper"],
  ]) assert.ok(!share(a, b), `${a} / ${b}`);
});

test("siblingShare 1: every where-defined question asks about a name with a one-word sibling in the context", async () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const repo = await indexUnit(unit, { threads: 0 });
  const tools = { tokenizer, cache: new EncodingCache(), parser: new SourceParser() };
  const ctx = await buildContext(repo, new SubsetPicker(repo.records).pick(8192, rand), { blockSize: 64, maxTokens: 8192 }, tools, pickDocs(0, rand));
  const names = new Set([...ctx.index.allFiles()].flatMap((f) => f.definitions.map((d) => d.name)));
  const hasSibling = (n: string) => [...names].some((m) => m !== n && siblingKeys(m).some((k) => siblingKeys(n).includes(k)));
  const turns = { whereDefined: 6, whatCalls: 0, whoUses: 0, needle: 0, explain: 0 };
  const biased = questionsFor(ctx, turns, rand, { siblingShare: 1 });
  assert.ok(biased.length > 0, `seed ${seed}: no where-defined question`);
  for (const q of biased) assert.ok(hasSibling(q.symbol), `seed ${seed}: ${q.symbol} has no sibling`);
  // Without the share the draw is over every definition: the fixture has names without siblings, and some get asked.
  const plain = Array.from({ length: 20 }, () => questionsFor(ctx, turns, rand)).flat();
  assert.ok(plain.some((q) => !hasSibling(q.symbol)), `seed ${seed}: the unbiased draw only asked about siblings`);
});

test("data:build on the polyglot fixture: shards match the manifest, the layout facts build the CSR, Python reads it identically", async () => {
  const seed = freshSeed();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "lv-data-"));
  try {
    // A small budget so that rows run out of it and the port's budget rule is exercised.
    const pattern = { numHeads: 4, budget: 12, anchorGroups: 2, firstAnchorTier: ANCHOR_TIER };
    const { totals, manifestPath } = await buildTrainingData({
      outDir: out,
      units: [unit],
      lengths: [2048, 4096],
      evalFraction: 0,
      coverage: 3,
      seed,
      threads: 0,
      pattern,
      referenceSamples: 3,
    });
    const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
    assert.equal(manifest.repos[0].licence, "test fixture");
    assert.ok(totals.samples >= 3, `seed ${seed}: ${totals.samples} samples`);
    let samples = 0;
    let tokens = 0;
    const byClass: Record<number, number> = {};
    const heads = headSpecsOf(pattern);
    const refs = JSON.parse(fs.readFileSync(path.join(out, "reference-csr.json"), "utf8"));
    assert.ok(refs.samples.some((r: { numBlocks: number }) => r.numBlocks > 2 * pattern.budget), `seed ${seed}: no reference long enough to hit the budget`);
    for (const shard of manifest.shards) {
      const { samples: list, header } = readShard(path.join(out, shard.file));
      assert.equal(header.vocabSize, tokenizer.vocabSize);
      assert.equal(list.length, shard.samples);
      list.forEach((s, i) => {
        samples++;
        tokens += s.ids.length;
        assert.equal(s.ids.length, s.facts.numBlocks * 64);
        assert.ok(s.ids.every((id) => id < tokenizer.vocabSize));
        let last = 0;
        for (const sp of s.spans) {
          assert.ok(sp.start >= last && sp.end > sp.start && sp.end <= s.ids.length, `seed ${seed}: span ${JSON.stringify(sp)}`);
          last = sp.end;
          byClass[sp.lossClass] = (byClass[sp.lossClass] ?? 0) + sp.end - sp.start;
        }
        // The QA region opens with a question; answers end with <|endanswer|>.
        assert.equal(s.ids[s.questionStart], tokenizer.specialTokenId("<|question|>"));
        for (const sp of s.spans.filter((x) => x.lossClass >= LOSS_CLASS.whereDefined)) {
          assert.equal(s.ids[sp.start - 1], tokenizer.specialTokenId("<|answer|>"));
          assert.equal(s.ids[sp.end - 1], tokenizer.specialTokenId("<|endanswer|>"));
        }
        // Code loss only on file text: never on padding or special layout tokens.
        for (const sp of s.spans.filter((x) => x.lossClass === LOSS_CLASS.code)) {
          for (let t = sp.start; t < sp.end; t++) assert.notEqual(s.ids[t], tokenizer.specialTokenId("<|pad|>"));
        }
        const csr = buildPatterns(blockFactsOf(s.facts), heads).layout;
        const ref = refs.samples.find((r: { shard: string; index: number }) => r.shard === shard.file && r.index === i);
        if (ref) {
          const R = csr.numBlockRows;
          for (let l = 0; l < csr.numLayouts; l++) {
            assert.deepEqual(Array.from(csr.rowPtr.subarray(l * (R + 1), (l + 1) * (R + 1))), ref.rowPtr[l]);
          }
        }
      });
      // The fixture's .gitignore keeps generated/ out of the index, so out of the data too.
      for (const s of list) assert.ok(!tokenizer.decode(s.ids).includes("generatedInvoiceStubMustNotBeIndexed"), `seed ${seed}: a gitignored file was laid out`);
    }
    assert.equal(samples, totals.samples);
    assert.equal(tokens, totals.tokens);
    for (const c of [LOSS_CLASS.code, LOSS_CLASS.whereDefined, LOSS_CLASS.needle, LOSS_CLASS.explain]) assert.ok((byClass[c] ?? 0) > 0, `seed ${seed}: no tokens of loss class ${c}`);
    assert.equal(byClass[LOSS_CLASS.code], totals.tokensByLossClass.code);

    const py = spawnSync("python3", [path.join("scripts", "training", "longview_shards.py"), "verify", out], { encoding: "utf8" });
    if (py.error) {
      // No Python here: the TypeScript side is checked above; the port is checked wherever Python runs.
      console.log(`python3 not available (${py.error.message}); skipping the port check`);
    } else {
      assert.equal(py.status, 0, `seed ${seed}: ${py.stdout}\n${py.stderr}`);
      assert.match(py.stdout, /identical/);
      assert.doesNotMatch(py.stdout, /DIFFERENT/);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
