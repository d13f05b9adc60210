/**
 * Longview's entry point: wires the index controller, the chat view, the hover provider, the status bar and
 * the commands. Returns a small API (used by the integration tests and by other extensions).
 */
import * as vscode from "vscode";
import { createModelClient } from "../../model-runtime/src/answer/model-worker-client";
import type { ReferenceHit, SymbolHit } from "../../model-runtime/src/index/types";
import { IndexAnswerer } from "./answerer";
import { BackendService } from "./backend";
import { ChatSession } from "./chat-session";
import { readSettings } from "./config";
import { CHAT_VIEW_ID, ChatViewProvider } from "./chat-view";
import { registerCommands } from "./commands";
import { ExplanationCache } from "./explanations";
import { LongviewHoverProvider, ModelHoverProvider } from "./hover";
import { IndexController } from "./index-controller";
import { ModelAnswerer } from "./model-answerer";
import { ModelController } from "./model-controller";
import { ModelStatusBar } from "./model-status-bar";
import type { ModelSnapshot } from "./model-view";
import { IndexStatusBar } from "./status-bar";

export interface LongviewApi {
  whenIdle(): Promise<void>;
  stats(): { files: number; definitions: number; imports: number; references: number; skipped: number };
  find(name: string): SymbolHit[];
  references(name: string): ReferenceHit[];
  /** The model's state (tests wait for "ready"). */
  model(): ModelSnapshot;
}

let controller: IndexController | undefined;

export function activate(context: vscode.ExtensionContext): LongviewApi {
  const output = vscode.window.createOutputChannel("Longview");
  controller = new IndexController(context, output);
  const index = controller;
  const model = new ModelController(context, controller, output, () =>
    createModelClient({ log: (message) => output.appendLine(`[model] ${message}`) }),
  );
  const answerer = new ModelAnswerer(
    model,
    new IndexAnswerer(controller),
    () => ({ index: index.index, roots: index.roots().map((r) => r.name) }),
    (message) => output.appendLine(message),
    () => readSettings().maxAnswerTokens,
  );
  const chat = new ChatViewProvider(context.extensionUri, controller, answerer, new ChatSession(context.workspaceState), output, model);
  const backends = new BackendService(output);
  const explanations = new ExplanationCache((symbol, opts) => model.explain(symbol, opts));
  context.subscriptions.push(
    output,
    model,
    new IndexStatusBar(controller),
    new ModelStatusBar(model),
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, { webviewOptions: { retainContextWhenHidden: true } }),
    chat,
    backends,
    vscode.languages.registerHoverProvider({ scheme: "file" }, new LongviewHoverProvider(controller)),
    vscode.languages.registerHoverProvider({ scheme: "file" }, new ModelHoverProvider(controller, model, explanations)),
    model.onDidChange((s) => {
      // A model reopened (or gone) explains anew: cached lines belong to the model that wrote them.
      if (s.phase.kind === "loading" || s.phase.kind === "unavailable" || s.phase.kind === "off") explanations.clear();
    }),
    ...registerCommands({ controller, chat, backends, output, extensionUri: context.extensionUri, model }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => output.appendLine("[longview] workspace trusted: native kernels allowed from now on")),
  );
  output.appendLine(
    `[longview] activated; ${vscode.workspace.workspaceFolders?.length ?? 0} workspace folder(s); ` +
      (vscode.workspace.isTrusted ? "trusted workspace" : "Restricted Mode: answers from the index, no native code is loaded"),
  );
  void controller.rebuild(false);

  const c = controller;
  return {
    whenIdle: () => c.whenIdle(),
    stats: () => {
      const s = c.index?.stats();
      return { files: s?.files ?? 0, definitions: s?.definitions ?? 0, imports: s?.imports ?? 0, references: s?.references ?? 0, skipped: s?.skipped ?? 0 };
    },
    find: (name) => c.index?.find(name) ?? [],
    references: (name) => c.index?.references(name) ?? [],
    model: () => model.snapshot(),
  };
}

export async function deactivate(): Promise<void> {
  await controller?.dispose();
  controller = undefined;
}
