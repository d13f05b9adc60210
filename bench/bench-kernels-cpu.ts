/**
 * CPU block-sparse attention: our native kernels vs ONNX Runtime's com.microsoft.SparseAttention (CPU EP),
 * measured in the same run on the same layouts and inputs.
 *
 * Lengths grow 4k → 128k at a fixed per-row budget of kept blocks, so our cost should grow linearly (see the
 * µs/token column); ORT's CPU kernel computes dense Q·Kᵀ over the causal prefix and masks it, so its prefill
 * is quadratic in time; its prefill runs in chunks of 4,096 queries (bounding its score matrix) up to
 * --ort-max tokens (default 32k) and while the machine has the memory. Decode (one new token against a KV
 * cache grown in place) runs at every length for both. ORT's output is checked against ours at every prefill
 * shape it runs (ours is checked against the float64 reference by the unit tests).
 *
 * Precision: ORT's CPU SparseAttention computes in float32, and so do our main columns. Where the CPU has
 * AVX512-BF16, our prefill is also timed with the opt-in bf16 kernels (Q, K, V and the softmax weights rounded
 * to bfloat16, float32 accumulation) in separate "bf16" columns, so a bf16-vs-float32 ratio is never shown as
 * a like-for-like one; its output is checked against our float32 output.
 *
 * usage: npm run bench:kernels [-- --quick] [--max-length N] [--ort-max N] [--threads N] [--no-bf16]
 */
import os from "node:os";
import type { AttentionShape, BlockSparseLayout } from "../kernels/api";
import { rowColumns } from "../kernels/api";
import { createCpuBackend } from "../kernels/cpu/index";
import { buildLayout } from "../kernels/testing/layouts";
import { Rng } from "../kernels/testing/random";
import { OrtSparseAttentionPeer, type PreparedOrtCall } from "./ort/sparse-attention-peer";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag("--quick");
const maxLength = option("--max-length", quick ? 8192 : 131072);
const ortMax = option("--ort-max", quick ? 8192 : 32768);
const threads = option("--threads", os.availableParallelism());
const skipBf16 = flag("--no-bf16");
const BLOCK = 64;
const HEADS = 8;
const LENGTHS = [4096, 8192, 16384, 32768, 65536, 131072].filter((l) => l <= maxLength);
const HEAD_DIMS = [64, 128];
const ORT_CHUNK = 4096;

interface Pattern {
  name: string;
  build(rows: number): BlockSparseLayout;
}

const PATTERNS: Pattern[] = [
  // The layout ORT was first measured with (shared/notes/device.md): 4 local blocks + 2 global blocks.
  { name: "local4+global2", build: (rows) => buildLayout(BLOCK, rows, 1, (_l, r) => [0, 1, r - 3, r - 2, r - 1, r]) },
  // Closer to Longview's: an 8-block window plus 8 anchor blocks spread over the sequence (syntax anchors).
  {
    name: "local8+anchors8",
    build: (rows) => {
      const anchors = Array.from({ length: 8 }, (_, i) => Math.floor((i * rows) / 8));
      return buildLayout(BLOCK, rows, 1, (_l, r) => [...anchors, ...Array.from({ length: 8 }, (_, k) => r - k)]);
    },
  },
];

/** Multiply-adds ×2 over the kept blocks (whole blocks, the causal diagonal included), QKᵀ and PV. */
function keptFlops(shape: AttentionShape, layout: BlockSparseLayout): { flops: number; keysPerRow: number } {
  const B = layout.blockSize;
  let keyRows = 0; // sum over query rows of kept keys
  const first = Math.floor(shape.queryStart / B);
  const last = Math.floor((shape.kvLength - 1) / B);
  for (let br = first; br <= last; br++) {
    const rows = Math.min((br + 1) * B, shape.kvLength) - Math.max(br * B, shape.queryStart);
    keyRows += rows * rowColumns(layout, 0, br).length * B;
  }
  return { flops: 4 * shape.numHeads * shape.headDim * keyRows, keysPerRow: keyRows / shape.queryLength };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Timing {
  /** Fastest wall-clock time of the repetitions (the one least disturbed by other processes), ms. */
  wall: number;
  /** Median CPU time of this process (all its threads) per repetition, ms: robust to a busy machine. */
  cpu: number;
}

async function time(reps: number, fn: () => unknown): Promise<Timing> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: Math.min(...wall), cpu: median(cpu) };
}

/** Many short calls (decode): mean wall and CPU time per call over one timed loop, best of a few loops. */
async function timeLoop(loops: number, perLoop: number, fn: () => unknown): Promise<Timing> {
  let best: Timing = { wall: Infinity, cpu: Infinity };
  for (let l = 0; l < loops; l++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < perLoop; i++) await fn();
    const wall = (performance.now() - t0) / perLoop;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1000 / perLoop;
    if (wall < best.wall) best = { wall, cpu };
  }
  return best;
}

interface Row {
  mode: string;
  tokens: number;
  headDim: number;
  pattern: string;
  keysPerRow: number;
  density: number;
  ours: Timing;
  gflops: number;
  /** Our bf16 kernels (prefill only, where the CPU has them). */
  bf16?: Timing;
  ort?: Timing;
  ortNote?: string;
}

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

function printRow(r: Row): void {
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? `${(a / b).toFixed(1)}×` : "—");
  const perToken = r.mode === "prefill" ? ((r.ours.wall * 1000) / r.tokens).toFixed(2) : "";
  const ort = r.ort ? `${fmtMs(r.ort.wall)} | ${fmtMs(r.ort.cpu)}` : `${r.ortNote ?? "—"} | —`;
  const bf16 = r.bf16 ? `${fmtMs(r.bf16.wall)} | ${fmtMs(r.bf16.cpu)} | ${ratio(r.ort?.wall, r.bf16.wall)} | ${ratio(r.ort?.cpu, r.bf16.cpu)}` : "— | — | — | —";
  console.log(
    `| ${r.mode} | ${r.tokens.toLocaleString("en-US")} | ${r.headDim} | ${r.pattern} | ${r.keysPerRow.toFixed(0)} | ${(r.density * 100).toFixed(2)}% | ${fmtMs(r.ours.wall)} | ${fmtMs(r.ours.cpu)} | ${perToken} | ${r.gflops.toFixed(1)} | ${ort} | ${ratio(r.ort?.wall, r.ours.wall)} | ${ratio(r.ort?.cpu, r.ours.cpu)} | ${bf16} |`,
  );
}

/** max |a − b| / max |b| */
function relativeError(a: Float32Array, b: Float32Array): number {
  let maxRef = 0;
  let maxDiff = 0;
  for (let i = 0; i < b.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(b[i]));
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  }
  return maxDiff / maxRef;
}

async function main(): Promise<void> {
  const cpu = createCpuBackend({ threads });
  const info = cpu.info();
  // Our bf16 kernels, run through the same addon instance: each timing below sets the precision it measures.
  const withBf16 = !skipBf16 && info.supportedPrecisions.includes("bf16");
  const usePrecision = (precision: "fp32" | "bf16") => createCpuBackend({ threads, precision });
  const ortVersion = (require("onnxruntime-node/package.json") as { version: string }).version;
  console.log(`machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} logical CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load avg ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`ours: cpu addon, ${info.isa} kernels, ${info.threads} threads | peer: onnxruntime-node ${ortVersion} CPU EP, SparseAttention, intraOpNumThreads ${threads}`);
  console.log(`${HEADS} heads (MHA), block ${BLOCK}; prefill = all rows from 0; decode = 1 new token, cache capacity length+64`);
  console.log(
    `precision: ORT float32; ours float32 in the "ours" columns${withBf16 ? "; ours bf16 (Q, K, V, softmax weights in bfloat16, float32 accumulation; prefill only) in the \"bf16\" columns, its ratios against ORT's float32" : "; bf16 not run" + (skipBf16 ? " (--no-bf16)" : " (this CPU has no AVX512-BF16)")}`,
  );
  console.log("wall ms = fastest repetition; CPU ms = median CPU time of the process per call (all threads); GFLOP/s on the kept blocks at the wall time (float32)");
  console.log("");
  console.log("| mode | tokens | d | pattern | keys/row | density | ours wall ms | ours CPU ms | µs/token | GFLOP/s | ORT wall ms | ORT CPU ms | × ORT (wall) | × ORT (CPU) | bf16 wall ms | bf16 CPU ms | bf16 × ORT (wall) | bf16 × ORT (CPU) |");
  console.log("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  const rng = new Rng(12345);
  const rows: Row[] = [];
  const checks: number[] = [];
  const bf16Checks: number[] = [];
  for (const D of HEAD_DIMS) {
    const maxL = Math.max(...LENGTHS);
    const capMax = maxL + BLOCK;
    // One set of random buffers per head dim; shorter lengths use prefixes (values are random either way).
    const fill = (n: number) => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = (rng.next() - 0.5) * 3.4;
      return a;
    };
    const q = fill(HEADS * maxL * D);
    const k = fill(HEADS * capMax * D);
    const v = fill(HEADS * capMax * D);
    const out = new Float32Array(HEADS * maxL * D);
    const lse = new Float32Array(HEADS * maxL);
    const peer = await OrtSparseAttentionPeer.create({ numHeads: HEADS, numKvHeads: HEADS, headDim: D, blockSize: BLOCK, threads });
    for (const pattern of PATTERNS) {
      for (const L of LENGTHS) {
        const numBlockRows = Math.ceil((L + BLOCK) / BLOCK);
        const layout = pattern.build(numBlockRows);
        const causalBlocks = (Math.ceil(L / BLOCK) * (Math.ceil(L / BLOCK) + 1)) / 2;
        // Prefill
        {
          const shape: AttentionShape = { numHeads: HEADS, numKvHeads: HEADS, headDim: D, queryStart: 0, queryLength: L, kvLength: L, kvCapacity: L, scale: 1 / Math.sqrt(D) };
          const inputs = { q: q.subarray(0, HEADS * L * D), k: k.subarray(0, HEADS * L * D), v: v.subarray(0, HEADS * L * D) };
          const outputs = { out: out.subarray(0, HEADS * L * D), lse: lse.subarray(0, HEADS * L) };
          const { flops, keysPerRow } = keptFlops(shape, layout);
          const reps = L <= 16384 ? 7 : L <= 65536 ? 4 : 3;
          let bf16: Timing | undefined;
          if (withBf16) {
            const bf16Cpu = usePrecision("bf16");
            const bf16Out = { out: new Float32Array(HEADS * L * D) };
            bf16Cpu.attention(shape, layout, inputs, bf16Out); // warm-up
            bf16 = await time(reps, () => bf16Cpu.attention(shape, layout, inputs, bf16Out));
            usePrecision("fp32");
            cpu.attention(shape, layout, inputs, outputs);
            const err = relativeError(bf16Out.out, outputs.out);
            bf16Checks.push(err);
            if (!(err < 1e-2)) throw new Error(`bf16 and fp32 disagree at ${L} d${D} ${pattern.name}: ${err}`);
          }
          cpu.attention(shape, layout, inputs, outputs); // warm-up
          const ours = await time(reps, () => cpu.attention(shape, layout, inputs, outputs));
          const row: Row = { mode: "prefill", tokens: L, headDim: D, pattern: pattern.name, keysPerRow, density: (flops / (4 * HEADS * D * BLOCK * BLOCK)) / causalBlocks, ours, gflops: flops / ours.wall / 1e6, bf16 };
          // ORT's CPU kernel holds a queries × keys × heads score matrix: run its prefill in chunks of
          // ORT_CHUNK queries (each chunk attends to the cache the earlier chunks filled), as one would.
          const needBytes = HEADS * Math.min(ORT_CHUNK, L) * L * 4 * 1.3 + 4 * HEADS * L * D * 4;
          if (L > ortMax) row.ortNote = "not run (quadratic)";
          else if (needBytes > os.freemem() * 0.8) row.ortNote = `not run (needs ~${(needBytes / 2 ** 30).toFixed(0)} GiB)`;
          else {
            const cache = peer.cache(shape, inputs);
            const calls: PreparedOrtCall[] = [];
            for (let start = 0; start < L; start += ORT_CHUNK) {
              const len = Math.min(ORT_CHUNK, L - start);
              const chunk: AttentionShape = { ...shape, queryStart: start, queryLength: len, kvLength: start + len };
              const cq = new Float32Array(HEADS * len * D);
              for (let h = 0; h < HEADS; h++) cq.set(inputs.q.subarray((h * L + start) * D, (h * L + start + len) * D), h * len * D);
              calls.push(peer.prepare(chunk, layout, { ...inputs, q: cq }, cache));
            }
            const ortOut = new Float32Array(HEADS * L * D);
            const runAll = async () => {
              for (const call of calls) {
                const data = await peer.run(call);
                const part = new Float32Array(HEADS * call.shape.queryLength * D);
                OrtSparseAttentionPeer.unpack(call.shape, data, { out: part });
                for (let h = 0; h < HEADS; h++)
                  ortOut.set(part.subarray(h * call.shape.queryLength * D, (h + 1) * call.shape.queryLength * D), (h * L + call.shape.queryStart) * D);
              }
            };
            if (L <= 8192) await runAll(); // warm-up where it is cheap
            row.ort = await time(L <= 8192 ? 3 : 1, runAll);
            const err = relativeError(ortOut, outputs.out);
            checks.push(err);
            if (!(err < 1e-4)) throw new Error(`ORT and ours disagree at ${L} d${D} ${pattern.name}: ${err}`);
          }
          rows.push(row);
          printRow(row);
        }
        // Decode: one token at position L against a cache grown in place (capacity > length).
        if (pattern.name === "local8+anchors8") {
          const cap = L + BLOCK;
          const shape: AttentionShape = { numHeads: HEADS, numKvHeads: HEADS, headDim: D, queryStart: L, queryLength: 1, kvLength: L + 1, kvCapacity: cap, scale: 1 / Math.sqrt(D) };
          const inputs = { q: q.subarray(0, HEADS * D), k: k.subarray(0, HEADS * cap * D), v: v.subarray(0, HEADS * cap * D) };
          const outputs = { out: out.subarray(0, HEADS * D), lse: lse.subarray(0, HEADS) };
          const { flops, keysPerRow } = keptFlops(shape, layout);
          for (let i = 0; i < 20; i++) cpu.attention(shape, layout, inputs, outputs);
          const ours = await timeLoop(5, 100, () => cpu.attention(shape, layout, inputs, outputs));
          const call = peer.prepare(shape, layout, inputs);
          await peer.run(call);
          const ort = await timeLoop(3, L <= 32768 ? 10 : 3, () => peer.run(call));
          const row: Row = { mode: "decode", tokens: L + 1, headDim: D, pattern: pattern.name, keysPerRow, density: keysPerRow / (L + 1), ours, gflops: flops / ours.wall / 1e6, ort };
          rows.push(row);
          printRow(row);
        }
      }
    }
    await peer.dispose();
  }
  console.log("");
  if (checks.length > 0) console.log(`ORT's prefill output vs ours (float32) on the same inputs: max |ours − ORT| / max |ours| ≤ ${Math.max(...checks).toExponential(1)} over ${checks.length} shapes`);
  if (bf16Checks.length > 0) console.log(`our bf16 prefill output vs our float32 output: max |bf16 − fp32| / max |fp32| ≤ ${Math.max(...bf16Checks).toExponential(1)} over ${bf16Checks.length} shapes`);
  const summary = (label: string, withOrt: Row[], ours: (r: Row) => Timing) => {
    if (withOrt.length === 0) return;
    const wall = withOrt.map((r) => (r.ort as Timing).wall / ours(r).wall);
    const cpuRatio = withOrt.map((r) => (r.ort as Timing).cpu / ours(r).cpu);
    console.log(
      `${label}: ${Math.min(...wall).toFixed(1)}×–${Math.max(...wall).toFixed(1)}× (wall), ${Math.min(...cpuRatio).toFixed(1)}×–${Math.max(...cpuRatio).toFixed(1)}× (CPU) over ${withOrt.length} shapes up to ${Math.max(...withOrt.map((r) => r.tokens)).toLocaleString("en-US")} tokens`,
    );
  };
  for (const mode of ["prefill", "decode"]) summary(`${mode} vs ORT SparseAttention (both float32)`, rows.filter((r) => r.ort !== undefined && r.mode === mode), (r) => r.ours);
  summary("prefill, our bf16 vs ORT's float32", rows.filter((r) => r.ort !== undefined && r.bf16 !== undefined), (r) => r.bf16 as Timing);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
