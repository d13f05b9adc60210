/**
 * The pattern semantics written the slow, obvious way: each primitive is a predicate over every column
 * c <= row plus a preference order, the budget is applied to the concatenated candidate lists. Tests check
 * the fast builder (row-builder.ts) against this on small random facts; keep the two independent.
 */
import type { BlockFacts, HeadPatternSpec, PatternPrimitive } from "./types";

function segStart(facts: BlockFacts, row: number): number {
  return facts.segmentStart ? facts.segmentStart[row] : 0;
}

function tierOf(facts: BlockFacts, anchorIndex: number): number {
  return facts.anchorTier ? facts.anchorTier[anchorIndex] : 0;
}

function isDilatedDistance(dist: number, base: number, first: number, maxHops: number): boolean {
  let d = first;
  for (let k = 0; k < maxHops && d <= dist; k++, d *= base) if (d === dist) return true;
  return false;
}

/**
 * A primitive's candidate columns for `row` (all <= row), in its preference order (what a short budget
 * keeps first). This is the primitive as a pure function of the facts; `SparsePatterns` computes the same
 * thing fast.
 */
export function primitiveCandidates(facts: BlockFacts, prim: PatternPrimitive, row: number): number[] {
  const all = Array.from({ length: row + 1 }, (_, c) => c);
  const nearestFirst = (cols: number[]): number[] => cols.sort((a, b) => b - a);
  const cap = (cols: number[], n: number | undefined): number[] => (n === undefined ? cols : cols.slice(0, n));
  switch (prim.kind) {
    case "local":
      return nearestFirst(all.filter((c) => row - c < prim.window && (!prim.withinSegment || c >= segStart(facts, row))));
    case "strided": {
      const s = prim.stride;
      const off = prim.offset ?? 0;
      return cap(nearestFirst(all.filter((c) => (((c + 1 + off) % s) + s) % s === 0)), prim.maxCount);
    }
    case "dilated": {
      const base = prim.base ?? 2;
      const first = prim.first ?? 1;
      const hops = prim.maxHops ?? Infinity;
      return nearestFirst(all.filter((c) => isDilatedDistance(row - c, base, first, hops)));
    }
    case "anchors": {
      const minTier = prim.minTier ?? 0;
      const maxTier = prim.maxTier ?? 255;
      const list: { c: number; t: number }[] = [];
      facts.anchorBlocks.forEach((c, i) => {
        if (c <= row && tierOf(facts, i) >= minTier && tierOf(facts, i) <= maxTier) list.push({ c, t: tierOf(facts, i) });
      });
      list.sort((a, b) => b.t - a.t || b.c - a.c);
      return cap(list.map((x) => x.c), prim.maxCount);
    }
    case "sinks": {
      const count = prim.count ?? facts.sinkBlocks ?? 0;
      return all.filter((c) => c < count);
    }
    case "segmentHead": {
      const s = segStart(facts, row);
      return all.filter((c) => c >= s && c < s + prim.count);
    }
  }
}

/** Kept columns of `row` under `spec`, ascending: diagonal, then candidates in spec order while the budget lasts. */
export function referenceRowColumns(facts: BlockFacts, spec: HeadPatternSpec, row: number): number[] {
  const isAnchorRow = Array.prototype.includes.call(facts.anchorBlocks, row);
  const budget = (isAnchorRow ? spec.anchorRowBudget ?? spec.budget : spec.budget) ?? Infinity;
  const kept = new Set<number>([row]);
  for (const prim of spec.primitives) {
    for (const c of primitiveCandidates(facts, prim, row)) {
      if (kept.size >= budget) break;
      kept.add(c);
    }
  }
  return [...kept].sort((a, b) => a - b);
}

/**
 * Token-level causal mask straight from the definitions: mask[i * T + j] = 1 iff query token i may attend
 * to key token j (T = numBlocks * blockSize). For tests on small sizes only (T² bytes).
 */
export function referenceTokenMask(facts: BlockFacts, spec: HeadPatternSpec): Uint8Array {
  const B = facts.blockSize;
  const T = facts.numBlocks * B;
  const mask = new Uint8Array(T * T);
  for (let r = 0; r < facts.numBlocks; r++) {
    const cols = referenceRowColumns(facts, spec, r);
    for (let i = r * B; i < (r + 1) * B; i++) {
      for (const c of cols) for (let j = c * B; j < (c + 1) * B && j <= i; j++) mask[i * T + j] = 1;
    }
  }
  return mask;
}
