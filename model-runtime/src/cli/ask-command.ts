/**
 * `longview ask <dir> "question"`: the model's answer (the bundled default model, or --model) streamed as it is
 * generated, then its citations and the files it read (attention mass). When the model is missing or cannot load,
 * one line says why and the index answers instead; --index-only asks the index directly.
 *
 * The engine runs in the model worker (ModelWorkerClient), like in the extension. The KV cache persists next to
 * the index (…/longview/<hash>/kv) unless --no-store, so a second question about an unchanged repository skips
 * the prefill.
 */
import path from "node:path";
import { answerFromIndex } from "../answer/index-answer";
import { type ModelAnswer, type ModelBackendChoice, ModelUnavailableError, type ModelStatus } from "../answer/model-client";
import { bundledModelFolder } from "../answer/model-service";
import type { WorkspaceIndex } from "../index/workspace-index";
import { createModelClient } from "../answer/model-worker-client";
import { type CommonOptions, defaultStoreDir, openIndex, rootsFromDirs } from "./commands";

export interface AskOptions extends CommonOptions {
  indexOnly: boolean;
  model?: string;
  backend?: ModelBackendChoice;
  /** Most tokens of the repository in the model's context. */
  maxContext: number;
  /** Most memory for the model's KV cache, in MB (default 2048): it bounds the context too. */
  maxModelMemoryMB?: number;
  maxNewTokens: number;
}

/** The CLI's context budget: a first answer on a 2-core machine in about a minute; --max-context raises it. */
export const CLI_DEFAULT_MAX_CONTEXT = 131_072;
const BACKENDS: readonly ModelBackendChoice[] = ["auto", "cpu", "js", "webgpu", "cuda"];

export function parseBackend(value: string | undefined): ModelBackendChoice | undefined {
  if (value === undefined) return undefined;
  if (!BACKENDS.includes(value as ModelBackendChoice)) throw new Error(`--backend must be one of ${BACKENDS.join(", ")}`);
  return value as ModelBackendChoice;
}

/** --max-model-memory MB: a positive number, or undefined for the default. */
export function parseMemoryMB(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const mb = Number(value);
  if (!Number.isFinite(mb) || mb <= 0) throw new Error(`--max-model-memory must be a positive number of MB, got ${JSON.stringify(value)}`);
  return mb;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function kvCacheDir(dirs: string[], opts: CommonOptions): string | undefined {
  if (opts.store === null) return undefined;
  if (opts.store) return `${path.resolve(opts.store)}-kv`;
  return path.join(path.dirname(defaultStoreDir(rootsFromDirs(dirs))), "kv");
}

export async function commandAsk(dir: string | undefined, question: string, opts: AskOptions): Promise<number> {
  if (!dir || !question) throw new Error('usage: longview ask <dir> "question"');
  const indexer = await openIndex([dir], opts);
  await indexer.build();
  const index = indexer.index;
  await indexer.dispose();
  if (!opts.indexOnly) {
    try {
      return await answerWithModel(dir, question, index, opts);
    } catch (e) {
      if (!(e instanceof ModelUnavailableError)) throw e;
      const notice = `model unavailable (${e.reason}): ${e.message.split("\n")[0]} — answering from the index`;
      console.error(notice);
      const answer = answerFromIndex(index, question);
      if (opts.json) console.log(JSON.stringify({ source: "index", notice, ...answer }, null, 1));
      else console.log(indexResultsText(answer));
      return 0;
    }
  }
  const answer = answerFromIndex(index, question);
  if (opts.json) console.log(JSON.stringify(answer, null, 1));
  else console.log(indexResultsText(answer));
  return 0;
}

const SLOW_KERNELS_NOTE =
  "note: the native CPU addons are not built, so the model reads with the TypeScript kernels (~15 tokens/s: hours for a large repository). " +
  "`npm run build` compiles them (g++, make and python3 needed); --index-only answers from the index at once.";

async function answerWithModel(dir: string, question: string, index: WorkspaceIndex, opts: AskOptions): Promise<number> {
  const roots = rootsFromDirs([dir]);
  const client = createModelClient({ log: opts.verbose ? (m) => console.error(`[model] ${m}`) : undefined });
  const interactive = process.stderr.isTTY && !opts.json;
  let warnedSlow = false;
  const stopProgress = client.onProgress((p) => {
    // Without the native CPU addons a large repository takes hours to read: say so at once, not after it.
    if (!warnedSlow && !opts.json && opts.backend !== "js" && client.status().dense === "typescript") {
      warnedSlow = true;
      console.error(SLOW_KERNELS_NOTE);
    }
    if (!interactive) return;
    const eta = p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : "";
    process.stderr.write(`\rreading the repository: ${p.done}/${p.total} tokens (${Math.round(p.tokensPerSecond)} tokens/s${eta})   `);
  });
  try {
    await client.open({
      roots,
      files: [...index.allFiles()],
      modelFolder: opts.model ?? bundledModelFolder(),
      backend: opts.backend,
      maxContextTokens: opts.maxContext,
      maxModelMemoryMB: opts.maxModelMemoryMB,
      limitNames: { memory: "--max-model-memory", context: "--max-context" },
      kvCacheDir: kvCacheDir([dir], opts),
    });
    // The ask waits for the prefill inside the worker (so the KV cache is saved after the answer, not before it).
    let answer: ModelAnswer | undefined;
    let status: ModelStatus | undefined;
    for await (const ev of client.ask(question, { maxNewTokens: opts.maxNewTokens })) {
      if (!status) {
        status = client.status();
        if (interactive) process.stderr.write("\n");
        if (!opts.json) console.error(describeContext(status));
        if (!opts.json && status.contextNotice) console.error(status.contextNotice);
      }
      if (ev.kind === "token" && !opts.json) process.stdout.write(ev.text);
      else if (ev.kind === "done") answer = ev.answer;
    }
    if (!answer) throw new Error("the model ended without an answer");
    // As in the chat: the index's answer to the same question follows the model's (exact lookups; the bundled
    // model is small and often wrong, docs/benchmarks/eval-model.md).
    const facts = answerFromIndex(index, question);
    if (opts.json) console.log(JSON.stringify({ source: "model", answer, status, index: facts }, null, 1));
    else {
      printAnswerDetails(answer);
      console.log(`\n${indexResultsText(facts)}`);
    }
    return 0;
  } finally {
    stopProgress();
    await client.close();
  }
}

/** The index's answer as the CLI prints it, labelled so it is never mistaken for the model's. */
function indexResultsText(answer: { markdown: string }): string {
  return `(index results)\n\n${answer.markdown}`;
}

function describeContext(s: ModelStatus): string {
  const source = s.kvCacheSource === "disk" ? "KV cache restored from disk" : "prefilled";
  const rate = s.lastPrefillTokensPerSecond ? `; last prefill ${s.lastPrefillTokens} tokens in ${((s.lastPrefillMs ?? 0) / 1000).toFixed(1)} s, ${Math.round(s.lastPrefillTokensPerSecond)} tokens/s` : "";
  const omitted = s.omittedFiles ? `, ${s.omittedFiles} files left out (over the context budget, or lock/data files: --max-context)` : "";
  return `(model ${s.modelName}, ${s.backend} attention + ${s.dense} dense: ${s.contextTokens} tokens of ${s.files} files in context${omitted}; ${source}${rate})`;
}

function printAnswerDetails(a: ModelAnswer): void {
  console.log("\n");
  if (a.citations.length) {
    console.log("citations:");
    for (const c of a.citations) console.log(`  ${c.path}:${c.line}${c.label ? `  ${c.label}` : ""}`);
  }
  if (a.readMap.length) {
    console.log("files read (share of the answer's attention):");
    for (const f of a.readMap.slice(0, 10)) console.log(`  ${pct(f.share).padStart(6)}  ${f.path}`);
  }
  const t = a.timings;
  console.error(
    `(first token after ${(t.timeToFirstTokenMs / 1000).toFixed(2)} s; ${t.decodeTokens} tokens at ${t.decodeTokensPerSecond.toFixed(0)} tokens/s${a.stop === "length" ? "; stopped at the token limit (--max-new-tokens)" : ""})`,
  );
}
