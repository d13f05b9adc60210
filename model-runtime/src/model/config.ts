/**
 * The model definition: a Llama-family decoder (token embedding, N × [RMSNorm → grouped-query attention with
 * rotary positions → residual → RMSNorm → SwiGLU MLP → residual], final RMSNorm, LM head tied to the embedding
 * unless the weights carry their own), plus the sparse-attention pattern it was trained with.
 *
 * `config.json` in a model folder is either this shape (camelCase, `"format": "longview"`) or a Hugging Face
 * Llama config (snake_case: hidden_size, num_attention_heads …), which `parseModelConfig` converts.
 * See docs/engine.md for the default size and its arithmetic.
 */

export interface RopeScaling {
  /** "llama3": Llama 3.1's frequency-dependent scaling; "linear": positions divided by `factor`. */
  type: "llama3" | "linear";
  factor: number;
  /** llama3 only. */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositions?: number;
}

export interface PatternConfig {
  /** Most kept key blocks per query block row (diagonal included). */
  budget: number;
  /** Local window in blocks. */
  localBlocks: number;
  /** Vertical stride of the far heads' strided columns. */
  stride: number;
  /** Header blocks of the row's own file kept by the near heads. */
  segmentHeadBlocks: number;
  /** Budget of anchor rows (the repository map): they may see more. */
  anchorRowBudget: number;
}

export interface ModelConfig {
  vocabSize: number;
  dModel: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ffnDim: number;
  ropeTheta: number;
  ropeScaling?: RopeScaling;
  normEps: number;
  /** Tokens per attention block (the layout's and the kernels' block). */
  blockSize: number;
  pattern: PatternConfig;
  /** LM head = embedding (true for the default model; Hugging Face `tie_word_embeddings`). */
  tieEmbeddings: boolean;
  /** Positions the model was trained to use (documentation and a guard; the layout's maxTokens must not exceed it). */
  maxPositions: number;
}

/**
 * The default model (to be trained). 6 layers of d 512, 6 query heads of 64 over 2 key/value heads, SwiGLU 1,536,
 * vocabulary 16,384: 25.7 M parameters, 25.8 MB at int8. Attention width (6 × 64 = 384) is below dModel on purpose:
 * on the CPU, attention over ~100 kept blocks costs 4·heads·headDim·6,400 FLOPs per token per layer and dominates,
 * so heads are the expensive part and the residual/MLP width the cheap one. Arithmetic: docs/engine.md.
 */
export const DEFAULT_MODEL_CONFIG: ModelConfig = {
  vocabSize: 16_384,
  dModel: 512,
  numLayers: 6,
  numHeads: 6,
  numKvHeads: 2,
  headDim: 64,
  ffnDim: 1_536,
  // Slowest rotary pair's wavelength 2π·θ^(62/64) ≈ 2.1 M tokens: positions up to 1 M never alias (docs/engine.md).
  ropeTheta: 500_000,
  normEps: 1e-5,
  blockSize: 64,
  pattern: { budget: 100, localBlocks: 16, stride: 8, segmentHeadBlocks: 2, anchorRowBudget: 200 },
  tieEmbeddings: true,
  maxPositions: 1 << 20,
};

export const DEFAULT_PATTERN: PatternConfig = DEFAULT_MODEL_CONFIG.pattern;

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelConfigError";
  }
}

function int(json: Record<string, unknown>, key: string, where: string, fallback?: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new ModelConfigError(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(json[key])}`);
  return v;
}

function num(json: Record<string, unknown>, key: string, where: string, fallback?: number): number {
  const v = json[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) throw new ModelConfigError(`${where}: "${key}" must be a positive number, got ${JSON.stringify(json[key])}`);
  return v;
}

function parsePattern(raw: unknown, where: string): PatternConfig {
  if (raw === undefined) return { ...DEFAULT_PATTERN };
  if (typeof raw !== "object" || raw === null) throw new ModelConfigError(`${where}: "pattern" must be an object`);
  const p = raw as Record<string, unknown>;
  const d = DEFAULT_PATTERN;
  const budget = int(p, "budget", `${where} pattern`, d.budget);
  return {
    budget,
    localBlocks: int(p, "localBlocks", `${where} pattern`, d.localBlocks),
    stride: int(p, "stride", `${where} pattern`, d.stride),
    segmentHeadBlocks: int(p, "segmentHeadBlocks", `${where} pattern`, d.segmentHeadBlocks),
    anchorRowBudget: int(p, "anchorRowBudget", `${where} pattern`, 2 * budget),
  };
}

function parseRopeScaling(raw: unknown, where: string): RopeScaling | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "object") throw new ModelConfigError(`${where}: rope scaling must be an object`);
  const r = raw as Record<string, unknown>;
  const type = r.type ?? r.rope_type;
  if (type === "default") return undefined;
  if (type !== "llama3" && type !== "linear") throw new ModelConfigError(`${where}: rope scaling type ${JSON.stringify(type)} is not supported (llama3, linear)`);
  const factor = num(r, "factor", `${where} rope scaling`);
  if (type === "linear") return { type, factor };
  return {
    type,
    factor,
    lowFreqFactor: num(r, r.lowFreqFactor !== undefined ? "lowFreqFactor" : "low_freq_factor", `${where} rope scaling`),
    highFreqFactor: num(r, r.highFreqFactor !== undefined ? "highFreqFactor" : "high_freq_factor", `${where} rope scaling`),
    originalMaxPositions: int(r, r.originalMaxPositions !== undefined ? "originalMaxPositions" : "original_max_position_embeddings", `${where} rope scaling`),
  };
}

/** Checks the relations between sizes; throws ModelConfigError naming the first problem. */
export function validateModelConfig(c: ModelConfig, where = "config"): ModelConfig {
  if (c.ropeScaling === undefined) delete c.ropeScaling;
  if (c.numHeads % c.numKvHeads !== 0) throw new ModelConfigError(`${where}: numHeads (${c.numHeads}) must be a multiple of numKvHeads (${c.numKvHeads})`);
  if (c.numHeads / c.numKvHeads > 64) throw new ModelConfigError(`${where}: at most 64 query heads per key/value head`);
  if (c.headDim % 2 !== 0) throw new ModelConfigError(`${where}: headDim must be even (rotary pairs), got ${c.headDim}`);
  if (c.headDim > 4096 || c.dModel > 65_536 || c.ffnDim > 262_144 || c.vocabSize > 1 << 22 || c.numLayers > 1024) throw new ModelConfigError(`${where}: sizes out of range`);
  return c;
}

/** A config.json object (ours or Hugging Face Llama's) → ModelConfig. */
export function parseModelConfig(json: unknown, where = "config.json"): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ModelConfigError(`${where}: expected a JSON object`);
  const j = json as Record<string, unknown>;
  const hf = j.hidden_size !== undefined;
  if (hf) {
    const archs = Array.isArray(j.architectures) ? (j.architectures as unknown[]) : [];
    const modelType = j.model_type;
    if (modelType !== undefined && modelType !== "llama" && modelType !== "mistral" && modelType !== "qwen2") {
      throw new ModelConfigError(`${where}: model_type ${JSON.stringify(modelType)} is not a Llama-family decoder (llama, mistral, qwen2)`);
    }
    if (archs.length && !archs.some((a) => typeof a === "string" && /Llama|Mistral|Qwen2/.test(a))) throw new ModelConfigError(`${where}: architecture ${JSON.stringify(archs)} is not supported`);
    const dModel = int(j, "hidden_size", where);
    const numHeads = int(j, "num_attention_heads", where);
    return validateModelConfig(
      {
        vocabSize: int(j, "vocab_size", where),
        dModel,
        numLayers: int(j, "num_hidden_layers", where),
        numHeads,
        numKvHeads: int(j, "num_key_value_heads", where, numHeads),
        headDim: int(j, "head_dim", where, Math.floor(dModel / numHeads)),
        ffnDim: int(j, "intermediate_size", where),
        ropeTheta: num(j, "rope_theta", where, 10_000),
        ropeScaling: parseRopeScaling(j.rope_scaling, where),
        normEps: num(j, "rms_norm_eps", where, 1e-6),
        blockSize: int(j, "longview_block_size", where, DEFAULT_MODEL_CONFIG.blockSize),
        pattern: parsePattern(j.longview_pattern, where),
        tieEmbeddings: j.tie_word_embeddings === true,
        maxPositions: int(j, "max_position_embeddings", where, 4096),
      },
      where,
    );
  }
  return validateModelConfig(
    {
      vocabSize: int(j, "vocabSize", where),
      dModel: int(j, "dModel", where),
      numLayers: int(j, "numLayers", where),
      numHeads: int(j, "numHeads", where),
      numKvHeads: int(j, "numKvHeads", where),
      headDim: int(j, "headDim", where),
      ffnDim: int(j, "ffnDim", where),
      ropeTheta: num(j, "ropeTheta", where),
      ropeScaling: parseRopeScaling(j.ropeScaling, where),
      normEps: num(j, "normEps", where),
      blockSize: int(j, "blockSize", where),
      pattern: parsePattern(j.pattern, where),
      tieEmbeddings: j.tieEmbeddings === undefined ? true : j.tieEmbeddings === true,
      maxPositions: int(j, "maxPositions", where, DEFAULT_MODEL_CONFIG.maxPositions),
    },
    where,
  );
}

/**
 * RoPE inverse frequencies, headDim / 2 of them: θ^(-2i/headDim), then the configured scaling. Float64 so that
 * angles at 1 M positions stay exact to ~1e-10 rad.
 */
export function ropeInverseFrequencies(c: Pick<ModelConfig, "headDim" | "ropeTheta" | "ropeScaling">): Float64Array {
  const half = c.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(c.ropeTheta, (-2 * i) / c.headDim);
  const s = c.ropeScaling;
  if (!s) return inv;
  if (s.type === "linear") {
    for (let i = 0; i < half; i++) inv[i] /= s.factor;
    return inv;
  }
  // Llama 3.1: long wavelengths are stretched by `factor`, short ones kept, the band between interpolated.
  const low = s.lowFreqFactor!;
  const high = s.highFreqFactor!;
  const old = s.originalMaxPositions!;
  const lowWavelen = old / low;
  const highWavelen = old / high;
  for (let i = 0; i < half; i++) {
    const wavelen = (2 * Math.PI) / inv[i];
    if (wavelen < highWavelen) continue;
    if (wavelen > lowWavelen) {
      inv[i] /= s.factor;
      continue;
    }
    const smooth = (old / wavelen - low) / (high - low);
    inv[i] = (1 - smooth) * (inv[i] / s.factor) + smooth * inv[i];
  }
  return inv;
}

export interface ModelStats {
  parameters: number;
  /** Parameters outside the embedding (the per-token matmul work). */
  layerParameters: number;
  embeddingParameters: number;
  bytesInt8: number;
  bytesFp16: number;
  /** Dense FLOPs per token without the LM head (prefill rows) and with it (decode). */
  denseFlopsPerToken: number;
  lmHeadFlopsPerToken: number;
  /** Attention FLOPs per token when each query row attends to `keysPerRow` keys (4 · heads · headDim · keys · layers). */
  attentionFlopsPerToken: (keysPerRow: number) => number;
  /** KV cache bytes per token (float32, all layers). */
  kvBytesPerToken: number;
}

/** Sizes and costs of a config (docs/engine.md explains how they are used). */
export function modelStats(c: ModelConfig): ModelStats {
  const d = c.dModel;
  const attnW = c.numHeads * c.headDim;
  const kvW = c.numKvHeads * c.headDim;
  const perLayer = d * attnW + 2 * d * kvW + attnW * d + 3 * d * c.ffnDim;
  const layerParameters = c.numLayers * perLayer;
  const norms = (2 * c.numLayers + 1) * d;
  const embeddingParameters = c.vocabSize * d * (c.tieEmbeddings ? 1 : 2);
  const parameters = layerParameters + norms + embeddingParameters;
  // int8 matrices carry one float32 scale per output row.
  const rows = c.numLayers * (attnW + 2 * kvW + d + 2 * c.ffnDim + d) + c.vocabSize * (c.tieEmbeddings ? 1 : 2);
  return {
    parameters,
    layerParameters,
    embeddingParameters,
    bytesInt8: layerParameters + embeddingParameters + 4 * (rows + norms),
    bytesFp16: 2 * parameters,
    denseFlopsPerToken: 2 * layerParameters,
    lmHeadFlopsPerToken: 2 * c.vocabSize * d,
    attentionFlopsPerToken: (keys) => 4 * c.numHeads * c.headDim * keys * c.numLayers,
    kvBytesPerToken: 2 * c.numLayers * kvW * 4,
  };
}
