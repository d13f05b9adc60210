/**
 * Benchmark of the WebGPU block-sparse attention kernels (kernels/webgpu) on whatever adapter Dawn finds:
 * lavapipe on a CPU-only machine, the GPU elsewhere. K/V live in a device-resident cache (capacity > length),
 * Q and the outputs in device buffers; "gpu ms" is the per-call time of `iters` calls recorded into one
 * submission, "call ms" one host round trip through attendCached() (Q upload + readback included).
 * GFLOP/s counts 4 * headDim FLOPs per (query, key) pair the layout keeps (causal pairs of kept blocks).
 * Peer in the same run: the CPU backend (kernels/cpu) on the same host arrays, "cpu ms", and the ratio
 * cpu ms / call ms (> 1: WebGPU faster). Skipped with a note when the native addon is not built.
 *
 * usage: node dist/bench/bench-kernels-webgpu.js [--seq 1024,4096] [--heads 8] [--kv-heads 2] [--dim 64,128]
 *          [--block 64] [--patterns dense,local,anchors,strided,random] [--modes prefill,chunk,decode]
 *          [--chunk 512] [--iters N] [--target-inv 131072] [--min-split 128] [--fallback] [--verify] [--peer cpu|none]
 *          [--suite quick|full]
 * --suite: before timing, run the shared kernel test suite (kernels/testing) on this adapter, once with the
 * default plan and once with keys forced into splits; exits 1 on a failure. The way to check a new GPU.
 * --iters: calls per timed submission (default: enough for ~0.2 s). --target-inv / --min-split: split-K tuning
 * (see WebGpuTuning); --fallback: also time the kernels without subgroups; --verify: check rows vs reference.
 * Every option can also come from the environment: LONGVIEW_BENCH_SEQ, LONGVIEW_BENCH_DIM, ... (upper case,
 * dashes as underscores); argv wins.
 */
import { type AttentionShape, type BlockSparseLayout, type SparseAttentionBackend } from "../kernels/api";
import { createCpuBackend } from "../kernels/cpu/index";
import { referenceAttention } from "../kernels/reference/attention";
import { denseLayout, globalLayout, layoutDensity, localLayout, randomLayout, stridedLayout } from "../kernels/testing/layouts";
import { Rng } from "../kernels/testing/random";
import { runSharedSuite } from "../kernels/testing/suite";
import { BufferUsage, WebGpuAttention, WebGpuUnavailableError } from "../kernels/webgpu/index";

interface Options {
  seq: number[];
  heads: number;
  kvHeads: number;
  dim: number[];
  block: number[];
  patterns: string[];
  modes: string[];
  chunk: number;
  iters: number;
  /** Split-K tuning to sweep (undefined: the backend's defaults). */
  targetInv?: number[];
  minSplit?: number[];
  fallback: boolean;
  verify: boolean;
  peer: "cpu" | "none";
  suite?: "quick" | "full";
}

function parseOptions(argv: string[]): Options {
  const raw = new Map<string, string>();
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("LONGVIEW_BENCH_") && v !== undefined) raw.set(k.slice(15).toLowerCase().replace(/_/g, "-"), v);
  }
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unknown argument ${argv[i]}`);
    if (m[2] !== undefined) raw.set(m[1], m[2]);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) raw.set(m[1], argv[++i]);
    else raw.set(m[1], "1");
  }
  const known = ["seq", "heads", "kv-heads", "dim", "block", "patterns", "modes", "chunk", "iters", "target-inv", "min-split", "fallback", "verify", "peer", "suite"];
  for (const k of raw.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k} (known: ${known.join(", ")})`);
  const nums = (k: string, d: string): number[] => (raw.get(k) ?? d).split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${k}: ${s} is not a positive integer`);
    return n;
  });
  const list = (k: string, d: string): string[] => (raw.get(k) ?? d).split(",").filter((s) => s);
  const flag = (k: string): boolean => ["1", "true", "yes"].includes(raw.get(k) ?? "");
  return {
    seq: nums("seq", "1024,2048"),
    heads: nums("heads", "8")[0],
    kvHeads: nums("kv-heads", "2")[0],
    dim: nums("dim", "64,128"),
    block: nums("block", "64"),
    patterns: list("patterns", "dense,local,anchors,strided,random"),
    modes: list("modes", "prefill,chunk,decode"),
    chunk: nums("chunk", "512")[0],
    iters: raw.get("iters") === undefined ? 0 : nums("iters", "0")[0],
    targetInv: raw.has("target-inv") ? nums("target-inv", "") : undefined,
    minSplit: raw.has("min-split") ? nums("min-split", "") : undefined,
    fallback: flag("fallback"),
    verify: flag("verify"),
    peer: raw.get("peer") === "none" ? "none" : "cpu",
    suite: raw.has("suite") ? (raw.get("suite") === "full" ? "full" : "quick") : undefined,
  };
}

/** Pattern parameters are in tokens so that a pattern means the same at every block size. */
function makeLayout(pattern: string, B: number, numBlockRows: number, rng: Rng): BlockSparseLayout {
  const blocks = (tokens: number): number => Math.max(1, Math.round(tokens / B));
  switch (pattern) {
    case "dense":
      return denseLayout(B, numBlockRows);
    case "local": // sliding window of 1024 tokens
      return localLayout(B, numBlockRows, blocks(1024));
    case "anchors": { // 512-token window + a global anchor block every 1024 tokens (definitions, imports)
      const anchors: number[] = [];
      for (let c = 0; c < numBlockRows; c += blocks(1024)) anchors.push(c);
      return globalLayout(B, numBlockRows, blocks(512), anchors);
    }
    case "strided": // 512-token window + every 8th block
      return stridedLayout(B, numBlockRows, blocks(512), 8);
    case "random": // 10 % of the causal blocks
      return randomLayout(rng, B, numBlockRows, 0.1);
    default:
      throw new Error(`unknown pattern ${pattern}`);
  }
}

/** (query, key) pairs the layout keeps for query rows [qs, qs + ql) of layout 0. */
function keptPairs(layout: BlockSparseLayout, qs: number, ql: number): number {
  const B = layout.blockSize;
  let pairs = 0;
  for (let pos = qs; pos < qs + ql; pos++) {
    const row = Math.floor(pos / B);
    const n = layout.rowPtr[row + 1] - layout.rowPtr[row];
    pairs += (n - 1) * B + (pos - row * B + 1);
  }
  return pairs;
}

interface Row {
  variant: string;
  tune: string;
  mode: string;
  shape: string;
  pattern: string;
  density: number;
  plan: string;
  gpuMs: number;
  callMs: number;
  gflops: number;
  gbps: number;
  err: string;
  /** Peer (CPU backend) time on the same host arrays; NaN when not run. */
  peerMs: number;
}

async function benchOne(be: WebGpuAttention, peer: SparseAttentionBackend | undefined, o: Options, mode: string, seq: number, D: number, B: number, pattern: string, rng: Rng): Promise<Row> {
  const H = o.heads;
  const KVH = o.kvHeads;
  const queryStart = mode === "prefill" ? 0 : mode === "decode" ? seq - 1 : Math.max(0, seq - o.chunk);
  const queryLength = seq - queryStart;
  const capacity = seq + 1024; // a cache with room to grow, as the engine keeps it
  const numBlockRows = Math.ceil(capacity / B);
  const layout = makeLayout(pattern, B, numBlockRows, rng);
  const shape: AttentionShape = { numHeads: H, numKvHeads: KVH, headDim: D, queryStart, queryLength, kvLength: seq, kvCapacity: capacity, scale: 1 / Math.sqrt(D) };

  const device = be.gpuDevice;
  const cache = be.createKvCache(KVH, D, capacity);
  const kHost = rng.fillNormal(new Float32Array(KVH * seq * D));
  const vHost = rng.fillNormal(new Float32Array(KVH * seq * D));
  cache.append(kHost, vHost, seq);
  const gpuLayout = be.uploadLayout(layout);
  const qHost = rng.fillNormal(new Float32Array(H * queryLength * D));
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const q = device.createBuffer({ size: qHost.byteLength, usage });
  device.queue.writeBuffer(q, 0, qHost);
  const out = device.createBuffer({ size: qHost.byteLength, usage });
  const lse = device.createBuffer({ size: Math.max(16, H * queryLength * 4), usage });
  const tensors = { q, k: cache.k, v: cache.v, out, lse };

  // Warm-up: compiles the pipelines (seconds on a cold Mesa cache) and touches every buffer.
  const run = async (n: number): Promise<number> => {
    const encoder = device.createCommandEncoder();
    for (let i = 0; i < n; i++) await be.encodeAttention(encoder, shape, gpuLayout, tensors);
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / n;
  };
  await run(1);
  // Enough calls per submission to cover ~0.2 s, so submission overhead does not swamp short decode calls.
  const perSubmit = o.iters > 0 ? o.iters : Math.min(200, Math.max(2, Math.ceil(200 / Math.max(await run(1), 0.01))));
  const gpuTimes: number[] = [];
  for (let r = 0; r < 3; r++) gpuTimes.push(await run(perSubmit));
  const gpuMs = Math.min(...gpuTimes);

  const outHost = new Float32Array(H * queryLength * D);
  const lseHost = new Float32Array(H * queryLength);
  const call = { numHeads: H, queryStart, queryLength, scale: shape.scale };
  await be.attendCached(call, gpuLayout, qHost, cache, { out: outHost, lse: lseHost });
  const callTimes: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await be.attendCached(call, gpuLayout, qHost, cache, { out: outHost, lse: lseHost });
    callTimes.push(performance.now() - t0);
  }

  let err = "";
  if (o.verify) {
    // A few rows against the float64 reference, on the same data (cache rows stride = seq on the host).
    const rows = [0, queryLength - 1, Math.floor(queryLength / 2)].filter((r, i, a) => a.indexOf(r) === i);
    const ref = referenceAttention({ ...shape, kvCapacity: seq }, layout, { q: qHost, k: kHost, v: vHost }, rows);
    let e = 0;
    for (let h = 0; h < H; h++) for (const r of rows) for (let d = 0; d < D; d++) {
      const i = (h * queryLength + r) * D + d;
      e = Math.max(e, Math.abs(outHost[i] - ref.out[i]));
    }
    err = e.toExponential(1);
  }

  let peerMs = Number.NaN;
  if (peer) {
    const hostShape = { ...shape, kvCapacity: seq };
    const peerOut = { out: new Float32Array(H * queryLength * D), lse: new Float32Array(H * queryLength) };
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await peer.attention(hostShape, layout, { q: qHost, k: kHost, v: vHost }, peerOut);
      times.push(performance.now() - t0);
    }
    peerMs = Math.min(...times);
  }

  const plan = be.plan(shape, layout);
  const pairs = keptPairs(layout, queryStart, queryLength) * H;
  const gflops = (4 * D * pairs) / (gpuMs * 1e6);
  // Decode streams each kept K/V row once per head pack: the bandwidth that bounds it.
  const kvBytes = queryLength === 1 ? (pairs / plan.headsPerWorkgroup) * 2 * D * 4 : Number.NaN;
  cache.dispose();
  gpuLayout.dispose();
  q.destroy();
  out.destroy();
  lse.destroy();
  return {
    variant: be.info.subgroups ? "quad" : "fallback",
    tune: `${be.tuning.targetInvocations}/${be.tuning.minSplitKeys}`,
    mode,
    shape: `H${H}/${KVH} d${D} b${B} q${queryStart}+${queryLength} kv${seq}`,
    pattern,
    density: layoutDensity(layout, Math.ceil(seq / B)),
    plan: `${plan.numTiles}x${plan.headGroups}x${plan.splits}`,
    gpuMs,
    callMs: callTimes.sort((a, b) => a - b)[Math.floor(callTimes.length / 2)],
    gflops,
    gbps: kvBytes / (gpuMs * 1e6),
    err,
    peerMs,
  };
}

function printTable(rows: Row[], header: string): void {
  const cols: [string, (r: Row) => string][] = [
    ["kernel", (r) => r.variant],
    ...(new Set(rows.map((r) => r.tune)).size > 1 ? [["target/min-split", (r: Row) => r.tune] as [string, (r: Row) => string]] : []),
    ["mode", (r) => r.mode],
    ["shape", (r) => r.shape],
    ["pattern", (r) => r.pattern],
    ["density", (r) => r.density.toFixed(3)],
    ["grid", (r) => r.plan],
    ["gpu ms", (r) => r.gpuMs.toFixed(2)],
    ["call ms", (r) => r.callMs.toFixed(2)],
    ["GFLOP/s", (r) => r.gflops.toFixed(1)],
    ["K/V GB/s", (r) => (Number.isNaN(r.gbps) ? "" : r.gbps.toFixed(1))],
    ...(rows.some((r) => !Number.isNaN(r.peerMs))
      ? ([
          ["cpu ms", (r: Row) => (Number.isNaN(r.peerMs) ? "" : r.peerMs.toFixed(2))],
          ["cpu/call", (r: Row) => (Number.isNaN(r.peerMs) ? "" : (r.peerMs / r.callMs).toFixed(2))],
        ] as [string, (r: Row) => string][])
      : []),
    ...(rows.some((r) => r.err) ? [["max err", (r: Row) => r.err] as [string, (r: Row) => string]] : []),
  ];
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  console.log(header);
  console.log(`| ${cols.map(([h], i) => h.padEnd(widths[i])).join(" | ")} |`);
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const c of cells) console.log(`| ${c.map((s, i) => s.padEnd(widths[i])).join(" | ")} |`);
}

/** The shared suite with the default plan, then with keys split over workgroups; returns the failure count. */
async function runSuiteChecks(be: WebGpuAttention, quick: boolean): Promise<number> {
  const defaults = be.tuning;
  let failures = 0;
  console.log(`[suite] ${be.info.description}; tuning ${JSON.stringify(defaults)}`);
  for (const tuning of [defaults, { ...defaults, targetInvocations: 1 << 22, minSplitKeys: 16 }]) {
    be.tuning = tuning;
    const report = await runSharedSuite(be, { quick, throwOnFailure: false, log: (line) => console.log(`[suite] ${line}`) });
    failures += report.failures.length;
  }
  be.tuning = defaults;
  return failures;
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const variants = o.fallback ? [true, false] : [true];
  const rows: Row[] = [];
  let description = "";
  let peer: SparseAttentionBackend | undefined;
  let peerNote = "";
  if (o.peer === "cpu") {
    try {
      peer = createCpuBackend();
      peerNote = `; peer ${peer.name}`;
    } catch (err) {
      peerNote = `; no CPU peer (${(err as Error).message.split("\n")[0]})`;
    }
  }
  for (const allowSubgroups of variants) {
    let be: WebGpuAttention;
    try {
      be = await WebGpuAttention.create({ allowSubgroups });
    } catch (err) {
      if (err instanceof WebGpuUnavailableError) {
        console.error(`bench-kernels-webgpu: ${err.message}`);
        return 2;
      }
      throw err;
    }
    description = be.info.description;
    if (o.suite) {
      const failures = await runSuiteChecks(be, o.suite === "quick");
      if (failures > 0) {
        be.dispose();
        return 1;
      }
    }
    const defaults = be.tuning;
    const tunings = (o.targetInv ?? [defaults.targetInvocations]).flatMap((targetInvocations) =>
      (o.minSplit ?? [defaults.minSplitKeys]).map((minSplitKeys) => ({ ...defaults, targetInvocations, minSplitKeys })));
    try {
      for (const tuning of tunings) {
        be.tuning = tuning;
        const rng = new Rng(12345); // same layouts and data for every kernel variant and tuning
        for (const mode of o.modes) for (const seq of o.seq) for (const D of o.dim) for (const B of o.block) for (const pattern of o.patterns) {
          // The peer runs once per shape, with the first kernel variant and tuning.
        const first = allowSubgroups === variants[0] && tuning === tunings[0];
        const row = await benchOne(be, first ? peer : undefined, o, mode, seq, D, B, pattern, rng);
          rows.push(row);
          console.error(`  ${row.variant} ${row.mode} ${row.shape} ${row.pattern} ${row.plan}: ${row.gpuMs.toFixed(3)} ms, ${row.gflops.toFixed(1)} GFLOP/s`);
        }
      }
    } finally {
      be.dispose();
    }
  }
  const os = await import("node:os");
  printTable(rows, `\nWebGPU attention on ${description} (${os.cpus().length} CPUs, node ${process.version}, ${new Date().toISOString().slice(0, 10)}${peerNote})\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
