/**
 * The chat panel's script: a keyboard-first composer (Enter sends, Shift+Enter new line, Up/Down walk through
 * earlier questions, Escape stops an answer, "@" suggests files and symbols), the conversation, copy buttons
 * and citations that open files. The host owns the conversation; this script draws what it is sent.
 */
import { provideVSCodeDesignSystem, vsCodeProgressRing, vsCodeTag } from "@vscode/webview-ui-toolkit";
import { QuestionRecall, applyMention, mentionAt } from "./composer-logic";
import { Conversation } from "./conversation";
import { MentionPopup } from "./mention-popup";
import { ModelStrip } from "./model-strip";
import type { HostMessage, MentionItem, WebviewMessage } from "./protocol";

provideVSCodeDesignSystem().register(vsCodeProgressRing(), vsCodeTag());

declare function acquireVsCodeApi(): { postMessage(m: WebviewMessage): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

const messages = document.getElementById("messages") as HTMLDivElement;
const statusLine = document.getElementById("status") as HTMLDivElement;
const form = document.getElementById("composer") as HTMLFormElement;
const question = document.getElementById("question") as HTMLTextAreaElement;
const stop = document.getElementById("stop") as HTMLButtonElement;
const mentionList = document.getElementById("mentions") as HTMLUListElement;

const conversation = new Conversation(messages);
const modelStrip = new ModelStrip(document.getElementById("model") as HTMLDivElement, (action) => vscode.postMessage({ type: "modelAction", action }));
const recall = new QuestionRecall();
let busy = false;

/** The draft survives the webview being reloaded (VS Code keeps this state per view). */
const saved = vscode.getState() as { draft?: string } | undefined;
if (typeof saved?.draft === "string") question.value = saved.draft;
const saveDraft = () => vscode.setState({ draft: question.value });

function send(): void {
  const text = question.value.trim();
  if (!text) return;
  vscode.postMessage({ type: "ask", question: text });
  recall.reset();
  question.value = "";
  saveDraft();
  popup.hide();
}

function requestStop(): void {
  if (busy) vscode.postMessage({ type: "stop" });
}

// --- "@" mentions: ask the host for suggestions while a mention is being typed --------------------------------
let requestId = 0;
let completionTimer: ReturnType<typeof setTimeout> | undefined;

const popup = new MentionPopup(mentionList, question, (item: MentionItem) => {
  const at = mentionAt(question.value, question.selectionStart);
  if (!at) return popup.hide();
  const next = applyMention(question.value, question.selectionStart, at, item.insert);
  question.value = next.text;
  question.setSelectionRange(next.caret, next.caret);
  saveDraft();
  popup.hide();
});

function updateMentions(): void {
  const at = question.selectionStart === question.selectionEnd ? mentionAt(question.value, question.selectionStart) : undefined;
  if (!at) {
    popup.hide();
    return;
  }
  if (completionTimer) clearTimeout(completionTimer);
  completionTimer = setTimeout(() => vscode.postMessage({ type: "complete", requestId: ++requestId, query: at.fragment }), 60);
}

// --- keyboard -------------------------------------------------------------------------------------------------
function onFirstLine(): boolean {
  return !question.value.slice(0, question.selectionStart).includes("\n");
}

function onLastLine(): boolean {
  return !question.value.slice(question.selectionEnd).includes("\n");
}

question.addEventListener("keydown", (e) => {
  if (e.isComposing) return;
  if (popup.open) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      popup.move(e.key === "ArrowDown" ? 1 : -1);
      return;
    }
    if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
      if (popup.choose()) {
        e.preventDefault();
        return;
      }
    }
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      popup.hide();
      return;
    }
  }
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    send();
  } else if (e.key === "ArrowUp" && !e.shiftKey && (question.value === "" || (recall.recalling && onFirstLine()))) {
    const text = recall.older(question.value);
    if (text !== undefined) {
      e.preventDefault();
      question.value = text;
      question.setSelectionRange(text.length, text.length);
    }
  } else if (e.key === "ArrowDown" && !e.shiftKey && recall.recalling && onLastLine()) {
    const text = recall.newer();
    if (text !== undefined) {
      e.preventDefault();
      question.value = text;
      question.setSelectionRange(text.length, text.length);
    }
  } else if (e.key === "Escape" && busy) {
    e.preventDefault();
    requestStop();
  }
});
question.addEventListener("input", () => {
  recall.reset();
  saveDraft();
  updateMentions();
});
question.addEventListener("click", updateMentions);
question.addEventListener("blur", () => setTimeout(() => popup.hide(), 150));
// Escape stops an answer wherever the focus is in the panel.
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && busy && e.target !== question) requestStop();
});

form.addEventListener("submit", (e) => {
  e.preventDefault();
  send();
});
stop.addEventListener("click", requestStop);

// --- clicks inside answers: citations and copy buttons (delegated: answers are redrawn while streaming) --------
function flash(button: HTMLButtonElement): void {
  const label = button.textContent;
  button.textContent = "Copied";
  button.classList.add("done");
  setTimeout(() => {
    button.textContent = label;
    button.classList.remove("done");
  }, 1200);
}

messages.addEventListener("click", (e) => {
  const target = e.target as HTMLElement;
  const a = target.closest("a.citation") as HTMLAnchorElement | null;
  if (a) {
    e.preventDefault();
    vscode.postMessage({ type: "openCitation", root: a.dataset.root ?? "", path: a.dataset.path ?? "", line: Number(a.dataset.line) });
    return;
  }
  const button = target.closest("button.copy") as HTMLButtonElement | null;
  if (!button) return;
  let text: string | undefined;
  if (button.classList.contains("copy-code")) text = button.parentElement?.querySelector("pre")?.textContent ?? undefined;
  else {
    const id = (button.closest(".message.answer") as HTMLElement | null)?.dataset.id;
    text = id ? conversation.markdownOf(id) : undefined;
  }
  if (text === undefined) return;
  vscode.postMessage({ type: "copy", text });
  flash(button);
});

// --- messages from the host ------------------------------------------------------------------------------------
function setBusy(on: boolean): void {
  busy = on;
  stop.hidden = !on;
  if (!on) statusLine.replaceChildren();
  else if (!statusLine.firstChild) statusLine.appendChild(document.createElement("vscode-progress-ring"));
}

window.addEventListener("message", (event: MessageEvent<HostMessage>) => {
  const m = event.data;
  switch (m.type) {
    case "restore":
      conversation.restore(m.entries);
      recall.setHistory(m.entries.map((e) => e.question));
      setBusy(m.busy);
      break;
    case "question":
      // Every question counts for Up, also those asked from the palette or the editor.
      conversation.addQuestion(m.id, m.text);
      recall.remember(m.text);
      break;
    case "answer":
      conversation.renderAnswer(m.id, m, !m.done);
      break;
    case "stopped":
      conversation.markStopped(m.id);
      break;
    case "error":
      conversation.addError(m.id, m.message);
      break;
    case "busy":
      setBusy(m.busy);
      break;
    case "status": {
      if (!m.text) {
        if (busy) statusLine.replaceChildren(document.createElement("vscode-progress-ring"));
        else statusLine.replaceChildren();
        break;
      }
      const ring = document.createElement("vscode-progress-ring");
      const text = document.createElement("span");
      text.className = "status-text";
      text.textContent = m.text;
      statusLine.replaceChildren(ring, text);
      break;
    }
    case "model":
      modelStrip.render(m.model);
      break;
    case "completions":
      // Only the answer to the latest request counts; and only while a mention is still being typed.
      if (m.requestId === requestId && mentionAt(question.value, question.selectionStart)) popup.show(m.items);
      break;
  }
});

// Focus the composer when the view gets the focus (the user opened or clicked it), never on load: a webview
// restored in the background must not take the focus from whatever the user is typing into.
window.addEventListener("focus", () => {
  if (document.activeElement === document.body) question.focus();
});

vscode.postMessage({ type: "ready" });
