/**
 * Query-adaptive block selection for a question (Quest style): the question's rows keep their fixed pattern
 * (local window, file header, dilated links, the map's anchors) PLUS, per layer and head, the `topK` repository
 * blocks whose keys its queries match best. The answer's rows keep the same extra blocks, so what the question
 * found is what the answer reads.
 *
 * Why: a row's fixed budget (config.pattern.budget blocks per head) covers most of a 16k-token repository but a
 * few percent of a 256k one, so a description question ("the function that parses the header") often never sees
 * the definition it describes. Scoring every block costs one pass over small per-block summaries, not over the keys.
 *
 * Scores are Quest's upper bound of q·k over a block, Σ_d max(q_d·min_d, q_d·max_d) from the block's per-channel
 * key minimum and maximum (patterns/adaptive.ts), taken as the max over the question's tokens. Keys and queries are
 * the rotated (RoPE) ones the attention reads. Summaries cover the repository region only and are computed once per
 * layer for a version of the cache (RepoSession drops them when the repository's keys change).
 */
import { type BlockSparseLayout, rowColumns } from "../../../kernels/api";
import { type KeyBlockSummaries, layoutWithRows, selectTopBlocks, summarizeKeyBlocks } from "../patterns/adaptive";
import type { KvCache } from "./kv-cache";

export interface QuestionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Rows in q: [numHeads][queryLength][headDim]. */
  queryLength: number;
}

/** Per-layer minmax key summaries of the repository region [0, repoTokens), computed on first use. */
export class RepoKeySummaries {
  private readonly layers: Array<KeyBlockSummaries | undefined>;

  constructor(
    private readonly cache: KvCache,
    readonly repoTokens: number,
    private readonly blockSize: number,
  ) {
    this.layers = new Array(cache.k.length).fill(undefined);
  }

  get numBlocks(): number {
    return Math.ceil(this.repoTokens / this.blockSize);
  }

  layer(l: number): KeyBlockSummaries {
    let s = this.layers[l];
    if (!s) {
      const c = this.cache;
      s = summarizeKeyBlocks(c.k[l], { kind: "minmax", numKvHeads: c.numKvHeads, headDim: c.headDim, kvCapacity: c.capacity, kvLength: this.repoTokens, blockSize: this.blockSize });
      this.layers[l] = s;
    }
    return s;
  }
}

/**
 * Per head, the Quest score of each repository block for the question: max over the question's rows of the bound.
 * Written as q⁺·max + q⁻·min (the same value as Σ max(q·min, q·max), without a branch per channel).
 */
export function questionBlockScores(s: KeyBlockSummaries, q: Float32Array, shape: QuestionShape, head: number, out: Float64Array): void {
  const { numHeads, numKvHeads, headDim: D, queryLength: M } = shape;
  const kvh = Math.floor(head / (numHeads / numKvHeads));
  const blocks = Math.ceil(s.kvLength / s.blockSize);
  out.fill(-Infinity, 0, blocks);
  const pos = new Float32Array(D);
  const neg = new Float32Array(D);
  for (let t = 0; t < M; t++) {
    const qo = (head * M + t) * D;
    for (let d = 0; d < D; d++) {
      const x = q[qo + d];
      pos[d] = x > 0 ? x : 0;
      neg[d] = x < 0 ? x : 0;
    }
    for (let b = 0; b < blocks; b++) {
      const o = (kvh * s.capacityBlocks + b) * 2 * D;
      let acc = 0;
      for (let d = 0; d < D; d++) acc += pos[d] * s.data[o + D + d] + neg[d] * s.data[o + d];
      if (acc > out[b]) out[b] = acc;
    }
  }
}

/**
 * A copy of `base` in which every row from `firstRow` on also lists `extra[h]` (blocks before firstRow), per head;
 * rows before firstRow keep only their diagonal (the calls that use it read question and answer rows only).
 * One layout per query head.
 */
export function withExtraColumns(base: BlockSparseLayout, numHeads: number, firstRow: number, extra: readonly Int32Array[]): BlockSparseLayout {
  const rows = Array.from({ length: numHeads }, (_, h) =>
    Array.from({ length: base.numBlockRows - firstRow }, (_, i) => {
      const merged = new Set<number>(rowColumns(base, h % base.numLayouts, firstRow + i));
      for (const c of extra[h]) if (c < firstRow) merged.add(c);
      return Int32Array.from(merged).sort();
    }),
  );
  return layoutWithRows(base.blockSize, base.numBlockRows, firstRow, rows);
}

/**
 * One question's selection: `layerLayout(l, q)` is given to the engine for the question's prefill (it selects from
 * the question's queries at layer l, once) and for every answer row after it (it returns the stored layout).
 */
export class QuestionSelection {
  private readonly layouts: Array<BlockSparseLayout | undefined>;
  /** Per layer and head, the blocks chosen (best first); for the read map and tests. */
  readonly chosen: Int32Array[][];

  constructor(
    private readonly summaries: RepoKeySummaries,
    private readonly base: BlockSparseLayout,
    private readonly shape: Omit<QuestionShape, "queryLength">,
    numLayers: number,
    readonly topK: number,
  ) {
    this.layouts = new Array(numLayers).fill(undefined);
    this.chosen = Array.from({ length: numLayers }, () => []);
  }

  /** The layout of layer `l`: chosen from `q` (the question's rows, [numHeads][queryLength][headDim]) on first call. */
  layerLayout(l: number, q: Float32Array, queryLength: number): BlockSparseLayout {
    const done = this.layouts[l];
    if (done) return done;
    const s = this.summaries.layer(l);
    const repoBlocks = this.summaries.numBlocks;
    const firstRow = repoBlocks;
    const scores = new Float64Array(repoBlocks);
    const excluded = new Uint8Array(repoBlocks);
    const top = new Int32Array(Math.max(1, this.topK));
    const extra: Int32Array[] = [];
    for (let h = 0; h < this.shape.numHeads; h++) {
      questionBlockScores(s, q, { ...this.shape, queryLength }, h, scores);
      // The first question row's own pattern already reads these; choose among the rest.
      const own = rowColumns(this.base, h % this.base.numLayouts, firstRow);
      for (const c of own) if (c < repoBlocks) excluded[c] = 1;
      const n = selectTopBlocks(scores, repoBlocks, this.topK, excluded, top);
      for (const c of own) if (c < repoBlocks) excluded[c] = 0;
      extra.push(top.slice(0, n));
    }
    this.chosen[l] = extra;
    const layout = withExtraColumns(this.base, this.shape.numHeads, firstRow, extra);
    this.layouts[l] = layout;
    return layout;
  }
}
