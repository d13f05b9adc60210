/**
 * Answers from the model, streamed, with the index's results for the same question under them; or, whenever the
 * model cannot answer (none, corrupt, Restricted Mode, still reading the repository, failed mid-answer), the index
 * answer at once with a notice that says why. Stop (the request's cancellation token) aborts the model's prefill of
 * the question and its generation.
 *
 * Citations: the model writes `path:line`; each citation event the worker sends (grounded in the index) becomes a
 * link only if the index holds that file and line. The attention map is the answer's read map (files, and in each
 * the definitions the answer read most). No `vscode` import beyond types: unit-tested with fakes.
 */
import type * as vscode from "vscode";
import type { ModelAnswer, ModelAnswerEvent, ModelAskOptions, ModelCitation, ModelFileRead } from "../../model-runtime/src/answer/model-client";
import { isCancellation } from "../../model-runtime/src/answer/model-client";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import type { AttentionDefinition, AttentionFile, AttentionMap, CitationLink } from "../../webview/src/protocol";
import type { AnswerPart, AnswerRequest, Answerer } from "./answerer";
import { type ModelSnapshot, indexFallbackNotice, modelCanAnswer } from "./model-view";

/** What the answerer needs of the model (ModelController provides it). */
export interface ModelAccess {
  snapshot(): ModelSnapshot;
  ask(question: string, opts: ModelAskOptions): AsyncIterable<ModelAnswerEvent>;
}

/** Streamed parts are sent at most this often (each redraws the answer's markdown in the webview). */
const STREAM_INTERVAL_MS = 80;

/** A model citation as a chat link, if the index knows the file and the line exists; the root found when missing. */
export function groundCitation(index: WorkspaceIndex | undefined, roots: string[], c: ModelCitation): CitationLink | undefined {
  if (!index || !Number.isInteger(c.line) || c.line < 1) return undefined;
  const candidates = c.root ? [c.root] : roots;
  for (const root of candidates) {
    const rec = index.get(root, c.path);
    if (rec && c.line <= Math.max(1, rec.lineCount)) return { root, path: c.path, line: c.line };
  }
  return undefined;
}

/**
 * The read map as the chat's attention map: a click on a file opens the first line the answer cited in that file; a
 * file's definitions (when the model reports them) are rows under it that open the definition's line.
 */
export function attentionMapOf(readMap: ModelFileRead[], citations: CitationLink[]): AttentionMap {
  return {
    files: readMap
      .filter((f) => f.share > 0)
      .map((f) => {
        const file: AttentionFile = { root: f.root, path: f.path, share: f.share, line: citations.find((c) => c.root === f.root && c.path === f.path)?.line };
        const definitions = definitionsOf(f);
        if (definitions.length) file.definitions = definitions;
        return file;
      }),
  };
}

/** Only what the webview renders, and only rows that can be opened (a name, a 1-based line, a share). */
function definitionsOf(f: ModelFileRead): AttentionDefinition[] {
  return (f.definitions ?? [])
    .filter((d) => d.name && Number.isInteger(d.line) && d.line >= 1 && d.share > 0)
    .map((d) => ({ name: d.name, line: d.line, share: d.share }))
    .sort((a, b) => b.share - a.share);
}

export class ModelAnswerer implements Answerer {
  constructor(
    private readonly model: ModelAccess,
    /** The index answerer: the fallback, and the "index results" under every model answer. */
    private readonly index: Answerer,
    private readonly workspace: () => { index: WorkspaceIndex | undefined; roots: string[] },
    private readonly log: (message: string) => void = () => undefined,
    /** longview.maxAnswerTokens, read per answer. */
    private readonly maxNewTokens: () => number | undefined = () => undefined,
  ) {}

  async *answer(request: AnswerRequest, token: vscode.CancellationToken): AsyncIterable<AnswerPart> {
    const snapshot = this.model.snapshot();
    if (!modelCanAnswer(snapshot)) {
      const notice = indexFallbackNotice(snapshot);
      for await (const part of this.index.answer(request, token)) yield notice ? { ...part, notice } : part;
      return;
    }

    // The index results first: they wait for the index to be idle and take milliseconds after that.
    let facts: AnswerPart | undefined;
    for await (const part of this.index.answer(request, token)) facts = part;
    if (token.isCancellationRequested) return;

    const abort = new AbortController();
    const onCancel = token.onCancellationRequested(() => abort.abort());
    const started = Date.now();
    let text = "";
    const citations: CitationLink[] = [];
    let lastSent = 0;
    const part = (done: boolean, answer?: ModelAnswer): AnswerPart => ({
      markdown: text,
      citations: [...citations],
      source: "model",
      files: [],
      attention: answer ? attentionMapOf(answer.readMap, citations) : undefined,
      indexFacts: facts ? { markdown: facts.markdown, citations: facts.citations } : undefined,
      done,
    });
    try {
      request.onStatus?.("The model is reading the question…");
      let first = true;
      for await (const ev of this.model.ask(request.question, { signal: abort.signal, maxNewTokens: this.maxNewTokens() })) {
        if (token.isCancellationRequested) return;
        if (ev.kind === "token") {
          if (first) {
            first = false;
            request.onStatus?.("");
          }
          text += ev.text;
          if (Date.now() - lastSent >= STREAM_INTERVAL_MS) {
            lastSent = Date.now();
            yield part(false);
          }
        } else if (ev.kind === "citation") {
          const { index, roots } = this.workspace();
          const link = groundCitation(index, roots, ev.citation);
          if (link) citations.push(link);
        } else {
          // The final text replaces the streamed one (special tokens removed, citations normalised by the worker).
          text = ev.answer.text;
          const { index, roots } = this.workspace();
          citations.length = 0;
          for (const c of ev.answer.citations) {
            const link = groundCitation(index, roots, c);
            if (link) citations.push(link);
          }
          const t = ev.answer.timings;
          this.log(
            `[model] answered in ${Date.now() - started} ms: first token ${Math.round(t.timeToFirstTokenMs)} ms, ${t.decodeTokens} tokens at ` +
              `${t.decodeTokensPerSecond.toFixed(1)}/s, ${citations.length}/${ev.answer.citations.length} citations grounded, stop: ${ev.answer.stop}`,
          );
          yield part(true, ev.answer);
          return;
        }
      }
      // The stream ended without "done" (should not happen): keep what arrived.
      yield part(true);
    } catch (e) {
      if (token.isCancellationRequested || isCancellation(e)) return;
      this.log(`[model] answer failed, falling back to the index: ${(e as Error).stack ?? e}`);
      const notice = `Answered from the index: the model failed while answering (${(e as Error).message}).`;
      if (facts) yield { ...facts, notice, done: true };
      else for await (const p of this.index.answer(request, token)) yield { ...p, notice };
    } finally {
      onCancel.dispose();
    }
  }
}
