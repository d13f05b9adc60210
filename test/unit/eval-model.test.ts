/** The model in the evaluation: its answerers (anchored patterns and the sliding-window ablation) and their speeds. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { RepoSession, modelHeadSpecs } from "../../model-runtime/src/engine/repo-session";
import { Engine } from "../../model-runtime/src/engine/engine";
import { runEval } from "../../model-runtime/src/eval/harness";
import { createModelAnswerers, slidingWindowHeadSpecs, speedTable } from "../../model-runtime/src/eval/model-answerer";
import { resultTable } from "../../model-runtime/src/eval/report";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../model-runtime/src/model/config";
import { saveModel } from "../../model-runtime/src/model/model-folder";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { parseCitations } from "../../model-runtime/src/training-data/answer-format";
import { copyFixture } from "../e2e/lib/fixture";
import { removeTree } from "../helpers/tmp-tree";

const TINY: ModelConfig = { ...DEFAULT_MODEL_CONFIG, dModel: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 32, ffnDim: 128, pattern: { ...DEFAULT_MODEL_CONFIG.pattern, budget: 8, localBlocks: 4, anchorRowBudget: 16 } };
let tmp: string;
let model: string;
let fixture: string;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "longview-eval-model-"));
  model = path.join(tmp, "model");
  saveModel(model, TINY, randomWeights(TINY, { seed: 5, int8: true }), { dtype: "int8" });
  fixture = copyFixture("polyglot");
});
after(() => {
  removeTree(tmp);
  removeTree(path.dirname(fixture));
});

test("the sliding-window ablation keeps only the last `budget` blocks per row: no anchors, sinks or headers", async () => {
  const specs = slidingWindowHeadSpecs(TINY);
  assert.equal(specs.length, TINY.numHeads);
  for (const s of specs) assert.deepEqual(s.primitives.map((p) => p.kind), ["local"]);
  const engine = await Engine.create({ config: TINY, weights: randomWeights(TINY, { seed: 1 }) }, { allowNative: false });
  const { RepoLayout } = await import("../../model-runtime/src/layout/repo-layout");
  const { readLayoutSources } = await import("../../model-runtime/src/layout/sources");
  const { Indexer } = await import("../../model-runtime/src/index/indexer");
  const ix = new Indexer({ roots: [{ name: "ws", path: fixture }], threads: 0 });
  await ix.build();
  await ix.dispose();
  const layout = RepoLayout.build(readLayoutSources(ix.index, ix.roots), CodeTokenizer.load(), { blockSize: 64, maxTokens: 16384 });
  const window = RepoSession.create(engine, layout, { headSpecs: specs }).patterns.layout;
  const anchored = RepoSession.create(engine, layout, { headSpecs: modelHeadSpecs(TINY) }).patterns.layout;
  const row = (l: typeof window, layoutIndex: number, r: number) => [...l.colIdx.subarray(layoutIndex * l.maxNnz + l.rowPtr[layoutIndex * (l.numBlockRows + 1) + r], layoutIndex * l.maxNnz + l.rowPtr[layoutIndex * (l.numBlockRows + 1) + r + 1])];
  const last = layout.numBlocks - 1;
  assert.ok(last > 20);
  for (let h = 0; h < window.numLayouts; h++) assert.deepEqual(row(window, h, last).sort((a, b) => a - b), Array.from({ length: 8 }, (_, i) => last - 7 + i));
  // The model's own heads reach the repository map (block 0 is its first anchor block and the sink).
  assert.ok(row(anchored, 0, last).includes(0));
  engine.dispose();
});

test("the model answerers run in the harness: answers in the answer format, speeds recorded, rows in the table", async () => {
  const m = await createModelAnswerers(model, { backend: "cpu", maxNewTokens: 8 });
  try {
    assert.deepEqual(m.answerers.map((a) => a.name), ["model (cpu)", "model-window (cpu)"]);
    const raw: string[] = [];
    const answerers = m.answerers.map((a) => ({ name: a.name, answer: async (...args: Parameters<typeof a.answer>) => { const t = await a.answer(...args); raw.push(t); return t; } }));
    const result = await runEval({ units: [{ id: "local/polyglot", path: fixture, licence: "test", origin: "fixture" }], answerers, tokenizer: m.tokenizer, buckets: [8192], perTask: 1, seed: 3, threads: 0 });
    assert.equal(result.contexts.length, 1);
    const asked = Object.values(result.contexts[0].questions).reduce((a, b) => a + b, 0);
    assert.equal(result.results.filter((r) => r.answerer === "model (cpu)").length, asked);
    assert.equal(result.results.filter((r) => r.answerer === "model-window (cpu)").length, asked);
    // Raw text with markers: <|endanswer|> at the end or the token limit; any citation names a laid-out file.
    const paths = new Set(fs.readdirSync(fixture, { recursive: true }).map(String));
    for (const t of raw) for (const c of parseCitations(t)) assert.ok(paths.has(c.path.split("/").join(path.sep)), c.path);
    for (const a of m.answerers) {
      assert.equal(a.speed.contexts, 1);
      assert.equal(a.speed.prefillTokens, result.contexts[0].tokens);
      assert.equal(a.speed.answers, asked);
      assert.ok(a.speed.prefillMs > 0 && a.speed.decodeTokens <= 7 * asked);
      assert.match(a.speed.backend, /^cpu \+ /);
    }
    const speeds = speedTable(m.answerers.map((a) => a.speed));
    assert.match(speeds, /\| model \(cpu\) \| cpu \+ \S+ \| 1 \| [\d,]+ \| [\d,]+ \| \d+ \| [\d.]+ s \| [\d,—]+ \|/);
    const table = resultTable(result, answerers, [8192]);
    assert.match(table, /\| \(a\) where defined \| model-window \(cpu\) \|/);
  } finally {
    m.dispose();
  }
});

test("model-capped: a context longer than the model's positions is laid out again within them and answered with question reads", async () => {
  // Positions for a few blocks only: the 8k context does not fit, so the capped answerer lays out its smallest layout.
  const short = path.join(tmp, "short-model");
  saveModel(short, { ...TINY, maxPositions: 2048 }, randomWeights(TINY, { seed: 6, int8: true }), { dtype: "int8" });
  const m = await createModelAnswerers(short, { backend: "cpu", maxNewTokens: 8, window: false, capped: true });
  try {
    assert.deepEqual(m.answerers.map((a) => a.name), ["model (cpu)", "model-capped (cpu)"]);
    const raw: string[] = [];
    const answerers = m.answerers.map((a) => ({ name: a.name, answer: async (...args: Parameters<typeof a.answer>) => { const t = await a.answer(...args); if (a.name.startsWith("model-capped")) raw.push(t); return t; } }));
    const result = await runEval({ units: [{ id: "local/polyglot", path: fixture, licence: "test", origin: "fixture" }], answerers, tokenizer: m.tokenizer, buckets: [8192], perTask: 2, seed: 4, threads: 0, tasks: ["needle", "explain"] });
    const [full, capped] = m.answerers;
    assert.equal(full.speed.prefillTokens, result.contexts[0].tokens);
    assert.ok(capped.speed.prefillTokens > 0 && capped.speed.prefillTokens < full.speed.prefillTokens, `capped ${capped.speed.prefillTokens} of ${full.speed.prefillTokens}`);
    assert.equal(capped.speed.answers, full.speed.answers);
    const paths = new Set(fs.readdirSync(fixture, { recursive: true }).map(String));
    for (const t of raw) for (const c of parseCitations(t)) assert.ok(paths.has(c.path.split("/").join(path.sep)), c.path);
  } finally {
    m.dispose();
  }
});
