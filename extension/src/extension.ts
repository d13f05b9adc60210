/**
 * Longview's entry point: wires the index controller, the chat view, the hover provider, the status bar and
 * the commands. Returns a small API (used by the integration tests and by other extensions).
 */
import * as vscode from "vscode";
import type { ReferenceHit, SymbolHit } from "../../model-runtime/src/index/types";
import { IndexAnswerer } from "./answerer";
import { BackendService } from "./backend";
import { ChatSession } from "./chat-session";
import { CHAT_VIEW_ID, ChatViewProvider } from "./chat-view";
import { registerCommands } from "./commands";
import { LongviewHoverProvider } from "./hover";
import { IndexController } from "./index-controller";
import { IndexStatusBar } from "./status-bar";

export interface LongviewApi {
  whenIdle(): Promise<void>;
  stats(): { files: number; definitions: number; imports: number; references: number; skipped: number };
  find(name: string): SymbolHit[];
  references(name: string): ReferenceHit[];
}

let controller: IndexController | undefined;

export function activate(context: vscode.ExtensionContext): LongviewApi {
  const output = vscode.window.createOutputChannel("Longview");
  controller = new IndexController(context, output);
  const answerer = new IndexAnswerer(controller);
  const chat = new ChatViewProvider(context.extensionUri, controller, answerer, new ChatSession(context.workspaceState), output);
  const backends = new BackendService(output);
  context.subscriptions.push(
    output,
    new IndexStatusBar(controller),
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, { webviewOptions: { retainContextWhenHidden: true } }),
    chat,
    backends,
    vscode.languages.registerHoverProvider({ scheme: "file" }, new LongviewHoverProvider(controller)),
    ...registerCommands({ controller, chat, backends, output, extensionUri: context.extensionUri }),
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
  };
}

export async function deactivate(): Promise<void> {
  await controller?.dispose();
  controller = undefined;
}
