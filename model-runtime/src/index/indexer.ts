/**
 * Indexing orchestration without VS Code: load the stored index, walk the roots, parse only what changed
 * (mtime+size first, then content hash), drop what disappeared, save the touched shards. Also the incremental
 * path used on save / file-watcher events. The extension and the CLI both drive this class.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { isPathIndexable } from "../workspace/ignore-rules";
import { type FileCandidate, walkRoot } from "../workspace/walker";
import { ParsePool, defaultThreadCount } from "./parse-pool";
import { IndexStore, shardOf } from "./store";
import { DEFAULT_INDEX_OPTIONS, type FileRecord, type IndexOptions, type IndexRoot, type SkippedFile } from "./types";
import { WorkspaceIndex, fileKey } from "./workspace-index";

export interface IndexProgress {
  phase: "loading" | "walking" | "parsing" | "saving" | "done";
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface BuildReport {
  files: number;
  parsed: number;
  reused: number;
  removed: number;
  skipped: number;
  /** Bytes of the files parsed and indexed in this build (skipped files not counted). */
  bytesParsed: number;
  millis: number;
}

export interface IndexerOptions {
  roots: IndexRoot[];
  options?: Partial<IndexOptions>;
  /** Where the index persists; no persistence when undefined. */
  storeDir?: string;
  /** Parse workers (0 = parse on this thread). */
  threads?: number;
  log?: (message: string) => void;
}

export class Indexer {
  readonly index = new WorkspaceIndex();
  readonly options: IndexOptions;
  readonly roots: IndexRoot[];
  private readonly store: IndexStore | undefined;
  private readonly pool: ParsePool;
  private readonly log: (message: string) => void;
  private readonly dirtyShards = new Set<number>();
  private loadedFromStore = false;

  constructor(opts: IndexerOptions) {
    this.roots = opts.roots;
    this.options = { ...DEFAULT_INDEX_OPTIONS, ...opts.options };
    this.log = opts.log ?? (() => {});
    const settingsKey = crypto
      .createHash("sha1")
      .update(JSON.stringify({ roots: this.roots, options: this.options }))
      .digest("hex");
    this.store = opts.storeDir ? new IndexStore(opts.storeDir, settingsKey) : undefined;
    this.pool = new ParsePool(this.options, opts.threads ?? defaultThreadCount(), this.log);
  }

  /** Full pass: everything on disk ends up in the index, parsing only what changed since the stored index. */
  async build(opts: { signal?: AbortSignal; onProgress?: (p: IndexProgress) => void; fresh?: boolean } = {}): Promise<BuildReport> {
    const t0 = performance.now();
    const progress: IndexProgress = { phase: "loading", filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 };
    const report = () => opts.onProgress?.({ ...progress });
    report();
    if (opts.fresh) {
      this.store?.clear();
      for (const { root, path: p } of this.index.keysNotIn(new Set())) this.index.remove(root, p);
      this.loadedFromStore = true;
    }
    if (!this.loadedFromStore && this.store) {
      const loaded = this.store.load();
      for (const problem of loaded.problems) this.log(problem);
      for (const f of loaded.files) this.index.upsert(f);
      for (const s of loaded.skipped) this.index.markSkipped(s);
      if (loaded.files.length) this.log(`loaded ${loaded.files.length} files from the stored index`);
      this.loadedFromStore = true;
    }

    progress.phase = "walking";
    report();
    const candidates: FileCandidate[] = [];
    const seen = new Set<string>();
    for (const root of this.roots) {
      const walked = await walkRoot(root, { ...this.options, signal: opts.signal });
      candidates.push(...walked.files);
      for (const s of walked.skipped) {
        this.recordSkip(s);
        seen.add(fileKey(s.root, s.path));
      }
    }

    // Reuse records whose mtime and size match; re-parse the rest.
    const toParse: FileCandidate[] = [];
    let reused = 0;
    for (const c of candidates) {
      const key = fileKey(c.root, c.path);
      seen.add(key);
      const old = this.index.get(c.root, c.path) ?? this.index.getSkipped(c.root, c.path);
      if (old && old.mtimeMs === c.mtimeMs && old.size === c.size) reused++;
      else toParse.push(c);
    }
    const gone = this.index.keysNotIn(seen);
    for (const g of gone) {
      this.index.remove(g.root, g.path);
      this.dirtyShards.add(shardOf(g.root, g.path));
    }

    // Largest first: a big file started last would leave the other workers idle while it finishes.
    toParse.sort((a, b) => b.size - a.size);
    progress.phase = "parsing";
    progress.filesTotal = toParse.length;
    progress.bytesTotal = toParse.reduce((a, c) => a + c.size, 0);
    report();
    let lastReport = 0;
    let bytesIndexed = 0;
    await this.pool.processAll(
      toParse,
      (result) => {
        this.apply(result);
        progress.filesDone++;
        if (result.kind === "file") {
          progress.bytesDone += result.record.size;
          bytesIndexed += result.record.size;
        }
        const now = performance.now();
        if (now - lastReport > 100) {
          lastReport = now;
          report();
        }
      },
      opts.signal,
    );

    progress.phase = "saving";
    report();
    this.save();
    progress.phase = "done";
    report();
    return {
      files: this.index.size,
      parsed: toParse.length,
      reused,
      removed: gone.length,
      skipped: this.index.skipped().length,
      bytesParsed: bytesIndexed,
      millis: performance.now() - t0,
    };
  }

  /**
   * Incremental update for paths reported changed (saved, created, deleted). Returns the number of files whose
   * index entry changed. A path outside every root, or excluded, is ignored.
   */
  async update(absPaths: string[]): Promise<number> {
    const candidates: FileCandidate[] = [];
    let changed = 0;
    for (const abs of absPaths) {
      const located = this.locate(abs);
      if (!located) continue;
      const { root, rel } = located;
      let st: fs.Stats;
      try {
        st = await fs.promises.stat(abs);
      } catch {
        if (this.index.remove(root.name, rel)) {
          this.dirtyShards.add(shardOf(root.name, rel));
          changed++;
        }
        continue;
      }
      if (!st.isFile()) continue;
      if (!isPathIndexable(root, rel, this.options)) continue;
      const old = this.index.get(root.name, rel);
      if (old && old.mtimeMs === st.mtimeMs && old.size === st.size) continue;
      candidates.push({ root: root.name, path: rel, absPath: abs, size: st.size, mtimeMs: st.mtimeMs });
    }
    await this.pool.processAll(candidates, (result) => {
      const old = result.kind === "file" ? this.index.get(result.record.root, result.record.path) : undefined;
      // Same bytes (a touch, a save without edits): keep the record, only refresh its mtime.
      if (old && result.kind === "file" && old.hash === result.record.hash) {
        old.mtimeMs = result.record.mtimeMs;
        return;
      }
      this.apply(result);
      changed++;
    });
    return changed;
  }

  /** Persist the shards touched since the last save. */
  save(): void {
    if (!this.store || this.dirtyShards.size === 0) return;
    try {
      this.store.save(this.index.allFiles(), this.index.skipped(), this.dirtyShards);
      this.dirtyShards.clear();
    } catch (e) {
      // Losing the cache costs a re-parse next time, never the session.
      this.log(`could not save the index: ${(e as Error).message}`);
    }
  }

  async dispose(): Promise<void> {
    await this.pool.dispose();
  }

  private apply(result: { kind: "file"; record: FileRecord; note?: string } | { kind: "skip"; skip: SkippedFile }): void {
    if (result.kind === "file") {
      this.index.upsert(result.record);
      this.dirtyShards.add(shardOf(result.record.root, result.record.path));
      if (result.note) this.log(`${result.record.root}/${result.record.path}: ${result.note}`);
    } else {
      this.recordSkip(result.skip);
    }
  }

  private recordSkip(skip: SkippedFile): void {
    this.index.markSkipped(skip);
    this.dirtyShards.add(shardOf(skip.root, skip.path));
    this.log(`skipped ${skip.root}/${skip.path}: ${skip.reason} (${skip.detail})`);
  }

  private locate(abs: string): { root: IndexRoot; rel: string } | undefined {
    for (const root of this.roots) {
      const rel = path.relative(root.path, abs);
      if (rel && !rel.startsWith("..") && !path.isAbsolute(rel)) return { root, rel: rel.split(path.sep).join("/") };
    }
    return undefined;
  }
}
