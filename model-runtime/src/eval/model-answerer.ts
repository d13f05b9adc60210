/**
 * The model as an evaluation answerer: the prompt is `layout.withQuestion(question)` (RepoSession.ask), decoding runs
 * until <|endanswer|> with grounded citations (answer/grounded-citations.ts), and the answer's text goes to the
 * harness with its markers spelled out. Two variants share one engine:
 *
 * - `model`: the model's own sparse patterns (modelHeadSpecs: local window, file header, dilated and strided
 *   columns, and the repository map's anchors);
 * - `model-window`: the same weights reading through a plain sliding window of the same budget per row (no anchor,
 *   sink or map primitive), so the table shows what the anchors buy;
 * - `model-ungrounded` (optional): the model's patterns, citations sampled freely (what grounding buys);
 * - `model-free-labels` (optional): grounded paths and lines, misspelt labels not repaired (what the repair buys);
 * - `model-no-search` (optional): one-definition answers decoded greedily, no label search (what the search buys);
 * - `model-uncalibrated` (optional): one-definition questions' labels searched but not calibrated (what PMI buys);
 * - `model-no-retrieval` (optional): description questions' shortlist from the model's search alone, without the
 *   index's BM25 hits (what the retrieved candidates buy);
 * - `model-capped` (optional): the context the product gives the model — a context longer than the model's trained
 *   positions is laid out again within them (the most-imported files, room left for question reads) and a question
 *   reads the files of its best hits that were left out (answer/question-reads.ts). The 256k needle measured as the
 *   product answers it, instead of reading 256k positions the model was never trained on.
 *
 * Each context (a layout) is prefilled once per variant; prefill and decode speeds are recorded per answerer.
 */
import { Engine } from "../engine/engine";
import { QUESTION_SELECT_BLOCKS, RepoSession } from "../engine/repo-session";
import type { ModelConfig } from "../model/config";
import type { HeadPatternSpec } from "../patterns/types";
import type { CodeTokenizer } from "../tokenizer";
import type { ModelBackendChoice } from "../answer/model-client";
import { loadModelFolder } from "../answer/model-service";
import { type CitationGrounding, answerWithModel, citationGrounding, indexFactsOf, indexRetriever } from "../answer/model-answer";
import { layoutWithReadRoom } from "../answer/question-reads";
import { RepoLayout } from "../layout/repo-layout";
import type { QaTask } from "../training-data/tasks";
import type { AnswerContext, Answerer } from "./answerer";

/** Every head: the `budget` most recent blocks, nothing else (no anchors, sinks or file headers). */
export function slidingWindowHeadSpecs(c: ModelConfig): HeadPatternSpec[] {
  return Array.from({ length: c.numHeads }, () => ({ primitives: [{ kind: "local", window: c.pattern.budget }], budget: c.pattern.budget }));
}

export interface ModelSpeed {
  answerer: string;
  backend: string;
  contexts: number;
  prefillTokens: number;
  prefillMs: number;
  answers: number;
  /** Question prefill + first token, summed. */
  firstTokenMs: number;
  decodeTokens: number;
  decodeMs: number;
}

/** How a model answerer differs from the product's defaults (model-answer.ts options; the ablations switch one off). */
export interface ModelVariant {
  /** Attention patterns other than the model's own (the sliding-window ablation). */
  headSpecs?: HeadPatternSpec[];
  grounded?: boolean;
  repairLabels?: boolean;
  searchLabels?: boolean;
  calibrateLabels?: boolean;
  /** Description questions' shortlists take in the index's BM25 hits (default true). */
  retrieve?: boolean;
  /** A description's runners-up the retriever matched come first (model-answer.ts `matchedFirst`; default true). */
  matchedFirst?: boolean;
  /** The tasks it answers (an ablation that changes only some tasks' answers asks only those). */
  tasks?: readonly QaTask[];
  /** Query-adaptive blocks per head for the question rows (RepoSession.selectBlocks; 0: the fixed pattern only). */
  selectBlocks?: number;
  /** Rank fusion of the model's and BM25's orders for descriptions (model-answer.ts fusionK; 0: none). */
  fusionK?: number;
  /** A description's first place needs the retriever's agreement (model-answer.ts leadByAgreement; default true). */
  leadByAgreement?: boolean;
  /** A description's answer goes on after its led citation (model-answer.ts freeAfterLead; default false). */
  freeAfterLead?: boolean;
  /** Questions the index can answer are answered with its facts in the model's order (model-answer.ts facts; default true). */
  indexFacts?: boolean;
  /** An explanation's no-repeat n-gram (model-answer.ts noRepeatNgram; 0: none). */
  noRepeatNgram?: number;
  /** The product's context: at most the model's trained positions, and question reads for what that leaves out (`model-capped`). */
  capped?: boolean;
}

/**
 * Prefilled sessions shared by the variants of one engine: variants that read through the same patterns (all but the
 * sliding window) differ only in how they ask, so a context is prefilled once for all of them.
 */
export class SharedSessions {
  private readonly byPatterns = new Map<HeadPatternSpec[] | string | undefined, { layout: RepoLayout; session: RepoSession }>();

  constructor(private readonly engine: Engine) {}

  /**
   * The session over `layout` for these patterns; `fresh` is true when it was just created (not yet prefilled).
   * `slot` keeps apart sessions of the same patterns over different layouts of one context (the capped one).
   */
  get(layout: RepoLayout, headSpecs: HeadPatternSpec[] | undefined, answerRoom: number, slot?: string): { session: RepoSession; fresh: boolean } {
    const key = slot ?? headSpecs;
    const held = this.byPatterns.get(key);
    if (held && held.layout === layout) return { session: held.session, fresh: false };
    // A new context: drop the last one's cache first (a 256k context holds 1.5 GiB of keys and values).
    this.byPatterns.delete(key);
    const session = RepoSession.create(this.engine, layout, { answerRoom, headSpecs });
    this.byPatterns.set(key, { layout, session });
    return { session, fresh: true };
  }

  clear(): void {
    this.byPatterns.clear();
  }
}

export class ModelAnswerer implements Answerer {
  readonly speed: ModelSpeed;
  readonly tasks?: readonly QaTask[];
  private session?: RepoSession;
  private layout?: RepoLayout;
  private grounding?: CitationGrounding;
  /** The capped variant's layout of the current context (the context's own when it fits) and its read room. */
  private used?: { layout: RepoLayout; readTokens: number };

  constructor(
    readonly name: string,
    private readonly engine: Engine,
    private readonly tokenizer: CodeTokenizer,
    private readonly maxNewTokens: number,
    private readonly variant: ModelVariant = {},
    private readonly sessions: SharedSessions = new SharedSessions(engine),
  ) {
    this.tasks = variant.tasks;
    this.speed = { answerer: name, backend: `${engine.attentionKind} + ${engine.dense.name}`, contexts: 0, prefillTokens: 0, prefillMs: 0, answers: 0, firstTokenMs: 0, decodeTokens: 0, decodeMs: 0 };
  }

  async answer(layout: RepoLayout, question: string, ctx: AnswerContext): Promise<string> {
    const room = this.maxNewTokens + 1024;
    if (layout !== this.layout) {
      this.session = undefined;
      this.layout = layout;
      this.used = this.variant.capped ? cappedLayout(layout, ctx, this.tokenizer, this.engine.config.maxPositions, room) : { layout, readTokens: 0 };
      const own = this.used.layout === layout;
      const { session, fresh } = this.sessions.get(this.used.layout, this.variant.headSpecs, room + this.used.readTokens, own ? undefined : "capped");
      this.session = session;
      this.grounding = undefined;
      // Prefill speed is counted by the variant that prefilled.
      if (fresh || session.prefilledTokens < this.used.layout.numTokens) {
        const t0 = performance.now();
        await this.session.prefillRepository();
        this.speed.contexts++;
        this.speed.prefillTokens += this.used.layout.numTokens;
        this.speed.prefillMs += performance.now() - t0;
      }
    }
    const { layout: used, readTokens } = this.used!;
    this.session!.selectBlocks = this.variant.selectBlocks ?? QUESTION_SELECT_BLOCKS;
    const index = { get: (root: string, path: string) => (root === ctx.root ? ctx.index.get(root, path) : undefined) };
    this.grounding ??= citationGrounding(used, this.tokenizer, index);
    const v = this.variant;
    // The BM25 search sees the context's index: the doc comments asked about are removed from it as from the layout.
    const retrieve = v.retrieve === false ? undefined : indexRetriever(ctx.index);
    const gen = answerWithModel(this.session!, this.tokenizer, index, question, {
      maxNewTokens: this.maxNewTokens,
      grounding: this.grounding,
      grounded: v.grounded,
      repairLabels: v.repairLabels,
      searchLabels: v.searchLabels,
      calibrateLabels: v.calibrateLabels,
      retrieve,
      matchedFirst: v.matchedFirst,
      fusionK: v.fusionK,
      leadByAgreement: v.leadByAgreement,
      freeAfterLead: v.freeAfterLead,
      noRepeatNgram: v.noRepeatNgram,
      facts: v.indexFacts === false ? undefined : indexFactsOf(ctx.index),
      readText: readTokens ? (root, p) => (root === ctx.root ? ctx.texts.get(p) : undefined) : undefined,
      readTokens,
    });
    while (true) {
      const r = await gen.next();
      if (r.done) {
        const t = r.value.answer.timings;
        this.speed.answers++;
        this.speed.firstTokenMs += t.timeToFirstTokenMs;
        this.speed.decodeTokens += t.decodeTokens;
        this.speed.decodeMs += t.decodeMs;
        return r.value.raw;
      }
    }
  }

  dispose(): void {
    this.session = undefined;
    this.layout = undefined;
    this.used = undefined;
    this.sessions.clear();
  }
}

/**
 * The layout the product would give the model for this context (question-reads.ts layoutWithReadRoom, as the model
 * service lays repositories out): the context's own when it fits the trained positions with the answer room, else its
 * files laid out again within them with room for the files a question reads.
 */
function cappedLayout(layout: RepoLayout, ctx: AnswerContext, tokenizer: CodeTokenizer, maxPositions: number, room: number): { layout: RepoLayout; readTokens: number } {
  if (layout.numTokens + room <= maxPositions) return { layout, readTokens: 0 };
  const sources = [...ctx.index.allFiles()].flatMap((record) => {
    const text = record.root === ctx.root ? ctx.texts.get(record.path) : undefined;
    return text === undefined ? [] : [{ record, text }];
  });
  return layoutWithReadRoom((maxTokens) => RepoLayout.build(sources, tokenizer, { blockSize: layout.blockSize, maxTokens }), maxPositions, room, layout.blockSize);
}

export interface ModelAnswererOptions {
  backend?: ModelBackendChoice;
  /** Also the sliding-window variant (default true). */
  window?: boolean;
  /** Also the model without grounded citations (paths and lines sampled freely), to measure what grounding buys. */
  ungrounded?: boolean;
  /** Also the model with grounded paths and lines but no label repair, to measure what the repair buys. */
  freeLabels?: boolean;
  /** Also the model decoding one-definition answers greedily (no label search), to measure what the search buys. */
  noSearch?: boolean;
  /** Also the model searching one-definition questions' labels without calibration, to measure what it buys. */
  noCalibration?: boolean;
  /** Also the model shortlisting description questions' labels by its own search only (no BM25 hits), to measure what they buy. */
  noRetrieval?: boolean;
  /** Also the model without query-adaptive blocks for the question rows (fixed patterns only), to measure what they buy. */
  noSelection?: boolean;
  /** The model's query-adaptive blocks per head (default QUESTION_SELECT_BLOCKS; tuning). */
  selectBlocks?: number;
  /** Also the model answering descriptions by its calibrated order alone (no rank fusion with BM25's order). */
  noFusion?: boolean;
  /** Also the model without matched runners-up first (`model-no-matched-first`). */
  noMatchedFirst?: boolean;
  /** Also the model whose pick always leads a description's answer (no agreement with the retriever needed). */
  modelLead?: boolean;
  /** Also the model going on freely after a description's led citation. */
  freeAfterLead?: boolean;
  /** Also the model answering (a) questions alone, without the index's facts (what the model itself gets right). */
  noIndexFacts?: boolean;
  /** Also the model in the product's context: within its trained positions, with question reads (`model-capped`). */
  capped?: boolean;
  /** Also these rank-fusion constants, one variant each (`model-fusion-kN`, descriptions only; tuning). */
  fusionSweep?: readonly number[];
  /** Also these no-repeat n-gram sizes for explanations, one variant each (`model-ngram-N`, 0 = none; explanations only). */
  ngramSweep?: readonly number[];
  maxNewTokens?: number;
  log?: (message: string) => void;
}

/** The model's answerers (anchors, and the sliding-window ablation) over one engine. Throws ModelUnavailableError. */
export async function createModelAnswerers(folder: string, opts: ModelAnswererOptions = {}): Promise<{ answerers: ModelAnswerer[]; tokenizer: CodeTokenizer; dispose(): void }> {
  const { model, tokenizer } = loadModelFolder(folder);
  const js = opts.backend === "js";
  const engine = await Engine.create(model, { backend: opts.backend === "js" || !opts.backend ? "auto" : opts.backend, allowNative: !js, log: opts.log });
  const suffix = opts.backend && opts.backend !== "auto" ? ` (${opts.backend})` : "";
  const maxNew = opts.maxNewTokens ?? 160;
  const sessions = new SharedSessions(engine);
  const variant = (name: string, v: ModelVariant = {}) => new ModelAnswerer(`${name}${suffix}`, engine, tokenizer, maxNew, v, sessions);
  const answerers = [variant("model", { selectBlocks: opts.selectBlocks })];
  if (opts.window !== false) answerers.push(variant("model-window", { headSpecs: slidingWindowHeadSpecs(model.config), selectBlocks: 0 }));
  if (opts.ungrounded) answerers.push(variant("model-ungrounded", { grounded: false }));
  if (opts.freeLabels) answerers.push(variant("model-free-labels", { repairLabels: false }));
  if (opts.noSearch) answerers.push(variant("model-no-search", { searchLabels: false, tasks: ["whereDefined", "needle"] }));
  if (opts.noCalibration) answerers.push(variant("model-uncalibrated", { calibrateLabels: false, tasks: ["whereDefined", "needle"] }));
  if (opts.noRetrieval) answerers.push(variant("model-no-retrieval", { retrieve: false, tasks: ["needle"] }));
  if (opts.noSelection) answerers.push(variant("model-no-selection", { selectBlocks: 0 }));
  if (opts.noFusion) answerers.push(variant("model-no-fusion", { fusionK: 0, tasks: ["needle"] }));
  if (opts.noMatchedFirst) answerers.push(variant("model-no-matched-first", { matchedFirst: false, tasks: ["needle"] }));
  if (opts.modelLead) answerers.push(variant("model-model-lead", { leadByAgreement: false, tasks: ["needle"] }));
  if (opts.freeAfterLead) answerers.push(variant("model-free-after-lead", { freeAfterLead: true, tasks: ["needle", "whereDefined"] }));
  if (opts.noIndexFacts) answerers.push(variant("model-no-index-facts", { indexFacts: false, tasks: ["whereDefined", "whatCalls", "whoUses"] }));
  if (opts.capped) answerers.push(variant("model-capped", { capped: true }));
  for (const k of opts.fusionSweep ?? []) answerers.push(variant(`model-fusion-k${k}`, { fusionK: k, tasks: ["needle"] }));
  for (const n of opts.ngramSweep ?? []) answerers.push(variant(`model-ngram-${n}`, { noRepeatNgram: n, tasks: ["explain"] }));
  return {
    answerers,
    tokenizer,
    dispose: () => {
      sessions.clear();
      engine.dispose();
    },
  };
}

/** The speed table: per model answerer, its backend, prefill and decode rates. */
export function speedTable(speeds: readonly ModelSpeed[]): string {
  const rate = (tokens: number, ms: number) => (ms > 0 ? Math.round((tokens * 1000) / ms).toLocaleString("en-US") : "—");
  const lines = [
    "| answerer | backend (attention + dense) | contexts | prefill tokens | prefill tokens/s | answers | first token (mean) | decode tokens/s |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const s of speeds) {
    const ttft = s.answers ? `${(s.firstTokenMs / s.answers / 1000).toFixed(2)} s` : "—";
    lines.push(`| ${s.answerer} | ${s.backend} | ${s.contexts} | ${s.prefillTokens.toLocaleString("en-US")} | ${rate(s.prefillTokens, s.prefillMs)} | ${s.answers} | ${ttft} | ${rate(s.decodeTokens, s.decodeMs)} |`);
  }
  return lines.join("\n");
}
