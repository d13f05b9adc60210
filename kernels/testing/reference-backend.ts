/** The float64 reference wrapped as a backend (results rounded to float32). Slow: for checking the suite
 * itself and for tiny shapes, never for real work. */
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout, SparseAttentionBackend } from "../api";
import { referenceAttention } from "../reference/attention";

export const referenceBackend: SparseAttentionBackend = {
  name: "reference-f64",
  attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): void {
    const ref = referenceAttention(shape, layout, inputs);
    outputs.out.set(ref.out);
    outputs.lse?.set(ref.lse);
  },
};
