/** The palette commands, each wired to real code. */
import * as vscode from "vscode";
import type { ChatViewProvider } from "./chat-view";
import type { IndexController } from "./index-controller";
import { type LocationArgs, OPEN_LOCATION_COMMAND, openLocation } from "./locations";

export function registerCommands(
  controller: IndexController,
  chat: ChatViewProvider,
  output: vscode.OutputChannel,
): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand("longview.ask", async (preset?: string) => {
      const question =
        typeof preset === "string"
          ? preset
          : await vscode.window.showInputBox({
              title: "Longview",
              prompt: "Ask Longview about the workspace",
              placeHolder: "e.g. where is the rate limiter configured?",
              ignoreFocusOut: true,
            });
      if (question?.trim()) await chat.ask(question);
    }),

    vscode.commands.registerCommand("longview.explainSymbol", async () => {
      const editor = vscode.window.activeTextEditor;
      const range = editor?.document.getWordRangeAtPosition(editor.selection.active, /[A-Za-z_$][\w$]*/);
      if (!editor || !range) {
        void vscode.window.showInformationMessage("Longview: put the cursor on a symbol to explain it.");
        return;
      }
      await chat.ask(`Explain \`${editor.document.getText(range)}\``);
    }),

    vscode.commands.registerCommand("longview.rebuildIndex", async () => {
      const report = await controller.rebuild(true, true);
      if (report) void vscode.window.showInformationMessage(`Longview: index rebuilt — ${report.files} files in ${(report.millis / 1000).toFixed(1)} s.`);
    }),

    vscode.commands.registerCommand("longview.cancelIndexing", () => controller.cancelBuild()),

    vscode.commands.registerCommand("longview.showIndexStatus", async () => {
      await controller.whenIdle();
      const index = controller.index;
      if (!index) {
        void vscode.window.showInformationMessage("Longview index: no folder open.");
        return;
      }
      const s = index.stats();
      const state = controller.state;
      const timing = state.kind === "ready" && state.report ? ` Last build ${(state.report.millis / 1000).toFixed(1)} s.` : "";
      const update = state.kind === "ready" && state.lastUpdateMs !== undefined ? ` Last update ${state.lastUpdateMs} ms.` : "";
      void vscode.window.showInformationMessage(
        `Longview index: ${s.files} files, ${s.definitions} definitions, ${s.imports} imports, ${s.references} references, ` +
          `${s.skipped} skipped.${timing}${update}`,
      );
      output.appendLine(`[status] ${JSON.stringify(s)}`);
      const byReason = new Map<string, string[]>();
      for (const k of index.skipped()) byReason.set(k.reason, [...(byReason.get(k.reason) ?? []), `${k.root}/${k.path} (${k.detail})`]);
      for (const [reason, items] of byReason) output.appendLine(`[status] skipped ${items.length} (${reason}): ${items.slice(0, 20).join("; ")}`);
    }),

    vscode.commands.registerCommand(OPEN_LOCATION_COMMAND, (args: LocationArgs) => openLocation(controller, args)),
  ];
}
