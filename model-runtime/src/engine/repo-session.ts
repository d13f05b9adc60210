/**
 * A repository in the model's context: the layout's tokens prefilled into a KV cache through the sparse patterns
 * built from the layout's block facts, questions appended after it, answers generated there, the cache kept
 * current after edits and saved to / restored from disk.
 *
 *   const session = RepoSession.create(engine, layout);
 *   await session.prefillRepository({ signal, onProgress });
 *   for await (const ev of session.ask("where is X parsed?", { maxNewTokens: 256, decodeBytes })) show(ev.text);
 *   session.readMap();  // which files the answer read
 *
 * The sequence is [repository | files read for the question | question + answer]; each region starts on a fresh
 * block, so asking never touches the repository's cache. The files read for a question (`readAlso`,
 * layout/question-reads.ts) stay prefilled across the asks of one answer (its label search asks several times).
 * Patterns: longviewHeadSpecs over the layout's facts (anchor groups = heads); for a question the pattern library
 * appends the read files' and the question/answer rows (`SparsePatterns.update`) and drops them again before other
 * reads, the next question or an edit.
 */
import type { BlockFacts } from "../patterns/types";
import { type SparsePatterns, buildPatterns, longviewHeadSpecs } from "../patterns";
import type { HeadPatternSpec } from "../patterns/types";
import type { BlockSparseLayout } from "../../../kernels/api";
import { ANCHOR_TIER, type LayoutUpdate, type RepoLayout } from "../layout/repo-layout";
import type { QuestionReads } from "../layout/question-reads";
import { SPECIAL_TOKENS } from "../tokenizer/special-tokens";
import type { ModelConfig } from "../model/config";
import { AttentionMass, type Engine, type GenerateOptions, type GeneratedToken } from "./engine";
import type { KvCache } from "./kv-cache";
import { type KvCacheKey, loadKvCache, saveKvCache } from "./kv-store";
import { type AnchorReading, type FileTally, type LineReading, anchorReadings, lineReadings, spreadOverLines } from "./read-lines";
import type { SamplingOptions } from "./sampling";
import { QuestionSelection, RepoKeySummaries } from "./question-selection";

/**
 * Repository blocks each head of a question's rows reads on top of its fixed pattern, chosen by the question's
 * queries (question-selection.ts). Off by default: the shipped model was trained with its fixed patterns only, and
 * extra blocks in its question rows measured no better with 8 per head and far worse with 64, at twice the time to
 * the first token (docs/benchmarks/eval-model.md, "Query-adaptive selection"). A model trained with selected blocks
 * in its question rows, or one users bring, can turn it on (RepoSession.selectBlocks, AskOptions.selectBlocks).
 */
export const QUESTION_SELECT_BLOCKS = 0;

/** The model's head patterns (one spec per query head). */
export function modelHeadSpecs(c: ModelConfig): HeadPatternSpec[] {
  return longviewHeadSpecs({
    numHeads: c.numHeads,
    budget: c.pattern.budget,
    localBlocks: c.pattern.localBlocks,
    stride: c.pattern.stride,
    segmentHeadBlocks: c.pattern.segmentHeadBlocks,
    anchorRowBudget: c.pattern.anchorRowBudget,
    anchorGroups: c.numHeads,
    firstAnchorTier: ANCHOR_TIER,
  });
}

/** Facts grown to `numBlocks`, the new blocks in the last segment (room for the answer). */
export function extendFacts(facts: BlockFacts, numBlocks: number): BlockFacts {
  if (numBlocks <= facts.numBlocks) return facts;
  const segmentStart = new Int32Array(numBlocks);
  const old = facts.segmentStart ?? new Int32Array(facts.numBlocks);
  segmentStart.set(old);
  segmentStart.fill(old[facts.numBlocks - 1] ?? 0, facts.numBlocks);
  return { ...facts, numBlocks, segmentStart };
}

const id = (t: (typeof SPECIAL_TOKENS)[number]) => SPECIAL_TOKENS.indexOf(t);

export interface AskOptions {
  maxNewTokens?: number;
  sampling?: SamplingOptions;
  /** Default: <|endanswer|> and <|eos|>. */
  stopTokens?: number[];
  signal?: AbortSignal;
  /** Token bytes (CodeTokenizer.decodeBytes) to stream text; without it events carry ids only. */
  decodeBytes?: (ids: ArrayLike<number>) => Uint8Array;
  /** Constrained decoding (GenerateOptions.choose): grounded citations. */
  choose?: GenerateOptions["choose"];
  /**
   * Runs once the question is read, before the first answer token is chosen: `probe(ids)` returns the logits after
   * the answer so far is `ids` (fed after the question; the cache is rewound after every probe), for searching what
   * the model would write (answer/label-search.ts).
   */
  beforeAnswer?: (firstLogits: Float32Array, probe: (ids: readonly number[]) => Promise<Float32Array>) => Promise<void>;
  /** Query-adaptive blocks per head for the question and answer rows (default: the session's `selectBlocks`; 0: none). */
  selectBlocks?: number;
}

export interface AnswerEvent extends GeneratedToken {
  /** Text completed by this token (multi-byte characters may complete a token later). */
  text: string;
}

export interface FileReading {
  root: string;
  path: string;
  /** Share of the answer's attention that went to this file's blocks (header, body, and its entries in the map). */
  mass: number;
  /** Part of `mass` by source line: the body blocks' mass spread over their tokens (read-lines.ts); sorted by line. */
  lines: LineReading[];
  /** Part of `mass` on the file's definitions' entries in the repository map; most first. */
  anchors: AnchorReading[];
}

export interface ReadMap {
  /** Per key block: the average attention probability of the answer's rows (sums to 1 over blocks). */
  blocks: Float64Array;
  files: FileReading[];
  /** Share on the repository map that could not be tied to a file, and on the question region itself. */
  map: number;
  question: number;
}

export type RefreshPolicy = "changed" | "suffix";

export class RepoSession {
  patterns: SparsePatterns;
  cache: KvCache;
  private repoFacts: BlockFacts;
  private lastMass?: AttentionMass;
  private qaBlocks = 0;
  /** Positions [0, validRepo) of the repository region hold valid keys and values (the cache may hold a question after them). */
  private validRepo = 0;
  /** Files read after the repository for the current question, prefilled in the cache right after validRepo. */
  private reads?: QuestionReads;
  /** The block facts of [repository | reads] the patterns hold while reads are in place (taken when they were read). */
  private readsFacts?: BlockFacts;
  /** Block ranges a cancelled refresh left stale; the next refresh or question recomputes them first. */
  private pending: Array<[number, number]> = [];
  /** Key summaries of the repository region for question selection; dropped whenever its keys change. */
  private keySummaries?: RepoKeySummaries;
  /** The last question's selection (which blocks each layer and head added). */
  lastSelection?: QuestionSelection;
  /** Query-adaptive blocks per head for questions (AskOptions.selectBlocks overrides it per question). */
  selectBlocks = QUESTION_SELECT_BLOCKS;

  private readonly headSpecs: HeadPatternSpec[];

  private constructor(
    readonly engine: Engine,
    readonly layout: RepoLayout,
    cache: KvCache,
    headSpecs?: HeadPatternSpec[],
  ) {
    this.headSpecs = headSpecs ?? modelHeadSpecs(engine.config);
    this.repoFacts = layout.blockFacts(engine.config.numHeads);
    this.patterns = buildPatterns(this.repoFacts, this.headSpecs);
    this.cache = cache;
  }

  /**
   * `answerRoom`: positions reserved after the repository for questions and answers (default 4,096). `headSpecs`:
   * other head patterns than the model's (the evaluation's no-anchor ablation); default modelHeadSpecs(config).
   */
  static create(engine: Engine, layout: RepoLayout, opts: { answerRoom?: number; headSpecs?: HeadPatternSpec[] } = {}): RepoSession {
    if (layout.blockSize !== engine.config.blockSize) throw new RangeError(`layout block size ${layout.blockSize} differs from the model's ${engine.config.blockSize}`);
    return new RepoSession(engine, layout, engine.newCache(layout.numTokens + (opts.answerRoom ?? 4096)), opts.headSpecs);
  }

  get repoTokens(): number {
    return this.layout.numTokens;
  }

  /** Positions of the repository region whose keys and values are in the cache. */
  get prefilledTokens(): number {
    return this.validRepo;
  }

  /** Blocks of the files read for the current question (0 when none). */
  private get readBlocks(): number {
    return this.reads?.numBlocks ?? 0;
  }

  /** Drops a question region from the patterns and the cache (the files read for it stay). */
  private dropQuestion(): void {
    const R = this.repoFacts.numBlocks + this.readBlocks;
    if (this.qaBlocks > 0) {
      // The facts the patterns were built from, not the layout's current ones: an edit may have changed the layout
      // already (refresh drops the question before it rebuilds the patterns).
      this.patterns.update(this.readsFacts ?? this.repoFacts, { start: R, oldEnd: R + this.qaBlocks, newEnd: R });
      this.qaBlocks = 0;
    }
    const keep = this.validRepo + this.readBlocks * this.layout.blockSize;
    if (this.cache.length > keep) this.cache.truncate(keep);
  }

  /** Drops the question region and the files read for it. */
  private dropReads(): void {
    this.dropQuestion();
    if (this.reads) {
      const R = this.repoFacts.numBlocks;
      this.patterns.update(this.repoFacts, { start: R, oldEnd: R + this.reads.numBlocks, newEnd: R });
      this.reads = undefined;
      this.readsFacts = undefined;
    }
    if (this.cache.length > this.validRepo) this.cache.truncate(this.validRepo);
  }

  /**
   * Reads `reads` (layout.readSegments) after the repository for the questions that follow, until other reads (or
   * none: undefined) are asked for; the same reads again cost nothing. The repository is prefilled first.
   */
  async readAlso(reads: QuestionReads | undefined, opts: { signal?: AbortSignal } = {}): Promise<void> {
    if (reads && this.reads?.key === reads.key) {
      this.dropQuestion();
      return;
    }
    this.dropReads();
    if (!reads || reads.numBlocks === 0) return;
    await this.completeRepository(opts.signal);
    if (reads.startBlock !== this.repoFacts.numBlocks) throw new RangeError(`the reads start at block ${reads.startBlock}, the repository ends at ${this.repoFacts.numBlocks}`);
    const R = this.repoFacts.numBlocks;
    this.readsFacts = this.layout.factsWithReads(this.engine.config.numHeads, reads);
    this.patterns.update(this.readsFacts, { start: R, oldEnd: R, newEnd: R + reads.numBlocks });
    this.reads = reads;
    this.cache.ensureCapacity(this.validRepo + reads.ids.length);
    this.keySummaries = undefined;
    try {
      await this.engine.prefill(this.cache, reads.ids, this.patterns.layout, { start: this.validRepo, signal: opts.signal, logitsRows: [] });
    } catch (e) {
      this.dropReads();
      throw e;
    }
  }

  /** Recomputes blocks a cancelled refresh left stale and prefills what the repository still lacks. */
  private async completeRepository(signal?: AbortSignal): Promise<void> {
    if (this.pending.length) await this.reprefillBlocks([], { signal });
    if (this.prefilledTokens < this.repoTokens) await this.prefillRepository({ signal });
  }

  /** The files read for the current question (undefined when none). */
  get questionReads(): QuestionReads | undefined {
    return this.reads;
  }

  /** Prefills the rest of the repository (resumes where a cancelled run stopped). */
  async prefillRepository(opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<void> {
    this.dropReads();
    const from = this.validRepo;
    const total = this.repoTokens;
    if (from >= total) return;
    const ids = this.layout.tokenIds().subarray(from, total);
    this.keySummaries = undefined;
    try {
      await this.engine.prefill(this.cache, ids, this.patterns.layout, {
        start: from,
        signal: opts.signal,
        onProgress: opts.onProgress && ((done) => opts.onProgress!(from + done, total)),
        logitsRows: [],
      });
    } finally {
      // Appending from the end: every completed chunk is valid, also after a cancellation.
      this.validRepo = Math.min(this.cache.length, total);
    }
  }

  /** Asks a question after the repository and streams the answer. */
  async *ask(question: string, opts: AskOptions = {}): AsyncGenerator<AnswerEvent, void, void> {
    const c = this.engine.config;
    const B = c.blockSize;
    const maxNew = opts.maxNewTokens ?? 512;
    if (this.pending.length || this.prefilledTokens < this.repoTokens) {
      // The files read for the question sit after the repository: they are read again once it is complete.
      const reads = this.reads;
      this.dropReads();
      await this.completeRepository(opts.signal);
      await this.readAlso(reads, { signal: opts.signal });
    }
    this.dropQuestion();
    const q = this.layout.withQuestion(question, c.numHeads, this.reads);
    const blocks = Math.ceil((q.answerStart + maxNew) / B);
    const facts = extendFacts(q.facts, blocks);
    const R = this.repoFacts.numBlocks + this.readBlocks;
    this.patterns.update(facts, { start: R, oldEnd: R, newEnd: blocks });
    this.qaBlocks = blocks - R;
    const layout = this.patterns.layout;
    const mass = new AttentionMass(blocks);
    this.lastMass = mass;
    this.cache.ensureCapacity(q.answerStart + maxNew);
    const selection = this.questionSelection(layout, opts.selectBlocks ?? this.selectBlocks);
    this.lastSelection = selection;
    const layerLayout = selection && ((l: number, qs: Float32Array, rows: number) => selection.layerLayout(l, qs, rows));
    const firstLogits = await this.engine.prefill(this.cache, q.ids.subarray(q.questionStart), layout, {
      start: q.questionStart,
      signal: opts.signal,
      mass,
      massFrom: q.answerStart - 1,
      layerLayout,
    });
    if (opts.beforeAnswer) {
      const answerStart = this.cache.length;
      const probe = async (ids: readonly number[]): Promise<Float32Array> => {
        try {
          return await this.engine.prefill(this.cache, Int32Array.from(ids), layout, { start: answerStart, signal: opts.signal, layerLayout });
        } finally {
          this.cache.truncate(answerStart);
        }
      };
      await opts.beforeAnswer(firstLogits, probe);
    }
    const decoder = new TextDecoder("utf-8");
    for await (const t of this.engine.generate(this.cache, layout, {
      firstLogits,
      maxNewTokens: maxNew,
      sampling: opts.sampling,
      stopTokens: opts.stopTokens ?? [id("<|endanswer|>"), id("<|eos|>")],
      signal: opts.signal,
      mass,
      choose: opts.choose,
      layerLayout,
    })) {
      const text = opts.decodeBytes ? decoder.decode(opts.decodeBytes([t.id]), { stream: !t.last }) : "";
      yield { ...t, text };
    }
  }

  /** A selection for the next question, or undefined when there is nothing to add (topK 0, or no repository). */
  private questionSelection(layout: BlockSparseLayout, topK: number): QuestionSelection | undefined {
    if (!(topK > 0) || this.validRepo === 0) return undefined;
    const c = this.engine.config;
    if (!this.keySummaries || this.keySummaries.repoTokens !== this.validRepo) this.keySummaries = new RepoKeySummaries(this.cache, this.validRepo, c.blockSize);
    return new QuestionSelection(this.keySummaries, layout, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim }, c.numLayers, topK);
  }

  /**
   * Which files the last answer read: its attention mass per block, gathered by file (map entries included); within
   * a file, by source line (body blocks) and by definition (its entries in the repository map): read-lines.ts.
   */
  readMap(): ReadMap | undefined {
    const mass = this.lastMass;
    if (!mass) return undefined;
    const blocks = mass.normalized();
    const B = this.layout.blockSize;
    const byFile = new Map<string, FileTally>();
    const tally = (root: string, p: string): FileTally => {
      const key = `${root}\u0000${p}`;
      let f = byFile.get(key);
      if (!f) byFile.set(key, (f = { root, path: p, mass: 0 }));
      return f;
    };
    const files = this.layout.fileBlocks();
    let firstFileBlock = this.layout.numBlocks;
    for (const f of files) firstFileBlock = Math.min(firstFileBlock, f.startBlock);
    let map = 0;
    // Map blocks: split each block's mass over the files its tokens name, and a file's part over its definitions' anchors.
    for (let b = 0; b < Math.min(firstFileBlock, blocks.length); b++) {
      if (blocks[b] === 0) continue;
      const counts = new Map<FileTally, { n: number; defs: Map<string, AnchorReading> }>();
      let named = 0;
      for (let t = b * B; t < (b + 1) * B; t++) {
        const loc = this.layout.locate(t);
        if ((loc.kind === "anchor" || loc.kind === "map") && loc.path !== undefined && loc.root !== undefined) {
          const f = tally(loc.root, loc.path);
          const e = counts.get(f) ?? { n: 0, defs: new Map() };
          e.n++;
          if (loc.kind === "anchor") {
            const key = `${loc.definition.name}\u0000${loc.line}`;
            const d = e.defs.get(key) ?? { name: loc.definition.name, line: loc.line, mass: 0 };
            d.mass++; // a token count until the block's mass is known
            e.defs.set(key, d);
          }
          counts.set(f, e);
          named++;
        }
      }
      if (!named) map += blocks[b];
      for (const [f, e] of counts) {
        f.mass += (blocks[b] * e.n) / named;
        for (const [key, d] of e.defs) {
          f.anchors ??= new Map();
          const a = f.anchors.get(key) ?? { name: d.name, line: d.line, mass: 0 };
          a.mass += (blocks[b] * d.mass) / named;
          f.anchors.set(key, a);
        }
      }
    }
    // The files read for the question count as files: their lines are located in the read region.
    const reads = this.reads;
    const locator = reads ? { blockSize: B, locate: (t: number) => (t < this.layout.numTokens ? this.layout.locate(t) : reads.locate(t)) } : this.layout;
    for (const f of [...files, ...(reads?.files ?? [])]) {
      let t: FileTally | undefined;
      for (let b = f.startBlock; b < Math.min(f.endBlock, blocks.length); b++) {
        if (blocks[b] === 0) continue;
        t ??= tally(f.root, f.path);
        t.mass += blocks[b];
        spreadOverLines(locator, b, blocks[b], (t.lines ??= new Map()));
      }
    }
    let question = 0;
    for (let b = this.layout.numBlocks + this.readBlocks; b < blocks.length; b++) question += blocks[b];
    const readings: FileReading[] = [...byFile.values()]
      .filter((f) => f.mass > 0)
      .sort((a, b) => b.mass - a.mass)
      .map((f) => ({ root: f.root, path: f.path, mass: f.mass, lines: lineReadings(f.lines), anchors: anchorReadings(f.anchors) }));
    return { blocks, files: readings, map, question };
  }

  /**
   * Brings the cache up to date after `layout.update(...)` returned `update`. Structural edits rebuild the
   * patterns. "changed" re-prefills only the changed blocks (approximate for later blocks that attend to them:
   * docs/engine.md); "suffix" re-prefills from the first changed block to the end (exact).
   */
  async refresh(update: LayoutUpdate, opts: { policy?: RefreshPolicy; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {}): Promise<{ reprefilledTokens: number }> {
    if (update.needsRebuild) throw new Error("the layout needs a full rebuild: create a new RepoSession");
    this.dropReads();
    const newFacts = this.layout.blockFacts(this.engine.config.numHeads);
    if (update.edits.length > 0 || newFacts.numBlocks !== this.repoFacts.numBlocks) this.patterns = buildPatterns(newFacts, this.headSpecs);
    this.repoFacts = newFacts;
    return this.reprefillBlocks(update.changedBlocks, opts);
  }

  private async reprefillBlocks(changed: Array<[number, number]>, opts: { policy?: RefreshPolicy; signal?: AbortSignal; onProgress?: (done: number, total: number) => void }): Promise<{ reprefilledTokens: number }> {
    const B = this.layout.blockSize;
    const R = this.layout.numBlocks;
    let ranges = [...this.pending, ...changed].map(([a, b]) => [Math.max(0, a), Math.min(R, b)] as [number, number]).filter(([a, b]) => b > a);
    // Blocks past the valid repository positions (appended segments) must be computed too.
    const cachedBlocks = Math.floor(Math.min(this.validRepo, this.repoTokens) / B);
    if (cachedBlocks < R) ranges.push([cachedBlocks, R]);
    ranges.sort((x, y) => x[0] - y[0]);
    if (opts.policy === "suffix" && ranges.length) ranges = [[ranges[0][0], R]];
    const merged: Array<[number, number]> = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    const total = merged.reduce((a, [s, e]) => a + (e - s) * B, 0);
    let done = 0;
    const ids = this.layout.tokenIds();
    this.cache.ensureCapacity(this.repoTokens);
    if (this.cache.length > this.validRepo) this.cache.truncate(this.validRepo);
    this.pending = merged.map(([s, e]) => [s, e]);
    if (merged.length) this.keySummaries = undefined;
    for (const [s, e] of merged) {
      // A range may start past the cache's end only where the cache ends (appended blocks).
      const start = Math.min(s * B, this.cache.length);
      await this.engine.prefill(this.cache, ids.subarray(start, e * B), this.patterns.layout, {
        start,
        signal: opts.signal,
        logitsRows: [],
        onProgress: opts.onProgress && ((d) => opts.onProgress!(done + d, total)),
      });
      done += e * B - start;
      this.validRepo = Math.max(this.validRepo, Math.min(this.cache.length, e * B));
      this.pending.shift();
    }
    this.validRepo = this.repoTokens;
    return { reprefilledTokens: done };
  }

  /** Saves the repository region of the cache (question regions are not saved). */
  async save(file: string, key: KvCacheKey, signal?: AbortSignal): Promise<void> {
    this.dropQuestion();
    const n = this.prefilledTokens;
    const saved = this.cache.length;
    this.cache.length = n;
    try {
      await saveKvCache(file, this.cache, this.layout.tokenIds().subarray(0, n), key, signal);
    } finally {
      this.cache.length = saved;
    }
  }

  /**
   * A session over `layout` whose cache comes from `file`. Blocks whose saved tokens differ from the layout's (or
   * lie past the saved length) are re-prefilled with `policy` (default "changed"); a file saved for another model,
   * layout version or a corrupt one throws KvCacheFileError (then build a fresh session and prefill).
   */
  static async restore(
    engine: Engine,
    layout: RepoLayout,
    file: string,
    key: KvCacheKey,
    opts: { answerRoom?: number; policy?: RefreshPolicy; signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<{ session: RepoSession; staleBlocks: number; reprefilledTokens: number }> {
    const loaded = await loadKvCache(file, engine.config, key, layout.numTokens + (opts.answerRoom ?? 4096), opts.signal);
    const session = new RepoSession(engine, layout, loaded.cache);
    const B = layout.blockSize;
    const now = layout.tokenIds();
    const saved = loaded.tokens;
    const usable = Math.min(saved.length, now.length);
    const changed: Array<[number, number]> = [];
    for (let b = 0; b * B < usable; b++) {
      const end = Math.min(usable, (b + 1) * B);
      let same = end === (b + 1) * B;
      for (let t = b * B; same && t < end; t++) same = saved[t] === now[t];
      if (!same) changed.push([b, b + 1]);
    }
    // Positions past what both agree on are not valid for this layout.
    session.cache.length = Math.min(session.cache.length, Math.floor(usable / B) * B);
    session.validRepo = session.cache.length;
    const r = await session.reprefillBlocks(changed, opts);
    // A GPU that keeps K/V resident gets the loaded rows now, so the first question does not wait for the upload.
    engine.syncResident(session.cache);
    return { session, staleBlocks: changed.length, reprefilledTokens: r.reprefilledTokens };
  }
}
