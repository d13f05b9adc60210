// A model folder with random weights (the default model's shape unless told otherwise), so the model-answer path
// (worker, CLI, eval) can be developed and tested before trained weights exist. Never commit its output.
//
// usage: node --import tsx scripts/training/make-random-model.ts <out-folder> [--seed 1] [--dtype int8|f32]
//          [--layers N] [--d-model N] [--heads N] [--kv-heads N] [--head-dim N] [--ffn N]
import crypto from "node:crypto";
import fs from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../model-runtime/src/model/config";
import { BUILTIN_TOKENIZER, type WeightsDtype, saveModel } from "../../model-runtime/src/model/model-folder";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import { defaultTokenizerPath } from "../../model-runtime/src/tokenizer";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: "string", default: "1" },
    dtype: { type: "string", default: "int8" },
    layers: { type: "string" },
    "d-model": { type: "string" },
    heads: { type: "string" },
    "kv-heads": { type: "string" },
    "head-dim": { type: "string" },
    ffn: { type: "string" },
  },
});

const out = positionals[0];
if (!out) {
  console.error("usage: make-random-model.ts <out-folder> [--seed 1] [--dtype int8|f32] [--layers N] [--d-model N] [--heads N] [--kv-heads N] [--head-dim N] [--ffn N]");
  process.exit(2);
}
const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
const config: ModelConfig = {
  ...DEFAULT_MODEL_CONFIG,
  numLayers: num(values.layers, DEFAULT_MODEL_CONFIG.numLayers),
  dModel: num(values["d-model"], DEFAULT_MODEL_CONFIG.dModel),
  numHeads: num(values.heads, DEFAULT_MODEL_CONFIG.numHeads),
  numKvHeads: num(values["kv-heads"], DEFAULT_MODEL_CONFIG.numKvHeads),
  headDim: num(values["head-dim"], DEFAULT_MODEL_CONFIG.headDim),
  ffnDim: num(values.ffn, DEFAULT_MODEL_CONFIG.ffnDim),
};
const t0 = performance.now();
const dtype = values.dtype as WeightsDtype;
const weights = randomWeights(config, { seed: Number(values.seed), int8: dtype === "int8" });
const tokenizerSha = crypto.createHash("sha256").update(fs.readFileSync(defaultTokenizerPath())).digest("hex");
const files = saveModel(out, config, weights, {
  dtype,
  tokenizer: { path: BUILTIN_TOKENIZER, sha256: tokenizerSha },
  metadata: { note: "random weights (scripts/training/make-random-model.ts): for development and tests only" },
});
const mb = fs.statSync(files.weightsFile).size / 1e6;
console.log(`wrote ${files.configFile} and ${files.weightsFile} (${mb.toFixed(1)} MB, ${dtype}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
