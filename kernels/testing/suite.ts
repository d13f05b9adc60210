/**
 * The shared kernel test suite: every attention backend (cpu, webgpu, cuda) runs these cases against the
 * float64 reference on fresh random inputs. A case fixes the structure (mode, pattern, block size, head dim,
 * GQA ratio); lengths, layout parameters and data are drawn from the run's seed, which is logged.
 *
 * What a case checks, beyond the error bounds of ./precision.ts:
 * - every element of `out` and `lse` is written (both are NaN-filled before each call);
 * - nothing outside `out` and `lse` is written (they are views into larger buffers with guard zones);
 * - the inputs are left as they were (bit for bit, including the NaN-filled cache tail);
 * - key/value rows at or beyond kvLength are never read: the unused cache tail holds NaN, which would
 *   reach the output through any read (0 * NaN = NaN).
 */
import type { AttentionInputs, AttentionShape, BlockSparseLayout, SparseAttentionBackend } from "../api";
import { rowColumns } from "../api";
import { referenceAttention } from "../reference/attention";
import { type PatternKind, PATTERN_KINDS, denseLayout, randomPatternLayout, validateLayout } from "./layouts";
import { type Precision, TOLERANCE, roundInPlace } from "./precision";
import { Rng, runSeed } from "./random";

export type SuiteMode = "prefill" | "chunked" | "decode";

export interface SuiteCase {
  name: string;
  mode: SuiteMode;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  pattern: PatternKind | "dense";
  /** Total tokens (kvLength; for decode, the cache length at the first step) as [lo, hi]; drawn per run. */
  length: [number, number];
  /** Layout count: a number, "perHead" (= numHeads), or undefined for a random pick among 1, 2, 3, numHeads. */
  numLayouts?: number | "perHead";
  /** Standard deviation of the scaled scores; > 1 makes the softmax peaky. */
  scoreScale?: number;
  /** Decode steps run one after another on the same cache, each appending a row in place. */
  decodeSteps?: number;
  /** At most this many query rows are checked against the reference (all heads); the rest only for being written. */
  maxCheckedRows?: number;
}

export interface CaseResult {
  name: string;
  seed: number;
  ok: boolean;
  /** Why it failed (empty when ok). */
  problems: string[];
  outError: number;
  lseError: number;
  checkedRows: number;
  totalRows: number;
  ms: number;
  /** The shapes actually run (one per decode step). */
  shapes: AttentionShape[];
}

export interface SuiteOptions {
  /** A smaller set of cases (~20) for quick runs; the full set is ~100 cases. */
  quick?: boolean;
  /** Suite seed; defaults to LONGVIEW_KERNEL_SEED or a fresh random one. */
  seed?: number;
  /** The backend's arithmetic; sets the bounds and rounds inputs to it. */
  precision?: Precision;
  /** Only cases whose name contains this string or matches this pattern. */
  only?: string | RegExp;
  /** Logger for the seed and one line per case (default console.log). */
  log?: (line: string) => void;
  /** Throw (with every failure listed) when a case fails. Default true. */
  throwOnFailure?: boolean;
}

const HEAD_DIMS = [64, 128] as const;
const GQA_RATIOS = [1, 4, 8] as const;
const BLOCK_SIZES = [16, 64, 128] as const;
const MODES: readonly SuiteMode[] = ["prefill", "chunked", "decode"];
/** Reference work per case (multiply-adds) above which query rows are sampled. */
const REFERENCE_BUDGET = 4e7;
const GUARD = 37;
const GUARD_VALUE = 1234.5;

function headsFor(gqa: number): { numHeads: number; numKvHeads: number } {
  return gqa === 1 ? { numHeads: 4, numKvHeads: 4 } : { numHeads: 8, numKvHeads: 8 / gqa };
}

/** Lengths in blocks per block size, kept small enough that the reference stays cheap. */
function lengthRange(blockSize: number, mode: SuiteMode): [number, number] {
  const blocks = blockSize === 16 ? [5, 24] : blockSize === 64 ? [3, 12] : [2, 8];
  const lo = blocks[0] * blockSize + 1;
  const hi = blocks[1] * blockSize + blockSize - 1;
  return mode === "decode" ? [lo, hi * 2] : [lo, hi];
}

/** The case list. Every (mode, pattern, block size) appears; head dims and GQA ratios rotate through them. */
export function sharedSuiteCases(options: { quick?: boolean } = {}): SuiteCase[] {
  const cases: SuiteCase[] = [];
  const combos = HEAD_DIMS.flatMap((headDim) => GQA_RATIOS.map((gqa) => ({ headDim, gqa })));
  let k = 0;
  for (const mode of MODES) {
    for (const [pi, pattern] of PATTERN_KINDS.entries()) {
      const blocks = options.quick ? [BLOCK_SIZES[(pi + MODES.indexOf(mode)) % BLOCK_SIZES.length]] : BLOCK_SIZES;
      const variants = options.quick ? 1 : 2;
      for (const blockSize of blocks) {
        for (let v = 0; v < variants; v++) {
          const { headDim, gqa } = combos[(k + v * 3) % combos.length];
          cases.push({
            name: `${mode}/${pattern}/b${blockSize}/d${headDim}/gqa${gqa}${variants > 1 ? `/v${v}` : ""}`,
            mode,
            ...headsFor(gqa),
            headDim,
            blockSize,
            pattern,
            length: lengthRange(blockSize, mode),
            decodeSteps: mode === "decode" ? 3 : undefined,
          });
        }
        k++;
      }
    }
  }
  // Edges that random lengths hit only rarely.
  cases.push(
    { name: "edge/shorter-than-one-block", mode: "prefill", ...headsFor(4), headDim: 64, blockSize: 64, pattern: "local", length: [1, 63] },
    { name: "edge/first-token-decode", mode: "decode", ...headsFor(8), headDim: 128, blockSize: 16, pattern: "global", length: [1, 1], decodeSteps: 18 },
    { name: "edge/decode-opens-a-block", mode: "decode", ...headsFor(1), headDim: 64, blockSize: 64, pattern: "strided", length: [5 * 64 + 1, 5 * 64 + 1], decodeSteps: 2 },
    { name: "edge/spiky-scores", mode: "prefill", ...headsFor(4), headDim: 64, blockSize: 16, pattern: "random", length: [300, 500], scoreScale: 8 },
    { name: "edge/dense-causal", mode: "prefill", ...headsFor(1), headDim: 64, blockSize: 16, pattern: "dense", length: [150, 260] },
    { name: "edge/layout-per-head", mode: "chunked", ...headsFor(8), headDim: 64, blockSize: 16, pattern: "random", length: [200, 400], numLayouts: "perHead" },
  );
  if (!options.quick) {
    cases.push(
      { name: "big/prefill-4k", mode: "prefill", ...headsFor(4), headDim: 128, blockSize: 64, pattern: "global", length: [4097, 4159], maxCheckedRows: 48 },
      { name: "big/chunked-8k-past", mode: "chunked", ...headsFor(1), headDim: 128, blockSize: 128, pattern: "local", length: [8200, 9000], maxCheckedRows: 48 },
      { name: "big/decode-16k", mode: "decode", ...headsFor(8), headDim: 64, blockSize: 64, pattern: "strided", length: [16385, 16447], decodeSteps: 2 },
    );
  }
  return cases;
}

interface Allocation {
  buffer: Float32Array;
  view: Float32Array;
}

/** A NaN-filled view with guard zones on both sides, to catch unwritten and out-of-bounds elements. */
function guarded(length: number): Allocation {
  const buffer = new Float32Array(length + 2 * GUARD).fill(GUARD_VALUE);
  const view = buffer.subarray(GUARD, GUARD + length).fill(Number.NaN);
  return { buffer, view };
}

function guardsIntact(a: Allocation): boolean {
  const n = a.buffer.length;
  for (let i = 0; i < GUARD; i++) if (a.buffer[i] !== GUARD_VALUE || a.buffer[n - 1 - i] !== GUARD_VALUE) return false;
  return true;
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function caseSeed(suiteSeed: number, name: string): number {
  let h = suiteSeed >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Query rows to check: all when cheap, else the edges, block boundaries and a random sample. */
function rowsToCheck(rng: Rng, shape: AttentionShape, layout: BlockSparseLayout, limit: number | undefined): number[] {
  const { queryStart, queryLength, numHeads, headDim } = shape;
  const B = layout.blockSize;
  let keys = 0;
  const probe = Math.min(queryLength, 64);
  for (let i = 0; i < probe; i++) {
    const r = Math.floor((i * queryLength) / probe);
    keys += rowColumns(layout, 0, Math.floor((queryStart + r) / B)).length * B;
  }
  const costPerRow = (keys / probe) * headDim * numHeads * 2;
  const affordable = Math.max(8, Math.floor(REFERENCE_BUDGET / Math.max(costPerRow, 1)));
  const max = Math.min(limit ?? Infinity, affordable);
  if (queryLength <= max) return Array.from({ length: queryLength }, (_, i) => i);
  const rows = new Set<number>([0, queryLength - 1]);
  for (let pos = Math.ceil(queryStart / B) * B; pos < queryStart + queryLength && rows.size < max / 2; pos += B * rng.int(1, 4)) {
    rows.add(pos - queryStart);
    if (pos - 1 >= queryStart) rows.add(pos - 1 - queryStart);
  }
  while (rows.size < max) rows.add(rng.int(0, queryLength - 1));
  return [...rows].sort((a, b) => a - b);
}

/** Runs one case on `backend`; never throws for a wrong result (see CaseResult.problems). */
export async function runCase(backend: SparseAttentionBackend, c: SuiteCase, suiteSeed: number, precision: Precision = "fp32"): Promise<CaseResult> {
  const seed = caseSeed(suiteSeed, c.name);
  const rng = new Rng(seed);
  const { numHeads, numKvHeads, headDim: D, blockSize: B, mode } = c;
  const tol = TOLERANCE[precision];
  const scoreScale = c.scoreScale ?? 1;
  const problems: string[] = [];
  const shapes: AttentionShape[] = [];
  let outError = 0;
  let lseError = 0;
  let checkedRows = 0;
  let totalRows = 0;
  const t0 = performance.now();

  const length = rng.int(c.length[0], c.length[1]);
  const steps = mode === "decode" ? (c.decodeSteps ?? 1) : 1;
  const kvLengthEnd = length + steps - 1;
  const kvCapacity = kvLengthEnd + (rng.next() < 0.3 ? 0 : rng.int(1, B + 5));
  const numBlockRows = Math.ceil(kvCapacity / B) + rng.int(0, 2);
  const numLayouts =
    c.numLayouts === "perHead" ? numHeads : (c.numLayouts ?? rng.pick([1, 2, 3, numHeads].filter((n) => n <= numHeads)));
  const layout = c.pattern === "dense" ? denseLayout(B, numBlockRows, numLayouts) : randomPatternLayout(rng, c.pattern, B, numBlockRows, numLayouts);
  validateLayout(layout);

  // Inputs: scores q·k·scale have standard deviation scoreScale when q and k are N(0, sqrt(scoreScale)).
  const qkStd = Math.sqrt(scoreScale);
  const k = new Float32Array(numKvHeads * kvCapacity * D).fill(Number.NaN);
  const v = new Float32Array(numKvHeads * kvCapacity * D).fill(Number.NaN);
  const writeKvRows = (from: number, to: number): void => {
    for (let h = 0; h < numKvHeads; h++) {
      const base = h * kvCapacity * D;
      rng.fillNormal(k, qkStd, base + from * D, base + to * D);
      rng.fillNormal(v, 1, base + from * D, base + to * D);
      roundInPlace(k.subarray(base + from * D, base + to * D), precision);
      roundInPlace(v.subarray(base + from * D, base + to * D), precision);
    }
  };
  const firstStart = mode === "prefill" ? 0 : mode === "decode" ? length - 1 : chunkStart(rng, length, B);
  writeKvRows(0, length);

  for (let step = 0; step < steps; step++) {
    const kvLength = length + step;
    if (step > 0) {
      // The cache grows in place: the new token's key/value land in the (NaN) tail of the same buffers.
      writeKvRows(kvLength - 1, kvLength);
    }
    const queryStart = step === 0 ? firstStart : kvLength - 1;
    const queryLength = kvLength - queryStart;
    const shape: AttentionShape = { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvLength, kvCapacity, scale: 1 / Math.sqrt(D) };
    shapes.push(shape);
    const q = rng.fillNormal(new Float32Array(numHeads * queryLength * D), qkStd);
    roundInPlace(q, precision);
    const inputs: AttentionInputs = { q, k, v };
    const copies = { q: q.slice(), k: k.slice(), v: v.slice() };
    const out = guarded(numHeads * queryLength * D);
    const lse = guarded(numHeads * queryLength);
    const where = `step ${step} (queryStart ${queryStart}, queryLength ${queryLength}, kvLength ${kvLength}, kvCapacity ${kvCapacity})`;
    try {
      await backend.attention(shape, layout, inputs, { out: out.view, lse: lse.view });
    } catch (err) {
      problems.push(`${where}: backend threw ${(err as Error).message}`);
      break;
    }
    const badOut = firstNonFinite(out.view);
    const badLse = firstNonFinite(lse.view);
    if (badOut >= 0) problems.push(`${where}: out[${badOut}] not written or not finite (${out.view[badOut]})`);
    if (badLse >= 0) problems.push(`${where}: lse[${badLse}] not written or not finite (${lse.view[badLse]})`);
    if (!guardsIntact(out) || !guardsIntact(lse)) problems.push(`${where}: wrote outside out/lse`);
    if (!sameBits(q, copies.q) || !sameBits(k, copies.k) || !sameBits(v, copies.v)) problems.push(`${where}: modified its inputs`);

    const rows = rowsToCheck(rng, shape, layout, c.maxCheckedRows);
    const ref = referenceAttention(shape, layout, inputs, rows);
    let maxRef = 0;
    let maxDiff = 0;
    for (let h = 0; h < numHeads; h++) {
      for (const r of rows) {
        const off = (h * queryLength + r) * D;
        for (let d = 0; d < D; d++) {
          const want = ref.out[off + d];
          maxRef = Math.max(maxRef, Math.abs(want));
          const diff = Math.abs(out.view[off + d] - want);
          maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
        }
        const wantLse = ref.lse[h * queryLength + r];
        const e = Math.abs(lse.view[h * queryLength + r] - wantLse) / Math.max(1, Math.abs(wantLse));
        lseError = Number.isNaN(e) ? Infinity : Math.max(lseError, e);
      }
    }
    outError = Math.max(outError, maxDiff / Math.max(maxRef, 1e-30));
    checkedRows += rows.length;
    totalRows += queryLength;
  }
  const condition = Math.max(1, scoreScale);
  if (outError > tol.out * condition) problems.push(`out error ${outError.toExponential(2)} > ${(tol.out * condition).toExponential(1)}`);
  if (lseError > tol.lse * condition) problems.push(`lse error ${lseError.toExponential(2)} > ${(tol.lse * condition).toExponential(1)}`);
  return { name: c.name, seed, ok: problems.length === 0, problems, outError, lseError, checkedRows, totalRows, ms: performance.now() - t0, shapes };
}

/** A chunk start strictly inside the sequence: a quarter of the time on a block boundary, else anywhere. */
function chunkStart(rng: Rng, length: number, B: number): number {
  if (length < 2) return 0;
  if (rng.next() < 0.25 && length > B) return B * rng.int(1, Math.floor((length - 1) / B));
  return rng.int(1, length - 1);
}

export interface SuiteReport {
  backend: string;
  seed: number;
  results: CaseResult[];
  failures: CaseResult[];
  ms: number;
}

/**
 * Runs the shared suite on `backend`. Logs the seed first (replay: LONGVIEW_KERNEL_SEED=<seed>), one line per
 * case, and throws listing every failure unless `throwOnFailure` is false.
 */
export async function runSharedSuite(backend: SparseAttentionBackend, options: SuiteOptions = {}): Promise<SuiteReport> {
  const seed = options.seed ?? runSeed();
  const log = options.log ?? ((line: string) => console.log(line));
  const precision = options.precision ?? "fp32";
  log(`[kernel suite] backend=${backend.name} precision=${precision} seed=${seed} (replay with LONGVIEW_KERNEL_SEED=${seed})`);
  const t0 = performance.now();
  const results: CaseResult[] = [];
  for (const c of sharedSuiteCases({ quick: options.quick })) {
    const only = options.only;
    if (only !== undefined && !(typeof only === "string" ? c.name.includes(only) : only.test(c.name))) continue;
    const r = await runCase(backend, c, seed, precision);
    results.push(r);
    log(formatResult(r));
  }
  const failures = results.filter((r) => !r.ok);
  const report: SuiteReport = { backend: backend.name, seed, results, failures, ms: performance.now() - t0 };
  log(`[kernel suite] ${results.length - failures.length} passed, ${failures.length} failed in ${(report.ms / 1000).toFixed(1)} s (seed ${seed})`);
  if (failures.length > 0 && options.throwOnFailure !== false) {
    throw new Error(`kernel suite: ${failures.length} case(s) failed on ${backend.name} (LONGVIEW_KERNEL_SEED=${seed}):\n` + failures.map(formatResult).join("\n"));
  }
  return report;
}

export function formatResult(r: CaseResult): string {
  const s = r.shapes[0];
  const shape = s ? `H${s.numHeads}/${s.numKvHeads} d${s.headDim} q${s.queryStart}+${s.queryLength} kv${s.kvLength}/${s.kvCapacity}` : "";
  const status = r.ok ? "ok  " : "FAIL";
  return `${status} ${r.name.padEnd(34)} ${shape.padEnd(40)} out ${r.outError.toExponential(1)} lse ${r.lseError.toExponential(1)} rows ${r.checkedRows}/${r.totalRows} ${r.ms.toFixed(0)} ms${r.ok ? "" : " — " + r.problems.join("; ")}`;
}
