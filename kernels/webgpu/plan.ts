/**
 * Host-side planning of one attention call: which kernel variant, how query rows and GQA heads are packed into
 * workgroups, and how many key splits to use. Also checks the layout rows a call touches, because the kernels
 * trust the CSR contract (the diagonal block listed last) to compute the causal limit.
 */
import { type AttentionShape, type BlockSparseLayout, rowColumns } from "../api";
import type { AttentionKernelConfig } from "./shaders";

/** The shape or size is outside what this backend runs (a dispatcher should use another backend for it). */
export class WebGpuUnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebGpuUnsupportedError";
  }
}

export interface PlanLimits {
  subgroups: boolean;
  /** Unrolled WGSL (GPUs) or loops (lavapipe); see AttentionKernelConfig.unroll. */
  unroll: boolean;
  /** Invocations a call should keep busy before keys are split over workgroups (1 disables splitting). */
  targetInvocations: number;
  /** Smallest window of key slots one split may get. */
  minSplitKeys: number;
  maxWorkgroupsPerDimension: number;
  maxStorageBufferBindingSize: number;
}

export interface AttentionPlan {
  kernel: AttentionKernelConfig;
  /** Query positions per head in one workgroup (a divisor of blockSize, so a tile never spans two block rows). */
  rowsPerHead: number;
  /** Query heads of one GQA group packed into a workgroup; they share K/V tiles. */
  headsPerWorkgroup: number;
  firstTile: number;
  numTiles: number;
  headGroups: number;
  splits: number;
  /** Key slots per split, a multiple of the key tile. */
  splitSlots: number;
}

export const SUPPORTED_HEAD_DIMS = "a multiple of 16 up to 256";

/** Keys per K/V tile: 16 KiB of workgroup memory for K and V together (the WebGPU default limit). */
export function keyTileFor(headDim: number): number {
  let t = 8;
  while (t * 2 * headDim * 4 * 2 <= 16384) t *= 2;
  return t;
}

export function checkShape(shape: AttentionShape, layout: BlockSparseLayout): void {
  const { numHeads, numKvHeads, headDim, queryStart, queryLength, kvLength, kvCapacity } = shape;
  for (const [name, v] of Object.entries({ numHeads, numKvHeads, headDim, queryLength, kvCapacity })) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`attention shape: ${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(queryStart) || queryStart < 0) throw new Error(`attention shape: queryStart must be >= 0, got ${queryStart}`);
  if (numHeads % numKvHeads !== 0) throw new Error(`attention shape: numHeads ${numHeads} is not a multiple of numKvHeads ${numKvHeads}`);
  if (kvLength !== queryStart + queryLength) throw new Error(`attention shape: kvLength ${kvLength} != queryStart + queryLength ${queryStart + queryLength}`);
  if (kvLength > kvCapacity) throw new Error(`attention shape: kvLength ${kvLength} > kvCapacity ${kvCapacity}`);
  if (!(shape.scale > 0 && Number.isFinite(shape.scale))) throw new Error(`attention shape: scale must be positive, got ${shape.scale}`);
  if (headDim % 16 !== 0 || headDim > 256) throw new WebGpuUnsupportedError(`webgpu attention: head dim ${headDim} unsupported (${SUPPORTED_HEAD_DIMS})`);
  if (layout.numBlockRows * layout.blockSize < kvLength) {
    throw new Error(`layout covers ${layout.numBlockRows * layout.blockSize} tokens, the call needs ${kvLength}`);
  }
}

/** Validates the CSR rows [firstRow, lastRow] of every layout; throws a precise message on the first fault. */
export function checkLayoutRows(layout: BlockSparseLayout, firstRow: number, lastRow: number): void {
  const { numLayouts, numBlockRows, rowPtr, colIdx, maxNnz, blockSize } = layout;
  if (!(blockSize > 0 && Number.isInteger(blockSize))) throw new Error(`layout: bad blockSize ${blockSize}`);
  if (rowPtr.length < numLayouts * (numBlockRows + 1)) throw new Error(`layout: rowPtr has ${rowPtr.length} entries, expected ${numLayouts * (numBlockRows + 1)}`);
  if (colIdx.length < numLayouts * maxNnz) throw new Error(`layout: colIdx has ${colIdx.length} entries, expected >= ${numLayouts * maxNnz}`);
  for (let l = 0; l < numLayouts; l++) {
    const base = l * (numBlockRows + 1);
    for (let r = firstRow; r <= lastRow; r++) {
      const start = rowPtr[base + r];
      const end = rowPtr[base + r + 1];
      if (!(start >= 0 && end > start && end <= maxNnz)) throw new Error(`layout ${l} row ${r}: bad row pointers [${start}, ${end}) (maxNnz ${maxNnz})`);
      const cols = rowColumns(layout, l, r);
      if (cols[cols.length - 1] !== r) throw new Error(`layout ${l} row ${r}: the diagonal block must be listed last`);
      for (let i = 0; i < cols.length; i++) {
        if (cols[i] < 0 || cols[i] > r || (i > 0 && cols[i] <= cols[i - 1])) {
          throw new Error(`layout ${l} row ${r}: columns must be sorted, unique and within [0, ${r}]`);
        }
      }
    }
  }
}

function sameRows(layout: BlockSparseLayout, a: number, b: number, firstRow: number, lastRow: number): boolean {
  if (a === b) return true;
  for (let r = firstRow; r <= lastRow; r++) {
    const ca = rowColumns(layout, a, r);
    const cb = rowColumns(layout, b, r);
    if (ca.length !== cb.length) return false;
    for (let i = 0; i < ca.length; i++) if (ca[i] !== cb[i]) return false;
  }
  return true;
}

/** Whether every run of `pack` consecutive heads (aligned) uses identical layout rows, so they can share K/V tiles. */
function headsCanPack(shape: AttentionShape, layout: BlockSparseLayout, pack: number, firstRow: number, lastRow: number): boolean {
  if (layout.numLayouts === 1) return true;
  for (let h0 = 0; h0 < shape.numHeads; h0 += pack) {
    for (let i = 1; i < pack; i++) {
      if (!sameRows(layout, h0 % layout.numLayouts, (h0 + i) % layout.numLayouts, firstRow, lastRow)) return false;
    }
  }
  return true;
}

function largestDivisorAtMost(n: number, cap: number, accept: (d: number) => boolean = () => true): number {
  for (let d = Math.min(n, Math.max(1, Math.floor(cap))); d > 1; d--) if (n % d === 0 && accept(d)) return d;
  return 1;
}

export function planAttention(shape: AttentionShape, layout: BlockSparseLayout, limits: PlanLimits): AttentionPlan {
  const { numHeads, numKvHeads, headDim, queryStart, queryLength } = shape;
  const B = layout.blockSize;
  const lanesPerRow = limits.subgroups ? 4 : 1;
  // Decode (one query row) packs the GQA heads of a K/V head into a small workgroup; many of them, over key
  // splits, then stream the cache. The fallback keeps one shape for everything (fewer pipelines to compile).
  const rows = queryLength === 1 && limits.subgroups ? 8 : 64;
  const kernel: AttentionKernelConfig = { headDim, rows, lanesPerRow, keyTile: keyTileFor(headDim), unroll: limits.unroll };

  const firstRow = Math.floor(queryStart / B);
  const lastRow = Math.floor((queryStart + queryLength - 1) / B);
  const group = numHeads / numKvHeads;
  let want = 1;
  while (want < queryLength && want < rows) want *= 2;
  const rowsPerHead = largestDivisorAtMost(B, Math.min(rows, want));
  const headsPerWorkgroup = largestDivisorAtMost(group, rows / rowsPerHead, (d) => headsCanPack(shape, layout, d, firstRow, lastRow));
  const firstTile = Math.floor(queryStart / rowsPerHead);
  const numTiles = Math.floor((queryStart + queryLength - 1) / rowsPerHead) - firstTile + 1;
  const headGroups = numHeads / headsPerWorkgroup;
  if (numTiles > limits.maxWorkgroupsPerDimension || headGroups > limits.maxWorkgroupsPerDimension) {
    throw new WebGpuUnsupportedError(`webgpu attention: ${numTiles} query tiles x ${headGroups} head groups exceed the dispatch limit`);
  }

  // Longest list of key slots any tile walks (the tile's rows share one block row).
  let maxSlots = 0;
  for (let l = 0; l < layout.numLayouts; l++) {
    const base = l * (layout.numBlockRows + 1);
    for (let r = firstRow; r <= lastRow; r++) maxSlots = Math.max(maxSlots, (layout.rowPtr[base + r + 1] - layout.rowPtr[base + r]) * B);
  }
  const tile = kernel.keyTile;
  const baseInvocations = numTiles * headGroups * rows * lanesPerRow;
  let splits = 1;
  if (baseInvocations < limits.targetInvocations) {
    const bySize = Math.floor(maxSlots / Math.max(limits.minSplitKeys, tile));
    const byScratch = Math.floor(limits.maxStorageBufferBindingSize / (numHeads * queryLength * headDim * 4));
    splits = Math.max(1, Math.min(Math.ceil(limits.targetInvocations / baseInvocations), bySize, byScratch, limits.maxWorkgroupsPerDimension));
  }
  const splitSlots = Math.ceil(Math.ceil(maxSlots / splits) / tile) * tile;
  splits = Math.max(1, Math.ceil(maxSlots / splitSlots));
  return { kernel, rowsPerHead, headsPerWorkgroup, firstTile, numTiles, headGroups, splits, splitSlots };
}
