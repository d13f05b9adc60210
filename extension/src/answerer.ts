/**
 * Who answers questions. Until a model is loaded (or when it cannot be), the index answers: real lookups
 * with citations, labelled "index results". Every answer is cancellable: a request that is still waiting for
 * the index to finish building stops waiting at once when its token is cancelled.
 */
import type * as vscode from "vscode";
import { type IndexAnswer, answerFromIndex } from "../../model-runtime/src/answer/index-answer";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import type { AnswerContent } from "../../webview/src/protocol";
import type { IndexController, IndexState } from "./index-controller";
import { parseMentions, resolveScope } from "./mentions";
import { answerInScope } from "./scoped-answer";

export type AnswerPart = AnswerContent & { done: boolean };

/** Code the user selected in an editor (Ask About Selection). Lines are 1-based. */
export interface SelectionContext {
  root: string;
  path: string;
  startLine: number;
  endLine: number;
  text: string;
}

export interface AnswerRequest {
  question: string;
  selection?: SelectionContext;
  /** Progress worth showing while nothing can be answered yet ("waiting for the index: 40%"). */
  onStatus?: (text: string) => void;
}

export interface Answerer {
  answer(request: AnswerRequest, token: vscode.CancellationToken): AsyncIterable<AnswerPart>;
}

const MAX_SELECTION_SYMBOLS = 4;
const STATUS_INTERVAL_MS = 200;

function indexingText(state: IndexState): string | undefined {
  if (state.kind !== "indexing") return undefined;
  const p = state.progress;
  return p.phase === "parsing" && p.filesTotal ? `Waiting for the index: ${p.filesDone}/${p.filesTotal} files…` : `Waiting for the index (${p.phase})…`;
}

/** Names used in `text` that the index defines, in order of first use. */
export function definedNamesIn(index: WorkspaceIndex, text: string, limit = MAX_SELECTION_SYMBOLS): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/[A-Za-z_$][\w$]*/g)) {
    const name = m[0];
    if (out.includes(name) || name.length < 2) continue;
    if (index.find(name, { limit: 1 })[0]?.definition.name === name) out.push(name);
    if (out.length >= limit) break;
  }
  return out;
}

export class IndexAnswerer implements Answerer {
  constructor(private readonly controller: IndexController) {}

  async *answer(request: AnswerRequest, token: vscode.CancellationToken): AsyncIterable<AnswerPart> {
    if (!(await this.waitForIndex(request, token))) return;
    const index = this.controller.index;
    if (!index) {
      yield { markdown: "Open a folder to let Longview index it.", citations: [], source: "index", files: [], done: true };
      return;
    }
    const a = request.selection ? this.aboutSelection(index, request.selection, request.question) : this.aboutQuestion(index, request.question);
    if (token.isCancellationRequested) return;
    const counts = new Map<string, number>();
    for (const c of a.citations) counts.set(`${c.root}\u0000${c.path}`, (counts.get(`${c.root}\u0000${c.path}`) ?? 0) + 1);
    const total = a.citations.length || 1;
    yield {
      markdown: a.markdown,
      citations: a.citations,
      source: "index",
      files: a.files.map((f) => ({ ...f, weight: (counts.get(`${f.root}\u0000${f.path}`) ?? 0) / total })),
      done: true,
    };
  }

  /** Resolves true once the index is idle, false as soon as the request is cancelled. */
  private async waitForIndex(request: AnswerRequest, token: vscode.CancellationToken): Promise<boolean> {
    if (token.isCancellationRequested) return false;
    let lastStatus = 0;
    const report = (state: IndexState, force = false) => {
      const text = indexingText(state);
      if (!text || !request.onStatus || (!force && Date.now() - lastStatus < STATUS_INTERVAL_MS)) return;
      lastStatus = Date.now();
      request.onStatus(text);
    };
    report(this.controller.state, true);
    const progress = this.controller.onDidChangeState((s) => report(s));
    let onCancel: vscode.Disposable | undefined;
    try {
      const cancelled = new Promise<boolean>((resolve) => {
        onCancel = token.onCancellationRequested(() => resolve(false));
      });
      return await Promise.race([this.controller.whenIdle().then(() => !token.isCancellationRequested), cancelled]);
    } finally {
      progress.dispose();
      onCancel?.dispose();
    }
  }

  private aboutQuestion(index: WorkspaceIndex, question: string): IndexAnswer {
    const parsed = parseMentions(question);
    if (parsed.mentions.length === 0) return answerFromIndex(index, question);
    return answerInScope(index, parsed.text, resolveScope(index, parsed.mentions));
  }

  /** What the selected code uses, each definition with its place; the selection itself cited first. */
  private aboutSelection(index: WorkspaceIndex, sel: SelectionContext, question: string): IndexAnswer {
    const names = definedNamesIn(index, sel.text);
    const a = names.length ? answerInScope(index, "", { files: [], symbols: names, unknown: [] }) : answerFromIndex(index, question);
    const inside = index.definitionAt(sel.root, sel.path, sel.startLine - 1);
    const where = inside ? `, inside ${inside.kind} \`${inside.name.replace(/`/g, "")}\`` : "";
    const head = `**Selection** ${sel.path}:${sel.startLine}${where}` + (names.length ? ` uses ${names.map((n) => `\`${n}\``).join(", ")}.` : ".");
    const selection = { root: sel.root, path: sel.path, line: sel.startLine, endLine: sel.endLine };
    const files = a.files.some((f) => f.root === sel.root && f.path === sel.path) ? a.files : [{ root: sel.root, path: sel.path }, ...a.files];
    return { ...a, markdown: `${head}\n\n${a.markdown}`, citations: [selection, ...a.citations], files };
  }
}
