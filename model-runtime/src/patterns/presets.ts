/**
 * Ready-made head spec lists. Heads alternate so that the list is periodic and equal specs share a layout
 * (the CSR form maps head h to layout h % numLayouts).
 */
import type { HeadPatternSpec, PatternPrimitive } from "./types";

export interface LongviewHeadOptions {
  numHeads: number;
  /** Local window in blocks (diagonal included). Default 16 (1,024 tokens at block 64). */
  localBlocks?: number;
  /** Vertical stride of the far heads. Default 8. */
  stride?: number;
  /** Kept blocks per row. Default 128. */
  budget?: number;
  /** Budget of anchor rows (anchors see more). Default 2 × budget. */
  anchorRowBudget?: number;
  /** Header blocks of the row's own file kept by near heads. Default 2. */
  segmentHeadBlocks?: number;
  /**
   * Split the anchors into this many groups, by tier: group g is the anchors of tier `firstAnchorTier + g`, and
   * head h reads group h % anchorGroups only. Each head then holds a fraction of the anchors while the heads
   * together reach every anchor in one hop. The layout must assign the tiers (RepoLayout does). Default 1:
   * every head reads every tier (highest first, as the budget allows).
   */
  anchorGroups?: number;
  firstAnchorTier?: number;
}

/**
 * Even heads are "near": sinks, local window, the file's header, then as many anchors as the budget allows
 * (highest tier, then nearest). Odd heads are "far": sinks, dilated links, up to half the budget in
 * anchors, then strided columns whose offset differs per far head, so far heads together cover every column.
 */
export function longviewHeadSpecs(opts: LongviewHeadOptions): HeadPatternSpec[] {
  const local = opts.localBlocks ?? 16;
  const stride = opts.stride ?? 8;
  const budget = opts.budget ?? 128;
  const anchorRowBudget = opts.anchorRowBudget ?? 2 * budget;
  const head = opts.segmentHeadBlocks ?? 2;
  const groups = opts.anchorGroups ?? 1;
  const anchorsOf = (h: number, maxCount?: number): PatternPrimitive => {
    if (groups <= 1) return { kind: "anchors", maxCount };
    const tier = (opts.firstAnchorTier ?? 0) + (h % groups);
    return { kind: "anchors", minTier: tier, maxTier: tier, maxCount };
  };
  return Array.from({ length: opts.numHeads }, (_, h): HeadPatternSpec => {
    if (h % 2 === 0) {
      return {
        primitives: [{ kind: "sinks" }, { kind: "local", window: local }, { kind: "segmentHead", count: head }, anchorsOf(h)],
        budget,
        anchorRowBudget,
      };
    }
    const farIndex = (h - 1) / 2;
    return {
      primitives: [
        { kind: "sinks" },
        { kind: "dilated" },
        // With anchor groups a head holds only its group, so it can afford more of the budget for it.
        anchorsOf(h, Math.max(1, Math.floor((groups > 1 ? 3 * budget : 2 * budget) / 4))),
        { kind: "strided", stride, offset: farIndex % stride },
      ],
      budget,
      anchorRowBudget,
    };
  });
}

/**
 * Phi-3-small's "local + vertical stride" heads (block 64: 16 local blocks, stride 8), with per-head
 * offsets h * max(1, floor(stride / numHeads)) as in its block-sparse kernels. No budget unless given:
 * strided columns grow with length.
 */
export function phi3SmallHeadSpecs(numHeads: number, opts: { localBlocks?: number; stride?: number; budget?: number } = {}): HeadPatternSpec[] {
  const local = opts.localBlocks ?? 16;
  const stride = opts.stride ?? 8;
  const step = Math.max(1, Math.floor(stride / numHeads));
  return Array.from({ length: numHeads }, (_, h) => ({
    primitives: [{ kind: "local", window: local }, { kind: "strided", stride, offset: (h * step) % stride }],
    budget: opts.budget,
  }));
}
