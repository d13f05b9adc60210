/**
 * The model-answer service itself: model + tokenizer + engine, the repository laid out from the caller's index
 * records (texts read from disk), a RepoSession prefilled in the background, answers with grounded citations,
 * updates after edits, and the KV cache saved per (model, layout version). It runs inside the model worker
 * (model-worker.ts); tests may run it on their own thread.
 *
 * Every engine operation runs one at a time (`serial`): the engine and its KV cache are not re-entrant. A
 * background prefill is the exception that yields: an update cancels it (the refresh then computes what was
 * missing: RepoSession.refresh re-prefills everything past the valid positions).
 */
import fs from "node:fs";
import path from "node:path";
import { Engine, EngineCancelledError } from "../engine/engine";
import { KvCacheFileError, evictKvCacheFiles, kvCacheFileBytes, kvCacheFileName, type KvCacheKey, touchKvCacheFile } from "../engine/kv-store";
import { RepoSession } from "../engine/repo-session";
import type { FileRecord } from "../index/types";
import { WorkspaceIndex } from "../index/workspace-index";
import { type LayoutSource, RepoLayout } from "../layout/repo-layout";
import { readLayoutSources } from "../layout/sources";
import { EncodingCache } from "../layout/tokens";
import { CONFIG_FILE, type LoadedModel, ModelLoadError, WEIGHTS_FILE, loadModel, resolveTokenizer } from "../model/model-folder";
import { CodeTokenizer, defaultTokenizerPath } from "../tokenizer";
import { decodeText } from "../workspace/file-content";
import { type ContextBudget, DEFAULT_MAX_KV_CACHE_DISK_MB, contextBudget, contextLimitNotice, kvBytesPerToken } from "./context-budget";
import { type CitationGrounding, answerWithModel, citationGrounding, indexFactsOf, indexRetriever } from "./model-answer";
import { layoutWithReadRoom, readRoom } from "./question-reads";
import {
  type FileRemoval,
  type ModelAnswerEvent,
  type ModelAskOptions,
  type ModelOpenOptions,
  type ModelStatus,
  ModelUnavailableError,
  type PrefillProgress,
} from "./model-client";

/** Positions kept after the repository for a question and its answer. */
const ANSWER_ROOM = 4096;
/** Bump when the layout's token format changes: it keys the KV cache files. */
const LAYOUT_FORMAT = "longview-layout-1";
const PROGRESS_INTERVAL_MS = 100;

const ASSET = path.join("assets", "model");

/** Where the bundled default model is: dist/assets/model next to a bundle, or model-runtime/assets/model from source. */
export function bundledModelFolder(): string {
  const here = typeof __dirname === "string" ? __dirname : process.cwd();
  const candidates = [
    path.join(here, ASSET), // dist/cli.js, dist/model-worker.js, dist/extension.js
    path.join(here, "..", ASSET), // dist/bench/*.js
    path.join(here, "..", "..", ASSET), // model-runtime/src/answer/*.ts (tsx)
    path.join(process.cwd(), "model-runtime", ASSET),
  ];
  return candidates.find((c) => fs.existsSync(path.join(c, CONFIG_FILE))) ?? candidates[0];
}

/** The name shown for a model: "longview-default" for the bundled one, else its folder's name. */
export function modelDisplayName(folder: string): string {
  return path.resolve(folder) === path.resolve(bundledModelFolder()) ? "longview-default" : path.basename(folder);
}

/** Loads a model folder, turning every failure into ModelUnavailableError ("missing" or "invalid"). */
export function loadModelFolder(folder: string): { model: LoadedModel; tokenizer: CodeTokenizer } {
  for (const f of [CONFIG_FILE, WEIGHTS_FILE]) {
    if (!fs.existsSync(path.join(folder, f))) throw new ModelUnavailableError(`no model at ${folder} (${f} is missing)`, "missing", path.join(folder, f));
  }
  try {
    const model = loadModel(folder);
    const tokenizer = CodeTokenizer.load(resolveTokenizer(model, defaultTokenizerPath));
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new ModelLoadError(`${folder}: the tokenizer has ${tokenizer.vocabSize} tokens, the model only ${model.config.vocabSize}`);
    }
    return { model, tokenizer };
  } catch (e) {
    if (e instanceof ModelUnavailableError) throw e;
    if (e instanceof ModelLoadError) throw new ModelUnavailableError(e.message, "invalid", e.file);
    throw new ModelUnavailableError(`${folder}: ${(e as Error).message}`, "invalid");
  }
}

export interface ServiceEvents {
  status(status: ModelStatus): void;
  progress(progress: PrefillProgress): void;
  log?(message: string): void;
}

interface Loaded {
  model: LoadedModel;
  tokenizer: CodeTokenizer;
  engine: Engine;
  index: WorkspaceIndex;
  layout: RepoLayout;
  session: RepoSession;
  grounding: CitationGrounding;
  opts: ModelOpenOptions;
  encodings: EncodingCache;
  budget: ContextBudget;
}

/** Positions kept for the files a question reads (question-reads.ts) within the context budget. */
function readRoomOf(budget: ContextBudget, blockSize: number): number {
  return readRoom(budget.maxTokens, ANSWER_ROOM, blockSize);
}

/** Positions a session keeps after the repository: the question and its answer, and the files a question reads when the layout left some out. */
function roomAfter(layout: RepoLayout, budget: ContextBudget): number {
  return ANSWER_ROOM + (layout.leftFilesOut ? readRoomOf(budget, layout.blockSize) : 0);
}

function readSource(rootPaths: Map<string, string>, record: FileRecord): LayoutSource | undefined {
  const base = rootPaths.get(record.root);
  if (!base) return undefined;
  try {
    return { record, text: decodeText(fs.readFileSync(path.join(base, ...record.path.split("/")))).text };
  } catch {
    return undefined; // deleted since it was indexed: the caller's next update removes it
  }
}

export class ModelService {
  private loaded?: Loaded;
  private current: ModelStatus = { state: "unloaded", notices: [], contextTokens: 0, prefilledTokens: 0, files: 0, omittedFiles: 0, kvCacheBytes: 0 };
  private chain: Promise<unknown> = Promise.resolve();
  private prefillJob?: { controller: AbortController; done: Promise<void> };
  /** Prefilled positions changed since the cache was last saved or restored. */
  private dirty = false;

  constructor(private readonly events: ServiceEvents) {}

  status(): ModelStatus {
    return { ...this.current, notices: [...this.current.notices] };
  }

  private setStatus(patch: Partial<ModelStatus>): void {
    this.current = { ...this.current, ...patch };
    const l = this.loaded;
    if (l) {
      this.current.contextTokens = l.layout.numTokens;
      this.current.prefilledTokens = l.session.prefilledTokens;
      this.current.kvCacheBytes = l.session.cache.bytes;
      this.current.files = l.layout.fileBlocks().length;
      const omitted = l.layout.stats().omittedFiles;
      this.current.omittedFiles = omitted.length;
      const cut = omitted.filter((f) => f.reason === "budget").reduce((a, f) => a + f.tokens, 0);
      this.current.repositoryTokens = l.layout.numTokens + cut;
      const notice = contextLimitNotice(l.budget, l.layout.numTokens, this.current.repositoryTokens, l.opts.limitNames);
      this.current.contextNotice = notice;
      this.current.contextLimitedBy = notice ? l.budget.limitedBy : undefined;
    }
    this.events.status(this.status());
  }

  /** Runs `op` after every earlier operation (the engine is not re-entrant). */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op, op);
    this.chain = run.catch(() => {});
    return run;
  }

  async open(opts: ModelOpenOptions): Promise<ModelStatus> {
    if (this.loaded || this.current.state === "loading") throw new Error("the model service is already open");
    const folder = path.resolve(opts.modelFolder ?? bundledModelFolder());
    this.setStatus({ state: "loading", modelFolder: folder, modelName: modelDisplayName(folder), error: undefined });
    try {
      const { model, tokenizer } = loadModelFolder(folder);
      let engine: Engine;
      try {
        const js = opts.backend === "js";
        engine = await Engine.create(model, {
          // "js": the TypeScript kernels and dense ops, as in a restricted workspace (without its notice).
          backend: opts.backend === "js" || opts.backend === undefined ? "auto" : opts.backend,
          allowNative: js ? false : opts.allowNative,
          threads: opts.threads,
          log: this.events.log,
        });
      } catch (e) {
        throw new ModelUnavailableError(`the engine could not start: ${(e as Error).message}`, "runtime");
      }
      const index = new WorkspaceIndex();
      for (const f of opts.files) index.upsert(f);
      const encodings = new EncodingCache();
      const budget = contextBudget({ maxContextTokens: opts.maxContextTokens, maxPositions: model.config.maxPositions, maxModelMemoryMB: opts.maxModelMemoryMB, bytesPerToken: kvBytesPerToken(model.config) });
      if (budget.limitedBy === "memory") {
        const least = model.config.blockSize * 8 + ANSWER_ROOM; // buildLayout's smallest layout, plus the answer room
        const over = budget.maxTokens < least ? `; below the smallest context (${least} tokens), which is used anyway` : "";
        this.events.log?.(`context: ${budget.maxTokens} tokens (${budget.maxModelMemoryMB} MB for the KV cache at ${budget.bytesPerToken} bytes per token${over})`);
      }
      let layout: RepoLayout;
      let opened: Awaited<ReturnType<ModelService["openSession"]>>;
      try {
        layout = this.buildLayout(index, opts, model, tokenizer, encodings, budget);
        opened = await this.openSession(engine, layout, model, tokenizer, opts, budget);
      } catch (e) {
        engine.dispose();
        throw e;
      }
      const { session, source } = opened;
      this.loaded = { model, tokenizer, engine, index, layout, session, grounding: citationGrounding(layout, tokenizer, index), opts, encodings, budget };
      this.setStatus({ state: "prefilling", backend: engine.attentionKind, dense: engine.dense.name, notices: engine.notices, kvCacheSource: source });
      if (session.prefilledTokens >= layout.numTokens) this.setStatus({ state: "ready" });
      else if (opts.prefill !== false) void this.startPrefill().catch(() => {});
      return this.status();
    } catch (e) {
      const err = e instanceof ModelUnavailableError ? e : new ModelUnavailableError((e as Error).message, "runtime");
      this.setStatus({ state: "failed", error: err.message });
      throw err;
    }
  }

  private buildLayout(index: WorkspaceIndex, opts: ModelOpenOptions, model: LoadedModel, tokenizer: CodeTokenizer, encodings: EncodingCache, budget: ContextBudget): RepoLayout {
    // The session's KV cache holds the layout plus ANSWER_ROOM positions (and the read room, when files were left
    // out): together within the budget.
    const sources = readLayoutSources(index, opts.roots, this.events.log);
    const B = model.config.blockSize;
    return layoutWithReadRoom((maxTokens) => RepoLayout.build(sources, tokenizer, { blockSize: B, maxTokens }, encodings), budget.maxTokens, ANSWER_ROOM, B).layout;
  }

  private kvKey(model: LoadedModel, tokenizer: CodeTokenizer, opts: ModelOpenOptions, layout: RepoLayout): KvCacheKey {
    // Edits are not part of the version: a restore re-prefills the blocks whose tokens changed.
    const layoutVersion = JSON.stringify({ format: LAYOUT_FORMAT, roots: opts.roots, options: layout.options, vocab: tokenizer.vocabSize, model: model.hash });
    return { modelHash: model.hash, layoutVersion };
  }

  private kvFile(l: Pick<Loaded, "model" | "tokenizer" | "opts" | "layout">): string | undefined {
    if (!l.opts.kvCacheDir) return undefined;
    return path.join(l.opts.kvCacheDir, kvCacheFileName(this.kvKey(l.model, l.tokenizer, l.opts, l.layout)));
  }

  private async openSession(engine: Engine, layout: RepoLayout, model: LoadedModel, tokenizer: CodeTokenizer, opts: ModelOpenOptions, budget: ContextBudget): Promise<{ session: RepoSession; source: "disk" | "prefill" }> {
    const file = this.kvFile({ model, tokenizer, opts, layout });
    if (file && fs.existsSync(file)) {
      try {
        // Only the blocks whose tokens differ from the saved ones (edits made while closed) are re-prefilled.
        const progress = this.progressReporter("refresh");
        const { session, staleBlocks, reprefilledTokens } = await RepoSession.restore(engine, layout, file, this.kvKey(model, tokenizer, opts, layout), {
          answerRoom: roomAfter(layout, budget),
          policy: "changed",
          onProgress: progress.report,
        });
        progress.finish(reprefilledTokens);
        this.dirty = staleBlocks > 0;
        this.touch(file);
        return { session, source: "disk" };
      } catch (e) {
        if (!(e instanceof KvCacheFileError)) this.events.log?.(`KV cache ${file}: ${(e as Error).message}`);
        else this.events.log?.(`KV cache ${file} not used (${e.kind}): ${e.message}`);
      }
    }
    return { session: RepoSession.create(engine, layout, { answerRoom: roomAfter(layout, budget) }), source: "prefill" };
  }

  private requireLoaded(): Loaded {
    if (!this.loaded) throw new ModelUnavailableError(this.current.error ?? "the model is not loaded", this.current.state === "failed" ? "runtime" : "missing");
    return this.loaded;
  }

  /** Progress reporting for a prefill or refresh run: rate since it started, ETA, at most every 100 ms. */
  private progressReporter(phase: PrefillProgress["phase"]) {
    const t0 = performance.now();
    let last = 0;
    let firstDone = -1;
    return {
      report: (done: number, total: number) => {
        const now = performance.now();
        if (firstDone < 0) firstDone = 0;
        if (now - last < PROGRESS_INTERVAL_MS && done < total) return;
        last = now;
        const rate = ((done - firstDone) * 1000) / Math.max(1, now - t0);
        this.events.progress({ phase, done, total, tokensPerSecond: rate, etaSeconds: rate > 0 ? (total - done) / rate : undefined });
        this.setStatus({});
      },
      finish: (tokens: number) => {
        const ms = performance.now() - t0;
        if (tokens > 0) this.setStatus({ lastPrefillMs: ms, lastPrefillTokens: tokens, lastPrefillTokensPerSecond: (tokens * 1000) / Math.max(1, ms) });
      },
    };
  }

  /** Starts (or joins) the background prefill of the rest of the repository. */
  private startPrefill(): Promise<void> {
    const l = this.requireLoaded();
    if (this.prefillJob) return this.prefillJob.done;
    const controller = new AbortController();
    const done = this.serial(async () => {
      if (controller.signal.aborted) throw new EngineCancelledError();
      const before = l.session.prefilledTokens;
      if (before >= l.layout.numTokens) return;
      this.setStatus({ state: "prefilling", prefillPaused: false });
      const progress = this.progressReporter("prefill");
      try {
        await l.session.prefillRepository({ signal: controller.signal, onProgress: progress.report });
      } finally {
        progress.finish(l.session.prefilledTokens - before);
        if (l.session.prefilledTokens > before) this.dirty = true;
      }
      this.setStatus({ state: "ready" });
      // Save once the operations already waiting for the prefill (a question) have run: a macrotask queues it after them.
      setTimeout(() => void this.serial(() => this.saveCache()), 0);
    }).then(
      () => {},
      (e) => {
        if (this.loaded === l && l.session.prefilledTokens < l.layout.numTokens) this.setStatus({ state: "prefilling", prefillPaused: true });
        throw e;
      },
    );
    const job = { controller, done };
    this.prefillJob = job;
    done.then(
      () => this.prefillJob === job && (this.prefillJob = undefined),
      () => this.prefillJob === job && (this.prefillJob = undefined),
    );
    return done;
  }

  /** Waits until the repository is prefilled; aborting `signal` stops the prefill where it is (resumable). */
  async prefill(signal?: AbortSignal): Promise<void> {
    this.requireLoaded();
    const done = this.startPrefill();
    const job = this.prefillJob;
    const onAbort = () => job?.controller.abort();
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await done;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  async *ask(question: string, opts: ModelAskOptions & { explain?: boolean } = {}): AsyncGenerator<ModelAnswerEvent, void, void> {
    const l = this.requireLoaded();
    // A paused or unfinished background prefill is finished first (the ask's signal can cancel it).
    if (l.session.prefilledTokens < l.layout.numTokens && !this.prefillJob) void this.startPrefill().catch(() => {});
    if (this.prefillJob) {
      try {
        await this.prefill(opts.signal);
      } catch (e) {
        // Stopped by an update rather than by this ask: the answer's own prefill finishes the job.
        if (opts.signal?.aborted || !(e instanceof EngineCancelledError)) throw e;
      }
    }
    const events: ModelAnswerEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: unknown;
    const rootPaths = new Map(l.opts.roots.map((r) => [r.name, r.path]));
    // The answer runs inside the serial chain; its events cross to this generator through a small queue.
    const run = this.serial(async () => {
      if (opts.signal?.aborted) throw new EngineCancelledError();
      const gen = answerWithModel(l.session, l.tokenizer, l.index, question, {
        maxNewTokens: opts.maxNewTokens ?? (opts.explain ? 96 : 256),
        temperature: opts.temperature,
        signal: opts.signal,
        grounding: l.grounding,
        retrieve: indexRetriever(l.index),
        facts: indexFactsOf(l.index),
        readTokens: readRoomOf(l.budget, l.model.config.blockSize),
        readText: (root, p) => {
          const record = l.index.get(root, p);
          return record && readSource(rootPaths, record)?.text;
        },
        // A hover shows the index's facts (doc comment included) above the model's line: that line is the model's own.
        quoteDocs: !opts.explain,
      });
      for await (const ev of gen) {
        events.push(ev);
        wake?.();
      }
    }).then(
      () => {
        finished = true;
        wake?.();
      },
      (e) => {
        failure = e;
        finished = true;
        wake?.();
      },
    );
    while (true) {
      if (events.length) {
        yield events.shift()!;
        continue;
      }
      if (finished) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    await run;
    if (failure) throw failure;
  }

  explain(symbol: string, opts: ModelAskOptions = {}): AsyncGenerator<ModelAnswerEvent, void, void> {
    return this.ask(`Explain \`${symbol}\`.`, { ...opts, explain: true });
  }

  /** The caller's index changed: mirror it, lay the files out again, re-prefill the changed blocks. */
  async updateFiles(changed: FileRecord[], removed: FileRemoval[], signal?: AbortSignal): Promise<void> {
    const l = this.requireLoaded();
    // An update supersedes a background prefill: the refresh computes whatever it had not reached.
    this.prefillJob?.controller.abort();
    await this.serial(async () => {
      for (const r of removed) l.index.remove(r.root, r.path);
      for (const f of changed) l.index.upsert(f);
      const rootPaths = new Map(l.opts.roots.map((r) => [r.name, r.path]));
      const sources: LayoutSource[] = [];
      const gone: FileRemoval[] = [...removed];
      for (const f of changed) {
        const s = readSource(rootPaths, f);
        if (s) sources.push(s);
        else gone.push({ root: f.root, path: f.path });
      }
      const update = l.layout.update(sources, gone);
      const before = l.session.prefilledTokens;
      if (update.needsRebuild) {
        // The map outgrew its slot or holes piled up: lay everything out again, as at open.
        l.layout = this.buildLayout(l.index, l.opts, l.model, l.tokenizer, l.encodings, l.budget);
        l.session = RepoSession.create(l.engine, l.layout, { answerRoom: roomAfter(l.layout, l.budget) });
      }
      l.grounding = citationGrounding(l.layout, l.tokenizer, l.index);
      this.setStatus({ state: "prefilling" });
      const progress = this.progressReporter("refresh");
      try {
        const r = update.needsRebuild
          ? (await l.session.prefillRepository({ signal, onProgress: progress.report }), { reprefilledTokens: l.layout.numTokens })
          : await l.session.refresh(update, { policy: "changed", signal, onProgress: progress.report });
        progress.finish(r.reprefilledTokens);
        this.dirty = this.dirty || r.reprefilledTokens > 0 || l.session.prefilledTokens !== before;
        this.setStatus({ state: "ready" });
      } catch (e) {
        this.setStatus({ state: "prefilling", prefillPaused: true });
        throw e;
      }
    });
  }

  /** A restored cache file is the most recently used one (the disk cap evicts by mtime). */
  private touch(file: string): void {
    try {
      touchKvCacheFile(file);
    } catch (e) {
      this.events.log?.(`KV cache ${file}: could not mark it used (${(e as Error).message})`);
    }
  }

  private async saveCache(): Promise<void> {
    const l = this.loaded;
    const file = l && this.kvFile(l);
    if (!l || !file || !this.dirty || l.session.prefilledTokens < l.layout.numTokens) return;
    const key = this.kvKey(l.model, l.tokenizer, l.opts, l.layout);
    const capMB = l.opts.maxKvCacheDiskMB ?? DEFAULT_MAX_KV_CACHE_DISK_MB;
    const capBytes = capMB * 1024 * 1024;
    // The session saves its prefilled repository positions (RepoSession.save), not the question's.
    const { numLayers, numKvHeads, headDim } = l.session.cache;
    const bytes = kvCacheFileBytes({ numLayers, numKvHeads, headDim, length: l.session.prefilledTokens }, key);
    if (bytes > capBytes) {
      this.events.log?.(`KV cache not saved: ${(bytes / 1024 / 1024).toFixed(0)} MB is more than the disk cap of ${capMB} MB (longview.maxKvCacheDiskMB)`);
      this.dirty = false;
      return;
    }
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await l.session.save(file, key);
      this.dirty = false;
    } catch (e) {
      this.events.log?.(`could not save the KV cache to ${file}: ${(e as Error).message}`);
      return;
    }
    try {
      const evicted = evictKvCacheFiles(file, capBytes);
      if (evicted.length) this.events.log?.(`KV cache disk cap (${capMB} MB): deleted ${evicted.length} least recently used cache file(s)`);
    } catch (e) {
      this.events.log?.(`KV cache disk cap: could not list ${path.dirname(file)}: ${(e as Error).message}`);
    }
  }

  /** Saves the KV cache if it changed, frees the engine. */
  async close(): Promise<void> {
    this.prefillJob?.controller.abort();
    await this.serial(async () => {
      await this.saveCache();
      this.loaded?.engine.dispose();
      this.loaded = undefined;
      this.setStatus({ state: "unloaded", prefillPaused: undefined });
    });
  }
}
