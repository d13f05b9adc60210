/**
 * Pieces the engine benchmarks share (bench-engine.ts on this machine, bench-engine-gpu.ts on the GPU machine):
 * number formatting, a wall + CPU timer, and the synthetic repository-like block facts the sparse patterns are
 * built from (a repository map of anchor blocks, then files of 4–40 blocks), so both measure the same layout.
 */
import type { BlockSparseLayout } from "../kernels/api";
import { rowColumns } from "../kernels/api";
import { ANCHOR_TIER } from "../model-runtime/src/layout/repo-layout";
import type { ModelConfig } from "../model-runtime/src/model/config";
import type { BlockFacts } from "../model-runtime/src/patterns/types";

export const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
export const mib = (b: number) => `${fmt(b / 2 ** 20)} MiB`;

/** Wall and process CPU time (all threads) of one call. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; cpuMs: number; value: T }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  const cu = process.cpuUsage(c0);
  return { ms, cpuMs: (cu.user + cu.system) / 1000, value };
}

/**
 * Repository-like facts over `tokens` positions (+ `answerRoom` positions in a last segment of their own): a map of
 * anchor blocks (1/8 of the sequence, anchor tiers cycling over the heads) then files of 4–40 blocks.
 */
export function repoFacts(c: ModelConfig, tokens: number, answerRoom = 0): BlockFacts {
  const B = c.blockSize;
  const R = Math.ceil((tokens + answerRoom) / B);
  const mapBlocks = Math.max(1, Math.floor(tokens / B / 8));
  const segmentStart = new Int32Array(R);
  let start = mapBlocks;
  let next = start + 4 + ((start * 7919) % 37);
  for (let b = 0; b < R; b++) {
    if (b >= mapBlocks && b >= next && b * B < tokens) {
      start = b;
      next = b + 4 + ((b * 7919) % 37);
    }
    segmentStart[b] = b < mapBlocks ? 0 : b * B >= tokens ? Math.floor(tokens / B) : start;
  }
  return {
    numBlocks: R,
    blockSize: B,
    anchorBlocks: Int32Array.from({ length: mapBlocks }, (_, i) => i),
    anchorTier: Uint8Array.from({ length: mapBlocks }, (_, i) => ANCHOR_TIER + (i % c.numHeads)),
    segmentStart,
    sinkBlocks: 1,
  };
}

/** Mean and largest number of kept key blocks per (layout, block row). */
export function meanKept(layout: BlockSparseLayout): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let l = 0; l < layout.numLayouts; l++)
    for (let r = 0; r < layout.numBlockRows; r++) {
      const n = rowColumns(layout, l, r).length;
      sum += n;
      max = Math.max(max, n);
    }
  return { mean: sum / (layout.numLayouts * layout.numBlockRows), max };
}

/** A deterministic token id at position i, clear of the first 16 (special) ids. */
export const syntheticToken = (c: ModelConfig, i: number) => 16 + ((i * 2654435761) % (c.vocabSize - 16));
