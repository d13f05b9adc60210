/**
 * Block-sparse layouts for kernel tests and benchmarks, built straight from their definitions (this is
 * deliberately independent of the pattern library in model-runtime, so a bug there cannot hide a kernel bug).
 * Every generator returns valid CSR (see kernels/api.ts): causal, diagonal kept, columns sorted and unique.
 */
import { type BlockSparseLayout, layoutNnz, rowColumns } from "../api";
import type { Rng } from "./random";

/** Columns a layout's row wants before the builder clips them to [0, row] and adds the diagonal. */
export type RowColumnsFn = (layoutIndex: number, row: number) => Iterable<number>;

export interface BuildOptions {
  /** Extra unused slots per layout in colIdx (filled with -1): backends must honour rowPtr, not maxNnz. */
  padNnz?: number;
}

/** Builds CSR from a per-row column function; clips to the causal part, adds the diagonal, sorts, dedups. */
export function buildLayout(
  blockSize: number,
  numBlockRows: number,
  numLayouts: number,
  rowCols: RowColumnsFn,
  options: BuildOptions = {},
): BlockSparseLayout {
  const rows: Int32Array[][] = [];
  let maxNnz = 0;
  for (let l = 0; l < numLayouts; l++) {
    const perRow: Int32Array[] = [];
    let nnz = 0;
    for (let r = 0; r < numBlockRows; r++) {
      const set = new Set<number>([r]);
      for (const c of rowCols(l, r)) if (Number.isInteger(c) && c >= 0 && c <= r) set.add(c);
      const cols = Int32Array.from(set).sort();
      perRow.push(cols);
      nnz += cols.length;
    }
    rows.push(perRow);
    maxNnz = Math.max(maxNnz, nnz);
  }
  maxNnz += options.padNnz ?? 0;
  const rowPtr = new Int32Array(numLayouts * (numBlockRows + 1));
  const colIdx = new Int32Array(numLayouts * Math.max(maxNnz, 1)).fill(-1);
  for (let l = 0; l < numLayouts; l++) {
    let p = 0;
    const rpBase = l * (numBlockRows + 1);
    for (let r = 0; r < numBlockRows; r++) {
      rowPtr[rpBase + r] = p;
      colIdx.set(rows[l][r], l * maxNnz + p);
      p += rows[l][r].length;
    }
    rowPtr[rpBase + numBlockRows] = p;
  }
  return { blockSize, numLayouts, numBlockRows, rowPtr, colIdx, maxNnz: Math.max(maxNnz, 1) };
}

/** Sliding window: the `window` most recent blocks (diagonal included). */
export function localLayout(blockSize: number, numBlockRows: number, window: number | ((layout: number) => number), numLayouts = 1): BlockSparseLayout {
  const w = typeof window === "number" ? () => window : window;
  return buildLayout(blockSize, numBlockRows, numLayouts, (l, r) => range(r - w(l) + 1, r));
}

/**
 * Local window plus "vertical stride" columns, as in Phi-3-small / ORT's SparseAttention tests: column c is
 * kept when (c + 1 + offset(layout)) % stride === 0, so different layouts see different strided columns.
 */
export function stridedLayout(blockSize: number, numBlockRows: number, local: number, stride: number, numLayouts = 1): BlockSparseLayout {
  return buildLayout(blockSize, numBlockRows, numLayouts, (l, r) => {
    const cols = range(r - local + 1, r);
    for (let c = 0; c <= r; c++) if ((c + 1 + l) % stride === 0) cols.push(c);
    return cols;
  });
}

/** Dilated: `count` blocks going back from the diagonal with a gap of `dilation` blocks (r, r-d, r-2d, ...). */
export function dilatedLayout(blockSize: number, numBlockRows: number, count: number, dilation: number, numLayouts = 1): BlockSparseLayout {
  return buildLayout(blockSize, numBlockRows, numLayouts, (l, r) => {
    const d = dilation + (l % 2); // neighbouring layouts use different gaps
    return Array.from({ length: count }, (_, k) => r - k * d);
  });
}

/** Local window plus global/anchor columns that every row (at or after them) attends to. */
export function globalLayout(
  blockSize: number,
  numBlockRows: number,
  local: number,
  anchors: readonly number[] | ((layout: number) => readonly number[]),
  numLayouts = 1,
): BlockSparseLayout {
  const a = typeof anchors === "function" ? anchors : () => anchors;
  return buildLayout(blockSize, numBlockRows, numLayouts, (l, r) => [...range(r - local + 1, r), ...a(l)]);
}

/** Each causal block kept with probability `density` (the diagonal always). */
export function randomLayout(rng: Rng, blockSize: number, numBlockRows: number, density: number, numLayouts = 1): BlockSparseLayout {
  return buildLayout(blockSize, numBlockRows, numLayouts, (_l, r) => {
    const cols: number[] = [];
    for (let c = 0; c < r; c++) if (rng.next() < density) cols.push(c);
    return cols;
  });
}

/** Every causal block (dense causal attention expressed as a layout). */
export function denseLayout(blockSize: number, numBlockRows: number, numLayouts = 1): BlockSparseLayout {
  return buildLayout(blockSize, numBlockRows, numLayouts, (_l, r) => range(0, r));
}

export const PATTERN_KINDS = ["local", "strided", "dilated", "global", "random"] as const;
export type PatternKind = (typeof PATTERN_KINDS)[number];

/** A layout of the given kind with random parameters (varying per layout index); `padNnz` random too. */
export function randomPatternLayout(rng: Rng, kind: PatternKind, blockSize: number, numBlockRows: number, numLayouts: number): BlockSparseLayout {
  const padNnz = rng.int(0, 3);
  const n = numBlockRows;
  switch (kind) {
    case "local": {
      const windows = Array.from({ length: numLayouts }, () => rng.int(1, Math.max(1, Math.min(12, Math.ceil(n / 2)))));
      return buildLayout(blockSize, n, numLayouts, (l, r) => range(r - windows[l] + 1, r), { padNnz });
    }
    case "strided": {
      const local = rng.int(1, 3);
      const stride = rng.int(2, 4);
      return buildLayout(blockSize, n, numLayouts, (l, r) => {
        const cols = range(r - local + 1, r);
        for (let c = 0; c <= r; c++) if ((c + 1 + l) % stride === 0) cols.push(c);
        return cols;
      }, { padNnz });
    }
    case "dilated": {
      const count = rng.int(2, 4);
      const dilation = rng.int(2, 3);
      return buildLayout(blockSize, n, numLayouts, (l, r) => Array.from({ length: count }, (_, k) => r - k * (dilation + (l % 2))), { padNnz });
    }
    case "global": {
      const local = rng.int(1, 2);
      const anchors = Array.from({ length: numLayouts }, () => {
        const set = new Set<number>([0]);
        const extra = rng.int(0, 2);
        for (let i = 0; i < extra; i++) set.add(rng.int(0, n - 1));
        return [...set];
      });
      return buildLayout(blockSize, n, numLayouts, (l, r) => [...range(r - local + 1, r), ...anchors[l]], { padNnz });
    }
    case "random": {
      const density = rng.pick([0.1, 0.3, 0.6]);
      return buildLayout(blockSize, n, numLayouts, (_l, r) => {
        const cols: number[] = [];
        for (let c = 0; c < r; c++) if (rng.next() < density) cols.push(c);
        return cols;
      }, { padNnz });
    }
  }
}

/** Throws with a precise message when `layout` breaks the CSR contract of kernels/api.ts. */
export function validateLayout(layout: BlockSparseLayout): void {
  const { blockSize, numLayouts, numBlockRows, rowPtr, colIdx, maxNnz } = layout;
  if (!(blockSize > 0 && numLayouts > 0 && numBlockRows > 0)) throw new Error("layout: blockSize, numLayouts and numBlockRows must be positive");
  if (rowPtr.length !== numLayouts * (numBlockRows + 1)) throw new Error(`layout: rowPtr has ${rowPtr.length} entries, expected ${numLayouts * (numBlockRows + 1)}`);
  if (colIdx.length < numLayouts * maxNnz) throw new Error(`layout: colIdx has ${colIdx.length} entries, expected >= ${numLayouts * maxNnz}`);
  for (let l = 0; l < numLayouts; l++) {
    const base = l * (numBlockRows + 1);
    if (rowPtr[base] !== 0) throw new Error(`layout ${l}: rowPtr[0] = ${rowPtr[base]}, expected 0`);
    if (layoutNnz(layout, l) > maxNnz) throw new Error(`layout ${l}: nnz ${layoutNnz(layout, l)} > maxNnz ${maxNnz}`);
    for (let r = 0; r < numBlockRows; r++) {
      if (rowPtr[base + r + 1] < rowPtr[base + r]) throw new Error(`layout ${l}: rowPtr decreases at row ${r}`);
      const cols = rowColumns(layout, l, r);
      if (cols.length === 0 || cols[cols.length - 1] !== r) throw new Error(`layout ${l} row ${r}: the diagonal block is missing`);
      for (let i = 0; i < cols.length; i++) {
        if (cols[i] < 0 || cols[i] > r) throw new Error(`layout ${l} row ${r}: column ${cols[i]} outside [0, ${r}]`);
        if (i > 0 && cols[i] <= cols[i - 1]) throw new Error(`layout ${l} row ${r}: columns not sorted and unique`);
      }
    }
  }
}

/** Fraction of the causal block triangle kept, averaged over layouts (1 = dense causal). */
export function layoutDensity(layout: BlockSparseLayout, rows = layout.numBlockRows): number {
  let kept = 0;
  for (let l = 0; l < layout.numLayouts; l++) for (let r = 0; r < rows; r++) kept += rowColumns(layout, l, r).length;
  return kept / (layout.numLayouts * ((rows * (rows + 1)) / 2));
}

function range(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let c = Math.max(0, lo); c <= hi; c++) out.push(c);
  return out;
}
