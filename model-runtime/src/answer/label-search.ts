/**
 * Label search: which definitions does the model think the answer names, in order of its own probability?
 *
 * For a question whose answer is ONE definition ("where is X defined", "which code does this describe"), the answer's
 * first line is `label <|cite|>…` (answer-format.ts) and the label is a definition's name as the training answers
 * write it (`name` or `Container.name`). Greedy decoding commits to the first token and can wander off into a name
 * that does not exist; here the model's probability of writing each laid-out definition's label is searched exactly,
 * best first, over a trie of the labels' token ids (the constrained beam search of generative retrieval, e.g. GENRE,
 * De Cao et al. 2021). Log-probabilities only fall along a path, so labels come out in the model's order and the
 * search stops after `k` of them or `maxExpansions` model calls (each call feeds one trie path after the question).
 */
import { definitionLabel } from "../training-data/questions";
import type { CitationTarget } from "./grounded-citations";
import { descend } from "./token-trie";

interface TrieNode {
  children: Map<number, TrieNode>;
  /** The label whose ids end here, with the files defining it. */
  label?: string;
  files: CitationTarget[];
}

const newNode = (): TrieNode => ({ children: new Map(), files: [] });

export interface LabelledFileDefinitions {
  file: CitationTarget;
  definitions: ReadonlyArray<{ name: string; container?: string }>;
}

/** Every definition label of the laid-out files as token ids (`label ` encoded as the answer format encodes it). */
export class LabelTrie {
  readonly root = newNode();
  size = 0;
  private readonly byLabel = new Map<string, { ids: number[]; files: CitationTarget[] }>();

  static build(files: Iterable<LabelledFileDefinitions>, encode: (text: string) => ArrayLike<number>): LabelTrie {
    const trie = new LabelTrie();
    const byLabel = new Map<string, CitationTarget[]>();
    for (const { file, definitions } of files) {
      for (const d of definitions) {
        // The bare name, and the label the training answers give it (Container.name where it has a container).
        for (const l of new Set([d.name, definitionLabel(d)])) {
          const list = byLabel.get(l) ?? [];
          if (!list.some((f) => f.root === file.root && f.path === file.path)) list.push(file);
          byLabel.set(l, list);
        }
      }
    }
    for (const [label, targets] of byLabel) if (label && !/[\s]/.test(label)) trie.add(label, encode(`${label} `), targets);
    return trie;
  }

  private add(label: string, ids: ArrayLike<number>, files: CitationTarget[]): void {
    if (ids.length === 0) return;
    const node = descend(this.root, ids, newNode);
    if (!node.label) this.size++;
    node.label = label;
    node.files = files;
    this.byLabel.set(label, { ids: Array.from(ids), files });
  }

  /** A label's token ids and files, or undefined when no laid-out definition has it. */
  find(label: string): { ids: number[]; files: CitationTarget[] } | undefined {
    return this.byLabel.get(label);
  }
}

/**
 * The labels of `definitions` that the trie holds (`Container.name`, else the bare name), in order, once each and
 * none already in `taken`: a retriever's hits as label-search candidates.
 */
export function labelsOf(trie: LabelTrie, definitions: ReadonlyArray<{ name: string; container?: string }>, taken: ReadonlyArray<{ label: string }>): Array<{ label: string; ids: number[]; files: CitationTarget[] }> {
  const out: Array<{ label: string; ids: number[]; files: CitationTarget[] }> = [];
  const seen = new Set(taken.map((t) => t.label));
  for (const d of definitions) {
    const label = labelOf(trie, d);
    if (!label || seen.has(label) || seen.has(d.name)) continue;
    seen.add(label);
    out.push({ label, ...trie.find(label)! });
  }
  return out;
}

/** The label a definition goes by in `trie` (`Container.name`, else `name`), or undefined when it is not laid out. */
export function labelOf(trie: LabelTrie, d: { name: string; container?: string }): string | undefined {
  return [definitionLabel(d), d.name].find((l) => trie.find(l));
}

export interface RankedLabel {
  label: string;
  /** The model's log-probability of writing `label ` first. */
  logprob: number;
  /** Its token ids (to force it as the answer's first label). */
  ids: number[];
  files: CitationTarget[];
}

export interface LabelSearchOptions {
  k: number;
  /** Model calls at most (the root's logits are given). */
  maxExpansions: number;
  /**
   * Logits of the answer's first token for a content-free question: when given, the search goes best first by
   * log P(label) − log P_prior(first token), so names whose first token the model writes whatever is asked (a
   * namespace, `main`) do not fill the shortlist. The offset is fixed once the first token is chosen, so labels still
   * come out in order of that score; `logprob` stays the model's own.
   */
  firstTokenPrior?: Float32Array;
}

/**
 * The `k` most probable labels, best first. `firstLogits`: the logits of the answer's first token; `logitsAfter(ids)`:
 * the logits after the answer so far is `ids` (the caller feeds them after the question and rewinds).
 */
export async function rankLabels(trie: LabelTrie, firstLogits: Float32Array, logitsAfter: (ids: number[]) => Promise<Float32Array>, opts: LabelSearchOptions): Promise<RankedLabel[]> {
  type Entry = { node: TrieNode; ids: number[]; logprob: number; priority: number };
  const queue: Entry[] = [];
  const push = (e: Entry) => {
    let i = queue.length;
    while (i > 0 && queue[i - 1].priority < e.priority) i--;
    queue.splice(i, 0, e);
  };
  const prior = opts.firstTokenPrior;
  const priorLse = prior ? logSumExp(prior) : 0;
  const expand = (e: Entry, logits: Float32Array) => {
    const lse = logSumExp(logits);
    for (const [id, child] of e.node.children) {
      const l = logits[id];
      if (!Number.isFinite(l)) continue;
      const logprob = e.logprob + l - lse;
      // The first token's prior is subtracted once; deeper tokens add their own log-probability to both.
      const offset = e.ids.length === 0 && prior ? prior[id] - priorLse : 0;
      push({ node: child, ids: [...e.ids, id], logprob, priority: e.priority + (logprob - e.logprob) - offset });
    }
  };
  const out: RankedLabel[] = [];
  expand({ node: trie.root, ids: [], logprob: 0, priority: 0 }, firstLogits);
  let calls = 0;
  while (queue.length && out.length < opts.k) {
    const e = queue.shift()!;
    if (e.node.label) out.push({ label: e.node.label, logprob: e.logprob, ids: e.ids, files: e.node.files });
    if (e.node.children.size === 0 || out.length >= opts.k) continue;
    if (calls >= opts.maxExpansions) break;
    calls++;
    expand(e, await logitsAfter(e.ids));
  }
  return out;
}

function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/**
 * The log-probability of writing each of `labels` (their ids) first, given other logits: `firstLogits` and
 * `logitsAfter` as for rankLabels (prefixes shared by several labels are fed once).
 */
export async function scoreLabels(labels: ReadonlyArray<{ ids: readonly number[] }>, firstLogits: Float32Array, logitsAfter: (ids: number[]) => Promise<Float32Array>): Promise<number[]> {
  const logSoftmaxOf = new Map<string, { logits: Float32Array; lse: number }>();
  const at = async (prefix: number[]) => {
    const key = prefix.join(",");
    let e = logSoftmaxOf.get(key);
    if (!e) {
      const logits = prefix.length === 0 ? firstLogits : await logitsAfter(prefix);
      logSoftmaxOf.set(key, (e = { logits, lse: logSumExp(logits) }));
    }
    return e;
  };
  const out: number[] = [];
  for (const { ids } of labels) {
    let lp = 0;
    for (let i = 0; i < ids.length; i++) {
      const { logits, lse } = await at(ids.slice(0, i));
      lp += logits[ids[i]] - lse;
    }
    out.push(lp);
  }
  return out;
}

/**
 * Labels re-ranked by pointwise mutual information with the question: log P(label | question) − log P(label | a
 * question that says nothing). A small model favours some names whatever is asked ("main", "value", a namespace);
 * dividing by what it writes for a content-free question removes that prior (Zhao et al. 2021, "Calibrate before
 * use"). Only the conditional search's shortlist is re-ranked, so a name the question makes no likelier cannot win
 * on a tiny prior alone. `priorWeight` < 1 divides by a power of the prior (a partial correction): the score
 * log P(label | question) − w · log P(label | content-free).
 */
export function calibrate(ranked: readonly RankedLabel[], priorLogprobs: readonly number[], priorWeight = 1): RankedLabel[] {
  return ranked
    .map((r, i) => ({ r, score: r.logprob - priorWeight * priorLogprobs[i] }))
    .sort((a, b) => b.score - a.score)
    .map(({ r }) => r);
}

/**
 * The model's calibrated order with its runners-up fused with a retriever's order (reciprocal rank fusion, Cormack
 * et al. 2009): the model's first label stays first (the answer); the rest are ordered by 1 / (k + rank in `ranked`)
 * + 1 / (k + rank among `retrievedLabels`), ranks from 1, no second term for a label the retriever did not return.
 * Ranks, not scores: PMI in nats and BM25 have no common scale. The two err differently — BM25 on the words a
 * description shares with a name, the model on what the code does — so the runners-up gain from both, while the first
 * place stays the model's: fusing it too lost top-1 at 64k (BM25's first is right far less often there; measured in
 * docs/benchmarks/eval-model.md). Ties keep the model's order. `outside`: retrieved definitions the model could not
 * rank (in files left out of its context; their labels among `retrievedLabels`), scored by the retriever's term alone.
 */
export function fuseWithRetrieved(ranked: readonly RankedLabel[], retrievedLabels: readonly string[], k: number, outside: readonly RankedLabel[] = []): RankedLabel[] {
  if (ranked.length === 0 || (ranked.length < 2 && outside.length === 0)) return [...ranked];
  const retrievedRank = new Map<string, number>();
  retrievedLabels.forEach((l, i) => retrievedRank.has(l) || retrievedRank.set(l, i + 1));
  const retrieval = (label: string) => {
    const rr = retrievedRank.get(label);
    return rr === undefined ? 0 : 1 / (k + rr);
  };
  const rest = [
    ...ranked.map((r, i) => ({ r, i, score: 1 / (k + i + 1) + retrieval(r.label) })).slice(1),
    ...outside.map((r, j) => ({ r, i: ranked.length + j, score: retrieval(r.label) })),
  ]
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map(({ r }) => r);
  return [ranked[0], ...rest];
}

/** How far down the retriever's order the model's first pick may be and still lead (leadWithAgreement). */
export const AGREEMENT_RANKS = 3;

/**
 * The fused order with its first place checked against the retriever: the model's first label stays first when the
 * retriever ranks it among its first AGREEMENT_RANKS, or when the question itself names it (`namedInQuestion`: Go's
 * "Grow grows the buffer's capacity…", "variant::value_or()"); otherwise the best-fused label the retriever ranks there
 * leads (in a file the model did not read, too: a repository larger than the context), and the model's pick follows it. The model was trained on
 * questions in its own templates; asked in everyday words ("how are sessions signed?") its first pick was often a
 * name it favours whatever is asked (`response` for 5 of 10 Flask questions) while BM25's first hits, matching the
 * question's words in names and doc comments, held the answer. A retriever's seventh hit agrees with anything (Express
 * "how does express generate ETags?": the model's `format` was BM25's 7th of 8, at 5% of the first hit's score).
 */
export function leadWithAgreement(ranked: readonly RankedLabel[], retrievedLabels: readonly string[], namedInQuestion: (label: string) => boolean = () => false): RankedLabel[] {
  const top = new Set(retrievedLabels.slice(0, AGREEMENT_RANKS));
  if (ranked.length < 2 || top.size === 0 || top.has(ranked[0].label) || namedInQuestion(ranked[0].label)) return [...ranked];
  // A label in a file the model did not read (no ids) may lead too: the index then writes the answer (model-answer.ts).
  const i = ranked.findIndex((r, j) => j > 0 && top.has(r.label));
  if (i < 0) return [...ranked];
  return [ranked[i], ...ranked.slice(0, i), ...ranked.slice(i + 1)];
}
