/**
 * Keeps the workspace index in step with the workspace: the first full build (with window progress, status-bar
 * progress and cancellation), incremental updates from saves and file-system events, rebuilds when folders or
 * index settings change. Parsing happens in worker threads (model-runtime's ParsePool); this class only
 * schedules, so the extension host's thread stays free.
 */
import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";
import * as vscode from "vscode";
import { type BuildReport, Indexer, type IndexProgress } from "../../model-runtime/src/index/indexer";
import type { IndexRoot } from "../../model-runtime/src/index/types";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import { affectsIndex, indexOptionsFor, readSettings } from "./config";

export type IndexState =
  | { kind: "idle" }
  | { kind: "indexing"; progress: IndexProgress }
  | { kind: "ready"; report?: BuildReport; lastUpdateMs?: number; /** ms since the epoch */ builtAt?: number; updatedAt?: number }
  | { kind: "failed"; message: string }
  | { kind: "cancelled" };

const UPDATE_DEBOUNCE_MS = 120;
const SAVE_DEBOUNCE_MS = 2000;

export class IndexController implements vscode.Disposable {
  private indexer: Indexer | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<IndexState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private currentState: IndexState = { kind: "idle" };
  /** Every index operation runs in this chain, one at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  private buildCancel: AbortController | undefined;
  private pendingPaths = new Set<string>();
  private updateTimer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly output: vscode.OutputChannel,
  ) {
    const watcher = vscode.workspace.createFileSystemWatcher("**/*");
    this.disposables.push(
      watcher,
      watcher.onDidCreate((uri) => this.queueUpdate(uri)),
      watcher.onDidChange((uri) => this.queueUpdate(uri)),
      watcher.onDidDelete((uri) => this.queueUpdate(uri)),
      vscode.workspace.onDidSaveTextDocument((doc) => this.queueUpdate(doc.uri, 10)),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.rebuild(false)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (affectsIndex(e)) this.rebuild(false);
      }),
      this.stateEmitter,
    );
  }

  get state(): IndexState {
    return this.currentState;
  }

  get index(): WorkspaceIndex | undefined {
    return this.indexer?.index;
  }

  /** Workspace folder roots, by display name (unique). */
  roots(): IndexRoot[] {
    return (vscode.workspace.workspaceFolders ?? [])
      .filter((f) => f.uri.scheme === "file")
      .map((f) => ({ name: f.name, path: f.uri.fsPath }));
  }

  /** Absolute path of an index entry. */
  absolutePath(root: string, relPath: string): string | undefined {
    const r = this.roots().find((x) => x.name === root);
    return r ? path.join(r.path, ...relPath.split("/")) : undefined;
  }

  /** Resolves when no build or update is queued or running. */
  async whenIdle(): Promise<void> {
    for (;;) {
      const c = this.chain;
      await c.catch(() => undefined);
      if (c === this.chain && this.pendingPaths.size === 0 && !this.updateTimer) return;
      if (this.updateTimer) await new Promise((r) => setTimeout(r, UPDATE_DEBOUNCE_MS));
    }
  }

  private setState(s: IndexState): void {
    this.currentState = s;
    this.stateEmitter.fire(s);
  }

  private log(message: string): void {
    this.output.appendLine(`[index] ${message}`);
  }

  private storeDir(roots: IndexRoot[]): string {
    const base = this.context.storageUri ?? this.context.globalStorageUri;
    const key = crypto.createHash("sha1").update(roots.map((r) => r.path).join("\n")).digest("hex").slice(0, 12);
    return path.join(base.fsPath, `index-${key}`);
  }

  private createIndexer(): Indexer | undefined {
    const roots = this.roots();
    if (roots.length === 0) return undefined;
    const threads = readSettings().indexThreads || Math.max(1, os.availableParallelism() - 1);
    return new Indexer({
      roots,
      storeDir: this.storeDir(roots),
      threads,
      options: indexOptionsFor(vscode.workspace.workspaceFolders?.[0]),
      log: (m) => this.log(m),
    });
  }

  /** Cancel any build, then build again; `fresh` drops the stored index first. */
  rebuild(fresh: boolean, withNotification = false): Promise<BuildReport | undefined> {
    this.buildCancel?.abort();
    const run = async () => {
      const old = this.indexer;
      this.indexer = this.createIndexer();
      await old?.dispose();
      if (!this.indexer) {
        this.setState({ kind: "idle" });
        return undefined;
      }
      return this.runBuild(this.indexer, fresh, withNotification);
    };
    const p = this.chain.then(run, run);
    this.chain = p;
    return p;
  }

  private async runBuild(indexer: Indexer, fresh: boolean, withNotification: boolean): Promise<BuildReport | undefined> {
    const abort = new AbortController();
    this.buildCancel = abort;
    const t0 = Date.now();
    const task = async (report: (p: { message?: string; increment?: number }) => void, token?: vscode.CancellationToken) => {
      token?.onCancellationRequested(() => abort.abort());
      let lastPercent = 0;
      return indexer.build({
        signal: abort.signal,
        fresh,
        onProgress: (p) => {
          this.setState({ kind: "indexing", progress: p });
          const percent = p.filesTotal ? Math.floor((100 * p.filesDone) / p.filesTotal) : 0;
          report({ message: p.phase === "parsing" ? `${p.filesDone}/${p.filesTotal} files` : p.phase, increment: percent - lastPercent });
          lastPercent = percent;
        },
      });
    };
    await vscode.commands.executeCommand("setContext", "longview.indexing", true);
    try {
      const report = withNotification
        ? await vscode.window.withProgress(
            { location: vscode.ProgressLocation.Notification, title: "Longview: indexing the workspace", cancellable: true },
            (progress, token) => task((p) => progress.report(p), token),
          )
        : await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: "Longview: indexing" }, (progress) =>
            task((p) => progress.report({ message: p.message })),
          );
      this.log(
        `indexed ${report.files} files in ${Date.now() - t0} ms (parsed ${report.parsed}, reused ${report.reused}, ` +
          `removed ${report.removed}, skipped ${report.skipped})`,
      );
      this.setState({ kind: "ready", report, builtAt: Date.now() });
      return report;
    } catch (e) {
      if ((e as Error).name === "AbortError") {
        this.log("indexing cancelled");
        this.setState({ kind: "cancelled" });
        return undefined;
      }
      this.log(`indexing failed: ${(e as Error).stack ?? e}`);
      this.setState({ kind: "failed", message: (e as Error).message });
      return undefined;
    } finally {
      if (this.buildCancel === abort) this.buildCancel = undefined;
      await vscode.commands.executeCommand("setContext", "longview.indexing", false);
    }
  }

  cancelBuild(): void {
    this.buildCancel?.abort();
  }

  private queueUpdate(uri: vscode.Uri, delay = UPDATE_DEBOUNCE_MS): void {
    if (uri.scheme !== "file" || !this.indexer) return;
    this.pendingPaths.add(uri.fsPath);
    if (this.updateTimer) clearTimeout(this.updateTimer);
    this.updateTimer = setTimeout(() => {
      this.updateTimer = undefined;
      const paths = [...this.pendingPaths];
      this.pendingPaths.clear();
      const indexer = this.indexer;
      if (!indexer) return;
      const run = async () => {
        const t0 = Date.now();
        const changed = await indexer.update(paths);
        if (changed > 0) {
          const ms = Date.now() - t0;
          this.log(`updated ${changed} file(s) in ${ms} ms`);
          const prev = this.currentState;
          this.setState({
            kind: "ready",
            report: prev.kind === "ready" ? prev.report : undefined,
            builtAt: prev.kind === "ready" ? prev.builtAt : undefined,
            lastUpdateMs: ms,
            updatedAt: Date.now(),
          });
          this.scheduleSave(indexer);
        }
      };
      this.chain = this.chain.then(run, run).catch((e: Error) => this.log(`update failed: ${e.message}`));
    }, delay);
  }

  private scheduleSave(indexer: Indexer): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => indexer.save(), SAVE_DEBOUNCE_MS);
  }

  async dispose(): Promise<void> {
    this.buildCancel?.abort();
    if (this.updateTimer) clearTimeout(this.updateTimer);
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.indexer?.save();
    for (const d of this.disposables) d.dispose();
    await this.indexer?.dispose();
  }
}
