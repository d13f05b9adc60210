/**
 * The contract between the sparse-pattern builder (model-runtime/src/patterns) and every attention backend
 * (kernels/reference, kernels/cpu, kernels/webgpu, kernels/cuda).
 *
 * A block-sparse layout in CSR form, the same form as ONNX Runtime's `com.microsoft.SparseAttention`
 * (`block_row_indices` = rowPtr, `block_col_indices` = colIdx), so ORT can run the very same layout as a peer.
 *
 * Semantics (shared by all backends and the float64 reference):
 * - Tokens are grouped in blocks of `blockSize`. Query token i (absolute position) may attend to key j iff
 *   block(j) is listed in row block(i) of the head's layout AND j <= i (causal everywhere, so the diagonal
 *   block is causal inside and blocks above the diagonal are never listed).
 * - Head h (query head) uses layout `h % numLayouts`. With grouped-query attention (numKvHeads < numHeads),
 *   query head h reads key/value head `Math.floor(h / (numHeads / numKvHeads))`.
 * - Every row lists its diagonal block, so no query row is empty. Columns within a row are sorted ascending
 *   and unique.
 */
export interface BlockSparseLayout {
  /** Tokens per block (16, 64, 128 ...). */
  blockSize: number;
  /** Number of distinct layouts; head h uses layout h % numLayouts. */
  numLayouts: number;
  /** Block rows per layout: ceil(maxSequenceLength / blockSize). */
  numBlockRows: number;
  /** [numLayouts][numBlockRows + 1] row pointers into the layout's slice of colIdx. rowPtr[l][0] = 0. */
  rowPtr: Int32Array;
  /** [numLayouts][maxNnz] column block indices; only the first rowPtr[l][numBlockRows] of each layout are used. */
  colIdx: Int32Array;
  /** Stride of colIdx between layouts (>= the largest nnz of any layout). */
  maxNnz: number;
}

/** Shape of one attention call. Tensors are row-major [heads][tokens][headDim], float32 unless a backend says. */
export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Absolute position of the first query row (0 for a full prefill, pastLength for a chunk or a decode step). */
  queryStart: number;
  /** Number of query rows (1 for decode). */
  queryLength: number;
  /** Number of valid key/value rows: queryStart + queryLength. */
  kvLength: number;
  /**
   * Row stride of the key/value buffers in tokens (the KV cache's capacity). Lets a cache grow in place:
   * K[kvHead][t][d] lives at ((kvHead * kvCapacity) + t) * headDim + d.
   */
  kvCapacity: number;
  /** Softmax scale, usually 1 / sqrt(headDim). */
  scale: number;
}

/** Inputs of one attention call: Q [numHeads][queryLength][headDim], K and V [numKvHeads][kvCapacity][headDim]. */
export interface AttentionInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

/** Outputs: O [numHeads][queryLength][headDim] and, optionally, the natural-log softmax normaliser per row
 * (logsumexp of the scaled scores, [numHeads][queryLength]) used to merge partial results and to measure
 * how much attention a block of keys received (the "what the model read" map). */
export interface AttentionOutputs {
  out: Float32Array;
  lse?: Float32Array;
}

/** A backend that can run block-sparse attention on host arrays. GPU backends also keep device-resident
 * variants; this host form is what the shared test suite drives. */
export interface SparseAttentionBackend {
  readonly name: string;
  attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> | void;
  /**
   * Optional capability of a GPU backend: keys and values kept on the device between calls, so a caller uploads only
   * the rows it wrote (see ResidentKvSupport). Returns undefined when the backend cannot do it (now: a wrapper whose
   * GPU failed returns undefined from then on). A backend without it is driven through `attention()` only.
   */
  resident?(): ResidentKvSupport | undefined;
  dispose?(): void;
}

/**
 * One layer's keys and values on the device: K and V [numKvHeads][capacity][headDim] (row stride = capacity, like
 * the host cache). Its rows hold what was last written to them; rows never written hold anything.
 */
export interface ResidentKvCache {
  readonly numKvHeads: number;
  readonly capacity: number;
  readonly headDim: number;
  /**
   * Copies rows [start, start + count) of every KV head from host arrays laid out [numKvHeads][hostCapacity][headDim]
   * (the host KV cache of one layer, read in place) into the same rows here. Synchronous: when it returns, the host
   * arrays may change.
   */
  write(k: Float32Array, v: Float32Array, hostCapacity: number, start: number, count: number): void;
  /** Frees the device memory now (idempotent). */
  dispose(): void;
}

/** What a backend with device-resident K/V offers (SparseAttentionBackend.resident). */
export interface ResidentKvSupport {
  /** A device cache of `capacity` rows per KV head. Throws when the device cannot hold it. */
  createCache(numKvHeads: number, capacity: number, headDim: number): ResidentKvCache;
  /**
   * attention() with K/V read from `cache` (rows [0, shape.kvLength) must have been written; shape.kvCapacity must
   * equal cache.capacity); q and the outputs are host arrays as in attention().
   */
  attention(shape: AttentionShape, layout: BlockSparseLayout, q: Float32Array, cache: ResidentKvCache, outputs: AttentionOutputs): Promise<void> | void;
}

/** Indices of the blocks kept in row `row` of layout `layoutIndex` (a view, not a copy). */
export function rowColumns(layout: BlockSparseLayout, layoutIndex: number, row: number): Int32Array {
  const base = layoutIndex * (layout.numBlockRows + 1);
  const start = layout.rowPtr[base + row];
  const end = layout.rowPtr[base + row + 1];
  const colBase = layoutIndex * layout.maxNnz;
  return layout.colIdx.subarray(colBase + start, colBase + end);
}

/** Number of kept blocks in layout `layoutIndex`. */
export function layoutNnz(layout: BlockSparseLayout, layoutIndex: number): number {
  return layout.rowPtr[layoutIndex * (layout.numBlockRows + 1) + layout.numBlockRows];
}
