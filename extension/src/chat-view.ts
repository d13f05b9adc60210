/**
 * The sidebar chat: a webview view with a strict Content-Security-Policy (nonce'd script, no inline code, no
 * remote origins). Questions go to the answerer; answers come back as markdown + structured citations, which
 * the webview renders sanitized and turns into links that open the cited location.
 */
import crypto from "node:crypto";
import * as vscode from "vscode";
import { type HostMessage, type WebviewMessage, isWebviewMessage } from "../../webview/src/protocol";
import type { Answerer } from "./answerer";
import type { IndexController } from "./index-controller";
import { openLocation } from "./locations";

export const CHAT_VIEW_ID = "longview.chat";

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private readonly outbox: HostMessage[] = [];
  private current: vscode.CancellationTokenSource | undefined;
  private nextId = 1;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly controller: IndexController,
    private readonly answerer: Answerer,
    private readonly output: vscode.OutputChannel,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const mediaRoot = vscode.Uri.joinPath(this.extensionUri, "dist", "webview");
    view.webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: [mediaRoot] };
    view.webview.html = this.html(view.webview, mediaRoot);
    view.webview.onDidReceiveMessage((m: unknown) => this.receive(m));
    view.onDidDispose(() => {
      this.view = undefined;
      this.ready = false;
    });
  }

  /** Show the chat and ask `question` in it. */
  async ask(question: string): Promise<void> {
    await this.reveal();
    await this.handleQuestion(question);
  }

  async reveal(): Promise<void> {
    if (this.view) this.view.show(true);
    else await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
  }

  private post(message: HostMessage): void {
    if (this.view && this.ready) void this.view.webview.postMessage(message);
    else this.outbox.push(message);
  }

  private receive(raw: unknown): void {
    if (!isWebviewMessage(raw)) {
      this.output.appendLine(`[chat] ignored a malformed message from the webview`);
      return;
    }
    const m: WebviewMessage = raw;
    switch (m.type) {
      case "ready":
        this.ready = true;
        for (const queued of this.outbox.splice(0)) void this.view?.webview.postMessage(queued);
        break;
      case "ask":
        void this.handleQuestion(m.question);
        break;
      case "stop":
        this.current?.cancel();
        break;
      case "openCitation":
        void openLocation(this.controller, m);
        break;
    }
  }

  private async handleQuestion(question: string): Promise<void> {
    const text = question.trim();
    if (!text) return;
    this.current?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.current = cts;
    const id = String(this.nextId++);
    this.post({ type: "question", id, text });
    this.post({ type: "busy", busy: true });
    try {
      for await (const part of this.answerer.answer(text, cts.token)) {
        if (cts.token.isCancellationRequested) break;
        this.post({ type: "answer", id, ...part });
      }
    } catch (e) {
      this.output.appendLine(`[chat] answer failed: ${(e as Error).stack ?? e}`);
      this.post({ type: "error", id, message: (e as Error).message });
    } finally {
      if (this.current === cts) this.current = undefined;
      cts.dispose();
      this.post({ type: "busy", busy: false });
    }
  }

  private html(webview: vscode.Webview, mediaRoot: vscode.Uri): string {
    const nonce = crypto.randomBytes(16).toString("base64");
    const script = webview.asWebviewUri(vscode.Uri.joinPath(mediaRoot, "main.js"));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(mediaRoot, "chat.css"));
    const csp = [
      "default-src 'none'",
      `style-src ${webview.cspSource}`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource} data:`,
      `script-src 'nonce-${nonce}'`,
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Longview</title>
</head>
<body>
<main id="app">
  <div id="messages" role="log" aria-live="polite"></div>
  <div id="status" aria-live="polite"></div>
  <form id="composer">
    <textarea id="question" rows="3" placeholder="Ask about this workspace… (Enter to send, Shift+Enter for a new line)" aria-label="Question"></textarea>
    <div class="actions">
      <button id="stop" type="button" class="secondary" hidden>Stop</button>
      <button id="send" type="submit">Ask</button>
    </div>
  </form>
</main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.current?.cancel();
  }
}
