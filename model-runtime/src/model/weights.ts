/**
 * In-memory weights of a Llama-family model. A matrix is [n][k] (outputs × inputs, PyTorch Linear layout),
 * either float32 or int8 with one float32 scale per output row (symmetric: w ≈ q · scale, q in [-127, 127]).
 */
import type { ModelConfig } from "./config";

export type Matrix =
  | { kind: "f32"; n: number; k: number; data: Float32Array }
  | { kind: "int8"; n: number; k: number; data: Int8Array; scale: Float32Array };

export interface LayerWeights {
  attnNorm: Float32Array;
  q: Matrix;
  k: Matrix;
  v: Matrix;
  o: Matrix;
  mlpNorm: Float32Array;
  gate: Matrix;
  up: Matrix;
  down: Matrix;
}

export interface ModelWeights {
  /** [vocab][dModel]; also the LM head when `lmHead` is absent (tied). */
  embedding: Matrix;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  lmHead?: Matrix;
}

export const LAYER_MATRICES = ["q", "k", "v", "o", "gate", "up", "down"] as const;
export type LayerMatrixName = (typeof LAYER_MATRICES)[number];

/** Expected [n, k] of each layer matrix. */
export function layerMatrixShape(c: ModelConfig, name: LayerMatrixName): [number, number] {
  const d = c.dModel;
  switch (name) {
    case "q":
      return [c.numHeads * c.headDim, d];
    case "k":
    case "v":
      return [c.numKvHeads * c.headDim, d];
    case "o":
      return [d, c.numHeads * c.headDim];
    case "gate":
    case "up":
      return [c.ffnDim, d];
    case "down":
      return [d, c.ffnDim];
  }
}

/** Symmetric int8 per output row: scale = max|row| / 127, q = round(w / scale). */
export function quantizeMatrix(m: Matrix): Matrix {
  if (m.kind === "int8") return m;
  const { n, k, data } = m;
  const q = new Int8Array(n * k);
  const scale = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let amax = 0;
    for (let i = r * k; i < (r + 1) * k; i++) amax = Math.max(amax, Math.abs(data[i]));
    const s = amax / 127;
    scale[r] = s;
    const inv = s > 0 ? 1 / Math.fround(s) : 0;
    for (let i = r * k; i < (r + 1) * k; i++) q[i] = Math.max(-127, Math.min(127, Math.round(data[i] * inv)));
  }
  return { kind: "int8", n, k, data: q, scale };
}

/** Float values of a matrix (a copy for int8; the array itself for float32). */
export function matrixToFloat32(m: Matrix): Float32Array {
  if (m.kind === "f32") return m.data;
  const out = new Float32Array(m.n * m.k);
  for (let r = 0; r < m.n; r++) {
    const s = m.scale[r];
    for (let i = r * m.k; i < (r + 1) * m.k; i++) out[i] = m.data[i] * s;
  }
  return out;
}

/** The same weights with `f` applied to every matrix (embedding and LM head included); norms stay as they are. */
function mapMatrices(w: ModelWeights, f: (m: Matrix) => Matrix): ModelWeights {
  return {
    embedding: f(w.embedding),
    finalNorm: w.finalNorm,
    lmHead: w.lmHead && f(w.lmHead),
    layers: w.layers.map((l) => ({
      attnNorm: l.attnNorm,
      mlpNorm: l.mlpNorm,
      q: f(l.q),
      k: f(l.k),
      v: f(l.v),
      o: f(l.o),
      gate: f(l.gate),
      up: f(l.up),
      down: f(l.down),
    })),
  };
}

/** Every matrix quantized to int8; norms stay float. */
export function quantizeWeights(w: ModelWeights): ModelWeights {
  return mapMatrices(w, quantizeMatrix);
}

/** Every matrix as float32 (int8 ones dequantized: the values the int8 weights stand for). */
export function dequantizeWeights(w: ModelWeights): ModelWeights {
  return mapMatrices(w, (m) => ({ kind: "f32", n: m.n, k: m.k, data: matrixToFloat32(m) }));
}

/** Rows of several matrices stacked (same k and kind): the fused q|k|v and gate|up projections. */
export function stackRows(parts: Matrix[]): Matrix {
  const k = parts[0].k;
  const n = parts.reduce((a, p) => a + p.n, 0);
  if (parts.some((p) => p.k !== k || p.kind !== parts[0].kind)) throw new Error("stackRows: matrices differ in width or kind");
  if (parts[0].kind === "f32") {
    const data = new Float32Array(n * k);
    let at = 0;
    for (const p of parts) {
      data.set(p.data, at);
      at += p.data.length;
    }
    return { kind: "f32", n, k, data };
  }
  const data = new Int8Array(n * k);
  const scale = new Float32Array(n);
  let at = 0;
  let row = 0;
  for (const p of parts as Array<Extract<Matrix, { kind: "int8" }>>) {
    data.set(p.data, at);
    scale.set(p.scale, row);
    at += p.data.length;
    row += p.n;
  }
  return { kind: "int8", n, k, data, scale };
}
