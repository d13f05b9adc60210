/**
 * The inference engine on this machine, with the proposed default model (DEFAULT_MODEL_CONFIG) and seeded random
 * int8 weights:
 *
 * 1. dense ops — the model's GEMM shapes (prefill chunk of 2,048 rows and decode's single row) through our native
 *    kernels (int8 VNNI, float32), ONNX Runtime's CPU EP (MatMul float32, DynamicQuantizeMatMul int8,
 *    MatMulNBits 8-bit), and plain TypeScript: the measurements behind the dense-op choice (docs/engine.md);
 * 2. prefill tokens/s over 16k and 64k-token sequences (chunks of 2,048) and decode tokens/s after them, on a
 *    repository-like layout (the pattern library over synthetic facts) and on one where every row keeps exactly
 *    the config's budget of 100 blocks;
 * 3. time to first token with a warm KV cache: in memory, and loaded from disk;
 * 4. the 1M-token layout: KV cache memory, a prefill chunk and decode steps at positions near 1M (the cache
 *    before them is filled with values, not computed: a full 1M prefill takes minutes; `--full-1m` runs it).
 *
 * Wall times are the fastest of the repetitions; CPU time (all threads) is also given because the machine may be
 * shared. usage: npm run bench:engine [-- --quick] [--no-dense] [--no-ort] [--no-1m] [--full-1m] [--threads N]
 *                  [--contexts 16384,65536] [--layouts repo,full]
 */
import fs from "node:fs";
import os from "node:os";
import { onnx } from "onnx-proto";
import path from "node:path";
import { Engine } from "../model-runtime/src/engine/engine";
import { type DenseIsa, loadDenseAddon } from "../model-runtime/src/engine/native";
import { modelHeadSpecs } from "../model-runtime/src/engine/repo-session";
import { loadKvCache, saveKvCache } from "../model-runtime/src/engine/kv-store";
import { DEFAULT_MODEL_CONFIG, modelStats } from "../model-runtime/src/model/config";
import { randomWeights } from "../model-runtime/src/model/random-init";
import { quantizeMatrix } from "../model-runtime/src/model/weights";
import type { BlockSparseLayout } from "../kernels/api";
import { buildLayout } from "../kernels/testing/layouts";
import { buildPatterns } from "../model-runtime/src/patterns";
import { fmt, meanKept, mib, repoFacts as repoFactsOf, syntheticToken, timed } from "./engine-common";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag("--quick");
const listOption = (name: string): string[] | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1].split(",") : undefined;
};
const threads = option("--threads", os.availableParallelism());
const c = DEFAULT_MODEL_CONFIG;
const B = c.blockSize;
const CHUNK = 2048;
const stats = modelStats(c);

/** Fastest of `reps` runs (wall), with that run's CPU time. */
async function best(reps: number, fn: () => Promise<unknown> | unknown): Promise<{ ms: number; cpuMs: number }> {
  let b = { ms: Infinity, cpuMs: 0 };
  for (let i = 0; i < reps; i++) {
    const r = await timed(fn);
    if (r.ms < b.ms) b = { ms: r.ms, cpuMs: r.cpuMs };
  }
  return b;
}

// ------------------------------------------------------------------------------------------------ 1. dense ops

interface OrtLike {
  InferenceSession: { create(bytes: Uint8Array, opts: object): Promise<{ run(feeds: object): Promise<unknown> }> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
}

async function ortSessions(K: number, N: number, w: Float32Array, q: Int8Array, scale: Float32Array): Promise<Array<[string, (x: Float32Array, M: number) => Promise<unknown>]>> {
  let ort: OrtLike;
  try {
    ort = (await import("onnxruntime-node")) as unknown as OrtLike;
  } catch (e) {
    console.log(`(ONNX Runtime not available: ${(e as Error).message.split("\n")[0]})`);
    return [];
  }
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const info = (name: string, dims: Array<number | string>) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } } });
  const model = (node: object, inits: object[]) =>
    onnx.ModelProto.encode(
      onnx.ModelProto.create({
        irVersion: 8,
        opsetImport: [
          { domain: "", version: 17 },
          { domain: "com.microsoft", version: 1 },
        ],
        graph: { name: "g", node: [node], initializer: inits, input: [info("x", ["M", K])], output: [info("y", ["M", N])] },
      }),
    ).finish();
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  // ORT's B is [K][N] (inputs × outputs): transpose ours.
  const wt = new Float32Array(K * N);
  const qt = new Int8Array(K * N);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      wt[k * N + n] = w[n * K + k];
      qt[k * N + n] = q[n * K + k];
    }
  const bs = 64;
  const nb = Math.ceil(K / bs);
  const nbits = new Uint8Array(N * nb * bs).fill(128);
  const nbScale = new Float32Array(N * nb);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) nbits[n * nb * bs + k] = q[n * K + k] + 128;
    nbScale.fill(scale[n], n * nb, (n + 1) * nb);
  }
  const graphs: Array<[string, Uint8Array]> = [
    ["ORT MatMul f32", model({ opType: "MatMul", input: ["x", "w"], output: ["y"] }, [{ name: "w", dataType: FLOAT, dims: [K, N], rawData: bytes(wt) }])],
    [
      "ORT DynamicQuantizeMatMul int8",
      model({ opType: "DynamicQuantizeMatMul", domain: "com.microsoft", input: ["x", "w", "s"], output: ["y"] }, [
        { name: "w", dataType: onnx.TensorProto.DataType.INT8, dims: [K, N], rawData: bytes(qt) },
        { name: "s", dataType: FLOAT, dims: [N], rawData: bytes(scale) },
      ]),
    ],
    [
      "ORT MatMulNBits 8-bit (acc. level 4)",
      model(
        {
          opType: "MatMulNBits",
          domain: "com.microsoft",
          input: ["x", "B", "S"],
          output: ["y"],
          attribute: ["K", "N", "bits", "block_size", "accuracy_level"].map((name, i) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: [K, N, 8, bs, 4][i] })),
        },
        [
          { name: "B", dataType: onnx.TensorProto.DataType.UINT8, dims: [N, nb, bs], rawData: nbits },
          { name: "S", dataType: FLOAT, dims: [N * nb], rawData: bytes(nbScale) },
        ],
      ),
    ],
  ];
  const out: Array<[string, (x: Float32Array, M: number) => Promise<unknown>]> = [];
  for (const [name, g] of graphs) {
    const s = await ort.InferenceSession.create(g, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
    out.push([name, (x, M) => s.run({ x: new ort.Tensor("float32", x, [M, K]) })]);
  }
  return out;
}

function tsMatmul(x: Float32Array, M: number, K: number, w: Float32Array, N: number, out: Float32Array): void {
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      out[m * N + n] = s;
    }
}

async function denseOps(): Promise<void> {
  const addon = loadDenseAddon();
  const isas = addon.isa("best").supportedIsas as DenseIsa[];
  const shapes: Array<[string, number, number]> = [
    ["q|k|v", (c.numHeads + 2 * c.numKvHeads) * c.headDim, c.dModel],
    ["o", c.dModel, c.numHeads * c.headDim],
    ["gate|up", 2 * c.ffnDim, c.dModel],
    ["down", c.dModel, c.ffnDim],
    ["LM head", c.vocabSize, c.dModel],
  ];
  console.log(`\n## Dense ops: the model's GEMM shapes, ${threads} threads (GOP/s = 2·M·N·K / wall time)\n`);
  console.log("| matrix | M | N × K | implementation | ms | CPU ms | GOP/s |");
  console.log("|---|---:|---:|---|---:|---:|---:|");
  const totals = new Map<string, number>();
  for (const [name, N, K] of shapes) {
    const w = Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 12.9898) * 0.05);
    const q = quantizeMatrix({ kind: "f32", n: N, k: K, data: w });
    if (q.kind !== "int8") throw new Error("unreachable");
    const ort = flag("--no-ort") ? [] : await ortSessions(K, N, w, q.data, q.scale);
    for (const M of name === "LM head" ? [1] : [CHUNK, 1]) {
      const x = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 78.233));
      const out = new Float32Array(M * N);
      const reps = M === 1 ? 50 : quick ? 2 : 4;
      const rows: Array<[string, { ms: number; cpuMs: number }]> = [];
      for (const isa of isas) {
        addon.isa(isa);
        const i8 = new addon.Linear({ n: N, k: K, data: q.data, scale: q.scale }, threads);
        const f32 = new addon.Linear({ n: N, k: K, data: w }, threads);
        if (isa === "avx512vnni") rows.push([`ours int8 (${isa})`, await best(reps, () => i8.run(x, M, out, false))]);
        rows.push([`ours f32 (${isa})`, await best(reps, () => f32.run(x, M, out, false))]);
      }
      addon.isa("best");
      for (const [oname, run] of ort) {
        await run(x, M);
        rows.push([oname, await best(reps, () => run(x, M))]);
      }
      if (M === 1 || !quick) rows.push(["TypeScript f32", await best(M === 1 ? 5 : 1, () => tsMatmul(x, Math.min(M, 64), K, w, N, out))]);
      for (const [impl, t] of rows) {
        // The TypeScript prefill row ran 64 rows only: scale to the chunk.
        const scale = impl === "TypeScript f32" && M > 64 ? M / 64 : 1;
        const ms = t.ms * scale;
        const key = `${impl}|${M}`;
        totals.set(key, (totals.get(key) ?? 0) + ms);
        console.log(`| ${name} | ${fmt(M)} | ${fmt(N)} × ${fmt(K)} | ${impl}${scale > 1 ? " (64 rows, scaled)" : ""} | ${fmt(ms, 3)} | ${fmt(t.cpuMs * scale, 3)} | ${fmt((2 * M * N * K) / ms / 1e6, 1)} |`);
      }
    }
  }
  console.log(`\nSums: one layer's four GEMMs for a prefill chunk of ${CHUNK} rows; one decode row through one layer plus the LM head:`);
  const perLayer = new Map<string, [number, number]>();
  for (const [key, ms] of totals) {
    const [impl, M] = key.split("|");
    const e = perLayer.get(impl) ?? [0, 0];
    e[M === "1" ? 1 : 0] += ms;
    perLayer.set(impl, e);
  }
  for (const [impl, [pre, dec]] of perLayer) console.log(`  ${impl}: ${fmt(pre, 2)} ms per chunk and layer; ${fmt(dec, 3)} ms per decode row (one layer + LM head)`);
}

// ------------------------------------------------------------------------------------------------ layouts

/** Repository-like facts (bench/engine-common.ts) for the default model. */
const repoFacts = (tokens: number, answerRoom = 0) => repoFactsOf(c, tokens, answerRoom);

/**
 * Exactly the config's budget on every row (min(row + 1, 100) blocks): the 16 most recent blocks, block 0, and the
 * rest spread evenly over the past with a per-head offset — the cost of a row that spends its whole budget.
 */
function fullBudgetLayout(tokens: number, answerRoom = 0): BlockSparseLayout {
  const R = Math.ceil((tokens + answerRoom) / B);
  const budget = c.pattern.budget;
  return buildLayout(B, R, c.numHeads, (l, r) => {
    const cols = new Set<number>([0]);
    for (let i = 0; i < c.pattern.localBlocks && i <= r; i++) cols.add(r - i);
    const far = r + 1 - cols.size;
    const want = Math.min(budget - cols.size, far);
    for (let i = 0; cols.size < Math.min(budget, r + 1) && i < 4 * budget; i++) cols.add(Math.floor(((i + (l + 1) / (c.numHeads + 1)) * far) / Math.max(1, want)) % (r + 1));
    for (let b = r; cols.size < Math.min(budget, r + 1); b--) cols.add(b);
    return cols;
  });
}

const tokenAt = (i: number) => syntheticToken(c, i);

// ------------------------------------------------------------------------------------------------ 2–4. engine

interface RunRow {
  layout: string;
  tokens: number;
  kept: string;
  prefillMs: number;
  prefillCpuMs: number;
  decodeMs: number;
  ttftMemMs?: number;
  ttftDiskMs?: number;
  kvBytes: number;
  rssPeak: number;
}

const QUESTION = 24;
const DECODE_STEPS = 32;

async function runContext(engine: Engine, tokens: number, kind: "repo-like" | "100 blocks/row", withDisk: boolean): Promise<RunRow> {
  const room = QUESTION + DECODE_STEPS + 64;
  const layout = kind === "repo-like" ? buildPatterns(repoFacts(tokens, room), modelHeadSpecs(c)).layout : fullBudgetLayout(tokens, room);
  const patterns = { layout };
  const repoRows = Math.ceil(tokens / B);
  const kept = meanKept(layout);
  const ids = Int32Array.from({ length: tokens }, (_, i) => tokenAt(i));
  const cache = engine.newCache(tokens + QUESTION + DECODE_STEPS + 64);
  const pre = await timed(() => engine.prefill(cache, ids, patterns.layout, { logitsRows: [] }));
  // The question right after the repository (whole blocks), then decode.
  const qStart = repoRows * B;
  if (qStart !== tokens) throw new Error("contexts are whole blocks");
  const question = Int32Array.from({ length: QUESTION }, (_, i) => tokenAt(tokens + i));
  const ttft = await timed(async () => {
    const logits = await engine.prefill(cache, question, patterns.layout, { start: qStart });
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  });
  let tok = ttft.value;
  const dec = await timed(async () => {
    for (let i = 0; i < DECODE_STEPS; i++) {
      const logits = await engine.step(cache, tok, patterns.layout);
      tok = logits.indexOf(Math.max(...logits.subarray(0, 64)));
    }
  });
  let ttftDiskMs: number | undefined;
  if (withDisk) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lv-bench-kv-"));
    const file = path.join(dir, "kv.lvkv");
    cache.length = tokens;
    const key = { modelHash: "bench", layoutVersion: "bench" };
    await saveKvCache(file, cache, ids, key);
    const size = fs.statSync(file).size;
    const disk = await timed(async () => {
      const loaded = await loadKvCache(file, c, key, tokens + QUESTION + 64);
      const logits = await engine.prefill(loaded.cache, question, patterns.layout, { start: qStart });
      return logits.length;
    });
    ttftDiskMs = disk.ms;
    console.log(`  KV file ${mib(size)} (${fmt(size / tokens)} B/token): load + question + first token ${fmt(disk.ms)} ms`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return {
    layout: kind,
    tokens,
    kept: `${fmt(kept.mean, 1)} (max ${kept.max})`,
    prefillMs: pre.ms,
    prefillCpuMs: pre.cpuMs,
    decodeMs: dec.ms / DECODE_STEPS,
    ttftMemMs: ttft.ms,
    ttftDiskMs,
    kvBytes: cache.bytes,
    rssPeak: process.resourceUsage().maxRSS * 1024,
  };
}

/** 1M positions: the cache filled with values (not computed), then a prefill chunk and decode steps at the end. */
async function millionProbe(engine: Engine, full: boolean): Promise<void> {
  const tokens = 1 << 20;
  console.log(`\n## 1M-token layout (${fmt(tokens)} positions)\n`);
  const t0 = performance.now();
  const patterns = buildPatterns(repoFacts(tokens, QUESTION + DECODE_STEPS + 64), modelHeadSpecs(c));
  console.log(`patterns: ${fmt(performance.now() - t0)} ms to build, mean kept blocks/row ${fmt(meanKept(patterns.layout).mean, 1)}`);
  const rss0 = process.memoryUsage().rss;
  const cache = engine.newCache(tokens + QUESTION + DECODE_STEPS + 64);
  const start = tokens - CHUNK;
  if (full) {
    const ids = Int32Array.from({ length: start }, (_, i) => tokenAt(i));
    const r = await timed(() => engine.prefill(cache, ids, patterns.layout, { logitsRows: [], onProgress: (d, t) => d % (64 * CHUNK) === 0 && console.log(`  ${fmt(d)} / ${fmt(t)}`) }));
    console.log(`full prefill of ${fmt(start)} tokens: ${fmt(r.ms / 1000, 1)} s, ${fmt(start / (r.ms / 1000))} tokens/s`);
  } else {
    // Touch every page with non-trivial values, as a real prefill would.
    for (const t of [...cache.k, ...cache.v]) for (let i = 0; i < t.length; i += 1024) t.fill(Math.sin(i) * 0.5, i, Math.min(t.length, i + 1024));
    cache.length = start;
  }
  const rss = process.memoryUsage().rss;
  const ids = Int32Array.from({ length: CHUNK }, (_, i) => tokenAt(start + i));
  const chunk = await timed(() => engine.prefill(cache, ids, patterns.layout, { start }));
  let tok = 17;
  const dec = await timed(async () => {
    for (let i = 0; i < DECODE_STEPS; i++) {
      const logits = await engine.step(cache, tok, patterns.layout);
      tok = logits.indexOf(Math.max(...logits.subarray(0, 64)));
    }
  });
  console.log(`KV cache: ${mib(cache.bytes)} (${fmt(stats.kvBytesPerToken)} B/token, float32); process RSS ${mib(rss)} (was ${mib(rss0)} before the cache), peak ${mib(process.resourceUsage().maxRSS * 1024)}`);
  console.log(`prefill chunk of ${fmt(CHUNK)} at position ${fmt(start)}: ${fmt(chunk.ms)} ms = ${fmt(CHUNK / (chunk.ms / 1000))} tokens/s (CPU ${fmt(chunk.cpuMs)} ms)`);
  console.log(`decode at ~1M: ${fmt(dec.ms / DECODE_STEPS, 2)} ms/token = ${fmt(1000 / (dec.ms / DECODE_STEPS), 1)} tokens/s`);
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? "?";
  console.log(`# Engine benchmark\n`);
  console.log(`machine: ${cpu}, ${os.cpus().length} logical CPUs, ${fmt(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load avg ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  console.log(
    `model: DEFAULT_MODEL_CONFIG d ${c.dModel}, ${c.numLayers} layers, ${c.numHeads} heads × ${c.headDim} over ${c.numKvHeads} KV heads, SwiGLU ${c.ffnDim}, vocab ${fmt(c.vocabSize)}: ` +
      `${fmt(stats.parameters / 1e6, 2)} M parameters, ${fmt(stats.bytesInt8 / 1e6, 1)} MB int8 / ${fmt(stats.bytesFp16 / 1e6, 1)} MB fp16; ` +
      `dense ${fmt(stats.denseFlopsPerToken / 1e6, 1)} MFLOP/token (+${fmt(stats.lmHeadFlopsPerToken / 1e6, 1)} LM head), attention ${fmt(stats.attentionFlopsPerToken(100 * B) / 1e6, 1)} MFLOP/token at 100 kept blocks`,
  );
  if (!flag("--no-dense")) await denseOps();

  const weights = randomWeights(c, { seed: 20261123, int8: true });
  const engine = await Engine.create({ config: c, weights }, { backend: "cpu", threads, chunkTokens: CHUNK });
  console.log(`\nengine: attention ${engine.attention.name}, dense ${engine.dense.name}, ${threads} threads, chunks of ${fmt(CHUNK)}${engine.notices.length ? `; notices: ${engine.notices.join("; ")}` : ""}`);
  // Warm-up (page faults, thread pools).
  await runContext(engine, 4096, "repo-like", false);

  const rows: RunRow[] = [];
  const contexts = listOption("--contexts") ?? (quick ? [16384] : [16384, 65536]).map(String);
  const kinds = (listOption("--layouts") ?? ["repo-like", "100 blocks/row"]).map((k) => (k.startsWith("repo") ? "repo-like" : "100 blocks/row")) as Array<"repo-like" | "100 blocks/row">;
  for (const tokens of contexts.map(Number))
    for (const kind of kinds) {
      console.log(`running ${kind} ${fmt(tokens)} …`);
      rows.push(await runContext(engine, tokens, kind, kind === "repo-like"));
    }
  console.log(`\n## Prefill, decode, time to first token (${fmt(QUESTION)}-token question after the repository)\n`);
  console.log("| tokens | layout | kept blocks/row (mean) | prefill s | prefill tokens/s | CPU-normalized tokens/s | decode ms/token | decode tokens/s | TTFT warm (memory) ms | TTFT warm (disk) ms | KV cache | peak RSS |");
  console.log("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    const cpuNorm = r.tokens / (r.prefillCpuMs / 1000 / os.availableParallelism());
    console.log(
      `| ${fmt(r.tokens)} | ${r.layout} | ${r.kept} | ${fmt(r.prefillMs / 1000, 2)} | ${fmt(r.tokens / (r.prefillMs / 1000))} | ${fmt(cpuNorm)} | ${fmt(r.decodeMs, 2)} | ${fmt(1000 / r.decodeMs, 1)} | ${fmt(r.ttftMemMs ?? 0, 1)} | ${r.ttftDiskMs ? fmt(r.ttftDiskMs) : "—"} | ${mib(r.kvBytes)} | ${mib(r.rssPeak)} |`,
    );
  }
  console.log(`\nCPU-normalized = tokens / (process CPU time / ${os.availableParallelism()} cores): what the run would take with the cores to itself.`);
  if (!quick && !flag("--no-1m")) await millionProbe(engine, flag("--full-1m"));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
