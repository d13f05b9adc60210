// The model definition and its files: config parsing (ours and Hugging Face Llama's), safetensors reading and
// writing, the model folder with int8 and float weights, clear errors for every kind of broken file, the seeded
// random init, and int8 quantization's error bound.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { DEFAULT_MODEL_CONFIG, type ModelConfig, ModelConfigError, modelStats, parseModelConfig, ropeInverseFrequencies } from "../../model-runtime/src/model/config";
import { BUILTIN_TOKENIZER, ModelLoadError, loadModel, resolveTokenizer, saveModel } from "../../model-runtime/src/model/model-folder";
import { SeededRandom, randomWeights } from "../../model-runtime/src/model/random-init";
import { SafetensorsError, encodeSafetensors, floatToHalf, halfToFloat, parseSafetensors, tensorToFloat32, tensorToInt8 } from "../../model-runtime/src/model/safetensors";
import { LAYER_MATRICES, matrixToFloat32, quantizeMatrix } from "../../model-runtime/src/model/weights";

const seed = Number(process.env.LONGVIEW_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`model tests seed=${seed} (replay with LONGVIEW_TEST_SEED=${seed})`);
const rng = new SeededRandom(seed);

const tiny: ModelConfig = { ...DEFAULT_MODEL_CONFIG, vocabSize: 97, dModel: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8, ffnDim: 48, blockSize: 16 };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "lv-model-"));
}

test("the default config is within the shipping limits it claims", () => {
  const s = modelStats(DEFAULT_MODEL_CONFIG);
  // Independent count: embedding + per layer (q, k, v, o, gate, up, down, 2 norms) + final norm.
  const c = DEFAULT_MODEL_CONFIG;
  const perLayer = c.dModel * c.numHeads * c.headDim * 2 + 2 * c.dModel * c.numKvHeads * c.headDim + 3 * c.dModel * c.ffnDim + 2 * c.dModel;
  assert.equal(s.parameters, c.vocabSize * c.dModel + c.numLayers * perLayer + c.dModel);
  assert.ok(s.bytesInt8 <= 40e6, `int8 weights ${s.bytesInt8} B must fit the 40 MB limit`);
  const w = randomWeights(c, { seed: 1, int8: true });
  const dir = tmpDir();
  saveModel(dir, c, w, { dtype: "int8" });
  const size = fs.statSync(path.join(dir, "model.safetensors")).size;
  assert.ok(size <= 40e6 && Math.abs(size - s.bytesInt8) / s.bytesInt8 < 0.01, `file ${size} B vs estimate ${s.bytesInt8} B`);
});

test("config: ours round-trips, Hugging Face Llama converts, bad values name the field", () => {
  assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(tiny))), tiny);
  const hf = parseModelConfig({
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_size: 2048,
    num_hidden_layers: 16,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    intermediate_size: 8192,
    rope_theta: 500000,
    rms_norm_eps: 1e-5,
    vocab_size: 128256,
    tie_word_embeddings: true,
    max_position_embeddings: 131072,
    rope_scaling: { rope_type: "llama3", factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
  });
  assert.equal(hf.headDim, 64);
  assert.equal(hf.numKvHeads, 8);
  assert.equal(hf.ropeScaling?.type, "llama3");
  assert.equal(hf.tieEmbeddings, true);
  assert.throws(() => parseModelConfig({ ...tiny, numKvHeads: 3 }), (e: Error) => e instanceof ModelConfigError && /multiple of numKvHeads/.test(e.message));
  assert.throws(() => parseModelConfig({ ...tiny, dModel: -4 }), /"dModel" must be a positive integer/);
  assert.throws(() => parseModelConfig({ hidden_size: 64, model_type: "gpt2" }), /not a Llama-family/);
  assert.throws(() => parseModelConfig([]), /expected a JSON object/);
});

test("RoPE: θ^(-2i/d) without scaling; llama3 scaling keeps high frequencies and divides low ones by the factor", () => {
  const inv = ropeInverseFrequencies({ headDim: 64, ropeTheta: 500000 });
  for (let i = 0; i < 32; i++) assert.ok(Math.abs(inv[i] - 500000 ** (-i / 32)) < 1e-15 * Math.max(1, inv[i]));
  // The slowest pair's wavelength exceeds 1 M positions (no aliasing within the context; docs/engine.md).
  assert.ok((2 * Math.PI) / inv[31] > 1 << 20);
  const scaled = ropeInverseFrequencies({ headDim: 64, ropeTheta: 500000, ropeScaling: { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } });
  assert.equal(scaled[0], inv[0]);
  assert.ok(Math.abs(scaled[31] - inv[31] / 8) < 1e-18);
});

test("safetensors: F32/F16/BF16/I8 round trip, header alignment, metadata", () => {
  const n = 257;
  const f = Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * 10 ** (rng.int(8) - 4));
  const i8 = Int8Array.from({ length: n }, () => rng.int(255) - 127);
  const buf = encodeSafetensors(
    [
      { name: "a", dtype: "F32", shape: [n], data: f },
      { name: "b", dtype: "F16", shape: [1, n], data: f },
      { name: "c", dtype: "BF16", shape: [n, 1], data: f },
      { name: "d", dtype: "I8", shape: [n], data: i8 },
    ],
    { note: "x" },
  );
  assert.equal((8 + Number(buf.readBigUInt64LE(0))) % 8, 0, "data section starts 8-byte aligned");
  const file = parseSafetensors(buf);
  assert.equal(file.metadata.note, "x");
  assert.deepEqual(tensorToFloat32(file.tensors.get("a")!), f);
  assert.deepEqual(tensorToInt8(file.tensors.get("d")!), i8);
  const h = tensorToFloat32(file.tensors.get("b")!);
  const b = tensorToFloat32(file.tensors.get("c")!);
  for (let i = 0; i < n; i++) {
    const v = f[i];
    if (Math.abs(v) >= 6.2e-5) assert.ok(Math.abs(h[i] - v) <= Math.abs(v) * 2 ** -11, `f16 ${v} → ${h[i]}`);
    assert.ok(Math.abs(b[i] - v) <= Math.abs(v) * 2 ** -8, `bf16 ${v} → ${b[i]}`);
  }
  for (let x = 0; x < 0x7c00; x += 37) assert.equal(floatToHalf(halfToFloat(x)), x, `half ${x} round-trips`);
});

test("safetensors: truncated, overlapping, mis-sized and non-JSON headers are clear errors", () => {
  const good = encodeSafetensors([
    { name: "w", dtype: "F32", shape: [4, 4], data: new Float32Array(16) },
    { name: "v", dtype: "F32", shape: [4], data: new Float32Array(4) },
  ]);
  assert.throws(() => parseSafetensors(good.subarray(0, good.length - 3), "m"), (e: Error) => e instanceof SafetensorsError && /outside the .*data section/.test(e.message));
  assert.throws(() => parseSafetensors(good.subarray(0, 5), "m"), /too short/);
  const bad = Buffer.from(good);
  bad.writeBigUInt64LE(BigInt(good.length * 4), 0);
  assert.throws(() => parseSafetensors(bad, "m"), /exceeds the file size/);
  const json = (h: object) => {
    const s = Buffer.from(JSON.stringify(h));
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(s.length));
    return Buffer.concat([head, s, Buffer.alloc(64)]);
  };
  assert.throws(() => parseSafetensors(json({ w: { dtype: "F32", shape: [2], data_offsets: [0, 12] } }), "m"), /12 bytes for shape \[2\]/);
  assert.throws(() => parseSafetensors(json({ w: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }), "m"), /dtype "Q4" is not supported/);
  assert.throws(() => parseSafetensors(json({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }), "m"), /overlap/);
  const garbage = Buffer.concat([Buffer.from([10, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{not json}")]);
  assert.throws(() => parseSafetensors(garbage, "m"), /not valid JSON/);
});

test("int8 quantization: per-row error ≤ half a step, scales = max|row| / 127", () => {
  const n = 13;
  const k = 70;
  const data = Float32Array.from({ length: n * k }, () => rng.normal() * (0.01 + rng.next()));
  const q = quantizeMatrix({ kind: "f32", n, k, data });
  assert.equal(q.kind, "int8");
  const back = matrixToFloat32(q);
  for (let r = 0; r < n; r++) {
    let amax = 0;
    for (let i = 0; i < k; i++) amax = Math.max(amax, Math.abs(data[r * k + i]));
    if (q.kind === "int8") assert.ok(Math.abs(q.scale[r] - amax / 127) <= 1e-7 * amax);
    for (let i = 0; i < k; i++) assert.ok(Math.abs(back[r * k + i] - data[r * k + i]) <= (amax / 127) * 0.5 * (1 + 1e-5), "within half a quantization step");
  }
});

test("random init is deterministic per seed and differs across seeds", () => {
  const a = randomWeights(tiny, { seed });
  const b = randomWeights(tiny, { seed });
  const c = randomWeights(tiny, { seed: seed + 1 });
  assert.deepEqual(matrixToFloat32(a.layers[1].down), matrixToFloat32(b.layers[1].down));
  assert.notDeepEqual(matrixToFloat32(a.layers[1].down), matrixToFloat32(c.layers[1].down));
  const emb = matrixToFloat32(a.embedding);
  const std = Math.sqrt(emb.reduce((s, v) => s + v * v, 0) / emb.length);
  assert.ok(Math.abs(std - 0.02) < 0.002, `embedding std ${std}`);
});

test("model folder: int8 and float round trips load back the same weights; the tokenizer reference is checked", () => {
  const w = randomWeights({ ...tiny, tieEmbeddings: false }, { seed, normJitter: 0.2 });
  for (const dtype of ["f32", "int8", "bf16"] as const) {
    const dir = tmpDir();
    saveModel(dir, { ...tiny, tieEmbeddings: false }, w, { dtype, tokenizer: { path: BUILTIN_TOKENIZER } });
    const m = loadModel(dir);
    assert.equal(m.config.dModel, tiny.dModel);
    assert.ok(m.weights.lmHead, "untied head loaded");
    assert.equal(m.dtype, dtype === "int8" ? "int8" : "f32");
    for (const name of LAYER_MATRICES) {
      const want = dtype === "int8" ? matrixToFloat32(quantizeMatrix(w.layers[0][name])) : matrixToFloat32(w.layers[0][name]);
      const got = matrixToFloat32(m.weights.layers[0][name]);
      const tol = dtype === "bf16" ? 2 ** -8 : 1e-7;
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol * Math.abs(want[i]) + 1e-12, `${dtype} ${name}[${i}]`);
    }
    assert.match(m.hash, /^[0-9a-f]{64}$/);
  }
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, "tok.json"), "{}");
  saveModel(dir, tiny, randomWeights(tiny, { seed }), { dtype: "f32", tokenizer: { path: "tok.json", sha256: "0".repeat(64) } });
  assert.throws(() => resolveTokenizer(loadModel(dir), () => "unused"), (e: Error) => e instanceof ModelLoadError && /not the one the model was trained with/.test(e.message));
});

test("a corrupt, truncated, mismatched or missing model file is a ModelLoadError naming the file and the problem", () => {
  const make = () => {
    const dir = tmpDir();
    saveModel(dir, tiny, randomWeights(tiny, { seed }), { dtype: "int8" });
    return dir;
  };
  const weights = (dir: string) => path.join(dir, "model.safetensors");
  const expectError = (dir: string, pattern: RegExp) =>
    assert.throws(() => loadModel(dir), (e: Error) => {
      assert.ok(e instanceof ModelLoadError, `ModelLoadError, got ${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });

  let dir = make();
  const bytes = fs.readFileSync(weights(dir));
  bytes[bytes.length - 100] ^= 0x55; // one flipped bit pattern in a tensor: only the checksum can tell
  fs.writeFileSync(weights(dir), bytes);
  expectError(dir, /SHA-256 .* differs from config\.json/);

  dir = make();
  // Without the recorded checksum, structural damage is still caught.
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  delete cfg.weights.sha256;
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(cfg));
  fs.writeFileSync(weights(dir), fs.readFileSync(weights(dir)).subarray(0, 5000));
  expectError(dir, /model\.safetensors: .*(truncated|exceeds)/);

  dir = make();
  fs.rmSync(weights(dir));
  expectError(dir, /cannot read the weights \(ENOENT\)/);

  dir = make();
  fs.writeFileSync(path.join(dir, "config.json"), "{ nope");
  expectError(dir, /config\.json: not valid JSON/);

  dir = make();
  const cfg2 = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  cfg2.ffnDim = 64;
  delete cfg2.weights.sha256;
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(cfg2));
  expectError(dir, /gate_proj\.weight has shape \[48, 32\], the config needs \[64, 32\]/);

  dir = make();
  const w = randomWeights(tiny, { seed });
  const buf = encodeSafetensors([{ name: "model.embed_tokens.weight", dtype: "F32", shape: [tiny.vocabSize, tiny.dModel], data: matrixToFloat32(w.embedding) }]);
  fs.writeFileSync(weights(dir), buf);
  const cfg3 = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  delete cfg3.weights.sha256;
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(cfg3));
  expectError(dir, /missing tensor model\.layers\.0\./);
});
