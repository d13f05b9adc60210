/**
 * The engine end to end on one attention backend, at repository sizes up to 1M tokens: what issue 5's targets ask
 * ("prefill of a 1M-token repository in < 60 s; time to first answer token < 2 s with the repository's KV cache
 * warm"). Written for the GPU machine (bench/engine-gpu/run-on-device.sh) and runnable anywhere.
 *
 * - Model: the bundled model loaded as the product loads it (loadModelFolder: config, int8 weights, checksums,
 *   tokenizer), or seeded random int8 weights of the same config (`--weights random`).
 * - Attention: picked by the product's dispatch (openAttentionBackend, `--backend auto|cpu|cuda|webgpu`), with its
 *   fallbacks and notices; the chosen backend is only wrapped to add up its call times (attention vs the rest).
 * - Per context N: the repository-like layout (bench/engine-common.ts repoFacts → the model's head patterns), a
 *   full prefill of N tokens in the engine's chunks, then what RepoSession.ask does with the cache warm in memory:
 *   the question region appended to the patterns, a ~30-token question (the tokenizer's encoding of a real one)
 *   prefilled with attention mass, the first token sampled = time to first token; then decode steps.
 * - Budget (`--budget-s`): contexts run smallest first; a larger one is projected from the chunks already timed
 *   (bench/engine-gpu/projection.ts). One that does not fit is probed instead (its cache filled with values, not
 *   computed, then TTFT and decode measured; prefill reported as projected), and a prefill that overruns its
 *   deadline stops between chunks and is finished the same way.
 * - K/V path: "resident" when the backend keeps K/V on the GPU (the engine uploads only each call's new rows),
 *   "copy" when a GPU backend is handed the host cache on every call, "host" for CPU attention. A probe's filled
 *   rows are uploaded to a resident copy before TTFT is timed (as RepoSession.restore does after loading a cache),
 *   and that upload is reported on its own.
 *
 * usage: node dist/bench/bench-engine-gpu.js [--backend auto] [--weights bundled|random] [--model DIR]
 *          [--contexts 16384,65536,262144,1048576] [--question 30] [--decode 32] [--decode-box-s 10]
 *          [--budget-s 0 (none)] [--threads N] [--chunk 2048] [--label TEXT] [--json FILE] [--summary FILE]
 *        node dist/bench/bench-engine-gpu.js --report a.json,b.json [--summary FILE]   (one table from several runs)
 */
import fs from "node:fs";
import os from "node:os";
import { type BackendPreference, openAttentionBackend } from "../model-runtime/src/engine/attention-backend";
import { AttentionMass, Engine, EngineCancelledError } from "../model-runtime/src/engine/engine";
import type { KvCache } from "../model-runtime/src/engine/kv-cache";
import { loadDenseAddon } from "../model-runtime/src/engine/native";
import { modelHeadSpecs } from "../model-runtime/src/engine/repo-session";
import { bundledModelFolder, loadModelFolder } from "../model-runtime/src/answer/model-service";
import { type ModelConfig, DEFAULT_MODEL_CONFIG, modelStats } from "../model-runtime/src/model/config";
import { loadModel } from "../model-runtime/src/model/model-folder";
import { randomWeights } from "../model-runtime/src/model/random-init";
import type { ModelWeights } from "../model-runtime/src/model/weights";
import { buildPatterns } from "../model-runtime/src/patterns";
import { CodeTokenizer } from "../model-runtime/src/tokenizer";
import { loadCpuAddon } from "../kernels/cpu";
import { fmt, meanKept, mib, repoFacts, syntheticToken, timed } from "./engine-common";
import { type ChunkTime, type MeasuredContext, type PrefillFit, chooseMode, estimateContext, fitPrefill, projectPrefillMs } from "./engine-gpu/projection";
import { TimedAttention } from "./engine-gpu/timed-attention";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const text = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const num = (name: string, fallback: number) => {
  const v = text(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} expects a number, got ${v}`);
  return n;
};

/** A real question of about 30 tokens (its encoding is trimmed or padded to --question tokens). */
const QUESTION_TEXT = "Where does the engine split a repository prefill into chunks, and which function writes the keys and values of each layer into the KV cache?";
/** The product's room after the repository for the question and answer (model-service ANSWER_ROOM). */
const ANSWER_ROOM = 4096;
/** Answer tokens a question's region is laid out for (the longview.maxAnswerTokens default, RepoSession.ask). */
const ANSWER_TOKENS = 512;

// ------------------------------------------------------------------------------------------------ results

interface Phase {
  ms: number;
  attentionMs: number;
  attentionCalls: number;
}

interface ContextResult {
  tokens: number;
  mode: "full" | "partial" | "probe" | "skipped";
  note?: string;
  layoutMs?: number;
  keptMean?: number;
  /** Positions whose K/V the prefill computed (the rest of a partial or probe run is filled with values). */
  computedTokens: number;
  prefill?: Phase & { cpuMs: number };
  projectedPrefillMs?: number;
  ttft?: Phase;
  decode?: Phase & { steps: number };
  kvBytes?: number;
  rssPeakBytes: number;
  /** Where attention read K/V from in this context (the engine's path at its end; see the file's header). */
  kvPath?: KvPathName;
  /** Rows per layer uploaded to the resident copy: new rows during the prefill, rows caught up before TTFT, during TTFT. */
  uploads?: { prefillRows: number; prefillCatchUpRows: number; warmRows: number; warmMs: number; ttftRows: number; ttftCatchUpRows: number };
}

type KvPathName = "resident" | "copy" | "host";

interface BenchReport {
  label: string;
  date: string;
  machine: { cpu: string; cores: number; memGiB: number; flags: string[]; node: string };
  model: { source: string; parameters: number; maxPositions: number; kvBytesPerToken: number };
  backend: { requested: string; dispatched: string; name: string; notices: string[]; kvPath?: KvPathName };
  dense: { name: string; supportedIsas: string[]; cpuAttentionIsa: string };
  threads: number;
  chunkTokens: number;
  questionTokens: number;
  budgetS: number;
  prefillFit?: PrefillFit;
  runs: ContextResult[];
  totalS: number;
  /** The unmeasured 4,096-token run first (GPU context, kernels' first launch, thread pools, page faults). */
  warmupMs?: number;
  /** False in a report saved after a context while the run went on (and stopped before its end if read so). */
  complete: boolean;
}

// ------------------------------------------------------------------------------------------------ machine

function cpuFlags(): string[] {
  try {
    const line = fs.readFileSync("/proc/cpuinfo", "utf8").split("\n").find((l) => l.startsWith("flags"));
    const have = new Set((line ?? "").split(":")[1]?.trim().split(/\s+/) ?? []);
    return ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "amx_int8"].filter((f) => have.has(f));
  } catch {
    return [];
  }
}

function cpuAttentionIsa(): string {
  try {
    const info = loadCpuAddon().info();
    return `${info.isa} (${info.threads} threads; CPU runs ${info.supportedIsas.join(", ")})`;
  } catch (e) {
    return `unavailable (${(e as Error).message.split("\n")[0]})`;
  }
}

function denseIsas(): string[] {
  try {
    return loadDenseAddon().isa().supportedIsas;
  } catch {
    return [];
  }
}

// ------------------------------------------------------------------------------------------------ model

function loadBenchModel(): { config: ModelConfig; weights: ModelWeights; source: string; question: Int32Array } {
  const folder = text("--model") ?? bundledModelFolder();
  const questionTokens = num("--question", 30);
  const fit = (ids: Int32Array, c: ModelConfig) => Int32Array.from({ length: questionTokens }, (_, i) => (i < ids.length ? ids[i] : syntheticToken(c, 7 + i)));
  if (text("--weights") === "random") {
    let config = DEFAULT_MODEL_CONFIG;
    let from = "DEFAULT_MODEL_CONFIG";
    try {
      config = loadModel(folder).config;
      from = folder;
    } catch {
      // no model folder: the default config
    }
    let question: Int32Array = new Int32Array(0);
    try {
      question = CodeTokenizer.load().encode(QUESTION_TEXT);
    } catch {
      // no tokenizer: synthetic question tokens
    }
    return { config, weights: randomWeights(config, { seed: 20261123, int8: true }), source: `random int8 weights, config of ${from}`, question: fit(question, config) };
  }
  const { model, tokenizer } = loadModelFolder(folder);
  return { config: model.config, weights: model.weights, source: `${folder} (${model.dtype}, sha256 ${model.hash.slice(0, 12)}…)`, question: fit(tokenizer.encode(QUESTION_TEXT), model.config) };
}

// ------------------------------------------------------------------------------------------------ one context

/** Fills K/V rows [from, to) of every layer and KV head with values (what a probe stands on instead of a prefill). */
function fillCache(cache: KvCache, from: number, to: number): void {
  const D = cache.headDim;
  for (const t of [...cache.k, ...cache.v])
    for (let h = 0; h < cache.numKvHeads; h++) {
      const a = (h * cache.capacity + from) * D;
      const b = (h * cache.capacity + to) * D;
      for (let i = a; i < b; i += 4096) t.fill(Math.sin(i * 1e-3) * 0.5, i, Math.min(b, i + 4096));
    }
  cache.length = Math.max(cache.length, to);
  cache.rowsChanged(from); // rows written outside the engine: a device copy must not keep its old ones
}

function kvPathOf(engine: Engine): KvPathName {
  if (engine.kvPath === "resident") return "resident";
  return /^cuda|^webgpu/.test(engine.attention.name) ? "copy" : "host";
}

/** Rows per layer uploaded to resident copies since `since` (a snapshot of engine.residentStats). */
function uploadedSince(engine: Engine, since: { writtenRows: number; catchUpRows: number }): { rows: number; catchUp: number } {
  const L = engine.config.numLayers;
  const now = engine.residentStats;
  return { rows: (now.writtenRows - since.writtenRows) / L, catchUp: (now.catchUpRows - since.catchUpRows) / L };
}

interface ContextPlan {
  mode: "full" | "probe";
  /** Wall-clock time (performance.now) past which a full prefill stops between chunks. */
  prefillDeadline: number;
  decodeBoxMs: number;
}

async function runContext(engine: Engine, attention: TimedAttention, question: Int32Array, tokens: number, plan: ContextPlan, chunks: ChunkTime[]): Promise<ContextResult> {
  const c = engine.config;
  const B = c.blockSize;
  if (tokens % B !== 0) throw new Error(`contexts must be whole blocks of ${B}, got ${tokens}`);
  const R = tokens / B;
  const t0 = performance.now();
  const facts = repoFacts(c, tokens);
  const patterns = buildPatterns(facts, modelHeadSpecs(c));
  const layoutMs = performance.now() - t0;
  const keptMean = meanKept(patterns.layout).mean;
  const result: ContextResult = { tokens, mode: plan.mode, layoutMs, keptMean, computedTokens: 0, rssPeakBytes: 0 };
  const cache = engine.newCache(tokens + ANSWER_ROOM);
  const snap = () => ({ ...engine.residentStats });
  const s0 = snap();

  if (plan.mode === "full") {
    const ids = Int32Array.from({ length: tokens }, (_, i) => syntheticToken(c, i));
    const stop = new AbortController();
    let last = performance.now();
    let prevDone = 0;
    attention.take();
    const pre = await timed(async () => {
      try {
        await engine.prefill(cache, ids, patterns.layout, {
          start: 0,
          logitsRows: [],
          signal: stop.signal,
          onProgress: (done) => {
            const now = performance.now();
            chunks.push({ kvEnd: done, rows: done - prevDone, ms: now - last });
            last = now;
            prevDone = done;
            if (now > plan.prefillDeadline && done < tokens) stop.abort("budget");
          },
        });
      } catch (e) {
        if (!(e instanceof EngineCancelledError)) throw e;
      }
    });
    const attn = attention.take();
    result.computedTokens = cache.length;
    result.prefill = { ms: pre.ms, cpuMs: pre.cpuMs, attentionMs: attn.ms, attentionCalls: attn.calls };
    if (cache.length < tokens) {
      result.mode = "partial";
      result.note = `prefill stopped at its deadline after ${fmt(cache.length)} of ${fmt(tokens)} tokens; the rest filled with values`;
      fillCache(cache, cache.length, tokens);
    }
  } else {
    fillCache(cache, 0, tokens);
  }
  const pre = uploadedSince(engine, s0);
  // Filled rows reach a resident device copy here, not inside the timed TTFT (the product uploads a loaded cache in
  // RepoSession.restore; a computed prefill has uploaded its rows as it went, so this is 0 for a full run).
  const s1 = snap();
  const tw = performance.now();
  engine.syncResident(cache);
  const warmMs = performance.now() - tw;
  const warm = uploadedSince(engine, s1);
  const s2 = snap();

  // What RepoSession.ask does with the repository's cache warm in memory: the question region joins the patterns
  // (a new layout, uploaded again by a GPU backend), the question is prefilled with attention mass on its last row,
  // and the first answer token is sampled.
  const qaBlocks = Math.ceil((question.length + ANSWER_TOKENS) / B);
  attention.take();
  const tq = performance.now();
  const qFacts = repoFacts(c, tokens, qaBlocks * B);
  patterns.update(qFacts, { start: R, oldEnd: R, newEnd: R + qaBlocks });
  const layout = patterns.layout;
  const mass = new AttentionMass(R + qaBlocks);
  const firstLogits = await engine.prefill(cache, question, layout, { start: tokens, mass, massFrom: tokens + question.length - 1 });
  const answer = engine.generate(cache, layout, { firstLogits, maxNewTokens: num("--decode", 32) + 1, mass });
  await answer.next();
  const ttftMs = performance.now() - tq;
  const ttftAttn = attention.take();
  result.ttft = { ms: ttftMs, attentionMs: ttftAttn.ms, attentionCalls: ttftAttn.calls };
  const during = uploadedSince(engine, s2);
  result.uploads = { prefillRows: pre.rows, prefillCatchUpRows: pre.catchUp, warmRows: warm.rows + warm.catchUp, warmMs, ttftRows: during.rows, ttftCatchUpRows: during.catchUp };

  // Decode: every further token is one engine step (fed back, attention mass kept, as in an answer), time-boxed.
  const td = performance.now();
  let steps = 0;
  for (;;) {
    const r = await answer.next();
    if (r.done) break;
    steps++;
    if (performance.now() - td > plan.decodeBoxMs && steps >= 2) break;
  }
  await answer.return(undefined);
  const decodeAttn = attention.take();
  if (steps > 0) result.decode = { ms: (performance.now() - td) / steps, attentionMs: decodeAttn.ms / steps, attentionCalls: decodeAttn.calls / steps, steps };
  result.kvBytes = cache.bytes;
  result.rssPeakBytes = process.resourceUsage().maxRSS * 1024;
  result.kvPath = kvPathOf(engine);
  engine.releaseResident(cache); // the next context's device copy should not have to share the GPU with this one
  return result;
}

// ------------------------------------------------------------------------------------------------ table

function table(reports: BenchReport[]): string {
  const lines: string[] = [];
  lines.push("| run | backend (ran) | K/V path | dense | tokens | kept blocks/row | mode | layout s | prefill s | prefill tokens/s | prefill attention / rest s | TTFT ms (attention) | decode tokens/s (ms/token, attention) | KV cache | peak RSS |");
  lines.push("|---|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of reports)
    for (const x of r.runs) {
      const p = x.prefill;
      const full = x.mode === "full";
      const prefillS = full && p ? fmt(p.ms / 1000, 2) : x.projectedPrefillMs !== undefined ? `~${fmt(x.projectedPrefillMs / 1000, 1)} (projected)` : "—";
      const rate = full && p ? fmt(x.tokens / (p.ms / 1000)) : p && x.computedTokens ? `${fmt(x.computedTokens / (p.ms / 1000))} (first ${fmt(x.computedTokens)})` : "—";
      const split = p ? `${fmt(p.attentionMs / 1000, 2)} / ${fmt((p.ms - p.attentionMs) / 1000, 2)}` : "—";
      const ttft = x.ttft ? `${fmt(x.ttft.ms, 1)} (${fmt(x.ttft.attentionMs, 1)})` : "—";
      const dec = x.decode ? `${fmt(1000 / x.decode.ms, 1)} (${fmt(x.decode.ms, 2)}, ${fmt(x.decode.attentionMs, 2)})` : "—";
      lines.push(
        `| ${r.label} | ${r.backend.name} | ${kvPathCell(x)} | ${r.dense.name} | ${fmt(x.tokens)} | ${x.keptMean !== undefined ? fmt(x.keptMean, 1) : "—"} | ${x.mode}${x.note ? `: ${x.note}` : ""} | ${x.layoutMs !== undefined ? fmt(x.layoutMs / 1000, 2) : "—"} | ${prefillS} | ${rate} | ${split} | ${ttft} | ${dec} | ${x.kvBytes ? mib(x.kvBytes) : "—"} | ${mib(x.rssPeakBytes)} |`,
      );
    }
  return lines.join("\n");
}

/** The K/V path of a run and, for a resident one, what it uploaded (rows per layer): the check that only new rows travel. */
function kvPathCell(x: ContextResult): string {
  if (!x.kvPath) return "—";
  const u = x.uploads;
  if (x.kvPath !== "resident" || !u) return x.kvPath;
  const parts = [`prefill ${fmt(u.prefillRows)} new + ${fmt(u.prefillCatchUpRows)} caught up`];
  if (u.warmRows) parts.push(`${fmt(u.warmRows)} filled rows uploaded in ${fmt(u.warmMs / 1000, 2)} s before TTFT`);
  parts.push(`TTFT ${fmt(u.ttftRows)} new + ${fmt(u.ttftCatchUpRows)} caught up`);
  return `resident (rows/layer: ${parts.join("; ")})`;
}

/**
 * Issue 5's H100 targets, judged at 1M only: a report that did not reach 1M gives its largest context and, from
 * its chunk fit, a projection of the 1M prefill.
 */
function targets(reports: BenchReport[]): string[] {
  const M = 1 << 20;
  const out: string[] = [];
  for (const r of reports) {
    const runs = r.runs.filter((x) => x.mode !== "skipped" && x.ttft);
    const big = runs[runs.length - 1];
    if (!big) continue;
    const verdict = (ok: boolean) => (big.tokens === M ? (ok ? " [met]" : " [NOT met]") : "");
    const prefillMs = big.mode === "full" ? big.prefill?.ms : big.projectedPrefillMs;
    const how = big.mode === "full" ? "measured" : "projected";
    const pre = prefillMs === undefined ? "not measured" : `${how} ${fmt(prefillMs / 1000, 1)} s${verdict(prefillMs < 60_000)}`;
    const ttft = `${fmt(big.ttft!.ms)} ms${verdict(big.ttft!.ms < 2000)}`;
    const to1M = big.tokens < M && r.prefillFit ? `; 1M prefill projected from the chunk fit: ${fmt(projectPrefillMs(r.prefillFit, M) / 1000, 1)} s` : "";
    out.push(`- ${r.label} (${r.backend.name}, ${r.dense.name}) at ${fmt(big.tokens)} tokens: prefill ${pre} (target < 60 s at 1M); TTFT with the cache warm in memory ${ttft} (target < 2 s at 1M)${to1M}.`);
  }
  return out;
}

function summary(reports: BenchReport[]): string {
  const r0 = reports[0];
  const head = [
    `Machine: ${r0.machine.cpu}, ${r0.machine.cores} CPUs (${r0.machine.flags.join(" ") || "no AVX2/AVX-512 flags"}), ${fmt(r0.machine.memGiB)} GiB, Node ${r0.machine.node}.`,
    `Model: ${r0.model.source}; ${fmt(r0.model.parameters / 1e6, 1)} M parameters; ${fmt(r0.model.kvBytesPerToken)} B/token of KV cache (float32, host); trained for ${fmt(r0.model.maxPositions)} positions${r0.model.maxPositions < 1 << 20 ? " (longer contexts measure speed, not answers)" : ""}.`,
    ...reports.map(
      (r) =>
        `${r.label}: asked ${r.backend.requested}, dispatch gave ${r.backend.dispatched} → ${r.backend.name}${r.backend.kvPath ? ` (K/V path: ${r.backend.kvPath})` : ""}; dense ${r.dense.name} (CPU runs ${r.dense.supportedIsas.join(", ") || "?"}); CPU attention addon ${r.dense.cpuAttentionIsa}; ${r.threads} threads, chunks of ${fmt(r.chunkTokens)}, question ${r.questionTokens} tokens, budget ${r.budgetS ? `${r.budgetS} s` : "none"}, took ${fmt(r.totalS)} s${r.complete ? "" : " before it was stopped"}${r.warmupMs !== undefined ? ` (warm-up ${fmt(r.warmupMs / 1000, 1)} s)` : ""}` +
        `${r.prefillFit ? `; chunk fit ${fmt(r.prefillFit.msPerChunk, 1)} ms per chunk + ${fmt(r.prefillFit.msPerKvToken * 1e6, 2)} ms per 1M cached tokens (${r.prefillFit.points} chunks)` : ""}` +
        `${r.backend.notices.length ? `; notices: ${r.backend.notices.join("; ")}` : ""}.`,
    ),
  ];
  return [
    "## Engine end to end (bench-engine-gpu)",
    "",
    ...head,
    "",
    "Prefill = the repository's N tokens from an empty cache; TTFT = question region added to the patterns + 30-token question prefilled (attention mass on) + first token sampled, cache warm in memory; decode = further answer tokens. `partial`/`probe`: the cache was (partly) filled with values instead of computed, so TTFT and decode are measured at full length and the prefill is projected from the timed chunks. Attention = wall time inside the attention backend's calls (host copies included; on the resident K/V path also the uploads of new rows); K/V path: resident = K/V kept on the GPU, each call uploading only its new rows; copy = the GPU backend copies the host cache on every call; host = CPU attention on the host cache; rest = dense ops, embedding, logits, sampling.",
    "",
    "Targets (issue 5, H100):",
    ...targets(reports),
    "",
    table(reports),
  ].join("\n");
}

// ------------------------------------------------------------------------------------------------ main

/** Runs the contexts; `save` gets the report after each one (a run killed at its time limit keeps what it measured). */
async function bench(save: (r: BenchReport) => void): Promise<BenchReport> {
  const tStart = performance.now();
  const budgetMs = num("--budget-s", 0) * 1000;
  const remaining = () => (budgetMs > 0 ? budgetMs - (performance.now() - tStart) : Infinity);
  const requested = (text("--backend") ?? "auto") as BackendPreference;
  if (!["auto", "cpu", "cuda", "webgpu"].includes(requested)) throw new Error(`--backend must be auto, cpu, cuda or webgpu, got ${requested}`);
  const contexts = (text("--contexts") ?? "16384,65536,262144,1048576").split(",").map(Number).sort((a, b) => a - b);
  const threads = text("--threads") !== undefined ? num("--threads", 0) : undefined;

  const { config: c, weights, source, question } = loadBenchModel();
  const stats = modelStats(c);
  const log = (m: string) => console.log(`[bench-engine-gpu] ${m}`);
  const dispatch = await openAttentionBackend(requested, { log });
  const attention = new TimedAttention(dispatch.backend);
  const engine = await Engine.create({ config: c, weights }, { attentionBackend: attention, threads, chunkTokens: text("--chunk") ? num("--chunk", 2048) : undefined, log });
  const report: BenchReport = {
    label: text("--label") ?? requested,
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model ?? "?", cores: os.availableParallelism(), memGiB: os.totalmem() / 2 ** 30, flags: cpuFlags(), node: process.version },
    model: { source, parameters: stats.parameters, maxPositions: c.maxPositions, kvBytesPerToken: stats.kvBytesPerToken },
    backend: { requested, dispatched: dispatch.kind, name: attention.name, notices: [...dispatch.notices, ...engine.notices] },
    dense: { name: engine.dense.name, supportedIsas: denseIsas(), cpuAttentionIsa: cpuAttentionIsa() },
    threads: threads ?? os.availableParallelism(),
    chunkTokens: engine.chunkTokens,
    questionTokens: question.length,
    budgetS: budgetMs / 1000,
    runs: [],
    totalS: 0,
    complete: false,
  };
  report.backend.kvPath = kvPathOf(engine);
  log(`model ${source}; attention ${attention.name} (dispatch: ${dispatch.kind}; K/V path ${report.backend.kvPath}); dense ${engine.dense.name}; chunks ${engine.chunkTokens}${report.backend.notices.length ? `; notices: ${report.backend.notices.join("; ")}` : ""}`);

  save(report); // a run killed before its first context still names its backend
  const decodeBoxMs = num("--decode-box-s", 10) * 1000;
  if (!flag("--no-warmup")) {
    // Page faults, thread pools, the GPU context and its kernels' first launch: not measured.
    const w = await timed(() => runContext(engine, attention, question, 4096, { mode: "full", prefillDeadline: Infinity, decodeBoxMs: 500 }, []));
    report.warmupMs = w.ms;
    log(`warm-up (4,096 tokens) ${fmt(w.ms)} ms`);
  }

  // Each context is planned from the last one measured; the largest context's probe (TTFT and decode at full length,
  // the measurement the targets need most) keeps its time while the smaller ones run.
  let fit: PrefillFit | undefined;
  let prev: MeasuredContext | undefined;
  const largest = contexts[contexts.length - 1];
  const estimate = (tokens: number) =>
    estimateContext({ tokens, cacheTokens: tokens + ANSWER_ROOM, kvBytesPerToken: stats.kvBytesPerToken, prev, fit, decodeSteps: num("--decode", 32), decodeBoxMs });
  for (const tokens of contexts) {
    const e = estimate(tokens);
    const reserveMs = tokens < largest && prev ? estimate(largest).probeMs : 0;
    const left = remaining() - reserveMs;
    const mode = chooseMode({ remainingMs: left, fullMs: e.fullMs, probeMs: e.probeMs });
    const plan = `${e.fullMs !== undefined ? `full run projected ${fmt(e.fullMs / 1000, 1)} s (prefill ${fmt(e.prefillMs! / 1000, 1)} s), ` : ""}probe ~${fmt(e.probeMs / 1000, 1)} s; ${fmt(left / 1000)} s left${reserveMs ? ` after keeping ${fmt(reserveMs / 1000)} s for ${fmt(largest)}` : ""}`;
    if (mode === "skip") {
      log(`${fmt(tokens)}: skipped (${plan})`);
      report.runs.push({ tokens, mode: "skipped", note: "no time left", computedTokens: 0, projectedPrefillMs: e.prefillMs, rssPeakBytes: process.resourceUsage().maxRSS * 1024 });
      continue;
    }
    log(`${fmt(tokens)}: ${mode} (${plan})`);
    const runChunks: ChunkTime[] = [];
    // A prefill stopped at its deadline still has to fill the rest of the cache and ask: probe minus setup.
    const deadline = performance.now() + left - (e.probeMs - e.setupMs + 5000);
    const r = await runContext(engine, attention, question, tokens, { mode, prefillDeadline: deadline, decodeBoxMs }, runChunks);
    // The later half of the chunks: past the first rows, whose attention grows until the pattern's budget fills.
    if (runChunks.length >= 2) fit = fitPrefill(runChunks.slice(Math.floor(runChunks.length / 2)), engine.chunkTokens);
    if (r.mode !== "full" && fit) r.projectedPrefillMs = projectPrefillMs(fit, tokens);
    report.runs.push(r);
    prev = { tokens, layoutMs: r.layoutMs, ttftMs: r.ttft?.ms, decodeMsPerToken: r.decode?.ms };
    log(
      `${fmt(tokens)}: ${r.mode}${r.prefill ? `, prefill ${fmt(r.prefill.ms / 1000, 2)} s (attention ${fmt(r.prefill.attentionMs / 1000, 2)} s)` : ""}${r.projectedPrefillMs !== undefined ? `, projected prefill ${fmt(r.projectedPrefillMs / 1000, 1)} s` : ""}, TTFT ${fmt(r.ttft?.ms ?? 0, 1)} ms, decode ${fmt(r.decode?.ms ?? 0, 2)} ms/token, peak RSS ${mib(r.rssPeakBytes)}, K/V path ${kvPathCell(r)}`,
    );
    report.backend.name = attention.name; // a GPU backend that failed mid-run names its CPU replacement now
    report.backend.kvPath = kvPathOf(engine);
    report.backend.notices = [...new Set([...report.backend.notices, ...engine.notices])];
    report.prefillFit = fit;
    report.totalS = (performance.now() - tStart) / 1000;
    save(report);
    (globalThis as { gc?: () => void }).gc?.();
  }
  report.backend.name = attention.name;
  report.backend.kvPath = kvPathOf(engine);
  report.backend.notices = [...new Set([...report.backend.notices, ...dispatch.notices, ...engine.notices])];
  report.prefillFit = fit;
  report.totalS = (performance.now() - tStart) / 1000;
  report.complete = true;
  engine.dispose();
  attention.dispose();
  return report;
}

async function main(): Promise<void> {
  const list = text("--report");
  const json = text("--json");
  const save = (r: BenchReport) => json && fs.writeFileSync(json, JSON.stringify(r, null, 1));
  const reports: BenchReport[] = list ? list.split(",").filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as BenchReport) : [await bench(save)];
  if (!list) save(reports[0]);
  if (!reports.length) {
    console.log("(no reports to combine)");
    return;
  }
  const md = summary(reports);
  if (text("--summary")) fs.writeFileSync(text("--summary")!, md + "\n");
  console.log(`\n${md}`);
}

main().then(
  // A GPU backend may keep handles that hold the process open.
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
