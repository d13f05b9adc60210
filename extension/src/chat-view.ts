/**
 * The sidebar chat: a webview view with a strict Content-Security-Policy (nonce'd script, no inline code, no
 * remote origins). Questions go to the answerer; answers come back as markdown + structured citations, which
 * the webview renders sanitized and turns into links that open the cited location.
 *
 * The conversation lives here (ChatSession, saved in workspaceState), not in the webview: whenever a webview
 * (re)starts — the view reopened, VS Code restarted, webviews reloaded — it says "ready" and gets the whole
 * conversation back, including an answer still in progress.
 */
import crypto from "node:crypto";
import * as vscode from "vscode";
import { type HostMessage, type WebviewMessage, isWebviewMessage } from "../../webview/src/protocol";
import type { Answerer, SelectionContext } from "./answerer";
import type { ChatSession } from "./chat-session";
import type { IndexController } from "./index-controller";
import { openLocation } from "./locations";
import { mentionCompletions } from "./mentions";
import { type ModelSnapshot, modelView } from "./model-view";

/** What the chat needs of the model: its state for the model strip, and the strip's Stop/Resume. */
export interface ChatModel {
  snapshot(): ModelSnapshot;
  onDidChange: vscode.Event<ModelSnapshot>;
  stopReading(): void;
  resumeReading(): void;
}

export const CHAT_VIEW_ID = "longview.chat";

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private ready = false;
  private current: { id: string; cts: vscode.CancellationTokenSource } | undefined;
  private readonly modelSubscription: vscode.Disposable | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly controller: IndexController,
    private readonly answerer: Answerer,
    private readonly session: ChatSession,
    private readonly output: vscode.OutputChannel,
    private readonly model?: ChatModel,
  ) {
    for (const problem of session.loadProblems) output.appendLine(`[chat] ${problem}`);
    this.modelSubscription = model?.onDidChange((s) => this.post({ type: "model", model: modelView(s) }));
  }

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
  async ask(question: string, selection?: SelectionContext): Promise<void> {
    await this.reveal();
    await this.handleQuestion(question, selection);
  }

  async reveal(): Promise<void> {
    if (this.view) this.view.show(true);
    else await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
  }

  /** Stop any answer and forget the conversation (the view's "Clear" action). */
  async clear(): Promise<void> {
    this.stop();
    await this.session.clear();
    this.post({ type: "restore", entries: [], busy: false });
  }

  stop(): void {
    this.current?.cts.cancel();
  }

  /** Messages to a webview that is not ready are dropped: its "ready" brings the whole conversation. */
  private post(message: HostMessage): void {
    if (this.view && this.ready) void this.view.webview.postMessage(message);
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
        this.post({ type: "restore", entries: [...this.session.entries()], busy: this.current !== undefined });
        if (this.model) this.post({ type: "model", model: modelView(this.model.snapshot()) });
        break;
      case "ask":
        void this.handleQuestion(m.question);
        break;
      case "stop":
        this.stop();
        break;
      case "openCitation":
        void openLocation(this.controller, m);
        break;
      case "modelAction":
        if (m.action === "cancel") this.model?.stopReading();
        else this.model?.resumeReading();
        break;
      case "copy":
        void vscode.env.clipboard.writeText(m.text).then(undefined, (e: Error) => this.output.appendLine(`[chat] copy failed: ${e.message}`));
        break;
      case "complete": {
        const index = this.controller.index;
        this.post({ type: "completions", requestId: m.requestId, items: index ? mentionCompletions(index, m.query) : [] });
        break;
      }
    }
  }

  private async handleQuestion(question: string, selection?: SelectionContext): Promise<void> {
    const text = question.trim();
    if (!text) return;
    this.stop();
    const cts = new vscode.CancellationTokenSource();
    const entry = this.session.start(text);
    const id = entry.id;
    this.current = { id, cts };
    this.post({ type: "question", id, text });
    this.post({ type: "busy", busy: true });
    try {
      const parts = this.answerer.answer({ question: text, selection, onStatus: (status) => this.post({ type: "status", text: status }) }, cts.token);
      for await (const part of parts) {
        if (cts.token.isCancellationRequested) break;
        this.session.answer(id, part, part.done);
        this.post({ type: "answer", id, ...part });
      }
      if (cts.token.isCancellationRequested) {
        this.session.stop(id);
        this.post({ type: "stopped", id });
        this.output.appendLine(`[chat] answer ${id} stopped`);
      } else if (this.session.get(id)?.state === "answering") {
        // The answerer ended without a final part: keep what arrived, as done.
        const e = this.session.get(id);
        if (e?.answer) this.session.answer(id, e.answer, true);
        else this.session.fail(id, "no answer");
      }
    } catch (e) {
      this.output.appendLine(`[chat] answer failed: ${(e as Error).stack ?? e}`);
      this.session.fail(id, (e as Error).message);
      this.post({ type: "error", id, message: (e as Error).message });
    } finally {
      if (this.current?.id === id) this.current = undefined;
      cts.dispose();
      this.post({ type: "status", text: "" });
      if (!this.current) this.post({ type: "busy", busy: false });
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
  <div id="model" role="region" aria-label="Model" hidden></div>
  <div id="messages" role="log" aria-live="polite"></div>
  <div id="status" aria-live="polite"></div>
  <form id="composer">
    <ul id="mentions" role="listbox" aria-label="Mention suggestions" hidden></ul>
    <textarea id="question" rows="3" placeholder="Ask about this workspace… @ to mention a file or symbol" aria-label="Question" aria-autocomplete="list" aria-controls="mentions"></textarea>
    <div class="actions">
      <span class="hint">Enter send · Shift+Enter new line · ↑ recall · Esc stop</span>
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
    this.stop();
    this.modelSubscription?.dispose();
  }
}
