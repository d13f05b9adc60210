/**
 * Messages between the extension host and the chat webview, typed on both sides. The webview is untrusted
 * territory (it renders repository content), so the host validates everything it receives (see isWebviewMessage).
 */

export interface CitationLink {
  root: string;
  /** Workspace-folder-relative path. */
  path: string;
  /** 1-based. */
  line: number;
  endLine?: number;
}

export interface FileRef {
  root: string;
  path: string;
  /** Share of the answer's attention (model answers) or of its citations (index answers), 0..1. */
  weight?: number;
}

/** A definition inside a file of the attention map (when the model reports them). Line 1-based. */
export interface AttentionDefinition {
  name: string;
  line: number;
  /** Share of the answer's attention, 0..1 (of the whole answer, not of its file). */
  share: number;
}

/** A file of the attention map: how much of the answer's attention went to it. */
export interface AttentionFile {
  root: string;
  path: string;
  /** 0..1. */
  share: number;
  /** Where a click opens the file (1-based; default the first line). */
  line?: number;
  definitions?: AttentionDefinition[];
}

/** "What the model read" for one answer: files by attention mass, most first. */
export interface AttentionMap {
  files: AttentionFile[];
}

/** The index's own answer to the same question, shown under a model answer (collapsed). */
export interface IndexFacts {
  markdown: string;
  citations: CitationLink[];
}

/** An answer as far as it has arrived. */
export interface AnswerContent {
  /** Markdown; rendered sanitized. */
  markdown: string;
  citations: CitationLink[];
  /** "index": answered from the index, no model. */
  source: "index" | "model";
  files: FileRef[];
  /** Model answers: where the answer's attention went. */
  attention?: AttentionMap;
  /** Model answers: the index results for the same question. */
  indexFacts?: IndexFacts;
  /** Why this answer came from the index although a model is configured ("the model is still reading…"). */
  notice?: string;
}

/** The model's state as the panel shows it (the host computes the words; see extension/src/model-view.ts). */
export interface ModelView {
  kind: "off" | "loading" | "reading" | "paused" | "ready" | "updating" | "unavailable";
  /** One line for people: "Reading the repository: 42% · 2,410 tokens/s · about 0:12 left". */
  text: string;
  /** 0..100 while reading. */
  percent?: number;
  /** The reading can be stopped (reading, updating) or resumed (paused). */
  action?: "cancel" | "resume";
  /** A second, quieter line: the memory cap cut the repository short ("The model reads 180k of 420k tokens: …"). */
  notice?: string;
}

/** One question and its answer, as the conversation history keeps them. */
export interface ChatEntry {
  id: string;
  question: string;
  answer?: AnswerContent;
  /** "answering" only while an answer is in progress; "stopped": the user stopped it (or VS Code closed). */
  state: "answering" | "done" | "stopped" | "error";
  error?: string;
  /** ms since the epoch. */
  askedAt: number;
}

/** A suggestion for an "@" mention: a file of the index or a definition's name. */
export interface MentionItem {
  kind: "file" | "symbol";
  /** What the list shows. */
  label: string;
  /** Secondary text: a definition's kind and place, a file's folder. */
  detail: string;
  /** Text inserted after "@". */
  insert: string;
}

/** Host → webview. */
export type HostMessage =
  /** The whole conversation (on every "ready", and after "clear"): the webview redraws from it. */
  | { type: "restore"; entries: ChatEntry[]; busy: boolean }
  | { type: "question"; id: string; text: string }
  | ({ type: "answer"; id: string; done: boolean } & AnswerContent)
  | { type: "stopped"; id: string }
  | { type: "error"; id: string; message: string }
  | { type: "busy"; busy: boolean }
  | { type: "status"; text: string }
  | { type: "model"; model: ModelView }
  | { type: "completions"; requestId: number; items: MentionItem[] };

/** Webview → host. */
export type WebviewMessage =
  | { type: "ready" }
  | { type: "ask"; question: string }
  | { type: "stop" }
  | { type: "openCitation"; root: string; path: string; line: number }
  | { type: "copy"; text: string }
  | { type: "complete"; requestId: number; query: string }
  /** The model strip's button: stop reading the repository, or resume it. */
  | { type: "modelAction"; action: "cancel" | "resume" };

export const MAX_QUESTION_CHARS = 20_000;
export const MAX_COPY_CHARS = 2_000_000;
export const MAX_MENTION_QUERY_CHARS = 300;

export function isWebviewMessage(m: unknown): m is WebviewMessage {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case "ready":
    case "stop":
      return true;
    case "ask":
      return typeof o.question === "string" && o.question.length <= MAX_QUESTION_CHARS;
    case "openCitation":
      return typeof o.root === "string" && typeof o.path === "string" && Number.isInteger(o.line) && (o.line as number) >= 1;
    case "copy":
      return typeof o.text === "string" && o.text.length <= MAX_COPY_CHARS;
    case "complete":
      return Number.isSafeInteger(o.requestId) && typeof o.query === "string" && o.query.length <= MAX_MENTION_QUERY_CHARS;
    case "modelAction":
      return o.action === "cancel" || o.action === "resume";
    default:
      return false;
  }
}
