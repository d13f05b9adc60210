// Test inputs made at run time (never committed): model folders for Select Model, a large source tree that
// takes the indexer a few seconds, a multi-root .code-workspace file.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../../model-runtime/src/model/config";
import { BUILTIN_TOKENIZER, saveModel } from "../../../model-runtime/src/model/model-folder";
import { randomWeights } from "../../../model-runtime/src/model/random-init";
import { defaultTokenizerPath } from "../../../model-runtime/src/tokenizer";

export interface ModelFolders {
  /** A tiny model (random weights) written by model-runtime's own saveModel: the loader accepts it. */
  valid: string;
  /** config.json but no weights. */
  noWeights: string;
}

/** A config small enough that its random weights take a few kB. */
export const TINY_MODEL: ModelConfig = {
  vocabSize: 64,
  dModel: 16,
  numLayers: 2,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 8,
  ffnDim: 32,
  ropeTheta: 10_000,
  normEps: 1e-5,
  blockSize: 16,
  pattern: { budget: 8, localBlocks: 2, stride: 2, segmentHeadBlocks: 1, anchorRowBudget: 16 },
  tieEmbeddings: true,
  maxPositions: 4096,
};

export function makeModelFolders(parent: string): ModelFolders {
  const valid = path.join(parent, "tiny-model");
  const noWeights = path.join(parent, "config-only");
  saveModel(valid, TINY_MODEL, randomWeights(TINY_MODEL, { seed: Date.now() >>> 0 }), { dtype: "f32" });
  fs.mkdirSync(noWeights, { recursive: true });
  fs.copyFileSync(path.join(valid, "config.json"), path.join(noWeights, "config.json"));
  return { valid, noWeights };
}

/**
 * `files` TypeScript files of `functionsPerFile` documented functions each under `<dir>/<folder>/`: enough work
 * that a full index build takes seconds on two cores, so a question asked meanwhile waits for it.
 */
export function writeBulkSources(dir: string, folder: string, files: number, functionsPerFile = 20): void {
  for (let i = 0; i < files; i++) {
    const sub = path.join(dir, folder, `m${i % 50}`);
    fs.mkdirSync(sub, { recursive: true });
    let text = "";
    for (let j = 0; j < functionsPerFile; j++) {
      text += `/** Helper ${j} of generated module ${i}. */\nexport function bulkHelper${i}_${j}(x: number): number {\n  const y = x * ${j + 1};\n  return y + ${i};\n}\n\n`;
    }
    fs.writeFileSync(path.join(sub, `module${i}.ts`), text);
  }
}

/** A .code-workspace file with `folders`; `settings` become workspace settings. */
export function writeCodeWorkspace(file: string, folders: string[], settings: Record<string, unknown> = {}): string {
  fs.writeFileSync(file, JSON.stringify({ folders: folders.map((p) => ({ path: p })), settings }, null, 2));
  return file;
}

/**
 * A model folder with the DEFAULT model's shape and random weights (int8, our tokenizer): it runs exactly like the
 * trained model (same size, speed and KV cache) but writes nonsense. For the model UI suite until trained weights
 * are bundled. ~3 s, 26 MB.
 */
export function makeRandomDefaultModel(folder: string, seed = 1): string {
  const tokenizerSha = crypto.createHash("sha256").update(fs.readFileSync(defaultTokenizerPath())).digest("hex");
  saveModel(folder, DEFAULT_MODEL_CONFIG, randomWeights(DEFAULT_MODEL_CONFIG, { seed, int8: true }), {
    dtype: "int8",
    tokenizer: { path: BUILTIN_TOKENIZER, sha256: tokenizerSha },
    metadata: { note: "random weights (test/e2e/lib/generated.ts): for tests only" },
  });
  return folder;
}
