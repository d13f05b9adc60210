/**
 * Who answers questions. Until a model is loaded (or when it cannot be), the index answers: real lookups
 * with citations, labelled "index results".
 */
import type * as vscode from "vscode";
import { answerFromIndex } from "../../model-runtime/src/answer/index-answer";
import type { HostMessage } from "../../webview/src/protocol";
import type { IndexController } from "./index-controller";

export type AnswerPart = Omit<Extract<HostMessage, { type: "answer" }>, "type" | "id">;

export interface Answerer {
  answer(question: string, token: vscode.CancellationToken): AsyncIterable<AnswerPart>;
}

export class IndexAnswerer implements Answerer {
  constructor(private readonly controller: IndexController) {}

  async *answer(question: string): AsyncIterable<AnswerPart> {
    await this.controller.whenIdle();
    const index = this.controller.index;
    if (!index) {
      yield { markdown: "Open a folder to let Longview index it.", citations: [], source: "index", files: [], done: true };
      return;
    }
    const a = answerFromIndex(index, question);
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
}
