/** The status-bar item: index progress while building, file count when ready; a click shows the status. */
import * as vscode from "vscode";
import type { IndexController, IndexState } from "./index-controller";

export class IndexStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("longview.status", vscode.StatusBarAlignment.Left, 50);
  private readonly subscription: vscode.Disposable;

  constructor(private readonly controller: IndexController) {
    this.item.name = "Longview";
    this.subscription = controller.onDidChangeState((s) => this.render(s));
    this.render(controller.state);
    this.item.show();
  }

  private render(state: IndexState): void {
    const files = this.controller.index?.size ?? 0;
    switch (state.kind) {
      case "indexing": {
        const p = state.progress;
        const percent = p.filesTotal ? Math.floor((100 * p.filesDone) / p.filesTotal) : 0;
        this.item.text = `$(sync~spin) Longview: indexing ${p.phase === "parsing" ? `${percent}%` : p.phase}`;
        this.item.tooltip = `Indexing: ${p.filesDone}/${p.filesTotal} files. Click to cancel.`;
        this.item.command = "longview.cancelIndexing";
        break;
      }
      case "failed":
        this.item.text = "$(error) Longview: index failed";
        this.item.tooltip = state.message;
        this.item.command = "longview.showIndexStatus";
        break;
      case "cancelled":
        this.item.text = `$(circle-slash) Longview: ${files} files (cancelled)`;
        this.item.tooltip = "Indexing was cancelled. Run 'Longview: Rebuild Index' to finish it.";
        this.item.command = "longview.rebuildIndex";
        break;
      default:
        this.item.text = `$(database) Longview: ${files} files`;
        this.item.tooltip = "Longview index ready. Click for details.";
        this.item.command = "longview.showIndexStatus";
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
