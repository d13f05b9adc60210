/**
 * Float64 reference of block-sparse causal attention, straight from the definition in kernels/api.ts.
 * Slow on purpose: every backend is checked against this on fresh random inputs.
 */
import { type AttentionInputs, type AttentionShape, type BlockSparseLayout, rowColumns } from "../api";

export interface ReferenceResult {
  /** [numHeads][queryLength][headDim] */
  out: Float64Array;
  /** [numHeads][queryLength] natural-log softmax normaliser of the scaled scores */
  lse: Float64Array;
}

/** Keys that query position `pos` may see under head `head`'s layout, ascending. */
export function allowedKeys(layout: BlockSparseLayout, head: number, pos: number): number[] {
  const B = layout.blockSize;
  const cols = rowColumns(layout, head % layout.numLayouts, Math.floor(pos / B));
  const keys: number[] = [];
  for (const c of cols) {
    const end = Math.min((c + 1) * B - 1, pos);
    for (let j = c * B; j <= end; j++) keys.push(j);
  }
  return keys;
}

/** Optional `rows` restricts the computation to some query rows (relative to queryStart), for big shapes. */
export function referenceAttention(
  shape: AttentionShape,
  layout: BlockSparseLayout,
  inputs: AttentionInputs,
  rows?: number[],
): ReferenceResult {
  const { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvCapacity, scale } = shape;
  const group = numHeads / numKvHeads;
  if (!Number.isInteger(group)) throw new Error(`numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  const out = new Float64Array(numHeads * queryLength * D).fill(Number.NaN);
  const lse = new Float64Array(numHeads * queryLength).fill(Number.NaN);
  const rowList = rows ?? Array.from({ length: queryLength }, (_, i) => i);
  const scores: number[] = [];
  for (let h = 0; h < numHeads; h++) {
    const kvh = Math.floor(h / group);
    for (const r of rowList) {
      const pos = queryStart + r;
      const keys = allowedKeys(layout, h, pos);
      const qOff = (h * queryLength + r) * D;
      scores.length = 0;
      let max = -Infinity;
      for (const j of keys) {
        const kOff = (kvh * kvCapacity + j) * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += inputs.q[qOff + d] * inputs.k[kOff + d];
        s *= scale;
        scores.push(s);
        if (s > max) max = s;
      }
      let sum = 0;
      for (let i = 0; i < scores.length; i++) {
        scores[i] = Math.exp(scores[i] - max);
        sum += scores[i];
      }
      const o = out.subarray(qOff, qOff + D).fill(0);
      for (let i = 0; i < keys.length; i++) {
        const vOff = (kvh * kvCapacity + keys[i]) * D;
        const p = scores[i] / sum;
        for (let d = 0; d < D; d++) o[d] += p * inputs.v[vOff + d];
      }
      lse[h * queryLength + r] = max + Math.log(sum);
    }
  }
  return { out, lse };
}
