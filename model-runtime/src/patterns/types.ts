/**
 * Types of the sparse pattern library: block-level facts about the sequence (from the layout), pattern
 * primitives, per-head specs and the statistics a build reports. Nothing here knows about tokens' text.
 */

/** What the layout knows about the sequence, at block granularity. */
export interface BlockFacts {
  /** Sequence length in blocks (ceil(tokens / blockSize)). */
  numBlocks: number;
  /** Tokens per block. */
  blockSize: number;
  /** Sorted, unique block ids holding global anchors (repository map, definitions, imports). */
  anchorBlocks: Int32Array;
  /**
   * Parallel to anchorBlocks: the anchor's tier, higher = kept first when a row's budget is short (e.g.
   * 3 repository map, 2 definitions, 1 imports). Default: all 0. Keep the number of distinct tiers small
   * (a handful): rows walk the tiers one by one.
   */
  anchorTier?: Uint8Array;
  /** Per block: the first block of its file/segment (segmentStart[b] <= b, non-decreasing). */
  segmentStart?: Int32Array;
  /** The first k blocks, which `sinks` primitives keep for every row (attention sinks). Default 0. */
  sinkBlocks?: number;
}

/**
 * One pattern primitive. Each yields, for a block row r, candidate column blocks c <= r in its own order
 * of preference; that order decides what survives a short budget.
 */
export type PatternPrimitive =
  /**
   * The `window` most recent blocks, diagonal included; `withinSegment` stops the window at the row's file
   * start. Nearest first.
   */
  | { kind: "local"; window: number; withinSegment?: boolean }
  /**
   * Phi-3-small "vertical stride": column c is kept when (c + 1 + offset) % stride === 0; give heads
   * different offsets so that together they cover every column. Nearest first; `maxCount` keeps only the
   * nearest that many.
   */
  | { kind: "strided"; stride: number; offset?: number; maxCount?: number }
  /**
   * Exponentially growing gaps: r - first, r - first*base, r - first*base², ... (`maxHops` caps the
   * count). Nearest first.
   */
  | { kind: "dilated"; base?: number; first?: number; maxHops?: number }
  /**
   * Global anchors: every anchor block at or before the row whose tier is in [minTier, maxTier]. Preference: higher tier
   * first, then nearest first. `maxCount` keeps only that many of its candidates per row.
   */
  | { kind: "anchors"; minTier?: number; maxTier?: number; maxCount?: number }
  /** The first `count` blocks of the sequence (default facts.sinkBlocks). First blocks first. */
  | { kind: "sinks"; count?: number }
  /** The first `count` blocks of the row's own segment (its file's header). First blocks first. */
  | { kind: "segmentHead"; count: number };

export type PatternKind = PatternPrimitive["kind"];

/** The pattern of one attention head. */
export interface HeadPatternSpec {
  /** In priority order: when the budget is short, earlier primitives fill it first. */
  primitives: PatternPrimitive[];
  /** Most kept blocks per row, diagonal included. Default: unbounded (only for small sequences). */
  budget?: number;
  /** Budget of rows that are anchor blocks themselves (anchors may see more). Default: `budget`. */
  anchorRowBudget?: number;
}

/** A contiguous edit of the block sequence: old blocks [start, oldEnd) were replaced by new blocks [start, newEnd). */
export interface BlockEdit {
  start: number;
  oldEnd: number;
  newEnd: number;
}

export interface RowCountStats {
  min: number;
  mean: number;
  max: number;
}

export interface PrimitiveStats {
  /** "diagonal" for the always-kept diagonal block. */
  kind: PatternKind | "diagonal";
  /** Blocks this primitive added first (a column several primitives want is counted for the earliest). */
  keptBlocks: number;
  /** keptBlocks / causal block triangle. */
  density: number;
}

export interface LayoutStats {
  layoutIndex: number;
  keptBlocks: number;
  /** keptBlocks / (numBlockRows * (numBlockRows + 1) / 2), i.e. 1 = dense causal. */
  density: number;
  rowBlocks: RowCountStats;
  /** The diagonal first, then one entry per primitive of the spec. */
  perPrimitive: PrimitiveStats[];
  /** Rows whose kept count reached their budget (they may have dropped candidates). */
  rowsAtBudget: number;
  anchorCoverage: {
    /** Rows that cannot see every anchor block at or before them. */
    rowsMissingAnchors: number;
    /** Sum over rows of anchor blocks at or before the row that the row does not keep. */
    droppedAnchorRefs: number;
    /** Smallest per-row fraction of earlier anchors kept (1 when none are dropped). */
    minFraction: number;
  };
}

export interface PatternStats {
  numBlockRows: number;
  blockSize: number;
  numLayouts: number;
  layouts: LayoutStats[];
  overall: {
    keptBlocks: number;
    density: number;
    rowBlocks: RowCountStats;
    /**
     * Anchor reach over ALL heads together (one hop through any head): rows that cannot see some earlier
     * anchor block in any layout. With anchor groups split across heads this is the number that matters.
     */
    rowsMissingAnchorsInAnyHead: number;
  };
}
