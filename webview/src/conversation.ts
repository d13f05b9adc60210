/**
 * The conversation in the DOM: one question element and one answer element per entry, drawn from the host's
 * messages (a whole restored history, or a question then answer parts as they stream). Repository text only
 * reaches the DOM through renderMarkdown (sanitized) or textContent.
 */
import { renderAttentionMap } from "./attention-map";
import { splitMentions } from "./composer-logic";
import type { AnswerContent, ChatEntry, FileRef, IndexFacts } from "./protocol";
import { citationAnchor, renderMarkdown } from "./render";

export class Conversation {
  private readonly answers = new Map<string, HTMLElement>();
  /** Each answer's markdown, for its Copy button. */
  private readonly markdown = new Map<string, string>();
  private lastQuestion: HTMLElement | undefined;

  constructor(private readonly container: HTMLElement) {}

  clear(): void {
    this.container.replaceChildren();
    this.answers.clear();
    this.markdown.clear();
    this.lastQuestion = undefined;
  }

  restore(entries: ChatEntry[]): void {
    this.clear();
    for (const e of entries) {
      this.addQuestion(e.id, e.question);
      if (e.answer) this.renderAnswer(e.id, e.answer);
      if (e.state === "stopped") this.markStopped(e.id);
      if (e.state === "error") this.addError(e.id, e.error ?? "the answer failed");
    }
    this.scrollToEnd();
  }

  markdownOf(id: string): string | undefined {
    return this.markdown.get(id);
  }

  addQuestion(id: string, text: string): void {
    const div = document.createElement("div");
    div.className = "message question";
    div.dataset.id = id;
    for (const part of splitMentions(text)) {
      if (part.mention) {
        const span = document.createElement("span");
        span.className = "mention";
        span.textContent = part.text;
        div.appendChild(span);
      } else div.appendChild(document.createTextNode(part.text));
    }
    this.container.appendChild(div);
    this.lastQuestion = div;
    this.scrollToEnd();
  }

  private answerElement(id: string): HTMLElement {
    let el = this.answers.get(id);
    if (!el) {
      el = document.createElement("div");
      el.className = "message answer";
      el.dataset.id = id;
      this.answers.set(id, el);
      this.container.appendChild(el);
    }
    return el;
  }

  renderAnswer(id: string, m: AnswerContent, streaming = false): void {
    const el = this.answerElement(id);
    this.markdown.set(id, m.markdown);
    // A streamed answer is redrawn part by part: keep the index results open if the reader opened them.
    const factsOpen = el.querySelector<HTMLDetailsElement>("details.index-facts")?.open ?? false;
    el.replaceChildren();
    el.classList.toggle("streaming", streaming);
    el.dataset.source = m.source;
    const toolbar = document.createElement("div");
    toolbar.className = "answer-toolbar";
    const badge = document.createElement("vscode-tag");
    badge.className = m.source === "index" ? "badge" : "badge model";
    badge.textContent = m.source === "index" ? "index results" : "model";
    toolbar.appendChild(badge);
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy copy-answer";
    copy.textContent = "Copy";
    copy.title = "Copy answer (markdown)";
    copy.setAttribute("aria-label", "Copy answer");
    toolbar.appendChild(copy);
    el.appendChild(toolbar);
    if (m.notice) {
      const notice = document.createElement("div");
      notice.className = "notice";
      notice.setAttribute("role", "note");
      notice.textContent = m.notice;
      el.appendChild(notice);
    }
    const body = document.createElement("div");
    body.className = "body";
    body.appendChild(renderMarkdown(m.markdown, m.citations));
    el.appendChild(body);
    const map = m.attention ? renderAttentionMap(m.attention) : undefined;
    if (map) el.appendChild(map);
    else if (m.files.length) el.appendChild(filesList(m.files, m.citations));
    if (m.indexFacts) el.appendChild(indexFactsSection(m.indexFacts, factsOpen));
    // Long answers are read from the top: keep the question in view rather than the answer's last line.
    if (this.lastQuestion && el.offsetHeight > this.container.clientHeight) this.lastQuestion.scrollIntoView({ block: "start" });
    else this.scrollToEnd();
  }

  markStopped(id: string): void {
    const el = this.answerElement(id);
    el.classList.remove("streaming");
    el.classList.add("stopped");
    if (el.querySelector(".stopped-note")) return;
    const note = document.createElement("div");
    note.className = "stopped-note";
    note.textContent = "Stopped.";
    el.appendChild(note);
    this.scrollToEnd();
  }

  addError(id: string, message: string): void {
    this.answers.get(id)?.classList.remove("streaming");
    const div = document.createElement("div");
    div.className = "message error";
    div.dataset.id = id;
    div.textContent = `Error: ${message}`;
    this.container.appendChild(div);
    this.scrollToEnd();
  }

  private scrollToEnd(): void {
    this.container.scrollTop = this.container.scrollHeight;
  }
}

/** The index's results for the same question, under a model answer: collapsed, one click away. */
function indexFactsSection(facts: IndexFacts, open: boolean): HTMLElement {
  const details = document.createElement("details");
  details.className = "index-facts";
  details.open = open;
  const summary = document.createElement("summary");
  summary.textContent = "Index results";
  details.appendChild(summary);
  const body = document.createElement("div");
  body.className = "facts-body";
  body.appendChild(renderMarkdown(facts.markdown, facts.citations));
  details.appendChild(body);
  return details;
}

function filesList(files: FileRef[], citations: AnswerContent["citations"]): HTMLElement {
  const details = document.createElement("details");
  details.className = "files";
  const summary = document.createElement("summary");
  summary.textContent = `Read ${files.length} file${files.length === 1 ? "" : "s"}`;
  details.appendChild(summary);
  const multiRoot = new Set(files.map((f) => f.root)).size > 1;
  const list = document.createElement("ol");
  for (const f of [...files].sort((a, b) => (b.weight ?? 0) - (a.weight ?? 0))) {
    const li = document.createElement("li");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.setProperty("--w", `${Math.round((f.weight ?? 0) * 100)}%`);
    const first = citations.find((c) => c.root === f.root && c.path === f.path);
    li.appendChild(bar);
    li.appendChild(citationAnchor({ root: f.root, path: f.path, line: first?.line ?? 1 }, multiRoot ? `${f.root}/${f.path}` : f.path));
    list.appendChild(li);
  }
  details.appendChild(list);
  return details;
}
