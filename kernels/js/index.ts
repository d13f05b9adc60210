/**
 * The always-available backend: block-sparse attention in plain TypeScript, float32 storage with float64
 * accumulation, flash-style online softmax over the kept blocks only. Single-threaded and far slower than the
 * native addon; it exists so that Longview still runs where no addon can load (an unsupported platform, a
 * restricted-mode workspace where native code is not loaded).
 */
import { type AttentionInputs, type AttentionOutputs, type AttentionShape, type BlockSparseLayout, type SparseAttentionBackend, rowColumns } from "../api";

export class JsAttentionBackend implements SparseAttentionBackend {
  readonly name = "js";

  attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): void {
    const { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvCapacity, scale } = shape;
    const group = numHeads / numKvHeads;
    if (!Number.isInteger(group)) throw new RangeError(`numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
    if (shape.kvLength !== queryStart + queryLength) throw new RangeError(`kvLength must equal queryStart + queryLength`);
    const B = layout.blockSize;
    const { q, k, v } = inputs;
    const { out, lse } = outputs;
    const acc = new Float64Array(D);
    for (let h = 0; h < numHeads; h++) {
      const kvBase = Math.floor(h / group) * kvCapacity;
      const l = h % layout.numLayouts;
      for (let r = 0; r < queryLength; r++) {
        const pos = queryStart + r;
        const qOff = (h * queryLength + r) * D;
        acc.fill(0);
        let max = -Infinity;
        let sum = 0;
        for (const c of rowColumns(layout, l, Math.floor(pos / B))) {
          const end = Math.min((c + 1) * B - 1, pos);
          for (let j = c * B; j <= end; j++) {
            const kOff = (kvBase + j) * D;
            let s = 0;
            for (let d = 0; d < D; d++) s += q[qOff + d] * k[kOff + d];
            s *= scale;
            if (s > max) {
              const correction = Math.exp(max - s);
              sum *= correction;
              for (let d = 0; d < D; d++) acc[d] *= correction;
              max = s;
            }
            const p = Math.exp(s - max);
            sum += p;
            for (let d = 0; d < D; d++) acc[d] += p * v[kOff + d];
          }
        }
        for (let d = 0; d < D; d++) out[qOff + d] = acc[d] / sum;
        if (lse) lse[h * queryLength + r] = max + Math.log(sum);
      }
    }
  }
}
