/**
 * The dense half of each layer (everything but attention) behind one interface, with two implementations:
 * the native addon (./native: int8 VNNI / float SIMD GEMMs, on a thread pool, off the event loop) and plain
 * TypeScript (slow; for machines where the addon cannot be built or loaded, and restricted workspaces).
 *
 * Per layer ℓ, for M consecutive tokens at positions pos0 … pos0+M−1:
 *   preAttention:  h = RMSNorm(x)·g;  [q|k|v] = h·Wqkvᵀ;  RoPE(q, k);  q → [H][M][hd];  k, v → cache rows pos0…
 *   postAttention: x += attn·Woᵀ;  h = RMSNorm(x)·g';  x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
 *   logits:        RMSNorm(x)·g_final · Wheadᵀ for chosen rows
 */
import type { AttentionShape, BlockSparseLayout } from "../../../kernels/api";
import { type ModelConfig, ropeInverseFrequencies } from "../model/config";
import { type Matrix, type ModelWeights, matrixToFloat32, stackRows } from "../model/weights";
import { type DenseIsa, DenseAddonUnavailableError, type NativeMatrix, type NativeModel, loadDenseAddon } from "./native";

export interface DenseModel {
  /** "native-avx512vnni", "native-avx2", "native-generic" or "typescript". */
  readonly name: string;
  preAttention(layer: number, x: Float32Array, M: number, pos0: number, q: Float32Array, k: Float32Array, v: Float32Array, kvCapacity: number): Promise<void>;
  postAttention(layer: number, attn: Float32Array, x: Float32Array, M: number): Promise<void>;
  logits(x: Float32Array, M: number, rows: Int32Array, out: Float32Array): Promise<void>;
  embed(ids: Int32Array, x: Float32Array): void;
  /** Adds, per key block, the softmax probability the rows put on it (summed over heads and rows) to `out`. */
  blockMass(shape: Omit<AttentionShape, "kvLength">, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, lse: Float32Array, out: Float64Array): void;
  dispose(): void;
}

export type DensePreference = "auto" | "native" | "typescript";

export interface DenseOptions {
  prefer?: DensePreference;
  /** Threads of the native pool (default: $LONGVIEW_CPU_THREADS or all cores). */
  threads?: number;
  /** Force a native kernel build (tests). Process-wide: applies to models created afterwards. */
  isa?: DenseIsa | "best";
  addonPath?: string;
}

/** q|k|v and gate|up fused, as the dense ops take them; int8 stays int8 unless the parts differ in kind. */
function fuse(parts: Matrix[]): Matrix {
  if (parts.every((p) => p.kind === parts[0].kind)) return stackRows(parts);
  return stackRows(parts.map((p) => ({ kind: "f32" as const, n: p.n, k: p.k, data: matrixToFloat32(p) })));
}

function nativeMatrix(m: Matrix): NativeMatrix {
  return m.kind === "int8" ? { n: m.n, k: m.k, data: m.data, scale: m.scale } : { n: m.n, k: m.k, data: m.data };
}

/**
 * Calls with few rows (decode steps) run synchronously on the calling thread: a decode step's dense work is a
 * few hundred microseconds, less than the round trips through libuv's pool it would otherwise make.
 */
export const SYNC_ROWS = 8;
const done = Promise.resolve();

class NativeDense implements DenseModel {
  readonly name: string;
  constructor(private readonly model: NativeModel) {
    this.name = `native-${model.info().isa}`;
  }
  preAttention(layer: number, x: Float32Array, M: number, pos0: number, q: Float32Array, k: Float32Array, v: Float32Array, cap: number): Promise<void> {
    if (M <= SYNC_ROWS) return (this.model.preAttention(layer, x, M, pos0, q, k, v, cap, true), done);
    return this.model.preAttention(layer, x, M, pos0, q, k, v, cap) as Promise<void>;
  }
  postAttention(layer: number, attn: Float32Array, x: Float32Array, M: number): Promise<void> {
    if (M <= SYNC_ROWS) return (this.model.postAttention(layer, attn, x, M, true), done);
    return this.model.postAttention(layer, attn, x, M) as Promise<void>;
  }
  logits(x: Float32Array, M: number, rows: Int32Array, out: Float32Array): Promise<void> {
    if (rows.length <= SYNC_ROWS) return (this.model.logits(x, M, rows, out, true), done);
    return this.model.logits(x, M, rows, out) as Promise<void>;
  }
  embed(ids: Int32Array, x: Float32Array): void {
    this.model.embed(ids, x);
  }
  blockMass(shape: Omit<AttentionShape, "kvLength">, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, lse: Float32Array, out: Float64Array): void {
    this.model.blockMass(shape, layout, q, k, lse, out);
  }
  dispose(): void {}
}

function createNative(config: ModelConfig, weights: ModelWeights, opts: DenseOptions): NativeDense {
  const addon = loadDenseAddon(opts.addonPath);
  addon.isa(opts.isa ?? "best");
  const model = new addon.Model({
    dModel: config.dModel,
    numHeads: config.numHeads,
    numKvHeads: config.numKvHeads,
    headDim: config.headDim,
    ffnDim: config.ffnDim,
    vocabSize: config.vocabSize,
    numLayers: config.numLayers,
    normEps: config.normEps,
    invFreq: ropeInverseFrequencies(config),
    threads: opts.threads,
  });
  weights.layers.forEach((l, i) =>
    model.setLayer(i, {
      attnNorm: l.attnNorm,
      mlpNorm: l.mlpNorm,
      qkv: nativeMatrix(fuse([l.q, l.k, l.v])),
      o: nativeMatrix(l.o),
      gateUp: nativeMatrix(fuse([l.gate, l.up])),
      down: nativeMatrix(l.down),
    }),
  );
  model.setHead({ embedding: nativeMatrix(weights.embedding), finalNorm: weights.finalNorm, lmHead: weights.lmHead && nativeMatrix(weights.lmHead) });
  return new NativeDense(model);
}

/** Plain TypeScript: float32 storage, float64 arithmetic, int8 weights expanded to float at load. */
export class TypeScriptDense implements DenseModel {
  readonly name = "typescript";
  private readonly layers: Array<{ attnNorm: Float32Array; mlpNorm: Float32Array; qkv: Float32Array; o: Float32Array; gateUp: Float32Array; down: Float32Array }>;
  private readonly embedding: Float32Array;
  private readonly head: Float32Array;
  private readonly finalNorm: Float32Array;
  private readonly invFreq: Float64Array;

  constructor(private readonly c: ModelConfig, weights: ModelWeights) {
    this.layers = weights.layers.map((l) => ({
      attnNorm: l.attnNorm,
      mlpNorm: l.mlpNorm,
      qkv: matrixToFloat32(fuse([l.q, l.k, l.v])),
      o: matrixToFloat32(l.o),
      gateUp: matrixToFloat32(fuse([l.gate, l.up])),
      down: matrixToFloat32(l.down),
    }));
    this.embedding = matrixToFloat32(weights.embedding);
    this.head = weights.lmHead ? matrixToFloat32(weights.lmHead) : this.embedding;
    this.finalNorm = weights.finalNorm;
    this.invFreq = ropeInverseFrequencies(c);
  }

  private rmsnorm(x: Float32Array, row: number, w: Float32Array, out: Float32Array, outRow: number): void {
    const d = this.c.dModel;
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[row * d + i] * x[row * d + i];
    const inv = Math.fround(1 / Math.sqrt(ss / d + Math.fround(this.c.normEps)));
    for (let i = 0; i < d; i++) out[outRow * d + i] = x[row * d + i] * inv * w[i];
  }

  /** c[m][n] (+)= Σ_k a[m][k] · w[n][k]. */
  private matmul(a: Float32Array, M: number, K: number, w: Float32Array, N: number, c: Float32Array, accumulate: boolean): void {
    for (let m = 0; m < M; m++) {
      const ao = m * K;
      for (let n = 0; n < N; n++) {
        const wo = n * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ao + k] * w[wo + k];
        c[m * N + n] = accumulate ? c[m * N + n] + s : s;
      }
    }
  }

  async preAttention(layer: number, x: Float32Array, M: number, pos0: number, q: Float32Array, kc: Float32Array, vc: Float32Array, cap: number): Promise<void> {
    const { dModel: d, numHeads: H, numKvHeads: KV, headDim: hd } = this.c;
    const L = this.layers[layer];
    const half = hd / 2;
    const width = (H + 2 * KV) * hd;
    const xn = new Float32Array(M * d);
    for (let m = 0; m < M; m++) this.rmsnorm(x, m, L.attnNorm, xn, m);
    const qkv = new Float32Array(M * width);
    this.matmul(xn, M, d, L.qkv, width, qkv, false);
    const cos = new Float64Array(half);
    const sin = new Float64Array(half);
    const rotate = (src: number, dst: Float32Array, at: number) => {
      for (let j = 0; j < half; j++) {
        const a = qkv[src + j];
        const b = qkv[src + j + half];
        dst[at + j] = a * cos[j] - b * sin[j];
        dst[at + j + half] = b * cos[j] + a * sin[j];
      }
    };
    for (let m = 0; m < M; m++) {
      for (let j = 0; j < half; j++) {
        const angle = (pos0 + m) * this.invFreq[j];
        cos[j] = Math.fround(Math.cos(angle));
        sin[j] = Math.fround(Math.sin(angle));
      }
      const row = m * width;
      for (let h = 0; h < H; h++) rotate(row + h * hd, q, (h * M + m) * hd);
      for (let h = 0; h < KV; h++) {
        rotate(row + (H + h) * hd, kc, (h * cap + pos0 + m) * hd);
        vc.set(qkv.subarray(row + (H + KV + h) * hd, row + (H + KV + h + 1) * hd), (h * cap + pos0 + m) * hd);
      }
    }
  }

  async postAttention(layer: number, attn: Float32Array, x: Float32Array, M: number): Promise<void> {
    const { dModel: d, numHeads: H, headDim: hd, ffnDim: F } = this.c;
    const L = this.layers[layer];
    const flat = new Float32Array(M * H * hd);
    for (let m = 0; m < M; m++) for (let h = 0; h < H; h++) flat.set(attn.subarray((h * M + m) * hd, (h * M + m + 1) * hd), (m * H + h) * hd);
    this.matmul(flat, M, H * hd, L.o, d, x, true);
    const xn = new Float32Array(M * d);
    for (let m = 0; m < M; m++) this.rmsnorm(x, m, L.mlpNorm, xn, m);
    const gu = new Float32Array(M * 2 * F);
    this.matmul(xn, M, d, L.gateUp, 2 * F, gu, false);
    const h = new Float32Array(M * F);
    for (let m = 0; m < M; m++)
      for (let j = 0; j < F; j++) {
        const g = gu[m * 2 * F + j];
        h[m * F + j] = (g / (1 + Math.exp(-g))) * gu[m * 2 * F + F + j];
      }
    this.matmul(h, M, F, L.down, d, x, true);
  }

  async logits(x: Float32Array, _M: number, rows: Int32Array, out: Float32Array): Promise<void> {
    const d = this.c.dModel;
    const xn = new Float32Array(rows.length * d);
    rows.forEach((r, i) => this.rmsnorm(x, r, this.finalNorm, xn, i));
    this.matmul(xn, rows.length, d, this.head, this.c.vocabSize, out, false);
  }

  embed(ids: Int32Array, x: Float32Array): void {
    const d = this.c.dModel;
    ids.forEach((id, m) => {
      if (!Number.isInteger(id) || id < 0 || id >= this.c.vocabSize) throw new RangeError(`token id ${id} outside the vocabulary`);
      x.set(this.embedding.subarray(id * d, (id + 1) * d), m * d);
    });
  }

  blockMass(shape: Omit<AttentionShape, "kvLength">, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, lse: Float32Array, out: Float64Array): void {
    typeScriptBlockMass(shape, layout, q, k, lse, out);
  }

  dispose(): void {}
}

/** The attention-mass computation in TypeScript (the native one's twin; also its test reference). */
export function typeScriptBlockMass(shape: Omit<AttentionShape, "kvLength">, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, lse: Float32Array, out: Float64Array): void {
  const { numHeads: H, numKvHeads: KV, headDim: D, queryStart, queryLength: M, kvCapacity, scale } = shape;
  const B = layout.blockSize;
  const G = H / KV;
  for (let h = 0; h < H; h++) {
    const l = h % layout.numLayouts;
    const kh = Math.floor(h / G) * kvCapacity * D;
    for (let i = 0; i < M; i++) {
      const pos = queryStart + i;
      const r = Math.floor(pos / B);
      const rp = l * (layout.numBlockRows + 1);
      const qo = (h * M + i) * D;
      for (let c = layout.rowPtr[rp + r]; c < layout.rowPtr[rp + r + 1]; c++) {
        const col = layout.colIdx[l * layout.maxNnz + c];
        const end = col === r ? pos + 1 : (col + 1) * B;
        let sum = 0;
        for (let j = col * B; j < end; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[qo + d] * k[kh + j * D + d];
          sum += Math.exp(dot * scale - lse[h * M + i]);
        }
        out[col] += sum;
      }
    }
  }
}

export interface DenseChoice {
  dense: DenseModel;
  /** Why the preferred implementation was not used (empty when it was). */
  notices: string[];
}

/** Native when it loads (unless TypeScript is asked for), else TypeScript with a notice. */
export function createDenseModel(config: ModelConfig, weights: ModelWeights, opts: DenseOptions = {}): DenseChoice {
  const prefer = opts.prefer ?? "auto";
  const notices: string[] = [];
  if (prefer !== "typescript") {
    try {
      return { dense: createNative(config, weights, opts), notices };
    } catch (e) {
      if (prefer === "native" && !(e instanceof DenseAddonUnavailableError)) throw e;
      notices.push(`native dense ops unavailable (${(e as Error).message.split("\n")[0]}); using the TypeScript ops (slow)`);
    }
  }
  return { dense: new TypeScriptDense(config, weights), notices };
}
