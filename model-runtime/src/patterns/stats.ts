/**
 * Statistics of a built pattern set: kept blocks and density per layout and per primitive, kept blocks per
 * row, rows at their budget, and how many earlier anchors each row can see.
 */
import { rowColumns } from "../../../kernels/api";
import { countAtMost } from "./facts";
import type { SparsePatterns } from "./sparse-patterns";
import type { LayoutStats, PatternStats, PrimitiveStats, RowCountStats } from "./types";

export function patternStats(patterns: SparsePatterns): PatternStats {
  const pf = patterns.prepared;
  const R = pf.numBlocks;
  const triangle = (R * (R + 1)) / 2;
  const anchors = pf.facts.anchorBlocks;
  const layout = patterns.layout;
  const perDistinct = patterns.specStates.map((rows) => {
    const np = rows.spec.primitives.length;
    const attrSums = new Float64Array(np + 1);
    let kept = 0;
    let min = Infinity;
    let max = 0;
    let atBudget = 0;
    let rowsMissing = 0;
    let dropped = 0;
    let minFraction = 1;
    for (let r = 0; r < R; r++) {
      const cols = rowColumns(layout, rows.home, r);
      const n = cols.length;
      kept += n;
      if (n < min) min = n;
      if (n > max) max = n;
      const budget = pf.isAnchor[r] ? rows.spec.anchorRowBudget : rows.spec.budget;
      if (n >= budget) atBudget++;
      for (let p = 0; p <= np; p++) attrSums[p] += rows.attr[r * (np + 1) + p];
      const eligible = countAtMost(anchors, r);
      if (eligible === 0) continue;
      let seen = 0;
      for (let i = 0; i < n; i++) seen += pf.isAnchor[cols[i]];
      if (seen < eligible) {
        rowsMissing++;
        dropped += eligible - seen;
        minFraction = Math.min(minFraction, seen / eligible);
      }
    }
    const perPrimitive: PrimitiveStats[] = [
      { kind: "diagonal", keptBlocks: attrSums[0], density: attrSums[0] / triangle },
      ...rows.spec.primitives.map((p, i) => ({ kind: p.kind, keptBlocks: attrSums[i + 1], density: attrSums[i + 1] / triangle })),
    ];
    return {
      keptBlocks: kept,
      density: kept / triangle,
      rowBlocks: { min, mean: kept / R, max },
      perPrimitive,
      rowsAtBudget: atBudget,
      anchorCoverage: { rowsMissingAnchors: rowsMissing, droppedAnchorRefs: dropped, minFraction },
    };
  });
  const layouts: LayoutStats[] = Array.from(patterns.layoutDistinct, (d, layoutIndex) => ({ layoutIndex, ...perDistinct[d] }));
  const kept = layouts.reduce((s, l) => s + l.keptBlocks, 0);
  const rowBlocks: RowCountStats = {
    min: Math.min(...layouts.map((l) => l.rowBlocks.min)),
    mean: kept / (R * layouts.length),
    max: Math.max(...layouts.map((l) => l.rowBlocks.max)),
  };
  return {
    numBlockRows: R,
    blockSize: pf.facts.blockSize,
    numLayouts: layouts.length,
    layouts,
    overall: { keptBlocks: kept, density: kept / (triangle * layouts.length), rowBlocks, rowsMissingAnchorsInAnyHead: rowsMissingInUnion(patterns) },
  };
}

/** Rows for which the union of all layouts' kept blocks misses an anchor block at or before the row. */
function rowsMissingInUnion(patterns: SparsePatterns): number {
  const pf = patterns.prepared;
  const anchors = pf.facts.anchorBlocks;
  const stamp = new Int32Array(pf.numBlocks).fill(-1);
  let missing = 0;
  for (let r = 0; r < pf.numBlocks; r++) {
    const eligible = countAtMost(anchors, r);
    if (eligible === 0) continue;
    let seen = 0;
    for (let l = 0; l < patterns.layout.numLayouts; l++) {
      const cols = rowColumns(patterns.layout, l, r);
      for (let i = 0; i < cols.length; i++) {
        const c = cols[i];
        if (pf.isAnchor[c] && stamp[c] !== r) {
          stamp[c] = r;
          seen++;
        }
      }
    }
    if (seen < eligible) missing++;
  }
  return missing;
}
