/**
 * A model folder: `config.json` (ModelConfig, or a Hugging Face Llama config), `model.safetensors` (tensor names
 * as Hugging Face Llama: model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight …; int8 matrices carry
 * `<name>_scale`, float32 [rows]) and a reference to the tokenizer the model was trained with.
 *
 * Loading checks everything it can (format, names, shapes, dtypes, the weights' SHA-256 when config.json lists
 * it, the tokenizer's) and throws ModelLoadError with the file and the reason: the extension then keeps giving
 * index answers instead of running a broken model.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { type ModelConfig, ModelConfigError, parseModelConfig } from "./config";
import { type SafeTensor, SafetensorsError, type TensorToWrite, parseSafetensors, tensorToFloat32, tensorToInt8, writeSafetensors } from "./safetensors";
import { LAYER_MATRICES, type LayerMatrixName, type LayerWeights, type Matrix, type ModelWeights, layerMatrixShape, matrixToFloat32 as dequantize, quantizeMatrix as quantize } from "./weights";

export const CONFIG_FILE = "config.json";
export const WEIGHTS_FILE = "model.safetensors";
/** Written into config.json: the tokenizer shipped with Longview (model-runtime/assets/tokenizer/tokenizer.json). */
export const BUILTIN_TOKENIZER = "builtin:longview";

export class ModelLoadError extends Error {
  readonly code = "LONGVIEW_MODEL_INVALID";
  constructor(message: string, readonly file?: string) {
    super(message);
    this.name = "ModelLoadError";
  }
}

export type WeightsDtype = "f32" | "f16" | "bf16" | "int8";

export interface TokenizerReference {
  /** A path relative to the model folder, or BUILTIN_TOKENIZER. */
  path: string;
  /** SHA-256 (hex) of the tokenizer.json the model was trained with; checked by `resolveTokenizer`. */
  sha256?: string;
}

export interface LoadedModel {
  folder: string;
  config: ModelConfig;
  weights: ModelWeights;
  /** SHA-256 over config.json and model.safetensors: identifies the model (KV caches are keyed by it). */
  hash: string;
  tokenizer: TokenizerReference;
  /** Storage of the matrices in the file. */
  dtype: WeightsDtype | "mixed";
}

const LAYER_TENSOR: Record<LayerMatrixName, string> = {
  q: "self_attn.q_proj",
  k: "self_attn.k_proj",
  v: "self_attn.v_proj",
  o: "self_attn.o_proj",
  gate: "mlp.gate_proj",
  up: "mlp.up_proj",
  down: "mlp.down_proj",
};

export function layerTensorName(layer: number, m: LayerMatrixName): string {
  return `model.layers.${layer}.${LAYER_TENSOR[m]}.weight`;
}

function sha256(...parts: Uint8Array[]): string {
  const h = crypto.createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

// ---------------------------------------------------------------------------------------------- loading

function readMatrix(tensors: Map<string, SafeTensor>, name: string, n: number, k: number, file: string): Matrix {
  const t = tensors.get(name);
  if (!t) throw new ModelLoadError(`${file}: missing tensor ${name}`, file);
  if (t.shape.length !== 2 || t.shape[0] !== n || t.shape[1] !== k) throw new ModelLoadError(`${file}: tensor ${name} has shape [${t.shape.join(", ")}], the config needs [${n}, ${k}]`, file);
  if (t.dtype === "I8") {
    const s = tensors.get(`${name}_scale`);
    if (!s) throw new ModelLoadError(`${file}: int8 tensor ${name} has no ${name}_scale`, file);
    if (s.shape.reduce((a, b) => a * b, 1) !== n) throw new ModelLoadError(`${file}: ${name}_scale has shape [${s.shape.join(", ")}], expected [${n}]`, file);
    const scale = tensorToFloat32(s);
    if (!scale.every(Number.isFinite)) throw new ModelLoadError(`${file}: ${name}_scale holds non-finite values`, file);
    return { kind: "int8", n, k, data: tensorToInt8(t), scale };
  }
  if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") throw new ModelLoadError(`${file}: tensor ${name} is ${t.dtype}; matrices must be F32, F16, BF16 or I8`, file);
  return { kind: "f32", n, k, data: tensorToFloat32(t) };
}

function readVector(tensors: Map<string, SafeTensor>, name: string, n: number, file: string): Float32Array {
  const t = tensors.get(name);
  if (!t) throw new ModelLoadError(`${file}: missing tensor ${name}`, file);
  if (t.shape.length !== 1 || t.shape[0] !== n) throw new ModelLoadError(`${file}: tensor ${name} has shape [${t.shape.join(", ")}], expected [${n}]`, file);
  if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") throw new ModelLoadError(`${file}: tensor ${name} is ${t.dtype}, expected a float type`, file);
  return tensorToFloat32(t);
}

/** Weights from a parsed safetensors file, checked against the config. */
export function weightsFromTensors(config: ModelConfig, tensors: Map<string, SafeTensor>, file = WEIGHTS_FILE): ModelWeights {
  const d = config.dModel;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const m = {} as Record<LayerMatrixName, Matrix>;
    for (const name of LAYER_MATRICES) {
      const [n, k] = layerMatrixShape(config, name);
      m[name] = readMatrix(tensors, layerTensorName(i, name), n, k, file);
    }
    layers.push({
      attnNorm: readVector(tensors, `model.layers.${i}.input_layernorm.weight`, d, file),
      mlpNorm: readVector(tensors, `model.layers.${i}.post_attention_layernorm.weight`, d, file),
      ...m,
    });
  }
  const hasHead = tensors.has("lm_head.weight");
  if (!config.tieEmbeddings && !hasHead) throw new ModelLoadError(`${file}: missing tensor lm_head.weight (the config does not tie embeddings)`, file);
  return {
    embedding: readMatrix(tensors, "model.embed_tokens.weight", config.vocabSize, d, file),
    layers,
    finalNorm: readVector(tensors, "model.norm.weight", d, file),
    lmHead: hasHead ? readMatrix(tensors, "lm_head.weight", config.vocabSize, d, file) : undefined,
  };
}

function dtypeOf(w: ModelWeights): WeightsDtype | "mixed" {
  const kinds = new Set<string>([w.embedding.kind, ...w.layers.flatMap((l) => LAYER_MATRICES.map((m) => l[m].kind))]);
  return kinds.size === 1 ? (kinds.has("int8") ? "int8" : "f32") : "mixed";
}

/** Loads and checks a model folder. Throws ModelLoadError (never a bare parse or I/O error). */
export function loadModel(folder: string): LoadedModel {
  const configFile = path.join(folder, CONFIG_FILE);
  const weightsFile = path.join(folder, WEIGHTS_FILE);
  let configBytes: Buffer;
  let weightsBytes: Buffer;
  try {
    configBytes = fs.readFileSync(configFile);
  } catch (e) {
    throw new ModelLoadError(`${configFile}: cannot read the model config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, configFile);
  }
  let json: Record<string, unknown>;
  let config: ModelConfig;
  try {
    json = JSON.parse(configBytes.toString("utf8"));
    config = parseModelConfig(json, configFile);
  } catch (e) {
    if (e instanceof ModelConfigError) throw new ModelLoadError(e.message, configFile);
    throw new ModelLoadError(`${configFile}: not valid JSON (${(e as Error).message})`, configFile);
  }
  try {
    weightsBytes = fs.readFileSync(weightsFile);
  } catch (e) {
    throw new ModelLoadError(`${weightsFile}: cannot read the weights (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, weightsFile);
  }
  const expected = (json.weights as { sha256?: unknown } | undefined)?.sha256;
  const weightsHash = sha256(weightsBytes);
  if (typeof expected === "string" && expected !== weightsHash) {
    throw new ModelLoadError(`${weightsFile}: SHA-256 ${weightsHash.slice(0, 16)}… differs from config.json's ${expected.slice(0, 16)}… (corrupt or replaced file)`, weightsFile);
  }
  let weights: ModelWeights;
  try {
    weights = weightsFromTensors(config, parseSafetensors(weightsBytes, weightsFile).tensors, weightsFile);
  } catch (e) {
    if (e instanceof SafetensorsError) throw new ModelLoadError(e.message, weightsFile);
    throw e;
  }
  const tok = json.tokenizer as { path?: unknown; sha256?: unknown } | undefined;
  const tokenizer: TokenizerReference = {
    path: typeof tok?.path === "string" ? tok.path : BUILTIN_TOKENIZER,
    sha256: typeof tok?.sha256 === "string" ? tok.sha256 : undefined,
  };
  return { folder, config, weights, hash: sha256(configBytes, Buffer.from(weightsHash, "hex")), tokenizer, dtype: dtypeOf(weights) };
}

/**
 * The tokenizer file a model was trained with: the folder-relative path, or `builtinPath` for BUILTIN_TOKENIZER.
 * Throws ModelLoadError when it is missing or its SHA-256 differs from the one config.json records.
 */
export function resolveTokenizer(model: Pick<LoadedModel, "folder" | "tokenizer">, builtinPath: () => string): string {
  const file = model.tokenizer.path === BUILTIN_TOKENIZER ? builtinPath() : path.resolve(model.folder, model.tokenizer.path);
  if (!model.tokenizer.sha256) return file;
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new ModelLoadError(`tokenizer ${file} (named by the model's config.json) cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, file);
  }
  const h = sha256(bytes);
  if (h !== model.tokenizer.sha256) throw new ModelLoadError(`tokenizer ${file}: SHA-256 ${h.slice(0, 16)}… is not the one the model was trained with (${model.tokenizer.sha256.slice(0, 16)}…)`, file);
  return file;
}

// ---------------------------------------------------------------------------------------------- saving

export interface SaveOptions {
  /** Storage of the matrices: int8 quantizes float matrices per output row; float dtypes dequantize int8 ones. */
  dtype: WeightsDtype;
  tokenizer?: TokenizerReference;
  /** Extra safetensors metadata (training run, data …). */
  metadata?: Record<string, string>;
}

function matrixTensors(name: string, m: Matrix, dtype: WeightsDtype): TensorToWrite[] {
  if (dtype === "int8") {
    const q = quantize(m) as Extract<Matrix, { kind: "int8" }>;
    return [
      { name, dtype: "I8", shape: [q.n, q.k], data: q.data },
      { name: `${name}_scale`, dtype: "F32", shape: [q.n], data: q.scale },
    ];
  }
  const data = m.kind === "f32" ? m.data : dequantize(m);
  return [{ name, dtype: dtype === "f32" ? "F32" : dtype === "f16" ? "F16" : "BF16", shape: [m.n, m.k], data }];
}

/** Writes config.json and model.safetensors (atomically each); config.json records the weights' SHA-256. */
export function saveModel(folder: string, config: ModelConfig, weights: ModelWeights, opts: SaveOptions): { configFile: string; weightsFile: string } {
  fs.mkdirSync(folder, { recursive: true });
  const tensors: TensorToWrite[] = [...matrixTensors("model.embed_tokens.weight", weights.embedding, opts.dtype)];
  const normDtype = opts.dtype === "int8" ? "F32" : opts.dtype === "f32" ? "F32" : opts.dtype === "f16" ? "F16" : "BF16";
  weights.layers.forEach((l, i) => {
    tensors.push({ name: `model.layers.${i}.input_layernorm.weight`, dtype: normDtype, shape: [config.dModel], data: l.attnNorm });
    tensors.push({ name: `model.layers.${i}.post_attention_layernorm.weight`, dtype: normDtype, shape: [config.dModel], data: l.mlpNorm });
    for (const m of LAYER_MATRICES) tensors.push(...matrixTensors(layerTensorName(i, m), l[m], opts.dtype));
  });
  tensors.push({ name: "model.norm.weight", dtype: normDtype, shape: [config.dModel], data: weights.finalNorm });
  if (weights.lmHead) tensors.push(...matrixTensors("lm_head.weight", weights.lmHead, opts.dtype));
  const weightsFile = path.join(folder, WEIGHTS_FILE);
  writeSafetensors(weightsFile, tensors, { format: "pt", producer: "longview", ...(opts.metadata ?? {}) });
  const configFile = path.join(folder, CONFIG_FILE);
  const json = {
    format: "longview",
    version: 1,
    ...config,
    tieEmbeddings: !weights.lmHead,
    tokenizer: opts.tokenizer ?? { path: BUILTIN_TOKENIZER },
    weights: { file: WEIGHTS_FILE, dtype: opts.dtype, sha256: sha256(fs.readFileSync(weightsFile)) },
  };
  const tmp = `${configFile}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(json, null, 2) + "\n");
  fs.renameSync(tmp, configFile);
  return { configFile, weightsFile };
}
