/**
 * The model-answer service: what the CLI, the evaluation and the extension talk to when the MODEL answers (the index
 * answers in index-answer.ts stay the fallback). The engine runs in a worker thread (prefilling a repository takes
 * tens of seconds on a small machine and must never block the caller's thread); `ModelClient` is the caller's side
 * and talks to it by messages. No `vscode` import: the extension wraps it.
 *
 *   const client = createModelClient();                       // model-worker-client.ts
 *   await client.open({ roots, files: [...index.allFiles()], modelFolder, backend: "auto" });  // throws ModelUnavailableError
 *   client.onProgress((p) => show(`${p.done}/${p.total} tokens, ${p.etaSeconds} s left`));
 *   for await (const ev of client.ask("who calls buildLayout?", { signal })) {
 *     if (ev.kind === "token") append(ev.text);
 *     else if (ev.kind === "citation") link(ev.citation);
 *     else finish(ev.answer);                                 // text, citations, readMap, timings
 *   }
 *   await client.updateFiles(changedRecords, removedKeys);    // after the index changed (saves, file events)
 *   await client.close();
 *
 * The index is the truth: the caller owns the WorkspaceIndex and sends the worker its records (all at open, the
 * changed ones after edits); the worker mirrors them in its own WorkspaceIndex (for grounded citations) and reads the
 * files' text from disk, decoded exactly as the indexer decoded it (layout/sources.ts).
 */
import type { FileRecord, IndexRoot } from "../index/types";

/** unloaded → loading (model, tokenizer, layout) → prefilling (the repository into the KV cache) → ready; failed on errors. */
export type ModelState = "unloaded" | "loading" | "prefilling" | "ready" | "failed";

/** Attention backend preference: "js" forces the TypeScript kernels (and dense ops), "auto" picks CUDA, WebGPU, CPU. */
export type ModelBackendChoice = "auto" | "cpu" | "js" | "webgpu" | "cuda";

export interface ModelOpenOptions {
  /** Workspace folders (names as the index uses them). */
  roots: IndexRoot[];
  /** Every indexed file (WorkspaceIndex.allFiles()): structured-cloned to the worker. */
  files: FileRecord[];
  /** A model folder (config.json + model.safetensors); undefined: the bundled default (bundledModelFolder()). */
  modelFolder?: string;
  backend?: ModelBackendChoice;
  /** false in restricted workspaces: no native code (TypeScript kernels). Default true. */
  allowNative?: boolean;
  /** Most tokens of the repository laid out (longview.maxContextTokens; default 1,048,576). */
  maxContextTokens?: number;
  /** Where KV caches persist (one file per model and layout version); undefined: not persisted. */
  kvCacheDir?: string;
  /** Most memory for the KV cache, in MB (longview.maxModelMemoryMB; default 2048): it bounds the context too. */
  maxModelMemoryMB?: number;
  /** Most disk for the KV cache files in kvCacheDir, in MB (longview.maxKvCacheDiskMB; default 4096): least recently
   * used files are deleted past it, and a cache larger than it alone is not saved. */
  maxKvCacheDiskMB?: number;
  /** How the context notice names the memory and context knobs (default: the extension's settings). */
  limitNames?: { memory: string; context: string };
  /** Threads for the native kernels (default: the addons' choice). */
  threads?: number;
  /** Start prefilling the repository right after loading (default true). */
  prefill?: boolean;
}

export interface ModelStatus {
  state: ModelState;
  /** Folder name of the model ("model" for the bundled one), once known. */
  modelName?: string;
  modelFolder?: string;
  /** Attention backend in use ("cpu", "cuda", "webgpu", "js") and the dense implementation ("native-vnni", "typescript" …). */
  backend?: string;
  dense?: string;
  /** Why a preferred backend was not used, and similar notes from the engine. */
  notices: string[];
  /** A prefill was cancelled before the end (state stays "prefilling"): prefill() or the next ask resumes it. */
  prefillPaused?: boolean;
  /** Tokens of the repository laid out / already prefilled into the KV cache. */
  contextTokens: number;
  prefilledTokens: number;
  /** Files laid out, and files left out (over budget, lock/data files). */
  files: number;
  omittedFiles: number;
  /** Bytes of the KV cache (allocated). */
  kvCacheBytes: number;
  /** Tokens the whole repository would take (context + files left out over the budget); set once laid out. */
  repositoryTokens?: number;
  /** When the repository did not fit: which limit cut it (maxContextTokens, the model's positions, the memory cap). */
  contextLimitedBy?: "setting" | "model" | "memory";
  /** The same for people: "The model reads 180k of 420k tokens: longview.maxModelMemoryMB (2048 MB) limits its KV cache." */
  contextNotice?: string;
  /** The last repository prefill (full, resumed or refresh): duration, tokens and rate. */
  lastPrefillMs?: number;
  lastPrefillTokens?: number;
  lastPrefillTokensPerSecond?: number;
  /** Where the KV cache came from at open: restored from disk, or computed. */
  kvCacheSource?: "disk" | "prefill";
  /** When state is "failed": what went wrong, for people. */
  error?: string;
}

/** Prefill progress (repository prefill at open or resumed, and re-prefill after edits). Cancel with the signal given to prefill(). */
export interface PrefillProgress {
  phase: "prefill" | "refresh";
  done: number;
  total: number;
  tokensPerSecond: number;
  /** Seconds left at the current rate (undefined before a rate is known). */
  etaSeconds?: number;
}

/** A citation the model emitted, grounded in the index (see docs/engine.md, "grounded citations"). Line 1-based. */
export interface ModelCitation {
  /** Workspace folder; set when the path was found in the layout (always, with grounded decoding). */
  root?: string;
  path: string;
  line: number;
  /** The answer line's text before the citation ("computeTotal", "encloser"): what the citation is for. */
  label: string;
}

export interface ModelFileRead {
  root: string;
  path: string;
  /** Share of the answer's attention that went to the file (its blocks and its repository-map entries), 0..1. */
  share: number;
  /** The file's definitions that got the most of that attention (definition-reads.ts): at most a few, most first. */
  definitions?: ModelDefinitionRead[];
}

/** A definition inside a read file. `line`: 1-based line of its name (where a click opens it). */
export interface ModelDefinitionRead {
  name: string;
  line: number;
  /** Share of the whole answer's attention (not of the file's), 0..1; the definitions of a file sum to ≤ its share. */
  share: number;
}

export interface ModelAnswerTimings {
  /** Prefill of the question (and of anything still missing from the repository) until the first token. */
  timeToFirstTokenMs: number;
  decodeTokens: number;
  decodeMs: number;
  decodeTokensPerSecond: number;
}

export interface ModelAnswer {
  /** The answer as text: citations written `path:line`, special tokens removed. */
  text: string;
  citations: ModelCitation[];
  /** Files the answer read, most attention first (shares ≥ 0.5 %). */
  readMap: ModelFileRead[];
  timings: ModelAnswerTimings;
  /** "end": the model ended its answer; "length": maxNewTokens reached; "repeat": it began repeating a line (answer/repeat-guard.ts). */
  stop: "end" | "length" | "repeat";
}

export type ModelAnswerEvent =
  | { kind: "token"; text: string }
  | { kind: "citation"; citation: ModelCitation }
  | { kind: "done"; answer: ModelAnswer };

export interface ModelAskOptions {
  /** Default 256 for ask, 96 for explain. */
  maxNewTokens?: number;
  /** Aborting rejects the stream with ModelCancelledError (code LONGVIEW_CANCELLED, isCancellation); the session stays usable. */
  signal?: AbortSignal;
  /** Sampling temperature (default 0: greedy). */
  temperature?: number;
}

export interface FileRemoval {
  root: string;
  path: string;
}

export interface ModelClient {
  /** Loads the model and lays out the repository; resolves when loading is done (prefill continues in the background
   * unless opts.prefill is false). Throws ModelUnavailableError when the model is missing, corrupt or cannot run. */
  open(opts: ModelOpenOptions): Promise<ModelStatus>;
  /** Prefills the rest of the repository (resumes a cancelled run); resolves when ready. Aborting stops it where it is. */
  prefill(opts?: { signal?: AbortSignal }): Promise<void>;
  ask(question: string, opts?: ModelAskOptions): AsyncIterable<ModelAnswerEvent>;
  /** A short answer about one symbol (hovers): "Explain `symbol`." with a small budget. */
  explain(symbol: string, opts?: ModelAskOptions): AsyncIterable<ModelAnswerEvent>;
  /** The index changed: re-lays out those files and re-prefills the changed blocks (RepoSession.refresh). */
  updateFiles(changed: FileRecord[], removed: FileRemoval[], opts?: { signal?: AbortSignal }): Promise<void>;
  status(): ModelStatus;
  onStatus(listener: (s: ModelStatus) => void): () => void;
  onProgress(listener: (p: PrefillProgress) => void): () => void;
  /** Saves the KV cache if it changed and stops the worker (a running ask or prefill rejects with ModelCancelledError). */
  close(): Promise<void>;
}

/**
 * The model cannot answer: `reason` "missing" (no model folder / files), "invalid" (ModelLoadError: corrupt or
 * inconsistent files), "runtime" (the engine or its worker failed). Callers answer from the index instead.
 */
export class ModelUnavailableError extends Error {
  readonly code = "LONGVIEW_MODEL_UNAVAILABLE";
  constructor(
    message: string,
    readonly reason: "missing" | "invalid" | "runtime",
    readonly file?: string,
  ) {
    super(message);
    this.name = "ModelUnavailableError";
  }
}

/** An ask, explain, prefill or update stopped by its AbortSignal. */
export class ModelCancelledError extends Error {
  readonly code = "LONGVIEW_CANCELLED";
  constructor(message = "cancelled") {
    super(message);
    this.name = "ModelCancelledError";
  }
}

/** True for ModelCancelledError and the engine's EngineCancelledError (same code). */
export function isCancellation(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === "LONGVIEW_CANCELLED";
}
