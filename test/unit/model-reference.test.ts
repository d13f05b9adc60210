// The shipped default model, run by the engine, against the logits PyTorch computed for the same weights and the
// same input when the model was exported (model-runtime/training/export.py `write_reference`): one real training
// sample longer than the pattern's budget, the runtime's block layout built HERE from the sample's block facts by
// the TypeScript pattern library (the trainer used its Python port). A mismatch means the engine, the pattern
// library, the exporter or the assembled weights disagree with what was trained.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { modelHeadSpecs } from "../../model-runtime/src/engine/repo-session";
import { Engine } from "../../model-runtime/src/engine/engine";
import { loadModel } from "../../model-runtime/src/model/model-folder";
import { buildPatterns } from "../../model-runtime/src/patterns";
import { dequantizeWeights } from "../../model-runtime/src/model/weights";

const root = path.resolve(__dirname, "../..");
const modelDir = process.env.LONGVIEW_REFERENCE_MODEL ?? path.join(root, "model-runtime/assets/model");
const refFile = process.env.LONGVIEW_REFERENCE_JSON ?? path.join(root, "test/fixtures/model-reference/reference.json");

interface Reference {
  tokens: number[];
  facts: { numBlocks: number; blockSize: number; anchorBlocks: number[]; anchorTier: number[]; segmentStart: number[]; sinkBlocks: number };
  positions: number[];
  logits: string[];
}

// Two runs: the int8 weights dequantized to float32 (float matmuls) must match PyTorch's float32 forward to rounding;
// the shipped int8 path also quantizes ACTIVATIONS to int8 (VNNI / dot-product kernels) for speed, so it gets a
// bound relative to the logits' range and must still pick the same top token everywhere.
const cases = [
  { name: "weights as float32", float: true, bound: (_range: number) => 1e-3 },
  { name: "int8, as shipped", float: false, bound: (range: number) => 0.03 * range },
];

for (const c of cases) {
  test(`engine logits match the PyTorch model's for the shipped weights (${c.name})`, { skip: !fs.existsSync(refFile) && "no reference logits" }, async () => {
    const ref = JSON.parse(fs.readFileSync(refFile, "utf8")) as Reference;
    const model = loadModel(modelDir);
    const facts = {
      numBlocks: ref.facts.numBlocks,
      blockSize: ref.facts.blockSize,
      anchorBlocks: Int32Array.from(ref.facts.anchorBlocks),
      anchorTier: Uint8Array.from(ref.facts.anchorTier),
      segmentStart: Int32Array.from(ref.facts.segmentStart),
      sinkBlocks: ref.facts.sinkBlocks,
    };
    const layout = buildPatterns(facts, modelHeadSpecs(model.config)).layout;
    const engine = await Engine.create(c.float ? { config: model.config, weights: dequantizeWeights(model.weights) } : model, { backend: "auto" });
    try {
      const ids = Int32Array.from(ref.tokens);
      const got = await engine.prefill(engine.newCache(ids.length), ids, layout, { logitsRows: ref.positions });
      const V = model.config.vocabSize;
      let worst = 0;
      let range = 0;
      let agree = 0;
      ref.positions.forEach((_, i) => {
        const want = new Float32Array(new Uint8Array(Buffer.from(ref.logits[i], "base64")).buffer);
        const row = got.subarray(i * V, (i + 1) * V);
        let lo = Infinity;
        let hi = -Infinity;
        let argW = 0;
        let argG = 0;
        for (let v = 0; v < V; v++) {
          worst = Math.max(worst, Math.abs(row[v] - want[v]));
          lo = Math.min(lo, want[v]);
          hi = Math.max(hi, want[v]);
          if (want[v] > want[argW]) argW = v;
          if (row[v] > row[argG]) argG = v;
        }
        range = Math.max(range, hi - lo);
        if (argW === argG) agree++;
      });
      console.log(`reference: ${ref.tokens.length} tokens, ${ref.positions.length} positions, logit range ${range.toFixed(1)}, max |Δlogit| ${worst.toExponential(2)}, argmax agree ${agree}/${ref.positions.length} (engine: ${engine.attentionKind} attention, ${engine.dense.name} dense)`);
      assert.ok(range > 1, "reference logits are not degenerate");
      assert.ok(worst < c.bound(range), `max |engine − PyTorch| = ${worst} (bound ${c.bound(range)})`);
      assert.equal(agree, ref.positions.length);
    } finally {
      engine.dispose();
    }
  });
}
