/**
 * Dense views of a CSR layout, for tests and pictures on small sizes: the block mask (rows × rows) and the
 * token mask with the causal rule of kernels/api.ts applied inside blocks.
 */
import { type BlockSparseLayout, rowColumns } from "../../../kernels/api";

/** mask[r * R + c] = 1 iff block c is kept in row r of layout `layoutIndex` (R = numBlockRows). */
export function layoutBlockMask(layout: BlockSparseLayout, layoutIndex: number): Uint8Array {
  const R = layout.numBlockRows;
  const mask = new Uint8Array(R * R);
  for (let r = 0; r < R; r++) for (const c of rowColumns(layout, layoutIndex, r)) mask[r * R + c] = 1;
  return mask;
}

/**
 * mask[i * T + j] = 1 iff query token i may attend to key token j under layout `layoutIndex`
 * (T = numTokens, default numBlockRows * blockSize). T² bytes: small sizes only.
 */
export function layoutTokenMask(layout: BlockSparseLayout, layoutIndex: number, numTokens = layout.numBlockRows * layout.blockSize): Uint8Array {
  const B = layout.blockSize;
  const T = numTokens;
  const mask = new Uint8Array(T * T);
  for (let i = 0; i < T; i++) {
    for (const c of rowColumns(layout, layoutIndex, Math.floor(i / B))) {
      const end = Math.min((c + 1) * B - 1, i);
      for (let j = c * B; j <= end; j++) mask[i * T + j] = 1;
    }
  }
  return mask;
}
