/**
 * Checks BlockFacts and derives the indexes the row builder needs (anchors split by tier, an anchor flag
 * per block). Bad facts are the layout's bug: fail loudly with the first offending value.
 */
import type { BlockFacts } from "./types";

/** Facts plus derived lookups; built once per facts version. */
export interface PreparedFacts {
  facts: BlockFacts;
  numBlocks: number;
  sinkBlocks: number;
  /** Distinct anchor tiers, highest first. */
  tiers: Int32Array;
  /** Sorted anchor blocks of each tier in `tiers` order. */
  anchorsByTier: Int32Array[];
  /** 1 where the block is an anchor. */
  isAnchor: Uint8Array;
  /** segmentStart, or all zeros (one segment) when the facts have none. */
  segmentStart: Int32Array;
}

export function prepareFacts(facts: BlockFacts): PreparedFacts {
  const { numBlocks, blockSize, anchorBlocks } = facts;
  if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new Error(`BlockFacts.numBlocks must be a positive integer, got ${numBlocks}`);
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`BlockFacts.blockSize must be a positive integer, got ${blockSize}`);
  const sinkBlocks = facts.sinkBlocks ?? 0;
  if (!Number.isInteger(sinkBlocks) || sinkBlocks < 0) throw new Error(`BlockFacts.sinkBlocks must be a non-negative integer, got ${sinkBlocks}`);

  const isAnchor = new Uint8Array(numBlocks);
  for (let i = 0; i < anchorBlocks.length; i++) {
    const b = anchorBlocks[i];
    if (b < 0 || b >= numBlocks) throw new Error(`BlockFacts.anchorBlocks[${i}] = ${b} is outside [0, ${numBlocks})`);
    if (i > 0 && b <= anchorBlocks[i - 1]) throw new Error(`BlockFacts.anchorBlocks must be sorted and unique (index ${i}: ${anchorBlocks[i - 1]} then ${b})`);
    isAnchor[b] = 1;
  }

  const tierOf = facts.anchorTier;
  if (tierOf && tierOf.length !== anchorBlocks.length) {
    throw new Error(`BlockFacts.anchorTier has ${tierOf.length} entries, anchorBlocks ${anchorBlocks.length}`);
  }
  const counts = new Int32Array(256);
  for (let i = 0; i < anchorBlocks.length; i++) counts[tierOf ? tierOf[i] : 0]++;
  const tierList: number[] = [];
  for (let t = 255; t >= 0; t--) if (counts[t] > 0) tierList.push(t);
  const anchorsByTier = tierList.map((t) => new Int32Array(counts[t]));
  const fill = new Int32Array(256);
  const slot = new Int32Array(256).fill(-1);
  tierList.forEach((t, i) => (slot[t] = i));
  for (let i = 0; i < anchorBlocks.length; i++) {
    const t = tierOf ? tierOf[i] : 0;
    anchorsByTier[slot[t]][fill[t]++] = anchorBlocks[i];
  }

  let segmentStart = facts.segmentStart;
  if (segmentStart) {
    if (segmentStart.length !== numBlocks) throw new Error(`BlockFacts.segmentStart has ${segmentStart.length} entries, expected numBlocks = ${numBlocks}`);
    for (let b = 0; b < numBlocks; b++) {
      const s = segmentStart[b];
      if (s < 0 || s > b) throw new Error(`BlockFacts.segmentStart[${b}] = ${s} must lie in [0, ${b}]`);
      if (b > 0 && s < segmentStart[b - 1]) throw new Error(`BlockFacts.segmentStart decreases at block ${b}`);
      if (s !== b && segmentStart[s] !== s) throw new Error(`BlockFacts.segmentStart[${b}] = ${s}, but block ${s} does not start its own segment`);
    }
  } else {
    segmentStart = new Int32Array(numBlocks);
  }

  return { facts, numBlocks, sinkBlocks, tiers: Int32Array.from(tierList), anchorsByTier, isAnchor, segmentStart };
}

/** Number of entries of sorted `arr` that are <= x. */
export function countAtMost(arr: Int32Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of entries of sorted `arr` that are < x. */
export function countBelow(arr: Int32Array, x: number): number {
  return countAtMost(arr, x - 1);
}
