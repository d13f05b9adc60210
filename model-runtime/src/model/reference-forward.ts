/**
 * The model's forward pass in float64, written for clarity, slow on purpose: the definition the engine is tested
 * against (and what an exporter can check a trained checkpoint with). Attention follows kernels/api.ts: query i
 * sees key j iff j ≤ i and block(j) is kept in row block(i) of layout h % numLayouts.
 */
import type { BlockSparseLayout } from "../../../kernels/api";
import { rowColumns } from "../../../kernels/api";
import { type ModelConfig, ropeInverseFrequencies } from "./config";
import { type ModelWeights, matrixToFloat32 } from "./weights";

function rmsnorm(x: Float64Array, w: Float32Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]);
}

/** y = W·x for W [n][k]. */
function matvec(w: Float32Array, n: number, k: number, x: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += w[r * k + i] * x[i];
    y[r] = s;
  }
  return y;
}

function rope(v: Float64Array, pos: number, inv: Float64Array): void {
  const half = inv.length;
  for (let j = 0; j < half; j++) {
    const c = Math.cos(pos * inv[j]);
    const s = Math.sin(pos * inv[j]);
    const a = v[j];
    const b = v[j + half];
    v[j] = a * c - b * s;
    v[j + half] = b * c + a * s;
  }
}

/** Logits [ids.length][vocab] for every position (rows listed in `rows` only, when given). */
export function referenceForward(c: ModelConfig, weights: ModelWeights, ids: ArrayLike<number>, layout: BlockSparseLayout, rows?: number[]): Float64Array[] {
  const T = ids.length;
  const { dModel: d, numHeads: H, numKvHeads: KV, headDim: hd, ffnDim: F } = c;
  const inv = ropeInverseFrequencies(c);
  const emb = matrixToFloat32(weights.embedding);
  const layers = weights.layers.map((l) => ({ ...l, q: matrixToFloat32(l.q), k: matrixToFloat32(l.k), v: matrixToFloat32(l.v), o: matrixToFloat32(l.o), gate: matrixToFloat32(l.gate), up: matrixToFloat32(l.up), down: matrixToFloat32(l.down) }));
  let x: Float64Array[] = Array.from({ length: T }, (_, t) => Float64Array.from(emb.subarray(ids[t] * d, (ids[t] + 1) * d)));
  const B = layout.blockSize;
  const scale = 1 / Math.sqrt(hd);
  for (const L of layers) {
    const qs: Float64Array[][] = [];
    const ks: Float64Array[][] = [];
    const vs: Float64Array[][] = [];
    for (let t = 0; t < T; t++) {
      const h = rmsnorm(x[t], L.attnNorm, c.normEps);
      const q = matvec(L.q, H * hd, d, h);
      const k = matvec(L.k, KV * hd, d, h);
      const v = matvec(L.v, KV * hd, d, h);
      qs.push(Array.from({ length: H }, (_, i) => q.slice(i * hd, (i + 1) * hd)));
      ks.push(Array.from({ length: KV }, (_, i) => k.slice(i * hd, (i + 1) * hd)));
      vs.push(Array.from({ length: KV }, (_, i) => v.slice(i * hd, (i + 1) * hd)));
      for (const a of qs[t]) rope(a, t, inv);
      for (const a of ks[t]) rope(a, t, inv);
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const attn = new Float64Array(H * hd);
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / KV));
        const keys: number[] = [];
        for (const col of rowColumns(layout, h % layout.numLayouts, Math.floor(t / B))) for (let j = col * B; j < (col + 1) * B && j <= t; j++) keys.push(j);
        const s = keys.map((j) => {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qs[t][h][i] * ks[j][kvh][i];
          return dot * scale;
        });
        const m = Math.max(...s);
        const p = s.map((v) => Math.exp(v - m));
        const z = p.reduce((a, b) => a + b, 0);
        keys.forEach((j, n) => {
          for (let i = 0; i < hd; i++) attn[h * hd + i] += (p[n] / z) * vs[j][kvh][i];
        });
      }
      const y = x[t].slice();
      const o = matvec(L.o, d, H * hd, attn);
      for (let i = 0; i < d; i++) y[i] += o[i];
      const h2 = rmsnorm(y, L.mlpNorm, c.normEps);
      const g = matvec(L.gate, F, d, h2);
      const u = matvec(L.up, F, d, h2);
      const act = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
      const down = matvec(L.down, d, F, act);
      for (let i = 0; i < d; i++) y[i] += down[i];
      next.push(y);
    }
    x = next;
  }
  const head = weights.lmHead ? matrixToFloat32(weights.lmHead) : emb;
  return (rows ?? Array.from({ length: T }, (_, t) => t)).map((t) => matvec(head, c.vocabSize, d, rmsnorm(x[t], weights.finalNorm, c.normEps)));
}
