/**
 * Scores of one answer. Citation tasks, over the first k distinct citations: for a question with ONE right answer
 * (where X is defined, which definition a description fits — several definitions of X all count as right) top-k is
 * whether a right one is among them (hit@k); for a LIST question (what X calls, who uses X) it is the share of them
 * that are right out of min(k, number of right ones) (precision@k). Prose tasks: ROUGE-L F1 on words (longest
 * common subsequence, Lin 2004).
 */
import type { CitationRef } from "../training-data/answer-format";

function key(c: CitationRef): string {
  return `${c.path.replace(/^\.\//, "")}:${c.line}`;
}

export type TopKMode = "hit" | "precision";

export function topK(cited: readonly CitationRef[], truth: readonly CitationRef[], k: number, mode: TopKMode = "precision"): number {
  if (truth.length === 0) return 0;
  const right = new Set(truth.map(key));
  const distinct: string[] = [];
  for (const c of cited) {
    const kc = key(c);
    if (!distinct.includes(kc)) distinct.push(kc);
    if (distinct.length >= k) break;
  }
  const hits = distinct.filter((d) => right.has(d)).length;
  if (mode === "hit") return hits > 0 ? 1 : 0;
  return hits / Math.min(k, right.size);
}

/** Lower-cased words: letters and digits (identifiers split at `_` stay whole words). */
export function words(text: string): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length > 0);
}

/** Length of the longest common subsequence (O(n·m) time, O(m) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

export interface RougeL {
  precision: number;
  recall: number;
  f1: number;
}

export function rougeL(candidate: string, reference: string): RougeL {
  const c = words(candidate);
  const r = words(reference);
  const l = lcsLength(c, r);
  if (l === 0) return { precision: 0, recall: 0, f1: 0 };
  const precision = l / c.length;
  const recall = l / r.length;
  return { precision, recall, f1: (2 * precision * recall) / (precision + recall) };
}
