// Select Model's folder check must agree with the model loader: what it accepts loads, what it refuses does not,
// and it says why. Models are written by model-runtime's own saveModel from random weights.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { checkModelFolder } from "../../extension/src/model-folder";
import type { ModelConfig } from "../../model-runtime/src/model/config";
import { loadModel, saveModel } from "../../model-runtime/src/model/model-folder";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import { makeTree, removeTree, rng } from "../helpers/tmp-tree";

const seed = Date.now() >>> 0;
const random = rng(seed);
const heads = 1 + Math.floor(random() * 3);
const config: ModelConfig = {
  vocabSize: 32 + Math.floor(random() * 32),
  dModel: 8 * heads,
  numLayers: 1 + Math.floor(random() * 3),
  numHeads: heads,
  numKvHeads: 1,
  headDim: 8,
  ffnDim: 16,
  ropeTheta: 10_000,
  normEps: 1e-5,
  blockSize: 16,
  pattern: { budget: 8, localBlocks: 2, stride: 2, segmentHeadBlocks: 1, anchorRowBudget: 16 },
  tieEmbeddings: true,
  maxPositions: 4096,
};

const root = makeTree({});
after(() => removeTree(root));
let n = 0;
function model(dtype: "f32" | "int8" = "f32"): string {
  const dir = path.join(root, `model-${n++}`);
  saveModel(dir, config, randomWeights(config, { seed }), { dtype });
  return dir;
}

/** The loader's verdict, for comparison. */
function loads(dir: string): boolean {
  try {
    loadModel(dir);
    return true;
  } catch {
    return false;
  }
}

test("a model written by saveModel is accepted, summarised, and loads", () => {
  for (const dtype of ["f32", "int8"] as const) {
    const dir = model(dtype);
    const c = checkModelFolder(dir);
    assert.deepEqual(c.problems, [], `seed ${seed}, ${dtype}`);
    assert.match(c.summary, new RegExp(`^${config.numLayers} layers, d ${config.dModel}, ${config.numHeads} heads, `));
    assert.equal(loads(dir), true, `seed ${seed}: the loader agrees`);
  }
});

test("each broken model is refused with its reason, and the loader refuses it too", () => {
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ["no config.json", (d) => fs.rmSync(path.join(d, "config.json")), /no config\.json/],
    ["no weights", (d) => fs.rmSync(path.join(d, "model.safetensors")), /no weights \(model\.safetensors\)/],
    ["other formats only", (d) => {
      fs.rmSync(path.join(d, "model.safetensors"));
      fs.writeFileSync(path.join(d, "model.gguf"), "GGUF");
    }, /found model\.gguf, but Longview loads a single model\.safetensors/],
    ["config not JSON", (d) => fs.writeFileSync(path.join(d, "config.json"), "{ nope"), /config\.json is not valid JSON/],
    ["config not a model", (d) => fs.writeFileSync(path.join(d, "config.json"), JSON.stringify({ model_type: "bert", hidden_size: 8 })), /not a Llama-family decoder/],
    ["empty weights", (d) => fs.writeFileSync(path.join(d, "model.safetensors"), ""), /too short/],
    ["truncated weights", (d) => {
      const f = path.join(d, "model.safetensors");
      const buf = fs.readFileSync(f);
      fs.writeFileSync(f, buf.subarray(0, buf.length - 1 - Math.floor(random() * 64)));
    }, /truncated/],
    ["a config that does not match the weights", (d) => {
      const f = path.join(d, "config.json");
      const json = JSON.parse(fs.readFileSync(f, "utf8"));
      json.numLayers += 1;
      fs.writeFileSync(f, JSON.stringify(json));
    }, new RegExp(`lacks \\d+ tensors the config needs: model\\.layers\\.${config.numLayers}\\.`)],
    ["wrong shapes", (d) => {
      const f = path.join(d, "config.json");
      const json = JSON.parse(fs.readFileSync(f, "utf8"));
      json.ffnDim *= 2;
      fs.writeFileSync(f, JSON.stringify(json));
    }, /mlp\.gate_proj\.weight is \[16, \d+\], the config needs \[32, \d+\]/],
  ];
  for (const [what, breakIt, reason] of cases) {
    const dir = model();
    breakIt(dir);
    const c = checkModelFolder(dir);
    assert.equal(c.ok, false, `${what} passed (seed ${seed})`);
    assert.match(c.problems.join("; "), reason, `${what}: ${c.problems.join("; ")}`);
    assert.equal(loads(dir), false, `${what}: the loader should refuse it too (seed ${seed})`);
  }
});

test("a path that is not a folder, or does not exist, is said so", () => {
  const dir = model();
  assert.match(checkModelFolder(path.join(dir, "config.json")).problems[0], /is not a folder/);
  assert.match(checkModelFolder(path.join(dir, "missing")).problems[0], /cannot be read \(ENOENT\)/);
});
