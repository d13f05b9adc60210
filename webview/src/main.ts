/** The chat panel's script: keyboard-first composer, streaming answers, citations that open files. */
import { provideVSCodeDesignSystem, vsCodeProgressRing, vsCodeTag } from "@vscode/webview-ui-toolkit";
import type { FileRef, HostMessage, WebviewMessage } from "./protocol";
import { citationAnchor, renderMarkdown } from "./render";

provideVSCodeDesignSystem().register(vsCodeProgressRing(), vsCodeTag());

declare function acquireVsCodeApi(): { postMessage(m: WebviewMessage): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

const messages = document.getElementById("messages") as HTMLDivElement;
const statusLine = document.getElementById("status") as HTMLDivElement;
const form = document.getElementById("composer") as HTMLFormElement;
const question = document.getElementById("question") as HTMLTextAreaElement;
const stop = document.getElementById("stop") as HTMLButtonElement;

const answers = new Map<string, HTMLElement>();

function send(): void {
  const text = question.value.trim();
  if (!text) return;
  vscode.postMessage({ type: "ask", question: text });
  question.value = "";
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  send();
});
question.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
stop.addEventListener("click", () => vscode.postMessage({ type: "stop" }));

// Citation clicks (delegated: answers are re-rendered while streaming).
messages.addEventListener("click", (e) => {
  const a = (e.target as HTMLElement).closest("a.citation") as HTMLAnchorElement | null;
  if (!a) return;
  e.preventDefault();
  vscode.postMessage({ type: "openCitation", root: a.dataset.root ?? "", path: a.dataset.path ?? "", line: Number(a.dataset.line) });
});

function scrollToEnd(): void {
  messages.scrollTop = messages.scrollHeight;
}

let lastQuestion: HTMLElement | undefined;

function addQuestion(text: string): void {
  const div = document.createElement("div");
  div.className = "message question";
  div.textContent = text;
  messages.appendChild(div);
  lastQuestion = div;
  scrollToEnd();
}

function filesList(files: FileRef[], citations: Extract<HostMessage, { type: "answer" }>["citations"]): HTMLElement {
  const details = document.createElement("details");
  details.className = "files";
  const summary = document.createElement("summary");
  summary.textContent = `Read ${files.length} file${files.length === 1 ? "" : "s"}`;
  details.appendChild(summary);
  const list = document.createElement("ol");
  for (const f of [...files].sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))) {
    const li = document.createElement("li");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.setProperty("--w", `${Math.round((f.weight ?? 0) * 100)}%`);
    const first = citations.find((c) => c.root === f.root && c.path === f.path);
    li.appendChild(bar);
    li.appendChild(citationAnchor({ root: f.root, path: f.path, line: first?.line ?? 1 }, f.path));
    list.appendChild(li);
  }
  details.appendChild(list);
  return details;
}

function renderAnswer(m: Extract<HostMessage, { type: "answer" }>): void {
  let el = answers.get(m.id);
  if (!el) {
    el = document.createElement("div");
    el.className = "message answer";
    answers.set(m.id, el);
    messages.appendChild(el);
  }
  el.replaceChildren();
  if (m.source === "index") {
    const badge = document.createElement("vscode-tag");
    badge.className = "badge";
    badge.textContent = "index results";
    el.appendChild(badge);
  }
  const body = document.createElement("div");
  body.className = "body";
  body.appendChild(renderMarkdown(m.markdown, m.citations));
  el.appendChild(body);
  if (m.files.length) el.appendChild(filesList(m.files, m.citations));
  // Long answers are read from the top: keep the question in view rather than the answer's last line.
  if (lastQuestion && el.offsetHeight > messages.clientHeight) lastQuestion.scrollIntoView({ block: "start" });
  else scrollToEnd();
}

window.addEventListener("message", (event: MessageEvent<HostMessage>) => {
  const m = event.data;
  switch (m.type) {
    case "question":
      addQuestion(m.text);
      break;
    case "answer":
      renderAnswer(m);
      break;
    case "error": {
      const div = document.createElement("div");
      div.className = "message error";
      div.textContent = `Error: ${m.message}`;
      messages.appendChild(div);
      break;
    }
    case "busy":
      stop.hidden = !m.busy;
      statusLine.replaceChildren();
      if (m.busy) {
        const ring = document.createElement("vscode-progress-ring");
        statusLine.appendChild(ring);
      }
      break;
    case "status":
      statusLine.textContent = m.text;
      break;
  }
});

vscode.postMessage({ type: "ready" });
question.focus();
