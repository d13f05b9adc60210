/**
 * Buffer operations on CSR BlockSparseLayouts: rewriting some rows in place (sliding the rows in between
 * instead of re-emitting the layout), copying a layout onto the indices that share its spec, re-packing
 * with another stride, assembling from per-spec rows.
 */
import type { BlockSparseLayout } from "../../../kernels/api";

/** colIdx stride for `nnz` kept blocks: room for updates that add blocks without re-allocating. */
export function withHeadroom(nnz: number): number {
  return Math.max(1, nnz) + Math.max(1024, Math.ceil(nnz / 16));
}

/** All rows of one spec in CSR form. */
export interface CsrRows {
  rowPtr: Int32Array;
  cols: Int32Array;
  nnz: number;
}

/** New contents of some rows: rows ascending; row rows[i] gets cols[i * capacity, i * capacity + len[i]). */
export interface RowPatch {
  rows: Int32Array;
  cols: Int32Array;
  len: Int32Array;
  capacity: number;
}

/**
 * Replaces rows of layout `home` in place; the caller has checked that the new nnz fits in maxNnz. Rows
 * are overwritten where they are until the first one whose length changes; from there, the runs of
 * unchanged rows between patched rows slide with native copyWithin (runs moving left in ascending order,
 * runs moving right in descending order, so no run overwrites one that has not moved yet), then the
 * patched rows are written. Returns the dirty rows [first, end).
 */
export function patchRowsInPlace(layout: BlockSparseLayout, home: number, patch: RowPatch): [number, number] {
  const R = layout.numBlockRows;
  const stride = R + 1;
  const rp = layout.rowPtr.subarray(home * stride, (home + 1) * stride);
  const colIdx = layout.colIdx.subarray(home * layout.maxNnz, (home + 1) * layout.maxNnz);
  const { rows, cols, len, capacity } = patch;
  let first = 0;
  for (; first < rows.length; first++) {
    const r = rows[first];
    if (rp[r + 1] - rp[r] !== len[first]) break;
    colIdx.set(cols.subarray(first * capacity, first * capacity + len[first]), rp[r]);
  }
  if (first === rows.length) return [rows[0], rows[rows.length - 1] + 1];

  // Runs of unchanged rows after each patched row from `first` on: [runStart, runEnd), with their shift.
  const nRuns = rows.length - first;
  const runStart = new Int32Array(nRuns);
  const runEnd = new Int32Array(nRuns);
  const shift = new Int32Array(nRuns);
  let s = 0;
  for (let k = 0; k < nRuns; k++) {
    const i = first + k;
    const r = rows[i];
    s += len[i] - (rp[r + 1] - rp[r]);
    runStart[k] = r + 1;
    runEnd[k] = i + 1 < rows.length ? rows[i + 1] : R;
    shift[k] = s;
  }
  const move = (k: number): void => {
    if (runEnd[k] > runStart[k] && shift[k] !== 0) colIdx.copyWithin(rp[runStart[k]] + shift[k], rp[runStart[k]], rp[runEnd[k]]);
  };
  for (let k = 0; k < nRuns; k++) if (shift[k] < 0) move(k);
  for (let k = nRuns - 1; k >= 0; k--) if (shift[k] > 0) move(k);
  // Row pointers: unchanged rows shift with their run; patched rows start where the previous row ends.
  let sh = 0;
  for (let k = 0; k < nRuns; k++) {
    const i = first + k;
    const r = rows[i];
    rp[r] += sh;
    sh = shift[k];
    for (let q = runStart[k]; q < runEnd[k]; q++) rp[q] += sh;
  }
  rp[R] += sh;
  for (let i = first; i < rows.length; i++) colIdx.set(cols.subarray(i * capacity, i * capacity + len[i]), rp[rows[i]]);
  return [rows[0], R];
}

/** The same layout with another colIdx stride. */
export function repack(layout: BlockSparseLayout, maxNnz: number): BlockSparseLayout {
  const colIdx = new Int32Array(layout.numLayouts * maxNnz);
  for (let l = 0; l < layout.numLayouts; l++) {
    const n = layout.rowPtr[l * (layout.numBlockRows + 1) + layout.numBlockRows];
    colIdx.set(layout.colIdx.subarray(l * layout.maxNnz, l * layout.maxNnz + n), l * maxNnz);
  }
  return { ...layout, colIdx, maxNnz };
}

/** Fresh CSR from per-spec rows (all rows), with headroom. */
export function assemble(blockSize: number, numBlockRows: number, layoutDistinct: Int32Array, built: CsrRows[]): BlockSparseLayout {
  const R = numBlockRows;
  const numLayouts = layoutDistinct.length;
  const maxNnz = withHeadroom(Math.max(...built.map((b) => b.nnz)));
  const rowPtr = new Int32Array(numLayouts * (R + 1));
  const colIdx = new Int32Array(numLayouts * maxNnz);
  for (let l = 0; l < numLayouts; l++) {
    const b = built[layoutDistinct[l]];
    rowPtr.set(b.rowPtr, l * (R + 1));
    colIdx.set(b.cols.subarray(0, b.nnz), l * maxNnz);
  }
  return { blockSize, numLayouts, numBlockRows: R, rowPtr, colIdx, maxNnz };
}

/** Layout `home`'s rows with a patch applied, as fresh CSR. */
export function csrWithPatch(layout: BlockSparseLayout, home: number, patch: RowPatch, R: number): CsrRows {
  const stride = R + 1;
  const rp = layout.rowPtr.subarray(home * stride, (home + 1) * stride);
  const src = layout.colIdx.subarray(home * layout.maxNnz);
  let total = rp[R];
  for (let i = 0; i < patch.rows.length; i++) total += patch.len[i] - (rp[patch.rows[i] + 1] - rp[patch.rows[i]]);
  const rowPtr = new Int32Array(stride);
  const cols = new Int32Array(Math.max(1, total));
  let p = 0;
  let next = 0;
  for (let r = 0; r < R; r++) {
    rowPtr[r] = p;
    if (next < patch.rows.length && patch.rows[next] === r) {
      cols.set(patch.cols.subarray(next * patch.capacity, next * patch.capacity + patch.len[next]), p);
      p += patch.len[next++];
    } else {
      cols.set(src.subarray(rp[r], rp[r + 1]), p);
      p += rp[r + 1] - rp[r];
    }
  }
  rowPtr[R] = p;
  return { rowPtr, cols, nnz: p };
}

/** Copies layout `home`'s rows from block row `fromRow` on to the other layout indices of spec `d`. */
export function copyToTwins(layout: BlockSparseLayout, layoutDistinct: Int32Array, d: number, home: number, fromRow: number): void {
  const R = layout.numBlockRows;
  const stride = R + 1;
  for (let l = 0; l < layoutDistinct.length; l++) {
    if (l === home || layoutDistinct[l] !== d) continue;
    layout.rowPtr.copyWithin(l * stride, home * stride, (home + 1) * stride);
    const a = layout.rowPtr[home * stride + fromRow];
    const b = layout.rowPtr[home * stride + R];
    layout.colIdx.copyWithin(l * layout.maxNnz + a, home * layout.maxNnz + a, home * layout.maxNnz + b);
  }
}
