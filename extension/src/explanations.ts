/**
 * The model's one-line explanations for hovers: computed lazily with a small budget, cached per symbol and file
 * version (the defining file's content hash), shared between hovers that ask for the same symbol at once, and
 * cancelled when every hover waiting for it has gone away. No `vscode` import: unit-tested with a fake model.
 */
import type { ModelAnswerEvent, ModelAskOptions } from "../../model-runtime/src/answer/model-client";

/** What the hover asks about: a definition of the index, with its file's content hash. */
export interface ExplainTarget {
  name: string;
  root: string;
  path: string;
  /** 0-based line of the name. */
  line: number;
  /** FileRecord.hash of the defining file: an edit of that file gives a new explanation. */
  fileHash: string;
}

export interface ExplainBudget {
  /** Tokens the model may write (default 48). */
  maxNewTokens: number;
  /** Wall-clock limit; what arrived by then is kept (default 8 s). */
  timeoutMs: number;
}

export const DEFAULT_EXPLAIN_BUDGET: ExplainBudget = { maxNewTokens: 48, timeoutMs: 8_000 };
const MAX_CHARS = 240;
const MAX_ENTRIES = 500;

export function explainKey(t: ExplainTarget): string {
  return [t.root, t.path, t.name, t.line, t.fileHash].join("\u0000");
}

/** The first sentence or line of the model's text, whitespace-collapsed and capped. */
export function oneLine(text: string): string {
  const flat = text.replace(/\r/g, "").split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
  const sentence = /^(.+?[.!?])(\s|$)/.exec(flat)?.[1] ?? flat;
  return sentence.length > MAX_CHARS ? `${sentence.slice(0, MAX_CHARS - 1)}…` : sentence;
}

type Explain = (symbol: string, opts: ModelAskOptions) => AsyncIterable<ModelAnswerEvent>;

interface Pending {
  promise: Promise<string | undefined>;
  abort: AbortController;
  waiters: number;
}

export class ExplanationCache {
  private readonly done = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly explain: Explain,
    private readonly budget: ExplainBudget = DEFAULT_EXPLAIN_BUDGET,
  ) {}

  /** A finished explanation, without asking the model. */
  cached(target: ExplainTarget): string | undefined {
    return this.done.get(explainKey(target));
  }

  get size(): number {
    return this.done.size;
  }

  /**
   * The explanation (from the cache, or the model within the budget); undefined when `signal` aborted first or the
   * model had nothing to say. The model's work stops when every caller waiting for this target aborted.
   */
  async get(target: ExplainTarget, signal: AbortSignal): Promise<string | undefined> {
    const key = explainKey(target);
    const hit = this.done.get(key);
    if (hit !== undefined) return hit;
    if (signal.aborted) return undefined;
    let p = this.pending.get(key);
    if (!p) {
      const abort = new AbortController();
      p = { abort, waiters: 0, promise: this.compute(key, target, abort) };
      this.pending.set(key, p);
    }
    const entry = p;
    entry.waiters++;
    return new Promise<string | undefined>((resolve) => {
      const onAbort = () => {
        if (--entry.waiters === 0) entry.abort.abort();
        resolve(undefined);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      entry.promise.then(
        (text) => {
          signal.removeEventListener("abort", onAbort);
          if (!signal.aborted) {
            entry.waiters--;
            resolve(text);
          }
        },
        () => resolve(undefined),
      );
    });
  }

  private async compute(key: string, target: ExplainTarget, abort: AbortController): Promise<string | undefined> {
    let text = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.budget.timeoutMs);
    try {
      for await (const ev of this.explain(target.name, { maxNewTokens: this.budget.maxNewTokens, signal: abort.signal })) {
        if (ev.kind === "token") {
          text += ev.text;
          // One line is all a hover shows: stop the model once it has written one.
          if (/\S[^\n]*\n/.test(text)) {
            abort.abort();
            break;
          }
        } else if (ev.kind === "done") text = ev.answer.text;
      }
    } catch (e) {
      // Aborted by the budget: keep what arrived. Aborted because every hover went away: nothing to cache.
      if (!timedOut) {
        this.pending.delete(key);
        if (abort.signal.aborted) return undefined;
        throw e;
      }
    } finally {
      clearTimeout(timer);
    }
    this.pending.delete(key);
    const line = oneLine(text);
    if (line) this.remember(key, line);
    return line || undefined;
  }

  private remember(key: string, line: string): void {
    if (this.done.size >= MAX_ENTRIES) this.done.delete(this.done.keys().next().value as string);
    this.done.set(key, line);
  }

  clear(): void {
    for (const p of this.pending.values()) p.abort.abort();
    this.pending.clear();
    this.done.clear();
  }
}
