/**
 * The caller's side of the model service: a ModelClient that runs ModelService in a worker thread
 * (dist/model-worker.js, or model-worker.ts through tsx from source) and talks to it by messages. Nothing heavy
 * runs on the caller's thread; AbortSignals become "cancel" messages; errors come back typed
 * (ModelUnavailableError, ModelCancelledError).
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { FileRecord } from "../index/types";
import {
  type FileRemoval,
  type ModelAnswerEvent,
  type ModelAskOptions,
  ModelCancelledError,
  type ModelClient,
  type ModelOpenOptions,
  type ModelStatus,
  ModelUnavailableError,
  type PrefillProgress,
} from "./model-client";
import type { ModelRequest, ModelResponse, WireError } from "./model-protocol";

type RequestBody = ModelRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

interface Pending {
  resolve(status: ModelStatus | undefined): void;
  reject(error: Error): void;
  onEvent?(event: ModelAnswerEvent): void;
}

const UNLOADED: ModelStatus = { state: "unloaded", notices: [], contextTokens: 0, prefilledTokens: 0, files: 0, omittedFiles: 0, kvCacheBytes: 0 };

/** The worker script: LONGVIEW_MODEL_WORKER, else dist/model-worker.js next to the bundle, else the .ts through tsx. */
function startWorker(explicit?: string): Worker {
  const file = explicit ?? process.env.LONGVIEW_MODEL_WORKER;
  if (file) return new Worker(file);
  if (__filename.endsWith(".ts")) {
    // Tests run from source. Node 20 workers ignore --import hooks: register tsx's ESM hooks (for the engine's lazy
    // `import()` of the attention kernels) and its require hook, then load the .ts worker.
    const esmApi = pathToFileURL(path.join(path.dirname(createRequire(__filename).resolve("tsx/package.json")), "dist/esm/api/index.mjs")).href;
    const source = JSON.stringify(path.join(__dirname, "model-worker.ts"));
    return new Worker(`import(${JSON.stringify(esmApi)}).then((tsx) => { tsx.register(); require("tsx/cjs"); require(${source}); });`, { eval: true });
  }
  // dist/model-worker.js sits next to dist/extension.js and dist/cli.js, one level above dist/bench/*.js.
  const bundled = [path.join(__dirname, "model-worker.js"), path.join(__dirname, "..", "model-worker.js")];
  return new Worker(bundled.find((f) => fs.existsSync(f)) ?? bundled[0]);
}

function rebuild(e: WireError): Error {
  if (e.code === "LONGVIEW_MODEL_UNAVAILABLE") return new ModelUnavailableError(e.message, e.reason ?? "runtime", e.file);
  if (e.code === "LONGVIEW_CANCELLED") return new ModelCancelledError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export interface ModelWorkerClientOptions {
  /** The worker script (tests); default: see startWorker. */
  workerFile?: string;
  /** Messages from the worker's engine (backend choice, KV cache problems). */
  log?: (message: string) => void;
}

export class ModelWorkerClient implements ModelClient {
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private current: ModelStatus = UNLOADED;
  private readonly statusListeners = new Set<(s: ModelStatus) => void>();
  private readonly progressListeners = new Set<(p: PrefillProgress) => void>();

  constructor(private readonly options: ModelWorkerClientOptions = {}) {}

  status(): ModelStatus {
    return this.current;
  }

  onStatus(listener: (s: ModelStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  onProgress(listener: (p: PrefillProgress) => void): () => void {
    this.progressListeners.add(listener);
    return () => this.progressListeners.delete(listener);
  }

  private setStatus(s: ModelStatus): void {
    this.current = s;
    for (const l of this.statusListeners) l(s);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    let worker: Worker;
    try {
      worker = startWorker(this.options.workerFile);
    } catch (e) {
      throw new ModelUnavailableError(`the model worker could not start: ${(e as Error).message}`, "runtime");
    }
    this.worker = worker;
    worker.on("message", (m: ModelResponse) => this.onMessage(m));
    const fail = (message: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.setStatus({ ...this.current, state: "failed", error: message });
      this.failAll(new ModelUnavailableError(message, "runtime"));
    };
    worker.on("error", (e) => fail(`the model worker failed: ${e.message}`));
    worker.on("exit", (code) => fail(`the model worker exited (code ${code})`));
    worker.unref();
    return worker;
  }

  private onMessage(m: ModelResponse): void {
    switch (m.type) {
      case "status":
        this.setStatus(m.status);
        return;
      case "progress":
        for (const l of this.progressListeners) l(m.progress);
        return;
      case "log":
        this.options.log?.(m.message);
        return;
      case "event":
        this.pending.get(m.id)?.onEvent?.(m.event);
        return;
      case "result":
      case "error": {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (this.pending.size === 0) this.worker?.unref();
        if (m.type === "result") p.resolve(m.status);
        else p.reject(rebuild(m.error));
        return;
      }
    }
  }

  private failAll(error: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(error);
  }

  /** Sends a request; the worker stays referenced (keeps the process alive) while any request is pending. */
  private request(body: RequestBody, signal?: AbortSignal, onEvent?: (e: ModelAnswerEvent) => void): Promise<ModelStatus | undefined> {
    if (signal?.aborted) return Promise.reject(new ModelCancelledError());
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<ModelStatus | undefined>((resolve, reject) => {
      const onAbort = () => worker.postMessage({ type: "cancel", id } satisfies ModelRequest);
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => signal?.removeEventListener("abort", onAbort);
      this.pending.set(id, {
        resolve: (s) => (done(), resolve(s)),
        reject: (e) => (done(), reject(e)),
        onEvent,
      });
      worker.ref();
      worker.postMessage({ ...body, id } as ModelRequest);
    });
  }

  async open(opts: ModelOpenOptions): Promise<ModelStatus> {
    const status = await this.request({ type: "open", opts });
    return status ?? this.current;
  }

  async prefill(opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.request({ type: "prefill" }, opts.signal);
  }

  ask(question: string, opts: ModelAskOptions = {}): AsyncIterable<ModelAnswerEvent> {
    return this.stream({ type: "ask", question, maxNewTokens: opts.maxNewTokens, temperature: opts.temperature }, opts.signal);
  }

  explain(symbol: string, opts: ModelAskOptions = {}): AsyncIterable<ModelAnswerEvent> {
    return this.stream({ type: "ask", question: symbol, explain: true, maxNewTokens: opts.maxNewTokens, temperature: opts.temperature }, opts.signal);
  }

  /** Events of one ask as an async iterable; leaving the loop early cancels the answer in the worker. */
  private async *stream(body: RequestBody, signal?: AbortSignal): AsyncGenerator<ModelAnswerEvent, void, void> {
    const queue: ModelAnswerEvent[] = [];
    let wake: (() => void) | undefined;
    let finished = false;
    let failure: Error | undefined;
    // Our own controller: aborted by the caller's signal, or by leaving the loop early.
    const controller = new AbortController();
    const forward = () => controller.abort();
    if (signal?.aborted) throw new ModelCancelledError();
    signal?.addEventListener("abort", forward, { once: true });
    this.request(body, controller.signal, (e) => {
      queue.push(e);
      wake?.();
    }).then(
      () => ((finished = true), wake?.()),
      (e: Error) => ((failure = e), (finished = true), wake?.()),
    );
    try {
      while (true) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        if (finished) break;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
      if (failure) throw failure;
    } finally {
      signal?.removeEventListener("abort", forward);
      if (!finished) controller.abort();
    }
  }

  async updateFiles(changed: FileRecord[], removed: FileRemoval[], opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.request({ type: "update", changed, removed }, opts.signal);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    try {
      await this.request({ type: "close" });
    } catch {
      // A worker that failed has nothing left to save.
    }
    this.worker = undefined;
    this.failAll(new ModelCancelledError("the model service was closed"));
    await worker.terminate();
    this.setStatus({ ...UNLOADED });
  }
}

/** A model client whose engine runs in a worker thread. */
export function createModelClient(options: ModelWorkerClientOptions = {}): ModelClient {
  return new ModelWorkerClient(options);
}
