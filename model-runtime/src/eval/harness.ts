/**
 * The evaluation: held-out repositories laid out at several context lengths (the "needle curve": 16k, 64k, 256k, 1M
 * tokens where the repository is big enough), the same kinds of questions the model is trained on, every answerer
 * asked every question it applies to, and the scores per task and length.
 *
 * A context of length L is the repository laid out with a budget of L tokens (the layout keeps the most-imported
 * files), with 2 × `perTask` doc comments removed for (b) and (c). A length is evaluated when the repository fills
 * at least `minFill` of it. Questions and removed docs are drawn with a seed from the repository's id and the
 * length, so every run (and every answerer) sees the same ones.
 */
import { EncodingCache } from "../layout/tokens";
import { SourceParser } from "../parse/extract";
import type { CodeTokenizer } from "../tokenizer";
import { parseCitations, answerProse } from "../training-data/answer-format";
import type { RepoUnit } from "../training-data/corpus-units";
import { buildContext } from "../training-data/context";
import { SubsetPicker } from "../training-data/file-subset";
import { indexUnit } from "../training-data/repo-files";
import { pickDocs, questionsFor } from "../training-data/sample";
import { CITATION_TASKS, QA_TASKS, type QaTask } from "../training-data/tasks";
import { unitSeed } from "../training-data/pipeline";
import type { Answerer } from "./answerer";
import { rougeL, topK } from "./metrics";

export const DEFAULT_BUCKETS = [16_384, 65_536, 262_144, 1_048_576];

export interface EvalOptions {
  units: RepoUnit[];
  answerers: readonly Answerer[];
  tokenizer: CodeTokenizer;
  buckets?: number[];
  /** Questions per task and context. */
  perTask?: number;
  /** Only these tasks' questions are asked (default: all). */
  tasks?: readonly QaTask[];
  /** Smallest share of a bucket the repository must fill. */
  minFill?: number;
  blockSize?: number;
  anchorGroups?: number;
  seed?: number;
  threads?: number;
  indexStoreDir?: (unit: RepoUnit) => string | undefined;
  log?: (message: string) => void;
}

export interface QuestionResult {
  unit: string;
  bucket: number;
  task: QaTask;
  answerer: string;
  top1?: number;
  top5?: number;
  rougeL?: number;
  millis: number;
  /** For reading failures in the --json output: the question, the answer's text (cut) and the expected citations. */
  question?: string;
  answer?: string;
  truth?: string[];
}

export interface ContextInfo {
  unit: string;
  bucket: number;
  tokens: number;
  files: number;
  questions: Record<string, number>;
  docsRemoved: number;
  millis: number;
}

export interface EvalResult {
  results: QuestionResult[];
  contexts: ContextInfo[];
  skipped: Array<{ unit: string; reason: string }>;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runEval(opts: EvalOptions): Promise<EvalResult> {
  const log = opts.log ?? (() => {});
  const buckets = opts.buckets ?? DEFAULT_BUCKETS;
  const perTask = opts.perTask ?? 20;
  const minFill = opts.minFill ?? 0.5;
  const B = opts.blockSize ?? 64;
  const tools = { tokenizer: opts.tokenizer, cache: new EncodingCache(16_000_000), parser: new SourceParser() };
  const out: EvalResult = { results: [], contexts: [], skipped: [] };
  for (const unit of opts.units) {
    let repo;
    try {
      repo = await indexUnit(unit, { threads: opts.threads ?? 1, storeDir: opts.indexStoreDir?.(unit) });
    } catch (e) {
      out.skipped.push({ unit: unit.id, reason: `index failed: ${(e as Error).message}` });
      continue;
    }
    const total = new SubsetPicker(repo.records).totalTokens;
    const fitting = buckets.filter((L) => total >= minFill * L);
    if (fitting.length === 0) {
      out.skipped.push({ unit: unit.id, reason: `~${total} tokens: too small for the ${buckets[0]}-token bucket` });
      continue;
    }
    for (const L of fitting) {
      const t0 = performance.now();
      const rand = mulberry32(unitSeed(opts.seed ?? 1, `${unit.id}@${L}`));
      // Room for one question and its answer after the repository, as at inference.
      const ctx = await buildContext(repo, repo.records, { blockSize: B, maxTokens: L - 512 }, tools, pickDocs(2 * perTask, rand));
      // What the layout keeps (not the files on disk: big data files stay out) decides whether the length is filled.
      if (ctx.layout.numTokens < minFill * L) {
        if (L === fitting[0]) out.skipped.push({ unit: unit.id, reason: `lays out ${ctx.layout.numTokens} tokens: under ${minFill} of ${L}` });
        break;
      }
      const items = questionsFor(ctx, Object.fromEntries(QA_TASKS.map((t) => [t, perTask])) as Record<QaTask, number>, rand);
      const counts: Record<string, number> = {};
      for (const item of items) {
        if (opts.tasks && !opts.tasks.includes(item.task)) continue;
        counts[item.task] = (counts[item.task] ?? 0) + 1;
        for (const a of opts.answerers) {
          if (a.tasks && !a.tasks.includes(item.task)) continue;
          const q0 = performance.now();
          const text = await a.answer(ctx.layout, item.question, ctx);
          const r: QuestionResult = { unit: unit.id, bucket: L, task: item.task, answerer: a.name, millis: performance.now() - q0, question: item.question, answer: text.slice(0, 600) };
          if (CITATION_TASKS.has(item.task)) {
            const cited = parseCitations(text);
            const mode = item.task === "whatCalls" || item.task === "whoUses" ? "precision" : "hit";
            r.top1 = topK(cited, item.truth, 1, mode);
            r.top5 = topK(cited, item.truth, 5, mode);
            r.truth = item.truth.slice(0, 5).map((t) => `${t.path}:${t.line}`);
          } else {
            r.rougeL = rougeL(answerProse(text), item.reference ?? "").f1;
          }
          out.results.push(r);
        }
      }
      const info: ContextInfo = {
        unit: unit.id,
        bucket: L,
        tokens: ctx.layout.numTokens,
        files: ctx.layout.fileBlocks().length,
        questions: counts,
        docsRemoved: ctx.removed.length,
        millis: performance.now() - t0,
      };
      out.contexts.push(info);
      log(`${unit.id} @ ${L}: ${info.tokens} tokens, ${info.files} files, questions ${JSON.stringify(counts)} (${(info.millis / 1000).toFixed(1)} s)`);
    }
  }
  for (const a of opts.answerers) await a.dispose?.();
  return out;
}

export interface TableCell {
  n: number;
  top1?: number;
  top5?: number;
  rougeL?: number;
}

/** Mean scores per (task, answerer, bucket). */
export function aggregate(results: readonly QuestionResult[]): Map<string, TableCell> {
  const cells = new Map<string, TableCell & { s1: number; s5: number; sr: number }>();
  for (const r of results) {
    const k = `${r.task}\u0000${r.answerer}\u0000${r.bucket}`;
    const c = cells.get(k) ?? cells.set(k, { n: 0, s1: 0, s5: 0, sr: 0 }).get(k)!;
    c.n++;
    c.s1 += r.top1 ?? 0;
    c.s5 += r.top5 ?? 0;
    c.sr += r.rougeL ?? 0;
  }
  const out = new Map<string, TableCell>();
  for (const [k, c] of cells) {
    const task = k.split("\u0000")[0] as QaTask;
    out.set(k, CITATION_TASKS.has(task) ? { n: c.n, top1: c.s1 / c.n, top5: c.s5 / c.n } : { n: c.n, rougeL: c.sr / c.n });
  }
  return out;
}
