/**
 * Composes per-head specs into a BlockSparseLayout (kernels/api.ts) and keeps it current across edits by
 * rebuilding only the rows an edit can change.
 *
 * The CSR handed to kernels is the state: each distinct spec's rows live in the first layout index that
 * uses it (other indices with the same spec are copies). colIdx keeps some headroom per layout (maxNnz is
 * only a stride), so an update usually rewrites rows in place and reports which rows it touched.
 */
import type { BlockSparseLayout } from "../../../kernels/api";
import { type PreparedFacts, prepareFacts } from "./facts";
import { affectedRows, checkOutsideEdit } from "./affected-rows";
import { type CsrRows, type RowPatch, assemble, copyToTwins, csrWithPatch, patchRowsInPlace, repack, withHeadroom } from "./csr-patch";
import { RowBuilder } from "./row-builder";
import { type NormalSpec, normalizeSpec, specKey } from "./spec";
import type { BlockEdit, BlockFacts, HeadPatternSpec } from "./types";

/** Above this many kept blocks per layout a spec needs a budget (rows would not fit comfortably). */
const MAX_LAYOUT_NNZ = 1 << 27;

/** Per distinct spec: what rows are built from and the per-row bookkeeping of the last build. */
export interface SpecState {
  spec: NormalSpec;
  /** Layout index holding this spec's rows. */
  home: number;
  /** Most columns a row may hold. */
  capacity: number;
  /** [rows][1 + primitives]: blocks added by the diagonal / each primitive. */
  attr: Int32Array;
  /** [rows][primitives]: anchors traces (see row-builder.ts). */
  trace: Int32Array;
}

export interface UpdateReport {
  /** Rows rebuilt, per distinct spec. */
  rebuiltRows: number[];
  /** Whether every row was rebuilt. */
  full: boolean;
  /**
   * Block rows [dirtyFrom, dirtyTo) are the only ones whose columns or row pointers may differ from the
   * layout before the update (all layouts). Backends that keep a device copy re-upload those.
   */
  dirtyFrom: number;
  dirtyTo: number;
  /** True when `layout` is a new object with new buffers; false when the previous buffers were rewritten in place. */
  reallocated: boolean;
}

export class SparsePatterns {
  /**
   * The CSR layout for the kernels. `update` rewrites its buffers in place when they are large enough (see
   * UpdateReport.reallocated), so a layout obtained before an update must not be used after it.
   */
  layout: BlockSparseLayout;
  /** Specs of layout index 0 .. numLayouts-1 (head h uses layout h % numLayouts). */
  layoutSpecs: readonly HeadPatternSpec[];
  /** Distinct specs in first-use order. */
  distinctSpecs: readonly NormalSpec[];
  /** layoutDistinct[l] indexes distinctSpecs. */
  layoutDistinct: Int32Array;
  private pf: PreparedFacts;
  private states: SpecState[];

  private constructor(facts: BlockFacts, private readonly heads: readonly HeadPatternSpec[]) {
    if (heads.length === 0) throw new Error("SparsePatterns: at least one head spec is needed");
    this.pf = prepareFacts(facts);
    const normal = heads.map((h) => normalizeSpec(h, this.pf.sinkBlocks));
    const keys = normal.map(specKey);
    const numLayouts = smallestPeriod(keys);
    const distinctKeys: string[] = [];
    const distinct: NormalSpec[] = [];
    const layoutDistinct = new Int32Array(numLayouts);
    const homes: number[] = [];
    for (let l = 0; l < numLayouts; l++) {
      let d = distinctKeys.indexOf(keys[l]);
      if (d < 0) {
        d = distinct.length;
        distinctKeys.push(keys[l]);
        distinct.push(normal[l]);
        homes.push(l);
      }
      layoutDistinct[l] = d;
    }
    this.layoutSpecs = heads.slice(0, numLayouts);
    this.distinctSpecs = distinct;
    this.layoutDistinct = layoutDistinct;
    const R = this.pf.numBlocks;
    const bounds = distinct.map((spec) => nnzUpperBound(this.pf, spec, 0, R));
    this.states = distinct.map((spec, d) => newState(spec, homes[d], R));
    // Rows are built straight into the final buffers, sized by the bound (its slack is update headroom).
    const maxNnz = withHeadroom(Math.max(...bounds));
    const layout: BlockSparseLayout = { blockSize: this.pf.facts.blockSize, numLayouts, numBlockRows: R, rowPtr: new Int32Array(numLayouts * (R + 1)), colIdx: new Int32Array(numLayouts * maxNnz), maxNnz };
    const nnz = this.states.map((st) => buildInto(this.pf, st, 0, R, layout, st.home, 0));
    this.layout = Math.max(...nnz) * 2 < Math.max(...bounds) ? repack(layout, withHeadroom(Math.max(...nnz))) : layout;
    this.states.forEach((st, d) => copyToTwins(this.layout, layoutDistinct, d, st.home, 0));
  }

  /**
   * One layout per distinct spec when the head list repeats with a period (A,B,A,B → 2 layouts); the CSR
   * form maps head h to layout h % numLayouts, so a non-periodic list (A,A,B,B) gets one layout per head
   * (rows of equal specs are built once and copied).
   */
  static build(facts: BlockFacts, heads: readonly HeadPatternSpec[]): SparsePatterns {
    return new SparsePatterns(facts, heads);
  }

  get facts(): BlockFacts {
    return this.pf.facts;
  }

  /** @internal for stats. */
  get prepared(): PreparedFacts {
    return this.pf;
  }

  /** @internal for stats: per distinct spec, its layout index and per-row attribution. */
  get specStates(): readonly Readonly<SpecState>[] {
    return this.states;
  }

  /**
   * Applies an edit: `facts` are the new facts, `edit` the block range that changed (old blocks
   * [start, oldEnd) are now [start, newEnd)). Rows before the edit are kept; rows inside are rebuilt; with
   * the same block count, rows after it are rebuilt only where their result can change (their segment start
   * moved, or a changed anchor is among the candidates they consumed before their budget filled). When the
   * block count changes, every row from the edit on is rebuilt: strided columns are absolute, so shifted
   * rows do not map onto old ones. Throws when facts differ outside the edit.
   */
  update(facts: BlockFacts, edit: BlockEdit): UpdateReport {
    const old = this.pf;
    const { start, oldEnd, newEnd } = edit;
    if (!(Number.isInteger(start) && Number.isInteger(oldEnd) && Number.isInteger(newEnd)) || start < 0 || oldEnd < start || newEnd < start || oldEnd > old.numBlocks) {
      throw new Error(`SparsePatterns.update: bad edit ${JSON.stringify(edit)} for ${old.numBlocks} blocks`);
    }
    const delta = newEnd - oldEnd;
    if (facts.numBlocks !== old.numBlocks + delta) {
      throw new Error(`SparsePatterns.update: edit ${JSON.stringify(edit)} implies ${old.numBlocks + delta} blocks, facts have ${facts.numBlocks}`);
    }
    if (facts.blockSize !== old.facts.blockSize) throw new Error("SparsePatterns.update: blockSize changed; build a new layout");
    const pf = prepareFacts(facts);
    if (pf.sinkBlocks !== old.sinkBlocks) {
      // Specs resolve `sinks` counts from the facts, so every row (and maybe the layout count) can change.
      Object.assign(this, new SparsePatterns(facts, this.heads));
      return { rebuiltRows: this.states.map(() => pf.numBlocks), full: true, dirtyFrom: 0, dirtyTo: pf.numBlocks, reallocated: true };
    }
    checkOutsideEdit(old, pf, edit);
    const report = delta === 0 ? this.updateSameCount(old, pf, start, newEnd) : this.updateShifted(pf, start);
    this.pf = pf;
    return report;
  }

  /** Block count unchanged: rebuild the affected rows into a scratch area, then patch the CSR. */
  private updateSameCount(old: PreparedFacts, pf: PreparedFacts, start: number, end: number): UpdateReport {
    const R = pf.numBlocks;
    const rebuiltRows: number[] = [];
    const patches: RowPatch[] = [];
    for (const s of this.states) {
      const rows = affectedRows(old, pf, s, start, end);
      rebuiltRows.push(rows.length);
      const builder = new RowBuilder(R, s.capacity);
      const np = s.spec.primitives.length;
      const cols = new Int32Array(Math.max(1, rows.length * s.capacity));
      const len = new Int32Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        len[i] = builder.build(pf, s.spec, row, cols, i * s.capacity, s.attr, row * (np + 1), s.trace, row * np);
      }
      patches.push({ rows, cols, len, capacity: s.capacity });
    }
    return this.applyPatches(pf, patches, rebuiltRows);
  }

  /** Writes patched rows into the CSR of each spec's home layout, in place when the headroom allows. */
  private applyPatches(pf: PreparedFacts, patches: RowPatch[], rebuiltRows: number[]): UpdateReport {
    const layout = this.layout;
    const R = pf.numBlocks;
    const stride = R + 1;
    let dirtyFrom = R;
    let dirtyTo = 0;
    const newNnz = patches.map((p, d) => {
      const home = this.states[d].home;
      let total = layout.rowPtr[home * stride + R];
      for (let i = 0; i < p.rows.length; i++) total += p.len[i] - (layout.rowPtr[home * stride + p.rows[i] + 1] - layout.rowPtr[home * stride + p.rows[i]]);
      return total;
    });
    if (Math.max(...newNnz) > layout.maxNnz) {
      // Out of headroom: re-emit every layout with fresh buffers.
      const built = this.states.map((s, d) => csrWithPatch(layout, s.home, patches[d], R));
      this.layout = assemble(pf.facts.blockSize, R, this.layoutDistinct, built);
      return { rebuiltRows, full: rebuiltRows.every((n) => n === R), dirtyFrom: 0, dirtyTo: R, reallocated: true };
    }
    for (let d = 0; d < patches.length; d++) {
      const p = patches[d];
      if (p.rows.length === 0) continue;
      const range = patchRowsInPlace(layout, this.states[d].home, p);
      dirtyFrom = Math.min(dirtyFrom, range[0]);
      dirtyTo = Math.max(dirtyTo, range[1]);
      copyToTwins(layout, this.layoutDistinct, d, this.states[d].home, range[0]);
    }
    if (dirtyTo <= dirtyFrom) dirtyFrom = dirtyTo = 0;
    return { rebuiltRows, full: rebuiltRows.every((n) => n === R), dirtyFrom, dirtyTo, reallocated: false };
  }

  /** Block count changed: rows before the edit stay, every row from it on is rebuilt. */
  private updateShifted(pf: PreparedFacts, start: number): UpdateReport {
    const R = pf.numBlocks;
    const prev = this.layout;
    const prevStride = prev.numBlockRows + 1;
    const bases = this.states.map((s) => prev.rowPtr[s.home * prevStride + start]);
    const needed = Math.max(...this.states.map((s, d) => bases[d] + nnzUpperBound(pf, s.spec, start, R)));
    // Rows before the edit keep their offsets: the same colIdx buffer serves when the tail fits.
    const inPlace = needed <= prev.maxNnz;
    const maxNnz = inPlace ? prev.maxNnz : withHeadroom(needed);
    const layout: BlockSparseLayout = {
      blockSize: prev.blockSize,
      numLayouts: prev.numLayouts,
      numBlockRows: R,
      rowPtr: new Int32Array(prev.numLayouts * (R + 1)),
      colIdx: inPlace ? prev.colIdx : new Int32Array(prev.numLayouts * maxNnz),
      maxNnz,
    };
    this.states.forEach((s, d) => {
      const np = s.spec.primitives.length;
      const attr = new Int32Array(R * (np + 1));
      attr.set(s.attr.subarray(0, start * (np + 1)));
      const trace = new Int32Array(R * np);
      trace.set(s.trace.subarray(0, start * np));
      Object.assign(s, { attr, trace, capacity: RowBuilder.capacity(s.spec, R) });
      layout.rowPtr.set(prev.rowPtr.subarray(s.home * prevStride, s.home * prevStride + start), s.home * (R + 1));
      if (!inPlace) layout.colIdx.set(prev.colIdx.subarray(s.home * prev.maxNnz, s.home * prev.maxNnz + bases[d]), s.home * maxNnz);
      buildInto(pf, s, start, R, layout, s.home, bases[d]);
    });
    this.layout = layout;
    this.states.forEach((s, d) => copyToTwins(layout, this.layoutDistinct, d, s.home, inPlace ? start : 0));
    return { rebuiltRows: this.states.map(() => R - start), full: start === 0, dirtyFrom: inPlace ? start : 0, dirtyTo: R, reallocated: !inPlace };
  }
}

/** Functional entry point: builds all layouts for `heads` (one spec per query head). */
export function buildPatterns(facts: BlockFacts, heads: readonly HeadPatternSpec[]): SparsePatterns {
  return SparsePatterns.build(facts, heads);
}

/** Functional entry point for `SparsePatterns.update`; the current layout is `patterns.layout` afterwards. */
export function updatePatterns(patterns: SparsePatterns, facts: BlockFacts, edit: BlockEdit): UpdateReport {
  return patterns.update(facts, edit);
}

// ---------------------------------------------------------------------------------------------------------

function smallestPeriod(keys: readonly string[]): number {
  for (let p = 1; p < keys.length; p++) {
    let ok = true;
    for (let h = p; h < keys.length && ok; h++) ok = keys[h] === keys[h % p];
    if (ok) return p;
  }
  return keys.length;
}

/**
 * An upper bound of the kept blocks of rows [from, to): per row, the sum of each primitive's candidate count,
 * capped by the budget and by row + 1. Sizes the buffers, and refuses specs that could not fit.
 */
function nnzUpperBound(pf: PreparedFacts, spec: NormalSpec, from: number, to: number): number {
  const seg = pf.segmentStart;
  const anchors = pf.facts.anchorBlocks;
  const tiers = pf.facts.anchorTier;
  // Per anchors primitive: a pointer into the sorted anchors and the count so far with a tier in its range.
  const ptr = spec.primitives.map(() => 0);
  const cnt = spec.primitives.map(() => 0);
  let total = 0;
  for (let r = from; r < to; r++) {
    let n = 1;
    for (let i = 0; i < spec.primitives.length; i++) {
      const p = spec.primitives[i];
      switch (p.kind) {
        case "local":
          n += Math.min(p.window, r - (p.withinSegment ? seg[r] : 0) + 1);
          break;
        case "strided": {
          const c0 = (((-(1 + p.offset)) % p.stride) + p.stride) % p.stride;
          n += r >= c0 ? Math.min(p.maxCount, Math.floor((r - c0) / p.stride) + 1) : 0;
          break;
        }
        case "dilated": {
          let hops = 0;
          for (let d = p.first; d <= r && hops < p.maxHops; d *= p.base) hops++;
          n += hops;
          break;
        }
        case "anchors":
          while (ptr[i] < anchors.length && anchors[ptr[i]] <= r) {
            const t = tiers ? tiers[ptr[i]] : 0;
            if (t >= p.minTier && t <= p.maxTier) cnt[i]++;
            ptr[i]++;
          }
          n += Math.min(p.maxCount, cnt[i]);
          break;
        case "sinks":
          n += Math.min(p.count, r + 1);
          break;
        case "segmentHead":
          n += Math.min(p.count, r - seg[r] + 1);
          break;
      }
    }
    total += Math.min(n, r + 1, pf.isAnchor[r] ? spec.anchorRowBudget : spec.budget);
  }
  if (total > MAX_LAYOUT_NNZ) {
    throw new Error(`SparsePatterns: a layout of ${pf.numBlocks} block rows could keep over ${MAX_LAYOUT_NNZ} blocks; give the head spec a budget (e.g. 128)`);
  }
  return total;
}

function newState(spec: NormalSpec, home: number, numBlocks: number): SpecState {
  const np = spec.primitives.length;
  return {
    spec,
    home,
    capacity: RowBuilder.capacity(spec, numBlocks),
    attr: new Int32Array(numBlocks * (np + 1)),
    trace: new Int32Array(numBlocks * np),
  };
}

/**
 * Builds rows [from, to) of a spec into layout `home` of `layout`, the first at colIdx offset `base`
 * (the buffer is known to be large enough); returns the layout's nnz.
 */
function buildInto(pf: PreparedFacts, s: SpecState, from: number, to: number, layout: BlockSparseLayout, home: number, base: number): number {
  const builder = new RowBuilder(pf.numBlocks, s.capacity);
  const np = s.spec.primitives.length;
  const rp = home * (layout.numBlockRows + 1);
  const cb = home * layout.maxNnz;
  const { rowPtr, colIdx } = layout;
  let p = base;
  for (let row = from; row < to; row++) {
    rowPtr[rp + row] = p;
    p += builder.build(pf, s.spec, row, colIdx, cb + p, s.attr, row * (np + 1), s.trace, row * np);
  }
  rowPtr[rp + to] = p;
  if (p > layout.maxNnz) throw new Error(`SparsePatterns: internal error, ${p} kept blocks overflow the layout stride ${layout.maxNnz}`);
  return p;
}

