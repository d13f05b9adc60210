// Query-adaptive selection for a question's rows (model-runtime/src/engine/question-selection.ts): the scores against
// brute force, the merged layout's rows, a planted block found among many, and a session whose question rows read
// every repository block checked against the float64 reference with such a layout.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rowColumns } from "../../kernels/api";
import { JsAttentionBackend } from "../../kernels/js";
import { buildLayout, localLayout } from "../../kernels/testing/layouts";
import { Engine } from "../../model-runtime/src/engine/engine";
import { KvCache } from "../../model-runtime/src/engine/kv-cache";
import { QuestionSelection, RepoKeySummaries, questionBlockScores, withExtraColumns } from "../../model-runtime/src/engine/question-selection";
import { RepoSession } from "../../model-runtime/src/engine/repo-session";
import { RepoLayout } from "../../model-runtime/src/layout/repo-layout";
import { DEFAULT_PATTERN, type ModelConfig } from "../../model-runtime/src/model/config";
import { SeededRandom, randomWeights } from "../../model-runtime/src/model/random-init";
import { referenceForward } from "../../model-runtime/src/model/reference-forward";
import { blockScore } from "../../model-runtime/src/patterns/adaptive";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { functionSource } from "../helpers/function-sources";

const seed = Number(process.env.LONGVIEW_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
const rng = new SeededRandom(seed);
const gauss = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);

function filledCache(numKvHeads: number, headDim: number, tokens: number): KvCache {
  const cache = new KvCache({ numLayers: 2, numKvHeads, headDim }, tokens + 64);
  for (const k of cache.k) k.set(gauss(k.length, 0.5));
  cache.length = tokens;
  return cache;
}

test(`question block scores = the max over the question's rows of Quest's bound, which bounds every q·k of the block (seed ${seed})`, () => {
  for (const [H, KV, D, B, T, M] of [
    [4, 2, 16, 16, 200, 3],
    [6, 2, 32, 32, 333, 5],
    [2, 1, 8, 16, 64, 1],
  ]) {
    const cache = filledCache(KV, D, T);
    const s = new RepoKeySummaries(cache, T, B).layer(1);
    const q = gauss(H * M * D);
    const blocks = Math.ceil(T / B);
    const out = new Float64Array(blocks);
    for (let h = 0; h < H; h++) {
      questionBlockScores(s, q, { numHeads: H, numKvHeads: KV, headDim: D, queryLength: M }, h, out);
      const kvh = Math.floor(h / (H / KV));
      for (let b = 0; b < blocks; b++) {
        let want = -Infinity;
        let best = -Infinity;
        for (let t = 0; t < M; t++) {
          want = Math.max(want, blockScore(s, kvh, b, q, (h * M + t) * D));
          for (let j = b * B; j < Math.min(T, (b + 1) * B); j++) {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(h * M + t) * D + d] * cache.k[1][(kvh * cache.capacity + j) * D + d];
            best = Math.max(best, dot);
          }
        }
        assert.ok(Math.abs(out[b] - want) <= 1e-4 * (1 + Math.abs(want)), `head ${h} block ${b}: ${out[b]} vs ${want}`);
        assert.ok(out[b] >= best - 1e-4, `head ${h} block ${b}: the bound ${out[b]} is below a key's score ${best}`);
      }
    }
  }
});

test("withExtraColumns: question rows = base ∪ extra (sorted, unique, causal), earlier rows only their diagonal", () => {
  const base = localLayout(16, 20, 3, 2);
  const extra = [Int32Array.of(3, 0, 15, 17), Int32Array.of(1, 14)];
  const got = withExtraColumns(base, 4, 16, [extra[0], extra[1], extra[0], Int32Array.of()]);
  assert.equal(got.numLayouts, 4);
  for (let h = 0; h < 4; h++) {
    for (let r = 0; r < 20; r++) {
      const cols = Array.from(rowColumns(got, h, r));
      if (r < 16) {
        assert.deepEqual(cols, [r]);
        continue;
      }
      const want = new Set(Array.from(rowColumns(base, h % 2, r)));
      for (const c of [extra[0], extra[1], extra[0], Int32Array.of()][h]) if (c < 16) want.add(c);
      assert.deepEqual(cols, [...want].sort((a, b) => a - b), `head ${h} row ${r}`);
      assert.ok(cols.includes(r) && cols.every((c) => c <= r));
    }
  }
});

test("a question selects the block holding the keys that match it, beyond its own pattern, once per layer", () => {
  const [H, KV, D, B, T] = [4, 2, 16, 16, 64 * 16];
  const cache = filledCache(KV, D, T);
  const repoBlocks = T / B;
  const base = localLayout(B, repoBlocks + 2, 3, 1);
  const q = gauss(H * 2 * D);
  // Block 7 of kv head 0 holds one key pointing along head 0's first query: the best block for head 0 by far.
  const planted = 7;
  for (let d = 0; d < D; d++) cache.k[0][(0 * cache.capacity + planted * B + 5) * D + d] = 8 * q[d];
  const sel = new QuestionSelection(new RepoKeySummaries(cache, T, B), base, { numHeads: H, numKvHeads: KV, headDim: D }, 2, 4);
  const layout = sel.layerLayout(0, q, 2);
  assert.equal(sel.chosen[0][0][0], planted, "head 0's best block");
  for (let h = 0; h < H; h++) {
    assert.equal(sel.chosen[0][h].length, 4);
    // The first question row's own columns (its local window) are never chosen again.
    for (const c of rowColumns(base, 0, repoBlocks)) assert.ok(!sel.chosen[0][h].includes(c));
    for (const r of [repoBlocks, repoBlocks + 1]) for (const c of sel.chosen[0][h]) assert.ok(rowColumns(layout, h, r).includes(c));
  }
  assert.equal(sel.layerLayout(0, gauss(H * 2 * D), 2), layout, "later rows (the answer) reuse the question's choice");
  assert.notEqual(sel.layerLayout(1, q, 2), layout, "each layer chooses from its own keys");
});

const tokenizer = CodeTokenizer.load();

const source = (p: string, n: number) => functionSource(p, n, () => rng.next());

test("a session whose question rows select every repository block answers as the float64 reference with dense question rows", async () => {
  const c: ModelConfig = {
    vocabSize: tokenizer.vocabSize,
    dModel: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    ffnDim: 48,
    ropeTheta: 500_000,
    normEps: 1e-5,
    blockSize: 64,
    pattern: { ...DEFAULT_PATTERN, budget: 6, localBlocks: 2, anchorRowBudget: 12 },
    tieEmbeddings: true,
    maxPositions: 1 << 20,
  };
  const w = randomWeights(c, { seed: rng.int(2 ** 31), std: 0.1 });
  const e = await Engine.create({ config: c, weights: w }, { backend: "cpu", dense: "typescript", attentionBackend: new JsAttentionBackend(), chunkTokens: 256 });
  const layout = RepoLayout.build(
    Array.from({ length: 6 }, (_, i) => source(`src/m${i}.ts`, 12 + rng.int(10))),
    tokenizer,
    { blockSize: 64 },
  );
  const session = RepoSession.create(e, layout, { answerRoom: 256 });
  await session.prefillRepository();
  const repoBlocks = layout.numBlocks;
  assert.ok(repoBlocks > c.pattern.budget + 2, `the repository (${repoBlocks} blocks) must exceed a row's budget`);
  const question = "which function adds two numbers?";

  const firstLogits = async (selectBlocks: number): Promise<Float32Array> => {
    let got: Float32Array | undefined;
    const gen = session.ask(question, { maxNewTokens: 4, selectBlocks, beforeAnswer: async (first) => void (got = first.slice()) });
    await gen.next();
    await gen.return();
    return got!;
  };
  const selected = await firstLogits(repoBlocks);
  const fixed = await firstLogits(0);
  assert.ok(session.lastSelection === undefined, "selectBlocks 0 selects nothing");

  // The reference: repository rows as the session's patterns, question rows reading every earlier block.
  const q = layout.withQuestion(question, c.numHeads);
  const base = session.patterns.layout;
  const rows = Math.ceil(q.ids.length / 64);
  const dense = buildLayout(64, rows, c.numHeads, (h, r) => (r < repoBlocks ? rowColumns(base, h % base.numLayouts, r) : Array.from({ length: r + 1 }, (_, j) => j)));
  const [ref] = referenceForward(c, w, q.ids, dense, [q.ids.length - 1]);
  let diff = 0;
  let moved = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(selected[i] - ref[i]));
    moved = Math.max(moved, Math.abs(fixed[i] - ref[i]));
  }
  assert.ok(diff < 2e-3, `selected vs reference: max |Δ| ${diff}`);
  assert.ok(moved > 10 * diff, `the fixed pattern must differ from dense question rows (|Δ| ${moved} vs ${diff}), or the test proves nothing`);
  e.dispose();
});
