/**
 * One training sample: a repository context (context.ts) followed by question/answer turns, with the loss class of
 * every token and the block facts the attention pattern is built from.
 *
 *   [repository map][file][file]…   ← RepoLayout, unchanged           loss: code on file bodies
 *   <|question|> q1 <|answer|> a1 <|endanswer|> <|pad|>…             ← turn 1: exactly RepoLayout.withQuestion(q1) + answer
 *   <|question|> q2 <|answer|> a2 <|endanswer|> <|pad|>…             ← each turn starts on a fresh block, its own segment
 *
 * The first turn is what the engine builds at inference (withQuestion), checked token for token; later turns repeat
 * its form so one forward pass trains several questions. No two turns share a symbol, and a removed doc comment
 * feeds one turn only, so a turn never sees its answer in an earlier one.
 */
import type { FileRecord } from "../index/types";
import type { BlockFacts } from "../patterns/types";
import type { SpecialToken } from "../tokenizer/special-tokens";
import { encodeAnswer } from "./answer-format";
import { type ContextTools, type DocCandidate, type RepoContext, buildContext, tokensOfLines } from "./context";
import { type QaItem, QuestionMaker, type QuestionMakerOptions } from "./questions";
import type { RepoFiles } from "./repo-files";
import { LOSS_CLASS, type QaTask, lossClassOf } from "./tasks";

/** Tokens [start, end) carry loss class `lossClass` (tokens outside every span: none). */
export interface LossSpan {
  start: number;
  end: number;
  lossClass: number;
}

/** The block facts of a sample in the compact form the shards store (see docs/training-data.md). */
export interface SampleFacts {
  numBlocks: number;
  blockSize: number;
  anchorBlocks: Int32Array;
  anchorTier: Uint8Array;
  /** Ascending first blocks of the segments (the map, each file, each turn); segmentStarts[0] = 0. */
  segmentStarts: Int32Array;
  sinkBlocks: number;
}

export interface Sample {
  /** Token ids, a whole number of blocks (pad at the end). */
  ids: Int32Array;
  spans: LossSpan[];
  facts: SampleFacts;
  /** First token of the question/answer region (= the repository region's length). */
  questionStart: number;
  turns: Array<{ task: QaTask; start: number; answerStart: number; end: number }>;
}

export interface SampleOptions {
  blockSize: number;
  /** Most tokens of the whole sample (repository region + turns). */
  maxTokens: number;
  /** Tokens kept for the turns; the repository region gets the rest. */
  qaReserve: number;
  /** Anchor groups of the head specs (block facts tiers are dealt round-robin over them). */
  anchorGroups: number;
  /** Questions per task wanted (fewer when the context does not allow them). */
  turns: Record<QaTask, number>;
  /** QuestionMakerOptions.siblingShare (default 0). */
  siblingShare?: number;
}

export interface SampleStats {
  rejectedDocs: number;
  turnsDropped: number;
}

/** Full per-block segment starts from the compact list. */
export function expandSegmentStarts(starts: Int32Array, numBlocks: number): Int32Array {
  const out = new Int32Array(numBlocks);
  let k = 0;
  for (let b = 0; b < numBlocks; b++) {
    while (k + 1 < starts.length && starts[k + 1] <= b) k++;
    out[b] = starts[k];
  }
  return out;
}

/** The pattern library's BlockFacts of a sample. */
export function blockFactsOf(f: SampleFacts): BlockFacts {
  return {
    numBlocks: f.numBlocks,
    blockSize: f.blockSize,
    anchorBlocks: f.anchorBlocks,
    anchorTier: f.anchorTier,
    segmentStart: expandSegmentStarts(f.segmentStarts, f.numBlocks),
    sinkBlocks: f.sinkBlocks,
  };
}

function shuffle<T>(a: T[], rand: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Code loss on every file body (and its <|endfile|>), except the tokens of blanked doc-comment lines. */
function codeSpans(ctx: RepoContext): LossSpan[] {
  const spans: LossSpan[] = [];
  const holes = new Map<string, Array<[number, number]>>();
  for (const b of ctx.blanked) {
    const r = tokensOfLines(ctx.layout, ctx.root, b.path, b.range.startLine, b.range.endLine);
    (holes.get(b.path) ?? holes.set(b.path, []).get(b.path)!).push(r);
  }
  for (const f of ctx.layout.fileBlocks()) {
    const span = ctx.layout.fileSpan(f.root, f.path)!;
    let at = span.start + span.headerLength;
    const end = span.start + span.length;
    for (const [a, b] of (holes.get(f.path) ?? []).sort((x, y) => x[0] - y[0])) {
      if (a > at) spans.push({ start: at, end: a, lossClass: LOSS_CLASS.code });
      at = Math.max(at, b);
    }
    if (end > at) spans.push({ start: at, end, lossClass: LOSS_CLASS.code });
  }
  return spans;
}

/** Chooses the docs to remove: distinct names, at random. */
export function pickDocs(count: number, rand: () => number): (c: DocCandidate[]) => DocCandidate[] {
  return (candidates) => {
    const names = new Set<string>();
    const out: DocCandidate[] = [];
    for (const c of shuffle([...candidates], rand)) {
      if (out.length >= count) break;
      if (names.has(c.def.name)) continue;
      names.add(c.def.name);
      out.push(c);
    }
    return out;
  };
}

/** The questions of a context: (b)/(c) from its removed docs, (a) from its definitions. */
export function questionsFor(ctx: RepoContext, turns: Record<QaTask, number>, rand: () => number, makerOpts: QuestionMakerOptions = {}): QaItem[] {
  const maker = new QuestionMaker(ctx, rand, makerOpts);
  const items: QaItem[] = [];
  // Removed docs go to (b) and (c) alternately; their names are then taken for (a).
  const removed = shuffle([...ctx.removed], rand);
  let needles = 0;
  let explains = 0;
  for (const r of removed) {
    const wantNeedle = needles < turns.needle && (explains >= turns.explain || needles <= explains);
    const needle = () => (needles < turns.needle ? maker.needle(r) : undefined);
    const item = wantNeedle ? needle() : explains < turns.explain ? maker.explain(r) ?? needle() : undefined;
    if (!item) continue;
    if (item.task === "needle") needles++;
    else explains++;
    items.push(item);
  }
  for (const r of removed) maker.markUsed(r.def.name);
  items.push(...maker.make("whereDefined", turns.whereDefined), ...maker.make("whatCalls", turns.whatCalls), ...maker.make("whoUses", turns.whoUses));
  return shuffle(items, rand);
}

export interface QaTokenizer {
  encodeWithOffsets(text: string): { ids: Int32Array };
  specialTokenId(token: SpecialToken): number;
}

/** Ids of one turn: <|question|> q <|answer|> answer… <|endanswer|> (withQuestion's form). */
export function turnIds(tokenizer: QaTokenizer, item: QaItem): { ids: Int32Array; answerOffset: number } {
  const q = tokenizer.encodeWithOffsets(item.question).ids;
  const a = encodeAnswer(tokenizer, item.answer);
  const ids = new Int32Array(q.length + 2 + a.length);
  ids[0] = tokenizer.specialTokenId("<|question|>");
  ids.set(q, 1);
  ids[q.length + 1] = tokenizer.specialTokenId("<|answer|>");
  ids.set(a, q.length + 2);
  return { ids, answerOffset: q.length + 2 };
}

/** Appends turns to a context: the sample's ids, loss spans and block facts. */
export function assembleSample(ctx: RepoContext, items: QaItem[], tokenizer: QaTokenizer, opts: Pick<SampleOptions, "blockSize" | "maxTokens" | "anchorGroups">): { sample: Sample; dropped: number } {
  const B = opts.blockSize;
  const repoIds = ctx.layout.tokenIds();
  const pad = tokenizer.specialTokenId("<|pad|>");
  const turns: Sample["turns"] = [];
  const parts: Int32Array[] = [];
  let length = repoIds.length;
  let dropped = 0;
  for (const item of items) {
    const { ids, answerOffset } = turnIds(tokenizer, item);
    const padded = Math.ceil(ids.length / B) * B;
    if (length + padded > opts.maxTokens) {
      dropped++;
      continue;
    }
    if (turns.length === 0) {
      // The first turn is exactly what the engine asks at inference.
      const asked = ctx.layout.withQuestion(item.question, opts.anchorGroups).ids;
      for (let i = 0; i < answerOffset; i++) {
        if (asked[repoIds.length + i] !== ids[i]) throw new Error("training turn differs from RepoLayout.withQuestion");
      }
    }
    turns.push({ task: item.task, start: length, answerStart: length + answerOffset, end: length + ids.length });
    const block = new Int32Array(padded).fill(pad);
    block.set(ids);
    parts.push(block);
    length += padded;
  }
  const all = new Int32Array(length);
  all.set(repoIds);
  let at = repoIds.length;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const spans = codeSpans(ctx);
  for (const t of turns) spans.push({ start: t.answerStart, end: t.end, lossClass: lossClassOf(t.task) });

  const base = ctx.layout.blockFacts(opts.anchorGroups);
  const starts = new Set<number>();
  for (const s of base.segmentStart ?? [0]) starts.add(s);
  for (const t of turns) starts.add(t.start / B);
  const facts: SampleFacts = {
    numBlocks: length / B,
    blockSize: B,
    anchorBlocks: base.anchorBlocks,
    anchorTier: base.anchorTier ?? new Uint8Array(base.anchorBlocks.length),
    segmentStarts: Int32Array.from([...starts].sort((a, b) => a - b)),
    sinkBlocks: base.sinkBlocks ?? 0,
  };
  return { sample: { ids: all, spans, facts, questionStart: repoIds.length, turns }, dropped };
}

/** A whole sample from a subset of a repository's files. */
export async function buildSample(
  repo: RepoFiles,
  subset: readonly FileRecord[],
  opts: SampleOptions,
  tools: ContextTools,
  rand: () => number,
): Promise<{ sample: Sample; ctx: RepoContext; items: QaItem[]; stats: SampleStats }> {
  const docs = opts.turns.needle + opts.turns.explain;
  const ctx = await buildContext(repo, subset, { blockSize: opts.blockSize, maxTokens: opts.maxTokens - opts.qaReserve }, tools, pickDocs(docs, rand));
  const items = questionsFor(ctx, opts.turns, rand, { siblingShare: opts.siblingShare });
  const { sample, dropped } = assembleSample(ctx, items, tools.tokenizer, opts);
  return { sample, ctx, items, stats: { rejectedDocs: ctx.rejectedDocs, turnsDropped: dropped } };
}
