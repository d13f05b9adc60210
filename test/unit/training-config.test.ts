// The PyTorch trainer reads the model's shape and attention pattern from JSON files next to it; they must be what
// the runtime uses, or the trained model would run with a different layout than it learned (see docs/training.md).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { modelHeadSpecs } from "../../model-runtime/src/engine/repo-session";
import { DEFAULT_MODEL_CONFIG } from "../../model-runtime/src/model/config";
import { loadModel } from "../../model-runtime/src/model/model-folder";

const dir = path.resolve(__dirname, "../../model-runtime/training");
const json = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));

test("training/head_specs.json is the runtime's head pattern list", () => {
  assert.deepEqual(json("head_specs.json"), JSON.parse(JSON.stringify(modelHeadSpecs(DEFAULT_MODEL_CONFIG))));
});

test("training/default-config.json is the runtime's default model config", () => {
  assert.deepEqual(json("default-config.json"), JSON.parse(JSON.stringify(DEFAULT_MODEL_CONFIG)));
});

test("the bundled model has the default config and int8 weights", { skip: !fs.existsSync(path.resolve(dir, "../assets/model/config.json")) && "no bundled model" }, () => {
  const m = loadModel(path.resolve(dir, "../assets/model"));
  assert.equal(m.dtype, "int8");
  for (const k of Object.keys(DEFAULT_MODEL_CONFIG) as (keyof typeof DEFAULT_MODEL_CONFIG)[]) if (k !== "maxPositions") assert.deepEqual(m.config[k], DEFAULT_MODEL_CONFIG[k], k);
  // It was trained on samples of up to 32,768 tokens: the runtime must not lay out more for it.
  assert.ok(m.config.maxPositions >= 32_768 && m.config.maxPositions <= DEFAULT_MODEL_CONFIG.maxPositions);
});
