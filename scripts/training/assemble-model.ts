/**
 * Joins the int8 safetensors parts that model-runtime/training/export.py writes on the GPU machine (≤ 16 MiB
 * each, the size a device call can return) into a model folder the engine loads: config.json (the Longview
 * config the model was trained with, the built-in tokenizer and its SHA-256, the weights' SHA-256) and
 * model.safetensors. The int8 values are kept as exported (no re-quantization), so the reference logits written
 * next to them stay valid.
 *
 *   node --import tsx scripts/training/assemble-model.ts --config model-runtime/training/default-config.json \
 *        --out model-runtime/assets/model --trained-positions 32768 --meta '{"run":"…"}' part1.safetensors part2.safetensors …
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { parseModelConfig } from "../../model-runtime/src/model/config";
import { BUILTIN_TOKENIZER, loadModel, saveModel, weightsFromTensors } from "../../model-runtime/src/model/model-folder";
import { type SafeTensor, parseSafetensors } from "../../model-runtime/src/model/safetensors";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { config: { type: "string" }, out: { type: "string" }, meta: { type: "string", default: "{}" }, "trained-positions": { type: "string" } },
});
if (!values.config || !values.out || positionals.length === 0) {
  console.error("usage: assemble-model.ts --config CONFIG.json --out FOLDER [--meta JSON] PART.safetensors…");
  process.exit(2);
}
// --trained-positions: the longest sequence the model was trained on. The runtime never lays out more than
// maxPositions tokens for it (model-service clamps the context), since positions beyond it were never seen.
const config = { ...parseModelConfig(JSON.parse(fs.readFileSync(values.config, "utf8"))), ...(values["trained-positions"] ? { maxPositions: Number(values["trained-positions"]) } : {}) };
const tensors = new Map<string, SafeTensor>();
for (const part of positionals) {
  for (const [name, t] of parseSafetensors(fs.readFileSync(part), part).tensors) {
    if (tensors.has(name)) throw new Error(`${part}: tensor ${name} is in two parts`);
    tensors.set(name, t);
  }
}
const weights = weightsFromTensors(config, tensors, positionals.join(" + "));
const tokenizerFile = path.join(import.meta.dirname, "../../model-runtime/assets/tokenizer/tokenizer.json");
const sha256 = crypto.createHash("sha256").update(fs.readFileSync(tokenizerFile)).digest("hex");
const meta = JSON.parse(values.meta!) as Record<string, unknown>;
saveModel(values.out, config, weights, {
  dtype: "int8",
  tokenizer: { path: BUILTIN_TOKENIZER, sha256 },
  metadata: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
});
const loaded = loadModel(values.out);
console.log(`${values.out}: ${loaded.dtype}, ${(fs.statSync(path.join(values.out, "model.safetensors")).size / 1e6).toFixed(1)} MB, hash ${loaded.hash.slice(0, 12)}`);
