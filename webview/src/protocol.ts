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

/** An answer as far as it has arrived. */
export interface AnswerContent {
  /** Markdown; rendered sanitized. */
  markdown: string;
  citations: CitationLink[];
  /** "index": answered from the index, no model. */
  source: "index" | "model";
  files: FileRef[];
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
  | { type: "completions"; requestId: number; items: MentionItem[] };

/** Webview → host. */
export type WebviewMessage =
  | { type: "ready" }
  | { type: "ask"; question: string }
  | { type: "stop" }
  | { type: "openCitation"; root: string; path: string; line: number }
  | { type: "copy"; text: string }
  | { type: "complete"; requestId: number; query: string };

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
    default:
      return false;
  }
}
