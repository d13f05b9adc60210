/**
 * The sparse pattern library: patterns as data, composed per head, emitted as CSR block layouts
 * (kernels/api.ts). See docs/patterns.md.
 */
export type { BlockEdit, BlockFacts, HeadPatternSpec, LayoutStats, PatternKind, PatternPrimitive, PatternStats, PrimitiveStats, RowCountStats } from "./types";
export { SparsePatterns, buildPatterns, updatePatterns, type UpdateReport } from "./sparse-patterns";
export { patternStats } from "./stats";
export { primitiveCandidates, referenceRowColumns, referenceTokenMask } from "./reference";
export { layoutBlockMask, layoutTokenMask } from "./mask";
export { renderMaskPng, type RenderOptions } from "./render";
export {
  adaptiveLayout,
  blockScore,
  selectTopBlocks,
  summarizeKeyBlocks,
  type AdaptiveOptions,
  type AdaptiveResult,
  type KeyBlockSummaries,
  type SummarizeOptions,
  type SummaryKind,
} from "./adaptive";
export { longviewHeadSpecs, phi3SmallHeadSpecs, type LongviewHeadOptions } from "./presets";
