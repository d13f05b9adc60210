/**
 * The CUDA benchmark's shapes and layouts (kernels/cuda/bench/bench_gpu.py), rebuilt in TypeScript so the
 * WebGPU backend can be timed on exactly the same calls and reported as a ratio to the CUDA kernel.
 * Keep these in step with bench_gpu.py: `strided()` there is `benchStridedLayout()` here, and the FLOP and
 * byte counts are its `kept_stats()` and `decode_bytes()`.
 */
import type { AttentionShape, BlockSparseLayout } from "../api";
import { buildLayout } from "../testing/layouts";

/** bench_gpu.py's block size and head dim. */
export const BENCH_BLOCK = 128;
export const BENCH_HEAD_DIM = 128;

export type BenchMode = "prefill" | "decode";

export interface BenchShape {
  mode: BenchMode;
  /** Tokens: the prefill length, or the KV length of the decode step. */
  length: number;
  /** bench_gpu.py's pattern name, the key the summary joins on. */
  pattern: "strided";
  numHeads: number;
  numKvHeads: number;
}

/**
 * bench_gpu.py `strided(rows, local, stride)`: a window of `local` blocks, every block c with c % stride ==
 * stride - 1, and block 0. Prefill uses local 8 / stride 32, decode local 32 / stride 16 (as there).
 */
export function benchStridedLayout(mode: BenchMode, numBlockRows: number): BlockSparseLayout {
  const [local, stride] = mode === "prefill" ? [8, 32] : [32, 16];
  return buildLayout(BENCH_BLOCK, numBlockRows, 1, (_l, r) => {
    const cols = [0];
    for (let c = Math.max(0, r - local + 1); c <= r; c++) cols.push(c);
    for (let c = stride - 1; c <= r; c += stride) cols.push(c);
    return cols;
  });
}

/** The attention call bench_gpu.py times for this shape: K/V capacity = length, one layout for all heads. */
export function benchCall(s: BenchShape): { shape: AttentionShape; layout: BlockSparseLayout } {
  const rows = s.length / BENCH_BLOCK;
  if (!Number.isInteger(rows)) throw new Error(`bench length ${s.length} is not a multiple of ${BENCH_BLOCK}`);
  const queryStart = s.mode === "prefill" ? 0 : s.length - 1;
  const shape: AttentionShape = {
    numHeads: s.numHeads,
    numKvHeads: s.numKvHeads,
    headDim: BENCH_HEAD_DIM,
    queryStart,
    queryLength: s.length - queryStart,
    kvLength: s.length,
    kvCapacity: s.length,
    scale: 1 / Math.sqrt(BENCH_HEAD_DIM),
  };
  return { shape, layout: benchStridedLayout(s.mode, rows) };
}

/** (query, key) pairs attended by query rows [queryStart, kvLength) of layout 0, causal inside the diagonal. */
export function attendedPairs(layout: BlockSparseLayout, queryStart: number, kvLength: number): number {
  const B = layout.blockSize;
  let pairs = 0;
  for (let pos = queryStart; pos < kvLength; pos++) {
    const row = Math.floor(pos / B);
    const kept = layout.rowPtr[row + 1] - layout.rowPtr[row];
    pairs += (kept - 1) * B + (pos - row * B + 1); // the diagonal block is always kept (kernels/api.ts)
  }
  return pairs;
}

/** FLOPs as bench_gpu.py counts them: 4 * headDim per attended pair, every query head. */
export function benchFlops(shape: AttentionShape, layout: BlockSparseLayout): number {
  return 4 * shape.headDim * shape.numHeads * attendedPairs(layout, shape.queryStart, shape.kvLength);
}

/** Decode bytes as bench_gpu.py counts them: K and V rows of the kept keys, bf16, each KV head once. The
 * WebGPU kernels hold K/V in f32, so they stream twice these bytes: the ratio compares the calls, not the bytes. */
export function benchDecodeBytes(shape: AttentionShape, layout: BlockSparseLayout): number {
  return attendedPairs(layout, shape.kvLength - 1, shape.kvLength) * shape.headDim * 2 * 2 * shape.numKvHeads;
}

/** Kept blocks over the causal block triangle of the query rows (bench_gpu.py's "density"). */
export function benchDensity(shape: AttentionShape, layout: BlockSparseLayout): number {
  const B = layout.blockSize;
  const r0 = Math.floor(shape.queryStart / B);
  const r1 = Math.floor((shape.kvLength - 1) / B);
  const kept = layout.rowPtr[r1 + 1] - layout.rowPtr[r0];
  const triangle = ((r1 + 1) * (r1 + 2)) / 2 - (r0 * (r0 + 1)) / 2;
  return kept / triangle;
}

/**
 * Parses "prefill:65536:strided:16/16,decode:131072:strided:32/8" (mode:length:pattern:heads/kvHeads).
 * Lengths may be written 64k / 1M.
 */
export function parseBenchShapes(spec: string): BenchShape[] {
  return spec.split(",").filter((s) => s.trim()).map((item) => {
    const [mode, len, pattern, heads] = item.trim().split(":");
    if (mode !== "prefill" && mode !== "decode") throw new Error(`shape ${item}: mode must be prefill or decode`);
    if (pattern !== "strided") throw new Error(`shape ${item}: only the "strided" pattern is rebuilt here (bench_gpu.py's random one uses torch's generator)`);
    const m = /^(\d+)([kKmM]?)$/.exec(len ?? "");
    if (!m) throw new Error(`shape ${item}: bad length ${len}`);
    const length = Number(m[1]) * (m[2] === "" ? 1 : /k/i.test(m[2]) ? 1024 : 1024 * 1024);
    const hm = /^(\d+)\/(\d+)$/.exec(heads ?? "");
    if (!hm) throw new Error(`shape ${item}: heads must be H/Hkv`);
    return { mode, length, pattern, numHeads: Number(hm[1]), numKvHeads: Number(hm[2]) };
  });
}

/** "prefill 64k H16/16" — the label the summary prints. */
export function shapeLabel(s: BenchShape): string {
  const len = s.length % (1024 * 1024) === 0 ? `${s.length / (1024 * 1024)}M` : `${s.length / 1024}k`;
  return `${s.mode} ${len} H${s.numHeads}/${s.numKvHeads}`;
}
