/** The model's status-bar item: reading progress (percent, tokens/s, ETA; a click stops it), paused (a click resumes), ready. */
import * as vscode from "vscode";
import type { ModelSnapshot } from "./model-view";
import { statusBarView } from "./model-view";

export const STOP_READING_COMMAND = "longview.stopModelReading";
export const RESUME_READING_COMMAND = "longview.resumeModelReading";

export class ModelStatusBar implements vscode.Disposable {
  // Right of the index's item (lower priority): tests and people find "Longview: N files" first.
  private readonly item = vscode.window.createStatusBarItem("longview.model", vscode.StatusBarAlignment.Left, 49);
  private readonly subscription: vscode.Disposable;

  constructor(model: { snapshot(): ModelSnapshot; onDidChange: vscode.Event<ModelSnapshot> }) {
    this.item.name = "Longview Model";
    this.subscription = model.onDidChange((s) => this.render(s));
    this.render(model.snapshot());
    this.item.show();
  }

  private render(s: ModelSnapshot): void {
    const v = statusBarView(s);
    this.item.text = v.text;
    this.item.tooltip = v.tooltip;
    this.item.command = v.click === "cancel" ? STOP_READING_COMMAND : v.click === "resume" ? RESUME_READING_COMMAND : "longview.showIndexStatus";
    void vscode.commands.executeCommand("setContext", "longview.modelReading", v.click === "cancel");
    void vscode.commands.executeCommand("setContext", "longview.modelPaused", v.click === "resume");
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
