/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend timed on the CUDA benchmark's own calls (./bench-shapes.ts), so the summary can report
 * it as a ratio to the CUDA kernel measured by kernels/cuda/bench/bench_gpu.py in the same device run.
 *
 * Timing as bench/bench-kernels-webgpu.ts: K/V in a device-resident cache, Q/out/lse in device buffers, N
 * calls recorded into one submission, wall time from submit to onSubmittedWorkDone / N, best of 3.
 * The WebGPU kernels compute in f32 (the H100's Dawn adapter has no shader-f16); the CUDA kernel in bf16.
 * Inputs are rounded to bf16 so both backends see the same values, and where the CUDA addon is present the
 * WebGPU output is compared with the CUDA output of the same call (bound: the suite's bf16 1e-2).
 * K/V/Q are a random chunk repeated along the sequence: the timing does not depend on the values, and
 * generating gigabytes of normals in JavaScript would cost more than the measurement.
 */
import { type AttentionShape, type BlockSparseLayout } from "../api";
import { CudaAttentionBackend, CudaUnavailableError } from "../cuda/index";
import { referenceAttention } from "../reference/attention";
import { Rng, TOLERANCE, roundInPlace } from "../testing";
import { BufferUsage, WebGpuAttention, WebGpuUnavailableError } from "../webgpu/index";
import { type BenchShape, benchCall, benchDecodeBytes, benchDensity, benchFlops, shapeLabel } from "./bench-shapes";

export interface WebGpuBenchRow {
  label: string;
  mode: BenchShape["mode"];
  length: number;
  pattern: string;
  numHeads: number;
  numKvHeads: number;
  density: number;
  /** bench_gpu.py's counts: FLOPs on kept pairs; decode bytes of bf16 K/V rows. */
  flops: number;
  bytes: number;
  /** Per-call GPU time (NaN when not measured). */
  webgpuMs: number;
  callsPerSubmit: number;
  /** query tiles x head groups x key splits */
  grid: string;
  /** max |webgpu - cuda| / max |cuda| over the whole output, or against the float64 reference on a few rows. */
  check: string;
  checkOk: boolean | null;
  note: string;
}

export interface WebGpuBenchResult {
  device: string;
  verdict: "pass" | "fail" | "skip" | "error";
  rows: WebGpuBenchRow[];
  note: string;
}

export interface WebGpuBenchOptions {
  budgetSeconds: number;
  startedAt: number;
  allowSoftware: boolean;
  /** Compare against the CUDA addon when it loads (default true). */
  crossCheck: boolean;
  log: (line: string) => void;
  /** Called after every shape with the rows so far (a run killed at its cap still leaves them). */
  onRows?: (device: string, rows: WebGpuBenchRow[]) => void;
}

/** Rows of K/V (and of Q) generated once and repeated along the sequence. */
const CHUNK_ROWS = 4096;
/** Host reference check only when the full K/V fits in this many floats (the smoke test's small shapes). */
const REFERENCE_MAX_FLOATS = 1 << 24;

/** [heads][rows][D] chunk of bf16-rounded normals. */
function randomChunk(rng: Rng, heads: number, rows: number, D: number): Float32Array {
  const a = rng.fillNormal(new Float32Array(heads * rows * D));
  roundInPlace(a, "bf16");
  return a;
}

/** Rows [start, start + count) of the tiled sequence, laid out [heads][count][D]. */
function tiledRows(chunk: Float32Array, heads: number, chunkRows: number, D: number, start: number, count: number): Float32Array {
  if (start % chunkRows === 0 && count === chunkRows) return chunk;
  const out = new Float32Array(heads * count * D);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < count; t++) {
      const src = (h * chunkRows + ((start + t) % chunkRows)) * D;
      out.set(chunk.subarray(src, src + D), (h * count + t) * D);
    }
  }
  return out;
}

/** The whole [heads][rows][D] tensor of the tiled sequence (for Q, and for the host reference on small shapes). */
function tiledTensor(chunk: Float32Array, heads: number, chunkRows: number, D: number, rows: number): Float32Array {
  const out = new Float32Array(heads * rows * D);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < rows; t += chunkRows) {
      const n = Math.min(chunkRows, rows - t);
      out.set(chunk.subarray(h * chunkRows * D, (h * chunkRows + n) * D), (h * rows + t) * D);
    }
  }
  return out;
}

/** max |got - want| / max |want| over the entries `want` defines (the reference leaves unchecked rows NaN). */
function maxRelDiff(got: Float32Array, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) continue;
    scale = Math.max(scale, Math.abs(want[i]));
    const d = Math.abs(got[i] - want[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
  }
  return diff / Math.max(scale, 1e-30);
}

function openCuda(o: WebGpuBenchOptions): CudaAttentionBackend | undefined {
  if (!o.crossCheck) return undefined;
  try {
    return new CudaAttentionBackend({ dtype: "bf16" });
  } catch (err) {
    if (err instanceof CudaUnavailableError) {
      o.log(`[webgpu bench] no CUDA cross-check: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

export async function runWebGpuBench(shapes: BenchShape[], o: WebGpuBenchOptions): Promise<WebGpuBenchResult> {
  let gpu: WebGpuAttention;
  try {
    gpu = await WebGpuAttention.create();
  } catch (err) {
    if (err instanceof WebGpuUnavailableError) {
      o.log(`[webgpu bench] SKIPPED: ${err.message}`);
      return { device: "none", verdict: "skip", rows: [], note: err.message };
    }
    throw err;
  }
  const device = gpu.info.description;
  if (gpu.info.software && !o.allowSoftware) {
    gpu.dispose();
    const note = "a software adapter, not a GPU (pass --allow-software to time it anyway)";
    o.log(`[webgpu bench] SKIPPED: ${note}`);
    return { device, verdict: "skip", rows: [], note };
  }
  o.log(`[webgpu bench] adapter ${device}; tuning ${JSON.stringify(gpu.tuning)}`);
  const cuda = openCuda(o);
  const rows: WebGpuBenchRow[] = [];
  try {
    for (const [i, s] of shapes.entries()) {
      const elapsed = (performance.now() - o.startedAt) / 1000;
      const base = emptyRow(s);
      if (i > 0 && elapsed > o.budgetSeconds) {
        rows.push({ ...base, note: `not run: time budget (${o.budgetSeconds} s) spent` });
        continue;
      }
      try {
        rows.push(await benchShape(gpu, cuda, s, base, o));
      } catch (err) {
        o.log(`[webgpu bench] ${base.label}: ERROR ${(err as Error).stack ?? err}`);
        rows.push({ ...base, note: `error: ${(err as Error).message.split("\n")[0]}` });
      }
      const r = rows[rows.length - 1];
      const timing = Number.isNaN(r.webgpuMs) ? "not timed" : `${r.webgpuMs.toFixed(3)} ms per call (${r.callsPerSubmit} per submission), grid ${r.grid}, check ${r.check}`;
      o.log(`[webgpu bench] ${r.label} ${r.pattern}: ${timing}${r.note ? ` — ${r.note}` : ""}`);
      o.onRows?.(device, rows);
    }
  } finally {
    cuda?.dispose();
    gpu.dispose();
  }
  const measured = rows.filter((r) => !Number.isNaN(r.webgpuMs));
  const verdict = rows.some((r) => r.checkOk === false || r.note.startsWith("error")) ? "fail" : measured.length > 0 ? "pass" : "skip";
  return { device, verdict, rows, note: cuda ? "cross-checked against the CUDA addon" : "no CUDA cross-check" };
}

function emptyRow(s: BenchShape): WebGpuBenchRow {
  const { shape, layout } = benchCall(s);
  return {
    label: shapeLabel(s),
    mode: s.mode,
    length: s.length,
    pattern: s.pattern,
    numHeads: s.numHeads,
    numKvHeads: s.numKvHeads,
    density: benchDensity(shape, layout),
    flops: benchFlops(shape, layout),
    bytes: s.mode === "decode" ? benchDecodeBytes(shape, layout) : Number.NaN,
    webgpuMs: Number.NaN,
    callsPerSubmit: 0,
    grid: "",
    check: "",
    checkOk: null,
    note: "",
  };
}

async function benchShape(gpu: WebGpuAttention, cuda: CudaAttentionBackend | undefined, s: BenchShape, row: WebGpuBenchRow, o: WebGpuBenchOptions): Promise<WebGpuBenchRow> {
  const { shape: want, layout } = benchCall(s);
  const { numHeads: H, numKvHeads: KVH, headDim: D, queryLength, kvLength } = want;
  const device = gpu.gpuDevice;
  const limit = device.limits.maxStorageBufferBindingSize;
  const kvBytes = KVH * kvLength * D * 4;
  const qBytes = H * queryLength * D * 4;
  if (Math.max(kvBytes, qBytes) > limit) {
    return { ...row, note: `not run: an f32 K/V or Q buffer of ${(Math.max(kvBytes, qBytes) / 2 ** 30).toFixed(2)} GiB exceeds the ${(limit / 2 ** 30).toFixed(2)} GiB binding limit` };
  }
  const rng = new Rng(20261123 + s.length);
  const chunkRows = Math.min(CHUNK_ROWS, kvLength);
  const kChunk = randomChunk(rng, KVH, chunkRows, D);
  const vChunk = randomChunk(rng, KVH, chunkRows, D);
  const qRows = Math.min(CHUNK_ROWS, queryLength);
  const q = tiledTensor(randomChunk(rng, H, qRows, D), H, qRows, D, queryLength);

  const cache = gpu.createKvCache(KVH, D, kvLength);
  for (let t = 0; t < kvLength; t += chunkRows) {
    const n = Math.min(chunkRows, kvLength - t);
    cache.append(tiledRows(kChunk, KVH, chunkRows, D, t, n), tiledRows(vChunk, KVH, chunkRows, D, t, n), n);
  }
  const shape: AttentionShape = { ...want, kvCapacity: cache.capacity };
  const gpuLayout = gpu.uploadLayout(layout);
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const qBuf = device.createBuffer({ size: qBytes, usage });
  device.queue.writeBuffer(qBuf, 0, q);
  const outBuf = device.createBuffer({ size: qBytes, usage });
  const lseBuf = device.createBuffer({ size: Math.max(16, H * queryLength * 4), usage });
  const tensors = { q: qBuf, k: cache.k, v: cache.v, out: outBuf, lse: lseBuf };
  try {
    const run = async (n: number): Promise<number> => {
      const encoder = device.createCommandEncoder();
      for (let i = 0; i < n; i++) await gpu.encodeAttention(encoder, shape, gpuLayout, tensors);
      const t0 = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      return (performance.now() - t0) / n;
    };
    await run(1); // compiles the pipeline, touches every buffer
    const first = await run(1);
    // ~0.3 s per submission (short decode calls need many per submission); one call when a call takes seconds.
    const perSubmit = Math.min(200, Math.max(1, Math.ceil(300 / Math.max(first, 0.01))));
    const reps = first > 2000 ? 1 : 3;
    const times: number[] = [first];
    for (let r = 0; r < reps; r++) times.push(await run(perSubmit));
    const plan = gpu.plan(shape, layout);
    const result: WebGpuBenchRow = { ...row, webgpuMs: Math.min(...times), callsPerSubmit: perSubmit, grid: `${plan.numTiles}x${plan.headGroups}x${plan.splits}` };

    // Correctness of this very call: host round trip, then against CUDA (same bf16 values) or the reference.
    const out = new Float32Array(H * queryLength * D);
    const lse = new Float32Array(H * queryLength);
    await gpu.attendCached({ numHeads: H, queryStart: shape.queryStart, queryLength, scale: shape.scale }, gpuLayout, q, cache, { out, lse });
    const bound = TOLERANCE.bf16.out;
    if (cuda) {
      const err = await compareWithCuda(cuda, want, layout, q, kChunk, vChunk, chunkRows, out);
      return { ...result, check: `vs cuda ${err.toExponential(1)}`, checkOk: err <= bound };
    }
    if (KVH * kvLength * D <= REFERENCE_MAX_FLOATS) {
      const k = tiledTensor(kChunk, KVH, chunkRows, D, kvLength);
      const v = tiledTensor(vChunk, KVH, chunkRows, D, kvLength);
      const checkRows = [0, Math.floor(queryLength / 2), queryLength - 1].filter((r, i, a) => a.indexOf(r) === i);
      const err = maxRelDiff(out, referenceAttention(want, layout, { q, k, v }, checkRows).out);
      return { ...result, check: `vs f64 ref ${err.toExponential(1)}`, checkOk: err <= TOLERANCE.fp32.out };
    }
    return { ...result, check: "none", note: "no CUDA addon to compare with" };
  } finally {
    qBuf.destroy();
    outBuf.destroy();
    lseBuf.destroy();
    gpuLayout.dispose();
    cache.dispose();
  }
}

async function compareWithCuda(
  cuda: CudaAttentionBackend,
  shape: AttentionShape,
  layout: BlockSparseLayout,
  q: Float32Array,
  kChunk: Float32Array,
  vChunk: Float32Array,
  chunkRows: number,
  webgpuOut: Float32Array,
): Promise<number> {
  const { numKvHeads: KVH, headDim: D, kvLength } = shape;
  const cache = cuda.createKvCache(KVH, kvLength, D);
  const lay = cuda.uploadLayout(layout);
  try {
    for (let t = 0; t < kvLength; t += chunkRows) {
      const n = Math.min(chunkRows, kvLength - t);
      cache.write(tiledRows(kChunk, KVH, chunkRows, D, t, n), tiledRows(vChunk, KVH, chunkRows, D, t, n), t, n);
    }
    const out = new Float32Array(webgpuOut.length);
    await cuda.attentionWithCache(shape, lay, q, cache, out);
    return maxRelDiff(webgpuOut, out);
  } finally {
    lay.dispose();
    cache.dispose();
  }
}
