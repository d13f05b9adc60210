/**
 * A pool of parse workers. Files go out in small batches (so progress is smooth and a crash loses little);
 * a worker that dies (tree-sitter's wasm heap can abort on a pathological file) is replaced and its batch is
 * retried file by file, so one bad file cannot take its neighbours down with it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { SourceParser } from "../parse/extract";
import type { FileCandidate } from "../workspace/walker";
import { type ProcessResult, processFile } from "./process-file";
import type { IndexOptions } from "./types";
import type { WorkerRequest, WorkerResponse } from "./worker-protocol";

const BATCH_BYTES = 512 * 1024;
const BATCH_FILES = 64;

function startWorker(): Worker {
  if (process.env.LONGVIEW_INDEX_WORKER) return new Worker(process.env.LONGVIEW_INDEX_WORKER);
  // Bundled, the worker is dist/index-worker.js next to the bundle that started it. From source (tests run
  // through tsx) it is the .ts file, loaded through tsx's require hook (Node 20 workers ignore --import hooks).
  if (__filename.endsWith(".ts")) {
    const source = JSON.stringify(path.join(__dirname, "worker.ts"));
    return new Worker(`require("tsx/cjs"); require(${source});`, { eval: true });
  }
  // dist/index-worker.js sits next to dist/extension.js and dist/cli.js, one level above dist/bench/*.js.
  const bundled = [path.join(__dirname, "index-worker.js"), path.join(__dirname, "..", "index-worker.js")];
  return new Worker(bundled.find((f) => fs.existsSync(f)) ?? bundled[0]);
}

export function defaultThreadCount(): number {
  return Math.max(1, Math.min(8, os.availableParallelism()));
}

interface PendingBatch {
  files: FileCandidate[];
  resolve: (results: ProcessResult[]) => void;
  reject: (error: Error) => void;
}

class PoolWorker {
  private worker: Worker;
  private current: PendingBatch | undefined;
  private nextId = 0;
  /** A worker that dies before saying "ready" cannot start at all (missing bundle, loader): not a per-file crash. */
  private ready = false;
  constructor(private readonly onCrash: (batch: PendingBatch | undefined, error: Error, startupFailed: boolean) => void) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    this.ready = false;
    const worker = startWorker();
    worker.on("message", (response: WorkerResponse | "ready") => {
      if (response === "ready") {
        this.ready = true;
        return;
      }
      const batch = this.current;
      this.current = undefined;
      worker.unref();
      batch?.resolve(response.results);
    });
    worker.on("error", (error) => {
      const batch = this.current;
      this.current = undefined;
      worker.unref();
      const startupFailed = !this.ready;
      if (!startupFailed) this.worker = this.spawn();
      this.onCrash(batch, error, startupFailed);
    });
    // An idle worker must not keep the process alive; a busy one must (run() refs it).
    worker.unref();
    return worker;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Detach the in-flight batch (to hand it to someone else before terminating this worker). */
  takeCurrent(): PendingBatch | undefined {
    const batch = this.current;
    this.current = undefined;
    return batch;
  }

  run(batch: PendingBatch, options: IndexOptions): void {
    this.current = batch;
    this.worker.ref();
    const request: WorkerRequest = { batchId: this.nextId++, files: batch.files, options };
    this.worker.postMessage(request);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class ParsePool {
  private workers: PoolWorker[] = [];
  private readonly queue: PendingBatch[] = [];
  private inProcessParser: SourceParser | undefined;

  /** threads = 0 parses on the calling thread (simplest, for small jobs and tests). */
  constructor(
    private readonly options: IndexOptions,
    threads = defaultThreadCount(),
    private readonly log: (message: string) => void = () => {},
  ) {
    if (threads === 0) this.inProcessParser = new SourceParser();
    for (let i = 0; i < threads; i++) {
      this.workers.push(new PoolWorker((batch, error, startupFailed) => this.crashed(batch, error, startupFailed)));
    }
  }

  /** Process files; `onResult` fires as each file completes. Stops dispatching when `signal` aborts. */
  async processAll(files: FileCandidate[], onResult: (r: ProcessResult) => void, signal?: AbortSignal): Promise<void> {
    if (this.inProcessParser) {
      for (const f of files) {
        if (signal?.aborted) throw new DOMException("indexing cancelled", "AbortError");
        onResult(await processFile(this.inProcessParser, f, this.options));
      }
      return;
    }
    const batches = makeBatches(files);
    await Promise.all(
      batches.map(
        (batchFiles) =>
          new Promise<void>((resolve, reject) => {
            this.queue.push({
              files: batchFiles,
              resolve: (results) => {
                results.forEach(onResult);
                resolve();
              },
              reject,
            });
            this.pump(signal);
          }),
      ),
    );
  }

  private pump(signal?: AbortSignal): void {
    for (const w of this.workers) {
      if (w.busy) continue;
      const batch = this.queue.shift();
      if (!batch) return;
      if (signal?.aborted) {
        batch.reject(new DOMException("indexing cancelled", "AbortError"));
        continue;
      }
      const resolve = batch.resolve;
      batch.resolve = (results) => {
        resolve(results);
        this.pump(signal);
      };
      const reject = batch.reject;
      batch.reject = (error) => {
        reject(error);
        this.pump(signal);
      };
      w.run(batch, this.options);
    }
  }

  private crashed(batch: PendingBatch | undefined, error: Error, startupFailed: boolean): void {
    if (startupFailed) {
      // Workers cannot start here: parse on this thread rather than lose the index.
      if (!this.inProcessParser) this.log(`parse workers unavailable (${error.message}); parsing on the main thread`);
      this.inProcessParser ??= new SourceParser();
      const parser = this.inProcessParser;
      const workers = this.workers;
      this.workers = [];
      const inFlight = workers.map((w) => w.takeCurrent()).filter((b): b is PendingBatch => b !== undefined);
      const pending = [...(batch ? [batch] : []), ...inFlight, ...this.queue.splice(0)];
      void Promise.all(workers.map((w) => w.terminate()));
      void (async () => {
        for (const b of pending) {
          const results: ProcessResult[] = [];
          for (const f of b.files) results.push(await processFile(parser, f, this.options));
          b.resolve(results);
        }
      })().catch((e: Error) => pending.forEach((b) => b.reject(e)));
      return;
    }
    if (!batch) return;
    if (batch.files.length === 1) {
      // The file itself kills the parser: keep it out, with the reason, rather than crash again.
      const f = batch.files[0];
      batch.resolve([{ kind: "skip", skip: { root: f.root, path: f.path, reason: "unreadable", detail: `parser crashed: ${error.message}` } }]);
      return;
    }
    // Retry the batch one file at a time to find the culprit.
    const singles = batch.files.map(
      (f) => new Promise<ProcessResult[]>((resolve, reject) => this.queue.unshift({ files: [f], resolve, reject })),
    );
    Promise.all(singles).then((rs) => batch.resolve(rs.flat()), batch.reject);
    this.pump();
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function makeBatches(files: FileCandidate[]): FileCandidate[][] {
  const batches: FileCandidate[][] = [];
  let current: FileCandidate[] = [];
  let bytes = 0;
  for (const f of files) {
    if (current.length > 0 && (bytes + f.size > BATCH_BYTES || current.length >= BATCH_FILES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.size;
  }
  if (current.length) batches.push(current);
  return batches;
}
