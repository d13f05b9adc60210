/** The palette commands, each wired to real code. */
import * as vscode from "vscode";
import type { BackendService } from "./backend";
import { describeBackend } from "./backend";
import type { ChatViewProvider } from "./chat-view";
import type { IndexController } from "./index-controller";
import { statusDetail, statusNotification } from "./index-status";
import { type LocationArgs, OPEN_LOCATION_COMMAND, openLocation } from "./locations";
import type { ModelController } from "./model-controller";
import { RESUME_READING_COMMAND, STOP_READING_COMMAND } from "./model-status-bar";
import { modelStatusLines, modelStatusSentence } from "./model-view";
import { selectBackend, selectModel } from "./settings-commands";

/** Selections longer than this are cut (the question travels to the webview and into the history). */
const MAX_SELECTION_CHARS = 8_000;

export interface CommandContext {
  controller: IndexController;
  chat: ChatViewProvider;
  backends: BackendService;
  output: vscode.OutputChannel;
  extensionUri: vscode.Uri;
  model?: ModelController;
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const { controller, chat, backends, output } = ctx;
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

    vscode.commands.registerCommand("longview.askAboutSelection", () => askAboutSelection(chat)),

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
      const model = ctx.model?.snapshot();
      const sentence = model ? ` ${modelStatusSentence(model)}` : "";
      void vscode.window.showInformationMessage(statusNotification(s, state) + sentence, "Details").then((choice) => {
        if (choice === "Details") output.show(true);
      });
      output.appendLine(`[status] ${new Date().toISOString()}`);
      const layoutTokens = model?.status?.contextTokens || undefined;
      const detail = statusDetail({ stats: s, state, roots: controller.roots().map((r) => r.name), trusted: vscode.workspace.isTrusted, layoutTokens });
      for (const line of detail) output.appendLine(`[status]   ${line}`);
      if (model) for (const line of modelStatusLines(model)) output.appendLine(`[status]   ${line}`);
      const byReason = new Map<string, string[]>();
      for (const k of index.skipped()) byReason.set(k.reason, [...(byReason.get(k.reason) ?? []), `${k.root}/${k.path} (${k.detail})`]);
      for (const [reason, items] of byReason) output.appendLine(`[status]   skipped ${items.length} (${reason}): ${items.slice(0, 20).join("; ")}`);
      // Opening the backend may load a native addon or a GPU driver: after the notification, never before it.
      try {
        output.appendLine(`[status]   attention backend: ${describeBackend(await backends.current())}`);
      } catch (e) {
        output.appendLine(`[status]   attention backend: could not be opened (${(e as Error).message})`);
      }
    }),

    vscode.commands.registerCommand("longview.selectBackend", (preset?: unknown) => selectBackend(backends, output, preset)),

    vscode.commands.registerCommand("longview.selectModel", (preset?: unknown) => selectModel(ctx.extensionUri, output, preset)),

    vscode.commands.registerCommand("longview.clearChat", () => chat.clear()),

    vscode.commands.registerCommand(STOP_READING_COMMAND, () => ctx.model?.stopReading()),

    vscode.commands.registerCommand(RESUME_READING_COMMAND, () => ctx.model?.resumeReading()),

    vscode.commands.registerCommand(OPEN_LOCATION_COMMAND, (args: LocationArgs) => openLocation(controller, args)),
  ];
}

const FENCE_LANGUAGE: Record<string, string> = {
  typescript: "typescript", typescriptreact: "typescript", javascript: "javascript", javascriptreact: "javascript",
  python: "python", go: "go", rust: "rust", java: "java", c: "c", cpp: "cpp", csharp: "csharp", ruby: "ruby", php: "php", kotlin: "kotlin",
};

/** The selection (with its file and lines) plus what the user wants to know about it, asked in the chat. */
async function askAboutSelection(chat: ChatViewProvider): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.selection.isEmpty) {
    void vscode.window.showInformationMessage("Longview: select some code, then ask about it.");
    return;
  }
  const doc = editor.document;
  const sel = editor.selection;
  // A selection that ends at the start of a line does not include that line.
  const endLine = sel.end.character === 0 && sel.end.line > sel.start.line ? sel.end.line - 1 : sel.end.line;
  let text = doc.getText(sel);
  if (text.length > MAX_SELECTION_CHARS) text = `${text.slice(0, MAX_SELECTION_CHARS)}\n…`;
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
  const rel = folder ? vscode.workspace.asRelativePath(doc.uri, false) : doc.uri.fsPath;
  const what = await vscode.window.showInputBox({
    title: "Longview: ask about the selection",
    prompt: `About ${rel}:${sel.start.line + 1}–${endLine + 1}`,
    value: "Explain this code",
    ignoreFocusOut: true,
  });
  if (what === undefined) return;
  const ticks = text.includes("```") ? "~~~~" : "```";
  const question = `${what.trim() || "Explain this code"}\n\n${rel}:${sel.start.line + 1}-${endLine + 1}\n${ticks}${FENCE_LANGUAGE[doc.languageId] ?? ""}\n${text}\n${ticks}`;
  await chat.ask(question, folder ? { root: folder.name, path: rel, startLine: sel.start.line + 1, endLine: endLine + 1, text } : undefined);
}
