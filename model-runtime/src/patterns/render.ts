/**
 * A picture of one layout's block mask, to eyeball what a head can see: one pixel per block (or per square of
 * blocks, kept if any is kept, when the sequence is large), kept blocks dark, kept blocks in anchor columns
 * orange, anchor columns tinted, file boundaries as thin lines. No legend, no text.
 */
import { PNG } from "pngjs";
import { type BlockSparseLayout, rowColumns } from "../../../kernels/api";

export interface RenderOptions {
  /** Anchor block ids (sorted or not): their columns are tinted and their kept blocks drawn orange. */
  anchorBlocks?: Int32Array;
  /**
   * Per block: first block of its segment; a line is drawn at every segment start (left out when lines
   * would be under ~6 px apart on average).
   */
  segmentStart?: Int32Array;
  /** Largest image side in pixels before downsampling (by max over squares of blocks). Default 1024. */
  maxSize?: number;
  /** Small layouts are scaled up to at least this many pixels a side (whole pixels per block). Default 512. */
  minSize?: number;
}

type Rgb = readonly [number, number, number];
const ABOVE_DIAGONAL: Rgb = [255, 255, 255];
const CAUSAL: Rgb = [236, 238, 242];
const ANCHOR_COLUMN: Rgb = [252, 226, 200];
const BOUNDARY: Rgb = [176, 184, 198];
const KEPT: Rgb = [31, 78, 156];
const KEPT_ANCHOR: Rgb = [232, 113, 26];
const MIN_LINE_GAP_PX = 6;

/** PNG bytes of layout `layoutIndex`'s block mask. */
export function renderMaskPng(layout: BlockSparseLayout, layoutIndex: number, opts: RenderOptions = {}): Buffer {
  if (layoutIndex < 0 || layoutIndex >= layout.numLayouts) throw new Error(`renderMaskPng: layout ${layoutIndex} of ${layout.numLayouts}`);
  const R = layout.numBlockRows;
  const maxSize = opts.maxSize ?? 1024;
  const minSize = opts.minSize ?? 512;
  const down = Math.max(1, Math.ceil(R / maxSize));
  const cells = Math.ceil(R / down);
  const up = down === 1 ? Math.max(1, Math.floor(minSize / R)) : 1;

  // Cell classes, by priority: 3 kept anchor, 2 kept, 1 anchor column (causal part), 0 nothing.
  const cls = new Uint8Array(cells * cells);
  const anchorCol = new Uint8Array(cells);
  if (opts.anchorBlocks) for (const a of opts.anchorBlocks) if (a >= 0 && a < R) anchorCol[Math.floor(a / down)] = 1;
  const isAnchor = new Uint8Array(R);
  if (opts.anchorBlocks) for (const a of opts.anchorBlocks) if (a >= 0 && a < R) isAnchor[a] = 1;
  for (let r = 0; r < R; r++) {
    const y = Math.floor(r / down);
    for (const c of rowColumns(layout, layoutIndex, r)) {
      const i = y * cells + Math.floor(c / down);
      const v = isAnchor[c] ? 3 : 2;
      if (cls[i] < v) cls[i] = v;
    }
  }
  const boundary = new Uint8Array(cells);
  if (opts.segmentStart) {
    let lines = 0;
    for (let b = 1; b < Math.min(R, opts.segmentStart.length); b++) {
      if (opts.segmentStart[b] === b && !boundary[Math.floor(b / down)]) {
        boundary[Math.floor(b / down)] = 1;
        lines++;
      }
    }
    // Lines closer than a few pixels on average would hide the mask: leave them out.
    if (lines * MIN_LINE_GAP_PX > cells * up) boundary.fill(0);
  }

  const side = cells * up;
  const png = new PNG({ width: side, height: side });
  const put = (px: number, py: number, c: Rgb): void => {
    const o = (py * side + px) * 4;
    png.data[o] = c[0];
    png.data[o + 1] = c[1];
    png.data[o + 2] = c[2];
    png.data[o + 3] = 255;
  };
  for (let y = 0; y < cells; y++) {
    for (let x = 0; x < cells; x++) {
      const k = cls[y * cells + x];
      let colour: Rgb;
      if (k === 3) colour = KEPT_ANCHOR;
      else if (k === 2) colour = KEPT;
      else if (x > y) colour = ABOVE_DIAGONAL;
      else colour = anchorCol[x] ? ANCHOR_COLUMN : CAUSAL;
      for (let dy = 0; dy < up; dy++) {
        for (let dx = 0; dx < up; dx++) {
          // A one-pixel line on the top/left edge of a segment's first cell, under kept blocks.
          const onLine = k < 2 && ((boundary[x] && dx === 0 && x <= y) || (boundary[y] && dy === 0 && x <= y));
          put(x * up + dx, y * up + dy, onLine ? BOUNDARY : colour);
        }
      }
    }
  }
  return PNG.sync.write(png);
}
