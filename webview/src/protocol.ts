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

/** Host → webview. */
export type HostMessage =
  | { type: "question"; id: string; text: string }
  | {
      type: "answer";
      id: string;
      /** Markdown; rendered sanitized. */
      markdown: string;
      citations: CitationLink[];
      /** "index": answered from the index, no model. */
      source: "index" | "model";
      files: FileRef[];
      done: boolean;
    }
  | { type: "error"; id: string; message: string }
  | { type: "busy"; busy: boolean }
  | { type: "status"; text: string };

/** Webview → host. */
export type WebviewMessage =
  | { type: "ready" }
  | { type: "ask"; question: string }
  | { type: "stop" }
  | { type: "openCitation"; root: string; path: string; line: number };

export function isWebviewMessage(m: unknown): m is WebviewMessage {
  if (typeof m !== "object" || m === null) return false;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case "ready":
    case "stop":
      return true;
    case "ask":
      return typeof o.question === "string" && o.question.length <= 20_000;
    case "openCitation":
      return typeof o.root === "string" && typeof o.path === "string" && Number.isInteger(o.line) && (o.line as number) >= 1;
    default:
      return false;
  }
}
