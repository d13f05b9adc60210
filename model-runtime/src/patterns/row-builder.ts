/**
 * Builds one block row of one head spec: a pure function of (row, facts, spec), so rows can be rebuilt one
 * at a time after an edit. Typed arrays only; a stamp array dedups columns without clearing between rows.
 *
 * Semantics (the naive twin in ./reference.ts spells them out): the row starts with its diagonal; each
 * primitive, in spec order, offers its candidates in its own preference order; a candidate not yet kept is
 * added; the row stops as soon as it holds `budget` blocks. Columns are then sorted ascending.
 */
import type { PreparedFacts } from "./facts";
import { countAtMost } from "./facts";
import type { NormalSpec } from "./spec";

/**
 * Per (row, anchors primitive) trace, for incremental updates: how many anchor candidates the row consumed
 * (D) and whether it stopped before its candidate list ended. Encoded as D when it ran out of candidates,
 * -(D + 1) when it stopped early (budget full or maxCount reached).
 */
export function encodeTrace(examined: number, stopped: boolean): number {
  return stopped ? -(examined + 1) : examined;
}

export class RowBuilder {
  private readonly stamp: Int32Array;
  private mark = 0;
  private readonly scratch: Int32Array;
  private readonly merged: Int32Array;
  /** Start offsets of the ascending runs in `scratch` (+ one end marker). */
  private runs: Int32Array;
  private numRuns = 0;

  constructor(numBlocks: number, capacity: number) {
    this.stamp = new Int32Array(numBlocks);
    this.scratch = new Int32Array(Math.max(1, capacity));
    this.merged = new Int32Array(Math.max(1, capacity));
    this.runs = new Int32Array(16);
  }

  /**
   * Every primitive adds its columns in a monotone order, so the row is a handful of sorted runs: merging
   * them is several times cheaper than TypedArray#sort on ~100 values.
   */
  private closeRun(start: number, end: number, descending: boolean): void {
    if (end <= start) return;
    if (descending) {
      const a = this.scratch;
      for (let i = start, j = end - 1; i < j; i++, j--) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
      }
    }
    if (this.numRuns + 2 > this.runs.length) {
      const grown = new Int32Array(this.runs.length * 2);
      grown.set(this.runs);
      this.runs = grown;
    }
    this.runs[this.numRuns++] = start;
    this.runs[this.numRuns] = end;
  }

  /** Merges the runs of scratch[0, n) into out[outOff, outOff + n); the last pass writes straight to `out`. */
  private mergeRuns(n: number, out: Int32Array, outOff: number): void {
    let src = this.scratch;
    let dst = this.merged;
    const runs = this.runs;
    let nr = this.numRuns;
    while (nr > 2) {
      let w = 0;
      for (let i = 0; i < nr; i += 2) {
        const a0 = runs[i];
        if (i + 1 === nr) {
          const end = runs[i + 1];
          for (let k = a0; k < end; k++) dst[k] = src[k];
          runs[w++] = a0;
          continue;
        }
        mergeTwo(src, a0, runs[i + 1], runs[i + 2], dst, a0);
        runs[w++] = a0;
      }
      runs[w] = n;
      nr = w;
      const t = src;
      src = dst;
      dst = t;
    }
    if (nr === 2) mergeTwo(src, runs[0], runs[1], n, out, outOff);
    else for (let i = 0; i < n; i++) out[outOff + i] = src[i];
  }

  /** The most kept blocks any row of `spec` may hold, given the facts (ELL row capacity). */
  static capacity(spec: NormalSpec, numBlocks: number): number {
    return Math.min(numBlocks, Math.max(spec.budget, spec.anchorRowBudget));
  }

  /**
   * Builds `row`: sorted columns to out[outOff ...], count returned. attr[attrOff + 0] gets 1 (diagonal),
   * attr[attrOff + 1 + p] the blocks primitive p added; trace[traceOff + p] the anchors trace of primitive p.
   */
  build(
    pf: PreparedFacts,
    spec: NormalSpec,
    row: number,
    out: Int32Array,
    outOff: number,
    attr: Int32Array,
    attrOff: number,
    trace: Int32Array,
    traceOff: number,
  ): number {
    if (this.mark === 0x7fffffff) {
      this.stamp.fill(0);
      this.mark = 0;
    }
    const mark = ++this.mark;
    const stamp = this.stamp;
    const cols = this.scratch;
    const seg = pf.segmentStart;
    const limit = pf.isAnchor[row] ? spec.anchorRowBudget : spec.budget;
    stamp[row] = mark;
    cols[0] = row;
    let n = 1;
    this.numRuns = 0;
    this.closeRun(0, 1, false);
    attr[attrOff] = 1;
    let full = n >= limit;
    const prims = spec.primitives;
    for (let p = 0; p < prims.length; p++) {
      const prim = prims[p];
      let added = 0;
      let examined = 0;
      let stopped = full;
      const runStart = n;
      let descending = true;
      if (!full) {
        switch (prim.kind) {
          case "local": {
            let lo = row - prim.window + 1;
            if (lo < 0) lo = 0;
            if (prim.withinSegment && seg[row] > lo) lo = seg[row];
            for (let c = row - 1; c >= lo; c--) {
              if (stamp[c] !== mark) {
                stamp[c] = mark;
                cols[n++] = c;
                added++;
                if (n >= limit) { full = true; break; }
              }
            }
            break;
          }
          case "strided": {
            const s = prim.stride;
            let c = row - ((row + 1 + prim.offset) % s);
            for (let k = 0; c >= 0 && k < prim.maxCount; k++, c -= s) {
              if (stamp[c] !== mark) {
                stamp[c] = mark;
                cols[n++] = c;
                added++;
                if (n >= limit) { full = true; break; }
              }
            }
            break;
          }
          case "dilated": {
            let d = prim.first;
            for (let k = 0; d <= row && k < prim.maxHops; k++, d *= prim.base) {
              const c = row - d;
              if (stamp[c] !== mark) {
                stamp[c] = mark;
                cols[n++] = c;
                added++;
                if (n >= limit) { full = true; break; }
              }
            }
            break;
          }
          case "sinks": {
            descending = false;
            const end = Math.min(prim.count, row + 1);
            for (let c = 0; c < end; c++) {
              if (stamp[c] !== mark) {
                stamp[c] = mark;
                cols[n++] = c;
                added++;
                if (n >= limit) { full = true; break; }
              }
            }
            break;
          }
          case "segmentHead": {
            descending = false;
            const s0 = seg[row];
            const end = Math.min(s0 + prim.count - 1, row);
            for (let c = s0; c <= end; c++) {
              if (stamp[c] !== mark) {
                stamp[c] = mark;
                cols[n++] = c;
                added++;
                if (n >= limit) { full = true; break; }
              }
            }
            break;
          }
          case "anchors": {
            const cap = prim.maxCount;
            let tierStart = n;
            tiers: for (let t = 0; t < pf.tiers.length; t++) {
              if (pf.tiers[t] < prim.minTier) break;
              if (pf.tiers[t] > prim.maxTier) continue;
              this.closeRun(tierStart, n, true);
              tierStart = n;
              const arr = pf.anchorsByTier[t];
              for (let i = countAtMost(arr, row) - 1; i >= 0; i--) {
                if (examined >= cap) { stopped = true; break tiers; }
                examined++;
                const c = arr[i];
                if (stamp[c] !== mark) {
                  stamp[c] = mark;
                  cols[n++] = c;
                  added++;
                  if (n >= limit) { full = true; stopped = true; break tiers; }
                }
              }
            }
            this.closeRun(tierStart, n, true);
            break;
          }
        }
      }
      if (prim.kind !== "anchors") this.closeRun(runStart, n, descending);
      attr[attrOff + 1 + p] = added;
      trace[traceOff + p] = prim.kind === "anchors" ? encodeTrace(examined, stopped) : 0;
    }
    this.mergeRuns(n, out, outOff);
    return n;
  }
}

/** Merges ascending src[a0, b0) and src[b0, end) into dst starting at k. */
function mergeTwo(src: Int32Array, a0: number, b0: number, end: number, dst: Int32Array, k: number): void {
  let a = a0;
  let b = b0;
  while (a < b0 && b < end) dst[k++] = src[a] <= src[b] ? src[a++] : src[b++];
  while (a < b0) dst[k++] = src[a++];
  while (b < end) dst[k++] = src[b++];
}
