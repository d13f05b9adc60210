/**
 * The model's lifecycle in the extension: once the index is built (and the workspace is trusted), open the model in
 * its worker thread (model-runtime's ModelClient), read (prefill) the repository with progress and cancellation,
 * keep it current after edits (the index's changes → updateFiles → re-prefill of the changed blocks, in the
 * background), and reopen it when the model, backend or context settings change, when trust is granted, or when the
 * index is rebuilt. Questions and hover explanations go through here, one model operation at a time.
 *
 * Everything heavy runs in the worker: this class only schedules and keeps the state (ModelSnapshot) that the status
 * bar, the chat's model strip and Show Index Status show.
 *
 * Restricted Mode: index only. Without native code the engine runs on the TypeScript kernels and dense ops, measured
 * ~500x slower than the native ones (docs/engine.md: ~1 GFLOP/s): the default model would read ~5-10 tokens/s, an
 * hour for a 20k-token repository. So in an untrusted workspace no model is opened at all (README, "Restricted Mode").
 */
import path from "node:path";
import * as vscode from "vscode";
import {
  type FileRemoval,
  type ModelAnswerEvent,
  type ModelAskOptions,
  type ModelBackendChoice,
  type ModelClient,
  type ModelStatus,
  type PrefillProgress,
  ModelUnavailableError,
  isCancellation,
} from "../../model-runtime/src/answer/model-client";
import type { FileRecord } from "../../model-runtime/src/index/types";
import { type WorkspaceIndex, fileKey } from "../../model-runtime/src/index/workspace-index";
import { readSettings } from "./config";
import type { IndexController } from "./index-controller";
import type { ModelAccess } from "./model-answerer";
import type { ModelPhase, ModelSnapshot } from "./model-view";
import { WorkQueue } from "./work-queue";

/** Edits are gathered this long before the model re-reads them. */
const UPDATE_DEBOUNCE_MS = 400;
/** Progress reaches the UI at most this often. */
const PROGRESS_INTERVAL_MS = 250;

export const RESTRICTED_REASON = "Restricted Mode (the model needs native code to read a repository at a useful speed; trust the workspace to use it)";

export class ModelController implements vscode.Disposable, ModelAccess {
  private client: ModelClient | undefined;
  private openedIndex: WorkspaceIndex | undefined;
  private current: ModelSnapshot = { phase: { kind: "off", reason: "the model starts once the index is built" } };
  private readonly emitter = new vscode.EventEmitter<ModelSnapshot>();
  readonly onDidChange = this.emitter.event;
  private readonly queue = new WorkQueue();
  /** The running read or update: Stop aborts it. */
  private work: AbortController | undefined;
  /** Bumped by every (re)open: callbacks of an older client ignore themselves. */
  private generation = 0;
  private detach: Array<() => void> = [];
  private readonly pendingChanged = new Map<string, FileRecord>();
  private readonly pendingRemoved = new Map<string, FileRemoval>();
  private updateTimer: NodeJS.Timeout | undefined;
  private lastProgressEmit = 0;
  private progressTimer: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[];
  private closing: Promise<void> = Promise.resolve();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly index: IndexController,
    private readonly output: vscode.OutputChannel,
    private readonly createClient: () => ModelClient,
  ) {
    this.subscriptions = [
      index.onDidChangeState((s) => {
        if (s.kind === "ready" && index.index && index.index !== this.openedIndex) this.reopen("the index was built");
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (["longview.modelPath", "longview.backend", "longview.maxContextTokens", "longview.maxModelMemoryMB", "longview.maxKvCacheDiskMB"].some((k) => e.affectsConfiguration(k))) this.reopen("settings changed");
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.reopen("the workspace is trusted now")),
      this.emitter,
    ];
    if (index.state.kind === "ready" && index.index) this.reopen("the index is ready");
  }

  snapshot(): ModelSnapshot {
    return this.current;
  }

  private log(message: string): void {
    this.output.appendLine(`[model] ${message}`);
  }

  private setPhase(phase: ModelPhase, status?: ModelStatus): void {
    this.current = { phase, status: status ?? this.current.status };
    this.emit(true);
  }

  /** Progress arrives per chunk: the UI hears of it a few times a second, state changes at once. */
  private emit(now: boolean): void {
    if (this.progressTimer) {
      clearTimeout(this.progressTimer);
      this.progressTimer = undefined;
    }
    const wait = PROGRESS_INTERVAL_MS - (Date.now() - this.lastProgressEmit);
    if (now || wait <= 0) {
      this.lastProgressEmit = Date.now();
      this.emitter.fire(this.current);
    } else {
      this.progressTimer = setTimeout(() => this.emit(true), wait);
    }
  }

  /** Close the current model (if any) and open one for the current index and settings. */
  reopen(why: string): void {
    const generation = ++this.generation;
    this.work?.abort();
    if (this.updateTimer) clearTimeout(this.updateTimer);
    this.pendingChanged.clear();
    this.pendingRemoved.clear();
    for (const d of this.detach) d();
    this.detach = [];
    const old = this.client;
    this.client = undefined;
    this.openedIndex = undefined;
    this.closing = this.closing.then(() => old?.close()).catch((e: Error) => this.log(`closing the previous model failed: ${e.message}`));
    void this.closing.then(() => this.open(generation, why));
  }

  private async open(generation: number, why: string): Promise<void> {
    if (generation !== this.generation) return;
    const index = this.index.index;
    if (!vscode.workspace.isTrusted) {
      this.setPhase({ kind: "off", reason: RESTRICTED_REASON }, undefined);
      this.log(`not loaded: ${RESTRICTED_REASON}`);
      return;
    }
    if (!index) {
      this.setPhase({ kind: "off", reason: "no workspace folder is open" });
      return;
    }
    const settings = readSettings();
    const client = this.createClient();
    this.client = client;
    this.openedIndex = index;
    this.current = { phase: { kind: "loading" } };
    this.emit(true);
    this.detach.push(
      client.onStatus((s) => {
        if (generation !== this.generation) return;
        this.current = { ...this.current, status: s };
        this.emit(false);
      }),
      client.onProgress((p) => this.onProgress(generation, p)),
    );
    // The snapshot and the subscription in the same turn: no change falls between them.
    const files = [...index.allFiles()];
    this.detach.push(index.onChange((before, after) => this.queueUpdate(generation, before, after)));
    const storage = this.context.storageUri ?? this.context.globalStorageUri;
    this.log(`opening (${why}): ${settings.modelPath || "the bundled default model"}, backend ${settings.backend}, ${files.length} files`);
    const t0 = Date.now();
    try {
      const status = await client.open({
        roots: this.index.roots(),
        files,
        modelFolder: settings.modelPath || undefined,
        backend: settings.backend as ModelBackendChoice,
        allowNative: true,
        maxContextTokens: settings.maxContextTokens,
        maxModelMemoryMB: settings.maxModelMemoryMB,
        maxKvCacheDiskMB: settings.maxKvCacheDiskMB,
        kvCacheDir: path.join(storage.fsPath, "kv-cache"),
        prefill: false,
      });
      if (generation !== this.generation) return;
      this.log(
        `loaded ${status.modelName ?? "model"} in ${Date.now() - t0} ms: ${status.contextTokens} tokens of ${status.files} files ` +
          `(${status.omittedFiles} left out), attention ${status.backend}, dense ${status.dense}${status.notices.length ? `; ${status.notices.join("; ")}` : ""}` +
          `${status.contextNotice ? `. ${status.contextNotice}` : ""}`,
      );
      this.current = { phase: { kind: "loading" }, status };
      await this.read(generation);
    } catch (e) {
      if (generation !== this.generation) return;
      const reason = e instanceof ModelUnavailableError ? unavailableReason(e) : (e as Error).message;
      this.log(`unavailable: ${e instanceof ModelUnavailableError ? `${e.reason}: ` : ""}${(e as Error).stack ?? e}`);
      this.setPhase({ kind: "unavailable", reason });
      this.client = undefined;
      for (const d of this.detach) d();
      this.detach = [];
      await client.close().catch(() => undefined);
    }
  }

  private onProgress(generation: number, p: PrefillProgress): void {
    if (generation !== this.generation) return;
    const kind = this.current.phase.kind;
    if (kind === "reading" || kind === "updating") {
      this.current = { ...this.current, phase: { kind, progress: p } };
      this.emit(p.done >= p.total);
    }
  }

  /** Reads (prefills) the rest of the repository, edits gathered meanwhile first. */
  private async read(generation: number): Promise<void> {
    const client = this.client;
    if (!client || generation !== this.generation) return;
    const abort = new AbortController();
    this.work = abort;
    this.setPhase({ kind: "reading" });
    const t0 = Date.now();
    try {
      await this.queue.run(async () => {
        const { changed, removed } = this.takePending();
        if (changed.length || removed.length) await client.updateFiles(changed, removed, { signal: abort.signal });
        await client.prefill({ signal: abort.signal });
      }, abort.signal);
      if (generation !== this.generation) return;
      this.log(`read the repository in ${Date.now() - t0} ms`);
      this.setPhase({ kind: "ready" }, client.status());
      if (this.pendingChanged.size || this.pendingRemoved.size) this.scheduleUpdate(generation);
    } catch (e) {
      this.afterFailedWork(generation, e, "reading");
    } finally {
      if (this.work === abort) this.work = undefined;
    }
  }

  private afterFailedWork(generation: number, e: unknown, what: string): void {
    if (generation !== this.generation) return;
    if (isCancellation(e)) {
      this.log(`${what} stopped`);
      this.setPhase({ kind: "paused" }, this.client?.status());
      return;
    }
    this.log(`${what} failed: ${(e as Error).stack ?? e}`);
    this.setPhase({ kind: "unavailable", reason: `the engine failed: ${(e as Error).message}` }, this.client?.status());
  }

  /** Stop reading (or re-reading) the repository; answers come from the index until it resumes. */
  stopReading(): void {
    this.work?.abort();
  }

  resumeReading(): void {
    if (this.current.phase.kind === "paused" && this.client) void this.read(this.generation);
  }

  private queueUpdate(generation: number, before: FileRecord | undefined, after: FileRecord | undefined): void {
    if (generation !== this.generation) return;
    const rec = after ?? before;
    if (!rec) return;
    const key = fileKey(rec.root, rec.path);
    if (after) {
      this.pendingChanged.set(key, after);
      this.pendingRemoved.delete(key);
    } else {
      this.pendingChanged.delete(key);
      this.pendingRemoved.set(key, { root: rec.root, path: rec.path });
    }
    this.scheduleUpdate(generation);
  }

  private scheduleUpdate(generation: number): void {
    if (this.updateTimer) clearTimeout(this.updateTimer);
    this.updateTimer = setTimeout(() => {
      this.updateTimer = undefined;
      void this.flushUpdates(generation);
    }, UPDATE_DEBOUNCE_MS);
  }

  private takePending(): { changed: FileRecord[]; removed: FileRemoval[] } {
    const changed = [...this.pendingChanged.values()];
    const removed = [...this.pendingRemoved.values()];
    this.pendingChanged.clear();
    this.pendingRemoved.clear();
    return { changed, removed };
  }

  /** Edits reach the model in the background. While it reads or is paused they wait: the read takes them first. */
  private async flushUpdates(generation: number): Promise<void> {
    const client = this.client;
    if (!client || generation !== this.generation || this.current.phase.kind !== "ready" && this.current.phase.kind !== "updating") return;
    const abort = new AbortController();
    let release: (() => void) | undefined;
    try {
      release = await this.queue.acquire();
      if (generation !== this.generation || this.current.phase.kind !== "ready") return;
      const { changed, removed } = this.takePending();
      if (!changed.length && !removed.length) return;
      this.work = abort;
      this.setPhase({ kind: "updating" });
      const t0 = Date.now();
      await client.updateFiles(changed, removed, { signal: abort.signal });
      if (generation !== this.generation) return;
      this.log(`re-read ${changed.length} changed and ${removed.length} removed file(s) in ${Date.now() - t0} ms`);
      this.setPhase({ kind: "ready" }, client.status());
    } catch (e) {
      this.afterFailedWork(generation, e, "re-reading after edits");
    } finally {
      if (this.work === abort) this.work = undefined;
      release?.();
      if (this.current.phase.kind === "ready" && (this.pendingChanged.size || this.pendingRemoved.size)) this.scheduleUpdate(generation);
    }
  }

  /** The model's answer, in turn with other model work; aborting leaves the queue at once. */
  ask(question: string, opts: ModelAskOptions): AsyncIterable<ModelAnswerEvent> {
    return this.inTurn((client) => client.ask(question, opts), opts.signal);
  }

  /** A short explanation of `symbol` (hovers). */
  explain(symbol: string, opts: ModelAskOptions): AsyncIterable<ModelAnswerEvent> {
    return this.inTurn((client) => client.explain(symbol, opts), opts.signal);
  }

  private async *inTurn(run: (client: ModelClient) => AsyncIterable<ModelAnswerEvent>, signal?: AbortSignal): AsyncGenerator<ModelAnswerEvent> {
    const generation = this.generation;
    const release = await this.queue.acquire(signal);
    try {
      const client = this.client;
      if (!client || generation !== this.generation) throw new ModelUnavailableError("the model was reopened", "runtime");
      try {
        yield* run(client);
      } catch (e) {
        // A worker that died is not a bad question: say so everywhere, not only in this answer.
        if (e instanceof ModelUnavailableError && generation === this.generation) this.setPhase({ kind: "unavailable", reason: unavailableReason(e) });
        throw e;
      }
    } finally {
      release();
    }
  }

  dispose(): void {
    this.generation++;
    this.work?.abort();
    if (this.updateTimer) clearTimeout(this.updateTimer);
    if (this.progressTimer) clearTimeout(this.progressTimer);
    for (const d of this.detach) d();
    for (const s of this.subscriptions) s.dispose();
    void this.client?.close().catch(() => undefined);
    this.client = undefined;
  }
}

function unavailableReason(e: ModelUnavailableError): string {
  switch (e.reason) {
    case "missing":
      return `no model found (${e.message})`;
    case "invalid":
      return `the model files are corrupt or inconsistent (${e.message})`;
    default:
      return e.message;
  }
}
