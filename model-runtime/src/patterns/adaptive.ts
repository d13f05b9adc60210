/**
 * Query-adaptive block selection (Quest / NSA style), for decode and answer time: each key block is
 * summarised once (mean, or per-channel min and max of its keys), a query scores every block cheaply from the
 * summaries, and each query block row keeps its top-k blocks on top of a base pattern.
 *
 * Quest's min/max score, sum_d max(q_d * min_d, q_d * max_d), is an upper bound of q·k over the block's keys,
 * so a block holding the best-matching key is never ranked below its true score.
 */
import { type AttentionShape, type BlockSparseLayout, rowColumns } from "../../../kernels/api";

export type SummaryKind = "mean" | "minmax";

export interface KeyBlockSummaries {
  kind: SummaryKind;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  /** Block slots allocated per kv head (ceil(kvCapacity / blockSize)). */
  capacityBlocks: number;
  /** Tokens summarised: blocks [0, ceil(kvLength / blockSize)) are valid. */
  kvLength: number;
  /** mean: [kvHead][block][headDim]; minmax: [kvHead][block][2][headDim] (min row, then max row). */
  data: Float32Array;
}

export interface SummarizeOptions {
  kind: SummaryKind;
  numKvHeads: number;
  headDim: number;
  /** Row stride of `k` in tokens, as AttentionShape.kvCapacity. */
  kvCapacity: number;
  kvLength: number;
  blockSize: number;
}

/**
 * Summaries of K [numKvHeads][kvCapacity][headDim] (the layout of kernels/api.ts). With `previous` (same
 * options, shorter kvLength) only the blocks from its last, partly filled block on are recomputed: the
 * decode-time append.
 */
export function summarizeKeyBlocks(k: Float32Array, opts: SummarizeOptions, previous?: KeyBlockSummaries): KeyBlockSummaries {
  const { kind, numKvHeads, headDim: D, kvCapacity, kvLength, blockSize: B } = opts;
  if (kvLength > kvCapacity) throw new Error(`summarizeKeyBlocks: kvLength ${kvLength} > kvCapacity ${kvCapacity}`);
  if (k.length < numKvHeads * kvCapacity * D) throw new Error(`summarizeKeyBlocks: k has ${k.length} values, expected ${numKvHeads * kvCapacity * D}`);
  const capacityBlocks = Math.ceil(kvCapacity / B);
  const width = kind === "mean" ? D : 2 * D;
  let s: KeyBlockSummaries;
  let fromBlock = 0;
  if (previous && previous.kind === kind && previous.capacityBlocks === capacityBlocks && previous.headDim === D && previous.numKvHeads === numKvHeads && previous.blockSize === B && previous.kvLength <= kvLength) {
    s = previous;
    fromBlock = Math.floor(previous.kvLength / B);
  } else {
    s = { kind, numKvHeads, headDim: D, blockSize: B, capacityBlocks, kvLength, data: new Float32Array(numKvHeads * capacityBlocks * width) };
  }
  s.kvLength = kvLength;
  const blocks = Math.ceil(kvLength / B);
  for (let h = 0; h < numKvHeads; h++) {
    for (let b = fromBlock; b < blocks; b++) {
      const o = (h * capacityBlocks + b) * width;
      const t0 = b * B;
      const t1 = Math.min(t0 + B, kvLength);
      if (kind === "mean") {
        for (let d = 0; d < D; d++) {
          let sum = 0;
          for (let t = t0; t < t1; t++) sum += k[(h * kvCapacity + t) * D + d];
          s.data[o + d] = sum / (t1 - t0);
        }
      } else {
        for (let d = 0; d < D; d++) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let t = t0; t < t1; t++) {
            const v = k[(h * kvCapacity + t) * D + d];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          s.data[o + d] = lo;
          s.data[o + D + d] = hi;
        }
      }
    }
  }
  return s;
}

/** Score of block `block` of kv head `kvHead` for the query q[qOff, qOff + headDim). */
export function blockScore(s: KeyBlockSummaries, kvHead: number, block: number, q: Float32Array, qOff: number): number {
  const D = s.headDim;
  if (s.kind === "mean") {
    const o = (kvHead * s.capacityBlocks + block) * D;
    let acc = 0;
    for (let d = 0; d < D; d++) acc += q[qOff + d] * s.data[o + d];
    return acc;
  }
  const o = (kvHead * s.capacityBlocks + block) * 2 * D;
  let acc = 0;
  for (let d = 0; d < D; d++) {
    const x = q[qOff + d];
    const a = x * s.data[o + d];
    const b = x * s.data[o + D + d];
    acc += a > b ? a : b;
  }
  return acc;
}

/**
 * Indices of the `k` best entries of scores[0, count) whose `excluded` flag is 0, best first (higher score;
 * ties to the higher index, i.e. the nearer block). NaN scores rank last. Returns how many were written.
 */
export function selectTopBlocks(scores: Float64Array, count: number, k: number, excluded: Uint8Array | undefined, out: Int32Array): number {
  // Min-heap of the best k so far, keyed by (score, index): the root is the weakest kept entry.
  const heap = out;
  let size = 0;
  const key = (i: number): number => {
    const v = scores[i];
    return v === v ? v : -Infinity;
  };
  const worse = (i: number, j: number): boolean => {
    const a = key(i);
    const b = key(j);
    return a < b || (a === b && i < j);
  };
  for (let c = 0; c < count; c++) {
    if (excluded && excluded[c]) continue;
    if (size < k) {
      let i = size++;
      heap[i] = c;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i], heap[p])) break;
        const t = heap[i];
        heap[i] = heap[p];
        heap[p] = t;
        i = p;
      }
    } else if (k > 0 && worse(heap[0], c)) {
      heap[0] = c;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < size && worse(heap[l], heap[m])) m = l;
        if (r < size && worse(heap[r], heap[m])) m = r;
        if (m === i) break;
        const t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
      }
    }
  }
  const picked = Array.from(heap.subarray(0, size)).sort((i, j) => (worse(i, j) ? 1 : worse(j, i) ? -1 : 0));
  out.set(picked);
  return size;
}

export interface AdaptiveOptions {
  /** numHeads, numKvHeads, headDim, queryStart, queryLength, kvLength are read. */
  shape: Pick<AttentionShape, "numHeads" | "numKvHeads" | "headDim" | "queryStart" | "queryLength" | "kvLength">;
  /** Q [numHeads][queryLength][headDim], as the attention inputs. */
  queries: Float32Array;
  summaries: KeyBlockSummaries;
  /** Blocks each query block row selects on top of the base pattern and the diagonal. */
  topK: number;
  /** Mandatory blocks (e.g. SparsePatterns.layout: local + sinks + anchors); head h uses base layout h % numLayouts. */
  base?: BlockSparseLayout;
  /** Rows of the emitted layout; default ceil(kvLength / blockSize). */
  numBlockRows?: number;
  /**
   * Choose once per key/value head group (NSA style): blocks are scored by the max over the group's query
   * heads and every head of the group gets the same row, so a kernel loads each selected block once per group.
   */
  shareAcrossGroup?: boolean;
}

export interface AdaptiveResult {
  /** One layout per query head. Query block rows carry base ∪ diagonal ∪ top-k; every other row only its diagonal. */
  layout: BlockSparseLayout;
  /** First and one-past-last query block rows. */
  firstRow: number;
  endRow: number;
}

/**
 * Per head (or per group) and query block row: score every earlier key block (the max over the row's query
 * tokens, so a block any of them wants is kept), drop base columns and the diagonal, keep the top-k, emit CSR.
 */
export function adaptiveLayout(opts: AdaptiveOptions): AdaptiveResult {
  const { shape, queries, summaries: s, topK, base } = opts;
  const { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvLength } = shape;
  const B = s.blockSize;
  if (D !== s.headDim || numKvHeads !== s.numKvHeads) throw new Error("adaptiveLayout: summaries do not match the shape");
  if (s.kvLength < kvLength) throw new Error(`adaptiveLayout: summaries cover ${s.kvLength} tokens, the shape needs ${kvLength}`);
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`adaptiveLayout: topK must be a non-negative integer, got ${topK}`);
  if (queryLength < 1) throw new Error("adaptiveLayout: no query rows");
  const group = numHeads / numKvHeads;
  const numBlockRows = opts.numBlockRows ?? Math.ceil(kvLength / B);
  if (base && (base.blockSize !== B || base.numBlockRows < numBlockRows)) throw new Error("adaptiveLayout: base layout's block size or row count does not match");
  const firstRow = Math.floor(queryStart / B);
  const endRow = Math.floor((queryStart + queryLength - 1) / B) + 1;
  if (endRow > numBlockRows) throw new Error(`adaptiveLayout: query rows reach block ${endRow - 1}, beyond numBlockRows ${numBlockRows}`);

  const scores = new Float64Array(numBlockRows);
  const excluded = new Uint8Array(numBlockRows);
  const top = new Int32Array(Math.max(1, topK));
  const rowsOut: Int32Array[] = [];
  for (let h = 0; h < numHeads; h++) {
    const kvh = Math.floor(h / group);
    // Heads that decide together: the whole group, or just this head.
    const h0 = opts.shareAcrossGroup ? kvh * group : h;
    const h1 = opts.shareAcrossGroup ? h0 + group : h + 1;
    for (let R = firstRow; R < endRow; R++) {
      if (opts.shareAcrossGroup && h > h0) {
        const same = rowsOut[rowsOut.length - (endRow - firstRow) * (h - h0)];
        rowsOut.push(same);
        continue;
      }
      const baseCols: number[] = [];
      if (base) for (let g = h0; g < h1; g++) for (const c of rowColumns(base, g % base.numLayouts, R)) baseCols.push(c);
      const t0 = Math.max(queryStart, R * B);
      const t1 = Math.min(queryStart + queryLength, (R + 1) * B);
      scores.fill(-Infinity, 0, R);
      for (let g = h0; g < h1; g++) {
        for (let t = t0; t < t1; t++) {
          const qOff = (g * queryLength + (t - queryStart)) * D;
          for (let c = 0; c < R; c++) {
            const v = blockScore(s, kvh, c, queries, qOff);
            if (v > scores[c]) scores[c] = v;
          }
        }
      }
      for (const c of baseCols) excluded[c] = 1;
      const k = selectTopBlocks(scores, R, topK, excluded, top);
      for (const c of baseCols) excluded[c] = 0;
      const merged = new Set<number>(baseCols);
      merged.add(R);
      for (let i = 0; i < k; i++) merged.add(top[i]);
      const cols = Int32Array.from(merged).sort();
      rowsOut.push(cols);
    }
  }

  const perHead = Array.from({ length: numHeads }, (_, h) => rowsOut.slice(h * (endRow - firstRow), (h + 1) * (endRow - firstRow)));
  return { layout: layoutWithRows(B, numBlockRows, firstRow, perHead), firstRow, endRow };
}

/**
 * CSR with one layout per entry of `rows`: `rows[l][i]` is the columns of row `firstRow + i` (sorted, unique, causal);
 * every other row keeps only its diagonal (the calls that use such a layout read only the given rows).
 */
export function layoutWithRows(blockSize: number, numBlockRows: number, firstRow: number, rows: readonly (readonly Int32Array[])[]): BlockSparseLayout {
  const numLayouts = rows.length;
  const maxNnz = Math.max(1, ...rows.map((rs) => numBlockRows - rs.length + rs.reduce((a, c) => a + c.length, 0)));
  const rowPtr = new Int32Array(numLayouts * (numBlockRows + 1));
  const colIdx = new Int32Array(numLayouts * maxNnz);
  for (let l = 0; l < numLayouts; l++) {
    const rp = l * (numBlockRows + 1);
    const cb = l * maxNnz;
    let p = 0;
    for (let r = 0; r < numBlockRows; r++) {
      rowPtr[rp + r] = p;
      const cols = r >= firstRow ? rows[l][r - firstRow] : undefined;
      if (cols) {
        colIdx.set(cols, cb + p);
        p += cols.length;
      } else {
        colIdx[cb + p++] = r;
      }
    }
    rowPtr[rp + numBlockRows] = p;
  }
  return { blockSize, numLayouts, numBlockRows, rowPtr, colIdx, maxNnz };
}
