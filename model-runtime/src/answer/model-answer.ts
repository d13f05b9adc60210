/**
 * One model answer on the calling thread: the question after the repository (RepoSession.ask, prompt
 * `layout.withQuestion(q)`), decoding until <|endanswer|> with grounded citations (grounded-citations.ts), streamed
 * as events: prose text, each citation once complete, and at the end the answer, its citations, the files it read
 * (attention mass, and in each file the definitions it read most) and its timings. The generator's return value adds the raw answer text (markers spelled out). The worker (model-service.ts) and the evaluation both use it.
 */
import type { AnswerEvent, AskOptions, RepoSession } from "../engine/repo-session";
import { placeRank, platformRank } from "../index/code-places";
import type { Definition } from "../index/types";
import { type WorkspaceIndex, isCallable, splitQualified } from "../index/workspace-index";
import type { QuestionReads } from "../layout/question-reads";
import type { RepoLayout } from "../layout/repo-layout";
import type { CodeTokenizer } from "../tokenizer";
import { SPECIAL_TOKENS } from "../tokenizer/special-tokens";
import { END_ANSWER } from "../training-data/answer-format";
import { EXPLAIN_TEMPLATES, definitionLabel, describe } from "../training-data/questions";
import { definitionReads } from "./definition-reads";
import { CALLEES_OF_IT, type CitationTarget, GroundedDecoder, type GroundingIndex, PathTrie, type QuestionFocus, USES_OF_IT, asksForExplanation, questionFocus, resolveCitationLine } from "./grounded-citations";
import { DefinedNames } from "./grounded-labels";
import { definitionSearch, isGenericWord, questionIntent } from "./index-answer";
import { type FactKind, type IndexFact, type IndexFacts, indexFacts } from "./index-facts";
import { READ_TOKENS, type ReadHit, readsForHits } from "./question-reads";
import { RepeatGuard, banRepeatedNgrams } from "./repeat-guard";
import { LabelTrie, type RankedLabel, calibrate, fuseWithRetrieved, labelOf, leadWithAgreement, labelsOf, rankLabels, scoreLabels } from "./label-search";
import type { ModelAnswer, ModelAnswerEvent, ModelCitation, ModelFileRead } from "./model-client";

export interface ModelAnswerOptions {
  maxNewTokens?: number;
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
  /** Grounded citations (default true); false samples paths and lines freely (to measure what grounding buys). */
  grounded?: boolean;
  /** What citations may name in this layout (build once per layout: citationGrounding). */
  grounding?: CitationGrounding;
  /** Misspelt labels read as the nearest defined name (default true with `grounded`); false: an ablation. */
  repairLabels?: boolean;
  /** One-definition questions: re-rank the searched labels against a content-free question (default true); false: an ablation. */
  calibrateLabels?: boolean;
  /**
   * For a question answered by one definition: search the labels the model would write first (label-search.ts),
   * start the answer with the most probable and list the next ones as other candidates (default true with
   * `grounded`); false: plain decoding (an ablation).
   */
  searchLabels?: boolean;
  /**
   * Every definition a retriever matches for the question, however weakly (e.g. the index's BM25 search), best first:
   * the first RETRIEVED's labels join the searched shortlist before it is calibrated, so the model also weighs names
   * its own search did not reach; and a description's runners-up matching none of them come last (`matchedFirst`).
   */
  retrieve?: (question: string) => ReadonlyArray<{ name: string; container?: string; root?: string; path?: string }>;
  /**
   * A description's runners-up that the retriever does not match at all come after those it does (default true): the
   * model's shortlist also holds names it favours whatever is asked (nginx `ngx_sha1.c`, gin `context.go:1505` in
   * bench/everyday). false: an ablation.
   */
  matchedFirst?: boolean;
  /** A description's labels in the library's own code before those only in tests and examples (unless it asks about tests). false: an ablation. */
  libraryFirst?: boolean;
  /**
   * What the index knows answers the question (index-facts.ts: where X is defined, what X calls, who uses X). When
   * it returns facts the answer names only them: the model orders them (by its calibrated probability of writing each
   * first), writes the first one's citation and the rest are listed in its order. Absent or undefined: the model
   * answers alone (the evaluation's `--no-index-facts` measures that).
   */
  facts?: (question: string) => IndexFacts | undefined;
  /**
   * An explanation's prose never repeats a token n-gram of this size (repeat-guard.ts banRepeatedNgrams; default
   * EXPLANATION_NO_REPEAT_NGRAM); 0: no rule (an ablation).
   */
  noRepeatNgram?: number;
  /**
   * The rank-fusion constant k for a description question's calibrated labels and the retriever's order
   * (label-search.ts fuseWithRetrieved; default RETRIEVED_FUSION_K); 0: the model's calibrated order alone (an ablation).
   */
  fusionK?: number;
  /**
   * A description's first place goes to the model's pick only when the retriever ranks it among its first hits or the
   * question names it (label-search.ts leadWithAgreement; default true); false: the model's pick always leads (an ablation).
   */
  leadByAgreement?: boolean;
  /**
   * An explanation of a symbol the index defines with a doc comment is answered by the doc comments' first
   * paragraphs, cited, without a model pass (default true); false: the model explains it (an ablation).
   */
  quoteDocs?: boolean;
  /** A one-definition answer goes on after its led citation, as the model writes (an ablation; default: it ends there). */
  freeAfterLead?: boolean;
  /**
   * A file's text as the index decoded it. With it, a question whose answer may lie in files the layout left out (a
   * repository larger than the context) has those files read first, after the repository (answer/question-reads.ts):
   * a description's or an unnamed-code question's best retrieved hits, an unread symbol's definitions for an
   * explanation. Without it (or with `readTokens` 0) the model answers from the repository it holds.
   */
  readText?: (root: string, path: string) => string | undefined;
  /** Tokens read for one question at most (default READ_TOKENS; the session's KV cache must have the room). */
  readTokens?: number;
}

/** Labels ranked for a one-definition question, and model calls the search may spend on them (the uncalibrated ablation). */
const CANDIDATES = 5;
const SEARCH_CALLS = 48;
/** A calibrated question's shortlist (re-ranked by PMI with the question) and its search budget. */
const SHORTLIST = 16;
const SHORTLIST_CALLS = 96;
/** The content-free questions a one-definition question's labels are calibrated against: what the model writes whatever is asked. */
const CONTENT_FREE_DESCRIPTION = "Which definition does this describe?";
const CONTENT_FREE_WHERE = "Where is it defined?";
/**
 * How much of the content-free prior a where-defined question's labels are divided by (calibrate's priorWeight).
 * Sibling names (`trimLeftByte` / `trimRightByte`) have priors a few nats apart and the question's own evidence
 * for the asked one is often about as large, so a full correction can hand the answer to the sibling the model
 * writes least whatever is asked. 0.8 was chosen on `--seed 2` questions for three sets of weights (best or tied
 * with the best for each; 0 is far worse); descriptions keep the full correction (their best on the same questions).
 */
const PRIOR_WEIGHT_WHERE = 0.8;

/** "Where is X defined?", "Find the definition of X", "Which file defines X?": the question names what it asks for. */
export function asksWhereDefined(question: string): boolean {
  return /\bwhere (?:is|are) .+ (?:defined|declared)\b|\bdefinition of\b|\bdefines\b/i.test(question);
}

/**
 * What a question asks of the code before a trailing "and who calls it?" or "and what does it call?": "Where is the
 * workspace index stored and who calls it?" searches for "Where is the workspace index stored" — the callers of "it"
 * follow the answer (relatedToIt), and the words "who calls" would match `callees` and `calledOn` (the search had led
 * with WorkspaceIndex.callees).
 */
export function definitionAsked(question: string): string {
  const at = [question.search(USES_OF_IT), question.search(CALLEES_OF_IT)].filter((i) => i >= 0);
  return at.length ? question.slice(0, Math.min(...at)).replace(/[\s,]*(?:\band\b)?[\s,]*$/i, "") : question;
}

/** A question whose answer is one definition (where is X defined, which code does this describe), not a list or prose. */
export function asksForOneDefinition(question: string): boolean {
  // Asked alone, "who calls it?" names nothing.
  const asked = definitionAsked(question);
  if (!/\w/.test(asked)) return false;
  // "List what X calls.", "Which definitions does X use?": a list of callees, whatever questionIntent makes of it.
  const asksForCallees = /\b(?:calls?|uses?|depends? on|invokes?)\s*[?.!]?\s*$/i.test(asked);
  return !asksForExplanation(asked) && !asksForCallees && questionFocus(asked).kind !== "uses" && questionIntent(asked) === "definition";
}

/**
 * A question about what code does that names no symbol ("how does flask find the app when running flask run?",
 * "explain the request context"): answered like a description, with the definition that does it and the runners-up.
 * The model was trained to explain a named definition; with no name to explain, its free answer to such a question
 * tends to cite one unrelated line over and over.
 */
export function asksAboutUnnamedCode(question: string): boolean {
  return asksForExplanation(question) && !questionFocus(question).symbol;
}

/** The n-gram an explanation's prose may not repeat (tokens); chosen on the evaluation's explanations, docs/benchmarks/eval-model.md. */
export const EXPLANATION_NO_REPEAT_NGRAM = 3;

/** Places listed after an explanation, at most. */
const MAX_DEFINED_AT = 3;

/** The index's definitions of the symbol an explanation asks about (its where-defined facts), if any. */
function explainedDefinitions(question: string, facts: ModelAnswerOptions["facts"]): IndexFacts | undefined {
  const symbol = asksForExplanation(question) ? questionFocus(question).symbol : undefined;
  const found = symbol ? facts?.(`Where is \`${symbol}\` defined?`) : undefined;
  return found?.kind === "where" && found.definitions.some((d) => d.name) ? found : undefined;
}

/**
 * The first paragraph of a definition's doc comment, stopping where tags begin (JSDoc `@param`, reST `:param:` and
 * directives): the repository's own words for what it does.
 */
export function docSummary(doc: string): string {
  const tags = doc.search(/(?:^|\n)\s*(?:@[a-z]|:(?:param|returns?|raises|type)\b|\.\. |Args:|Returns:|Examples?:)/);
  const beforeTags = tags < 0 ? doc : doc.slice(0, tags);
  return beforeTags.trim() ? describe(beforeTags) : "";
}

/** A fact's definition in the index. */
function definitionOf(index: GroundingIndex, f: IndexFact): Definition | undefined {
  const defs = index.get(f.root, f.path)?.definitions.filter((x) => x.name === f.name && x.container === f.container) ?? [];
  // Overloads and prototypes in one file: the implementation, which holds the doc (click's Context.invoke).
  return defs.find((d) => !d.declarationOnly && d.doc) ?? defs.find((d) => d.doc) ?? defs.find((d) => !d.declarationOnly) ?? defs[0];
}

/** The doc summary of a fact's definition ("" where it has none). */
function docOf(index: GroundingIndex, f: IndexFact): string {
  const d = definitionOf(index, f);
  return d ? docSummary(d.doc) : "";
}

/** The definitions an explanation lists (where the symbol is defined), at most MAX_DEFINED_AT. */
function explainedPlaces(explained: IndexFacts): IndexFact[] {
  return explained.definitions.filter((f) => f.name).slice(0, MAX_DEFINED_AT);
}

/**
 * A documented symbol's answer, its whole text: its definitions, each cited with its doc summary (one
 * `- \`label\` path:line — summary` line each).
 */
function documentedAt(explained: IndexFacts, index: GroundingIndex): { citations: ModelCitation[]; text: () => string } {
  const { citations, lines } = placesListed(explained, index, (f) => docOf(index, f));
  const text = lines.join("\n");
  return { citations, text: () => text };
}

/** The explained symbol's definitions, each cited on a `- \`label\` path:line — note` line (where it has a note). */
function placesListed(explained: IndexFacts, index: GroundingIndex, note: (f: IndexFact) => string): { citations: ModelCitation[]; lines: string[] } {
  const focus: QuestionFocus = { symbol: explained.symbol, kind: "other" };
  const citations: ModelCitation[] = [];
  const lines: string[] = [];
  for (const f of explainedPlaces(explained)) {
    const n = citations.length;
    citeOnce(index, [f], definitionLabel(f), focus, [], citations);
    if (citations.length === n) continue;
    const c = citations[n];
    const text = note(f);
    lines.push(`- \`${c.label}\` ${c.path}:${c.line}${text ? ` — ${text}` : ""}`);
  }
  return { citations, lines };
}

/** A variable's answer, its whole text: each binding cited with its line (`- \`NAME\` path:line — \`NAME = 30\``). */
function boundAt(facts: IndexFacts): { citations: ModelCitation[]; text: () => string } {
  const variables = facts.variables ?? [];
  const citations = variables.map(({ root, path, variable: v }) => ({ root, path, line: v.line + 1, label: v.container ? `${v.container}.${v.name}` : v.name }));
  const lines = variables.map((h, i) => `- \`${citations[i].label}\` ${h.path}:${h.variable.line + 1} — \`${h.variable.text.replaceAll("`", "'")}\``);
  const text = [`\`${facts.symbol}\` is a variable, not a function or a type; it is bound at:`, "", ...lines].join("\n");
  return { citations, text: () => text };
}

/** Callees and callers listed under an explanation written by the index, at most. */
const MAX_DESCRIBED_FACTS = 6;

/**
 * An explained symbol whose code the model did not read (a repository larger than its context): the index's
 * account, every line cited — its definitions with their signatures, what it calls and what calls it. Asked what
 * nginx's ngx_http_limit_req_handler does, the model (which had read 7% of nginx, not that module) wrote "This
 * function is called whenever the system supports a filter".
 */
function describedByIndex(explained: IndexFacts, index: GroundingIndex, facts: ModelAnswerOptions["facts"]): { citations: ModelCitation[]; text: () => string } {
  // No definition of it has a doc comment (documentedAt answers those): each is shown by its signature.
  const places = placesListed(explained, index, (f) => {
    const d = definitionOf(index, f);
    return d ? `\`${d.signature}\`` : "";
  });
  const citations = places.citations;
  const lines = [`\`${explained.symbol}\` is outside the part of the repository the model read; from the index:`, "", ...places.lines];
  lines.push(...callsAndCallers(explained.symbol, index, facts, citations));
  const text = lines.join("\n");
  return { citations, text: () => text };
}

/**
 * What a symbol calls and what calls it, from the index, as titled lists (`Calls:` / `Called by:`, each at most
 * MAX_DESCRIBED_FACTS, none already in `citations`); their citations are added to `citations`.
 */
function callsAndCallers(symbol: string, index: GroundingIndex, facts: ModelAnswerOptions["facts"], citations: ModelCitation[]): string[] {
  const lines: string[] = [];
  for (const [title, ask, kind] of [
    ["Calls", `What does \`${symbol}\` call?`, "other"],
    ["Called by", `Who calls \`${symbol}\`?`, "uses"],
  ] as const) {
    const found = facts?.(ask);
    if (!found || found.kind === "where") continue;
    // What it calls are functions: the types and constants it uses (ngx_msec_t, NGX_HTTP_LIMIT_REQ_PASSED) say little.
    const called = found.kind === "calls" ? { ...found, definitions: found.definitions.filter((f) => isCallable(definitionOf(index, f))) } : found;
    const list = remainingFacts([], called, citations, index, { symbol, kind }).slice(0, MAX_DESCRIBED_FACTS);
    if (list.length === 0) continue;
    citations.push(...list);
    lines.push("", `${title}:`, "", ...list.map((c) => `- ${c.label ? `\`${c.label}\` ` : ""}${c.path}:${c.line}`));
  }
  return lines;
}

/**
 * How an everyday explanation question is put to the model: in the trained form (`What does \`X\` do?`). Asked
 * "how does send_file work?" the model wrote a citation of an unrelated line; asked in its template it writes prose.
 */
export function explanationAsTrained(question: string): string {
  const symbol = asksForExplanation(question) ? questionFocus(question).symbol : undefined;
  if (!symbol) return question;
  const trained = EXPLAIN_TEMPLATES.map((t) => t.replace("{X}", symbol));
  return trained.includes(question.trim()) ? question : `What does \`${symbol}\` do?`;
}

/** The content-free questions a fact list is calibrated against, by kind. */
const CONTENT_FREE_FACTS: Record<FactKind, string> = { where: CONTENT_FREE_WHERE, calls: "What does it call?", uses: "Who uses it?" };
/** Facts listed after the answer's first citation at most. */
const MAX_LISTED_FACTS = 10;

/** The index's facts as an answer option (options.facts). */
export function indexFactsOf(index: WorkspaceIndex): NonNullable<ModelAnswerOptions["facts"]> {
  return (question) => indexFacts(index, question);
}

/** Definitions the index's BM25 search adds to a description question's shortlist. */
const RETRIEVED = 8;
/** Reciprocal-rank-fusion constant for the model's and the retriever's orders (chosen on `--seed 2` questions: docs/benchmarks/eval-model.md). */
export const RETRIEVED_FUSION_K = 3;

/**
 * The index's full-text search as a `retrieve` option: every definition sharing a word with the question, best first.
 * The search is built on the first description question, not when the option is made (every model answer makes one).
 */
export function indexRetriever(index: WorkspaceIndex): NonNullable<ModelAnswerOptions["retrieve"]> {
  return (question) => definitionSearch(index).query(question, Infinity).map((h) => ({ ...h.definition, root: h.root, path: h.path }));
}

/** The first place stays; among the rest, labels the retriever matched come first, each group in its order. */
export function matchedRunnersUpFirst(ranked: readonly RankedLabel[], matched: ReadonlySet<string>): RankedLabel[] {
  const [first, ...rest] = ranked;
  if (!first) return [];
  return [first, ...rest.filter((r) => matched.has(r.label)), ...rest.filter((r) => !matched.has(r.label))];
}

/** What a citation may name: the laid-out files' paths and their definitions' names. */
export interface CitationGrounding {
  trie: PathTrie;
  /** Whether a file is laid out (in the model's context). */
  laidOut: (file: CitationTarget) => boolean;
  names: DefinedNames;
  /** The definitions' labels as token ids, for label search. */
  labels: LabelTrie;
}

/** Files the model can cite (paths encoded as the layout encodes them) and the names they define; with `reads`, the files read for the question too. */
export function citationGrounding(layout: RepoLayout, tokenizer: Pick<CodeTokenizer, "encode">, index: GroundingIndex, reads?: QuestionReads): CitationGrounding {
  const keys = new Set<string>();
  const files: Array<{ file: CitationTarget; definitions: Definition[] }> = [];
  for (const f of [...layout.fileBlocks(), ...(reads?.files ?? [])]) {
    const key = `${f.root}\0${f.path}`;
    if (keys.has(key)) continue;
    keys.add(key);
    files.push({ file: { root: f.root, path: f.path }, definitions: index.get(f.root, f.path)?.definitions ?? [] });
  }
  return {
    trie: PathTrie.build(files.map((f) => f.file), (p) => tokenizer.encode(p)),
    laidOut: (f) => keys.has(`${f.root}\0${f.path}`),
    names: new DefinedNames(files.flatMap((f) => f.definitions.map((d) => d.name))),
    labels: LabelTrie.build(files, (t) => tokenizer.encode(t)),
  };
}

const MIN_SHARE = 0.005;

export async function* answerWithModel(
  session: RepoSession,
  tokenizer: CodeTokenizer,
  index: GroundingIndex,
  question: string,
  opts: ModelAnswerOptions = {},
): AsyncGenerator<ModelAnswerEvent, { answer: ModelAnswer; raw: string }, void> {
  const t0 = performance.now();
  const special = new Set(SPECIAL_TOKENS.map((t) => tokenizer.specialTokenId(t)));
  const id = (t: (typeof SPECIAL_TOKENS)[number]) => tokenizer.specialTokenId(t);
  const grounded = opts.grounded !== false;
  // The retriever's hits decide what is read and join the label search, and the facts decide both what is read and
  // the plan: each is asked once per question.
  opts = { ...opts, retrieve: opts.retrieve && memoized(opts.retrieve), facts: opts.facts && memoized(opts.facts) };
  const reads = await readForQuestion(session, index, question, opts);
  // The files read for the question can be cited too: their grounding is built for this answer.
  const grounding = !grounded ? undefined : reads ? citationGrounding(session.layout, tokenizer, index, reads) : (opts.grounding ?? citationGrounding(session.layout, tokenizer, index));
  const decoder = grounding
    ? new GroundedDecoder({
        trie: grounding.trie,
        names: opts.repairLabels === false ? undefined : grounding.names,
        index,
        question,
        ids: { cite: id("<|cite|>"), endCite: id("<|endcite|>"), colon: tokenizer.encode(":")[0] },
        encode: (s) => tokenizer.encode(s),
        decodeBytes: (ids) => tokenizer.decodeBytes(ids),
        // Layout markers have no place in an answer; the stop tokens stay allowed.
        forbidden: SPECIAL_TOKENS.filter((t) => !["<|endanswer|>", "<|eos|>", "<|cite|>", "<|endcite|>"].includes(t)).map(id),
      })
    : undefined;
  const plan = decoder && grounding ? await planAnswer(session, decoder, grounding, index, question, opts) : undefined;
  const { facts, factAnswer = false, skipModel = false, beforeAnswer } = plan ?? {};
  // A one-definition answer is its led label's citation; the runners-up follow as candidates. What the model wrote
  // after the led line ran free: another name of the file it had just cited, a test, line 1 of a file.
  const oneCitation = !factAnswer && (plan?.ranked.length ?? 0) > 0 && !beforeAnswer && opts.freeAfterLead !== true;
  const text = new TextDecoder("utf-8");
  let answer = "";
  let firstAt = 0;
  let count = 0;
  let stop: ModelAnswer["stop"] = skipModel ? "end" : "length";
  const raw: number[] = [];
  // A line repeating an earlier one ends the answer and is left out (repeat-guard.ts): the citations of a line held
  // back wait with it, and the raw answer is cut where it began.
  const guard = new RepeatGuard();
  const noRepeatNgram = !factAnswer && asksForExplanation(question) && !asksAboutUnnamedCode(question) ? (opts.noRepeatNgram ?? EXPLANATION_NO_REPEAT_NGRAM) : 0;
  let heldCitations: ModelCitation[] = [];
  let rawAtHeldLine = 0;
  let repeated = false;
  const dropHeld = () => {
    decoder?.citations.splice(decoder.citations.length - heldCitations.length);
    heldCitations = [];
    raw.length = rawAtHeldLine;
    repeated = true;
  };
  const askOptions: AskOptions = {
    maxNewTokens: opts.maxNewTokens ?? 256,
    sampling: { temperature: opts.temperature ?? 0, seed: opts.seed },
    signal: opts.signal,
    // A fact or one-definition answer ends after its first citation: the other facts or candidates follow, below.
    choose: decoder
      ? (logits, sample) => {
          if ((factAnswer || oneCitation) && decoder.citations.length > 0 && !decoder.inCitation) return { id: id("<|endanswer|>"), logprob: 0 };
          if (noRepeatNgram && !decoder.inCitation) banRepeatedNgrams(logits, raw, noRepeatNgram);
          return decoder.choose(logits, sample);
        }
      : undefined,
    beforeAnswer,
  };
  const tokens = skipModel ? noTokens() : session.ask(explanationAsTrained(question), askOptions);
  for await (const t of tokens) {
    if (count++ === 0) firstAt = performance.now();
    raw.push(t.id);
    if (t.id === id("<|endanswer|>") || t.id === id("<|eos|>")) {
      stop = "end";
      break;
    }
    // Prose and citations as people read them: markers dropped, the path and ":line" kept.
    const piece = special.has(t.id) ? "" : text.decode(tokenizer.decodeBytes([t.id]), { stream: !t.last });
    const wasHolding = guard.holding;
    const step = guard.push(piece);
    if (step.repeated) {
      dropHeld();
      break;
    }
    if (guard.holding && (!wasHolding || piece.includes("\n"))) rawAtHeldLine = raw.length - 1;
    if (step.emit) {
      answer += step.emit;
      yield { kind: "token", text: step.emit };
    }
    if (decoder?.completed) heldCitations.push(decoder.completed);
    if (!guard.holding) {
      for (const citation of heldCitations) yield { kind: "citation", citation };
      heldCitations = [];
    }
    // Decode steps run inline (engine.ts: small calls skip libuv's pool), so give the event loop a turn per token:
    // a worker must see a "cancel" message mid-answer, not after it.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  if (!repeated) {
    const tail = guard.push(text.decode());
    const last = tail.repeated ? tail : guard.end();
    const emit = tail.emit + (tail.repeated ? "" : last.emit);
    if (emit) {
      answer += emit;
      yield { kind: "token", text: emit };
    }
    if (last.repeated) dropHeld();
    for (const citation of heldCitations) yield { kind: "citation", citation };
  }
  if (repeated) stop = "repeat";
  // What follows the model's own words: the other facts, where an explained symbol is defined, or the runners-up.
  let rawTail = "";
  const after = !decoder
    ? undefined
    : plan?.bound
      ? boundAt(plan.bound)
      : plan?.quoted
      ? documentedAt(plan.quoted, index)
      : plan?.unread
        ? describedByIndex(plan.unread, index, opts.facts)
        : skipModel && !factAnswer
        ? candidatesOnly(plan?.ranked ?? [], index, question)
        : citationsAfter(decoder.citations, { ranked: plan?.ranked ?? [], facts: factAnswer ? facts : undefined, explainFacts: opts.facts, index, question });
  // "Where is the workspace index stored and who calls it?": the answer's definition, then its callers from the index.
  // The definition is the answer's first label: the one it led with, else the first it cited.
  // An explanation quoted from the docs cites its definitions after the words (after.citations).
  const answered = (!factAnswer || facts?.kind === "where") && (plan?.ranked[0]?.label || decoder?.citations[0]?.label || after?.citations[0]?.label);
  const cited = [...(decoder?.citations ?? []), ...(after?.citations ?? [])];
  const related = decoder && answered ? relatedToIt(question, answered, opts.facts, index, cited) : [];
  for (const part of [after, ...related]) {
    if (!part?.citations.length) continue;
    const piece = part.text(answer);
    answer += piece;
    yield { kind: "token", text: piece };
    for (const c of part.citations) {
      decoder!.citations.push(c);
      yield { kind: "citation", citation: c };
    }
    rawTail += part.citations.map((c) => `\n${c.label ? `${c.label} ` : ""}<|cite|>${c.path}:${c.line}<|endcite|>`).join("");
  }
  const end = performance.now();
  const citations = decoder?.citations ?? ungroundedCitations(tokenizer.decode(raw));
  const decodeTokens = Math.max(0, count - 1);
  const decodeMs = count ? end - firstAt : 0;
  const result: ModelAnswer = {
    text: answer.trim(),
    citations,
    readMap: skipModel ? [] : readShares(session, index),
    timings: {
      timeToFirstTokenMs: (firstAt || end) - t0,
      decodeTokens,
      decodeMs,
      decodeTokensPerSecond: decodeMs > 0 ? (decodeTokens * 1000) / decodeMs : 0,
    },
    stop,
  };
  yield { kind: "done", answer: result };
  // The answer's ids decoded with the markers spelled out (forced citation tokens included): the evaluation's input.
  // The candidates belong to the answer: before its <|endanswer|> (readers stop there).
  const rawText = tokenizer.decode(raw);
  const cut = rawText.endsWith(END_ANSWER) ? rawText.length - END_ANSWER.length : rawText.length;
  return { answer: result, raw: rawText.slice(0, cut) + rawTail + rawText.slice(cut) };
}

/** `f` with its results kept by argument (one answer asks a handful of questions of the index). */
function memoized<R>(f: (question: string) => R): (question: string) => R {
  const seen = new Map<string, R>();
  return (q) => {
    if (!seen.has(q)) seen.set(q, f(q));
    return seen.get(q)!;
  };
}

/**
 * Reads what the question needs beyond the layout (question-reads.ts) into the session, or clears what an earlier
 * question read; returns the reads (undefined when none). Which questions: a description or a question about unnamed
 * code (the retriever's first RETRIEVED hits), an explanation of an undocumented symbol defined only outside the layout
 * (its definitions). Questions the index answers (where defined, what calls, who uses) read nothing.
 */
async function readForQuestion(session: RepoSession, index: GroundingIndex, question: string, opts: ModelAnswerOptions): Promise<QuestionReads | undefined> {
  const { hits, withTests } = opts.readText && opts.readTokens !== 0 && opts.grounded !== false && opts.searchLabels !== false ? hitsToRead(question, opts, index) : { hits: [], withTests: false };
  if (hits.length === 0 && !session.questionReads) return undefined;
  const laidOut = (f: CitationTarget) => session.layout.fileSpan(f.root, f.path) !== undefined;
  const sources = readsForHits(hits, { laidOut, get: (r, p) => index.get(r, p), readText: opts.readText! }, withTests);
  const reads = sources.length ? session.layout.readSegments(sources, opts.readTokens ?? READ_TOKENS) : undefined;
  await session.readAlso(reads?.numBlocks ? reads : undefined, { signal: opts.signal });
  return session.questionReads;
}

/** A question about tests or examples themselves ("which test covers …?"): their files may be read for it. */
const ASKS_ABOUT_TESTS = /\b(?:tests?|tested|testing|specs?|examples?|demos?)\b/i;

/**
 * The definitions whose code a question would have the model read (before knowing which are laid out), and whether
 * tests and examples among them are read: a symbol asked about by name, wherever it is; a search hit in a test only
 * when the question is about tests.
 */
function hitsToRead(question: string, opts: ModelAnswerOptions, index: GroundingIndex): { hits: ReadHit[]; withTests: boolean } {
  const none = { hits: [], withTests: false };
  const facts = opts.facts?.(question);
  if (facts?.definitions.length || facts?.variables?.length) return none;
  const explained = explainedDefinitions(question, opts.facts);
  if (explained) {
    // A documented symbol is quoted from its docs (no model pass): nothing to read.
    if (opts.quoteDocs !== false && explainedPlaces(explained).some((f) => docOf(index, f))) return none;
    return { hits: explainedPlaces(explained).filter((f) => f.name), withTests: true };
  }
  if (asksWhereDefined(question) || !(asksForOneDefinition(question) || asksAboutUnnamedCode(question))) return none;
  return { hits: (opts.retrieve?.(definitionAsked(question)) ?? []).slice(0, RETRIEVED), withTests: ASKS_ABOUT_TESTS.test(question) };
}

/** What the answer starts from, decided before decoding. */
interface AnswerPlan {
  /** The index's facts for the question (where X is defined, what X calls, who uses X), if any. */
  facts?: IndexFacts;
  /** The answer names only the facts. */
  factAnswer: boolean;
  /** No fact is in a file the model read: the index's list is the answer, the model writes nothing. */
  skipModel: boolean;
  /** The labels the model ranked (facts or one-definition candidates), best first. */
  ranked: RankedLabel[];
  /** An explained symbol with a doc comment: the answer lists its definitions with their docs (no model pass). */
  quoted?: IndexFacts;
  /** An explained symbol in files the model did not read: the index describes it (no model pass). */
  unread?: IndexFacts;
  /** A where-defined question about a variable (IndexFacts.variables): the index cites its bindings (no model pass). */
  bound?: IndexFacts;
  /** The uncalibrated ablation searches after the question's first logits (ranked is filled then). */
  beforeAnswer?: AskOptions["beforeAnswer"];
}

/**
 * The answer's start: for a question the index answers, the facts ordered by the model and the first one led; for a
 * one-definition question (where defined, a description, a question about unnamed code), the searched labels and the
 * best one led; otherwise nothing (the model answers freely).
 */
async function planAnswer(session: RepoSession, decoder: GroundedDecoder, grounding: CitationGrounding, index: GroundingIndex, question: string, opts: ModelAnswerOptions): Promise<AnswerPlan> {
  const found = opts.searchLabels !== false ? opts.facts?.(question) : undefined;
  // A variable or a constant (no definition has the name): the index cites where it is bound; the model has no label
  // for it and would name something else it read.
  if (found?.variables?.length) return { factAnswer: false, skipModel: true, ranked: [], bound: found };
  const facts = found?.definitions.length ? found : undefined;
  if (facts) {
    // The model can write only the facts in files it read: a repository larger than the context leaves files out,
    // and their facts are listed by the index after the model's (with none read, the index's list is the answer).
    const read = (f: CitationTarget) => grounding.laidOut(f);
    // What X calls, when none of the functions it calls is in a file the model read: the index's list (functions first)
    // is the answer — the model would lead with a type it read (nginx: `ngx_uint_t` for ngx_http_limit_req_handler).
    const callables = facts.kind === "calls" ? facts.definitions.filter((d) => isCallable(definitionOf(index, d))) : [];
    if (callables.length && !callables.some(read)) return { facts, factAnswer: true, skipModel: true, ranked: [] };
    const readNamed = facts.definitions.filter((d) => d.name && read(d));
    const factLabels = labelsOf(grounding.labels, readNamed, []);
    // A use outside every definition is a fact without a name (its line written with an empty label, as training does).
    const unnamed = facts.definitions.filter((d) => !d.name && read(d));
    if (factLabels.length === 0 && unnamed.length === 0) return { facts, factAnswer: true, skipModel: true, ranked: [] };
    // The facts it read are all tests (or examples) while the library's own are in files it did not read: the index's
    // list, library first, is the answer (axum's "who calls into_make_service?" had led with three inline tests).
    const rankOf = (d: IndexFact) => placeRank(d.path, d.name, d.container);
    const bestRead = Math.min(...readNamed.map(rankOf));
    if (factLabels.length && bestRead > Math.min(...facts.definitions.filter((d) => d.name).map(rankOf))) return { facts, factAnswer: true, skipModel: true, ranked: [] };
    // The index knows the answer's names: the model orders them and writes the first one's citation, its path chosen
    // among that fact's own places.
    const priorWeight = facts.kind === "where" ? PRIOR_WEIGHT_WHERE : 1;
    const modelOrder = factLabels.length ? await rankedFacts(session, factLabels, question, CONTENT_FREE_FACTS[facts.kind], priorWeight, opts.signal) : [];
    const byPlace = libraryLabelsFirst(modelOrder, (label) => placesOf(facts, label));
    // What X calls: the functions it calls lead, the types and constants it uses follow (each in the model's order).
    const ranked = facts.kind === "calls" ? callableLabelsFirst(byPlace, (label) => placesOf(facts, label), index) : byPlace;
    const first = ranked[0];
    decoder.lead(first?.ids ?? [], first ? libraryFirst(placesOf(facts, first.label).filter(read), first.label) : unnamed);
    return { facts, factAnswer: true, skipModel: false, ranked };
  }
  // The repository documents what it asks about: its doc comments answer, in its own words; a small model's
  // paraphrase of them was often wrong ("Send a string into a list of strings." for Express's res.send).
  const explained = opts.quoteDocs !== false ? explainedDefinitions(question, opts.facts) : undefined;
  if (explained && explainedPlaces(explained).some((f) => docOf(index, f))) return { factAnswer: false, skipModel: true, ranked: [], quoted: explained };
  if (explained && !explainedPlaces(explained).some((f) => grounding.laidOut(f))) return { factAnswer: false, skipModel: true, ranked: [], unread: explained };
  const none: AnswerPlan = { factAnswer: false, skipModel: false, ranked: [] };
  if (opts.searchLabels === false || grounding.labels.size === 0 || !(asksForOneDefinition(question) || asksAboutUnnamedCode(question))) return none;
  if (opts.calibrateLabels === false) {
    // The ablation: the model's own order.
    const plan: AnswerPlan = { ...none };
    plan.beforeAnswer = async (firstLogits, probe) => {
      plan.ranked = await rankLabels(grounding.labels, firstLogits, probe, { k: CANDIDATES, maxExpansions: SEARCH_CALLS });
      if (plan.ranked.length) decoder.lead(plan.ranked[0].ids);
    };
    return plan;
  }
  // A shortlist by the model's probability, re-ranked against a content-free question of the same form.
  const contentFree = asksWhereDefined(question) ? CONTENT_FREE_WHERE : CONTENT_FREE_DESCRIPTION;
  // Where-defined questions name the symbol: a retriever would hand over the answer, so only descriptions take its hits.
  const asked = definitionAsked(question);
  const matches = asksWhereDefined(question) ? [] : (opts.retrieve?.(asked) ?? []);
  const retrieved = matches.slice(0, RETRIEVED);
  const priorWeight = asksWhereDefined(question) ? PRIOR_WEIGHT_WHERE : 1;
  let ranked = await calibratedLabels(session, grounding.labels, asked, contentFree, retrieved, priorWeight, opts.signal);
  const fusionK = opts.fusionK ?? RETRIEVED_FUSION_K;
  if (retrieved.length && fusionK > 0) {
    // A retrieved definition in a file the model did not read (a repository larger than the context) can still be a
    // candidate, placed by the retriever's rank alone.
    const outside = retrieved.filter((d) => d.root !== undefined && d.path !== undefined && !grounding.laidOut({ root: d.root, path: d.path }));
    const outsideLabels = outside.map((d) => ({ label: definitionLabel(d), logprob: -Infinity, ids: [], files: [{ root: d.root!, path: d.path! }] }));
    const retrievedLabels = retrieved.map((d) => (outside.includes(d) ? definitionLabel(d) : labelOf(grounding.labels, d))).filter((l): l is string => l !== undefined);
    ranked = fuseWithRetrieved(ranked, retrievedLabels, fusionK, outsideLabels);
    if (opts.leadByAgreement !== false) ranked = leadWithAgreement(ranked, retrievedLabels, namedIn(question));
  }
  if (opts.matchedFirst !== false && retrieved.length) ranked = matchedRunnersUpFirst(ranked, new Set(matches.flatMap((d) => [definitionLabel(d), d.name])));
  // A question about what the code does is answered by the library's code; a test that exercises it comes after
  // (requests' "how are redirects followed?" had led with test_getattr_proxy_stream_follows_redirect).
  if (opts.libraryFirst !== false && !ASKS_ABOUT_TESTS.test(question)) {
    const filesOf = new Map(ranked.map((r) => [r.label, r.files]));
    ranked = libraryLabelsFirst(ranked, (label) => filesOf.get(label) ?? []);
  }
  ranked = ranked.slice(0, CANDIDATES);
  // The answer is a definition in a file the model did not read (nginx: 128k of 1.9M tokens read): the index lists the
  // candidates, the model writes nothing (it would only name something it read).
  if (ranked.length && ranked[0].ids.length === 0) return { ...none, skipModel: true, ranked };
  if (ranked.length) decoder.lead(ranked[0].ids, libraryFirst(implementationsFirst(ranked[0].files, ranked[0].label, index), ranked[0].label));
  return { ...none, ranked };
}

/**
 * Whether a question names a label's definition: its name is a word of the question, as written, and not a word
 * questions use for other things (isGenericWord: "index", "view", "value").
 */
export function namedIn(question: string): (label: string) => boolean {
  const words = new Set(question.match(/[A-Za-z_$][\w$]*/g) ?? []);
  return (label) => {
    const name = labelName(label);
    return name.length >= 3 && words.has(name) && !isGenericWord(name);
  };
}

/**
 * The shortlist of labels for `question` — the model's best-first search, plus the labels of `retrieved`
 * definitions — re-ranked by PMI against `contentFree` (label-search.ts calibrate).
 */
async function calibratedLabels(
  session: RepoSession,
  labels: LabelTrie,
  question: string,
  contentFree: string,
  retrieved: ReadonlyArray<{ name: string; container?: string }>,
  priorWeight: number,
  signal?: AbortSignal,
): Promise<RankedLabel[]> {
  let shortlist: RankedLabel[] = [];
  let prior: number[] = [];
  let firstTokenPrior: Float32Array | undefined;
  // Three short passes over the question region, no answer decoded: the content-free question's first-token logits
  // (they steer the search), the search itself (and the retrieved labels' scores), then the shortlist's prior.
  await beforeAnswerOnly(session, contentFree, signal, async (first) => void (firstTokenPrior = first.slice()));
  await beforeAnswerOnly(session, question, signal, async (first, probe) => {
    shortlist = await rankLabels(labels, first, probe, { k: SHORTLIST, maxExpansions: SHORTLIST_CALLS, firstTokenPrior });
    // A starved search (its calls spent down long names with a rare first token) has nothing to calibrate: the
    // unsteered search fills it, so the answer does not start from a free-running guess.
    if (shortlist.length < 2) {
      const taken = new Set(shortlist.map((r) => r.label));
      const plain = await rankLabels(labels, first, probe, { k: SHORTLIST, maxExpansions: SHORTLIST_CALLS });
      shortlist.push(...plain.filter((r) => !taken.has(r.label)));
    }
    const extra = labelsOf(labels, retrieved, shortlist);
    const scores = await scoreLabels(extra, first, probe);
    shortlist.push(...extra.map((r, i) => ({ ...r, logprob: scores[i] })));
  });
  if (shortlist.length < 2) return shortlist;
  await beforeAnswerOnly(session, contentFree, signal, async (first, probe) => void (prior = await scoreLabels(shortlist, first, probe)));
  return calibrate(shortlist, prior, priorWeight);
}

/** Reads `question` and runs `search` where its answer would start; stops before decoding any of it. */
async function beforeAnswerOnly(session: RepoSession, question: string, signal: AbortSignal | undefined, search: NonNullable<AskOptions["beforeAnswer"]>): Promise<void> {
  // The answer room must hold the longest probe (a label's tokens).
  const answer = session.ask(question, { maxNewTokens: 64, signal, beforeAnswer: search });
  await answer.next();
  await answer.return();
}

/**
 * The index's facts in the model's order: each label's probability of being written first after the question,
 * calibrated against a content-free question of the same kind (PMI, as calibratedLabels). One fact needs no model call.
 */
async function rankedFacts(
  session: RepoSession,
  facts: ReadonlyArray<{ label: string; ids: number[]; files: RankedLabel["files"] }>,
  question: string,
  contentFree: string,
  priorWeight: number,
  signal?: AbortSignal,
): Promise<RankedLabel[]> {
  const asRanked = (scores: readonly number[]) => facts.map((f, i) => ({ ...f, logprob: scores[i] }));
  if (facts.length === 1) return asRanked([0]);
  let given: number[] = [];
  let prior: number[] = [];
  await beforeAnswerOnly(session, question, signal, async (first, probe) => void (given = await scoreLabels(facts, first, probe)));
  await beforeAnswerOnly(session, contentFree, signal, async (first, probe) => void (prior = await scoreLabels(facts, first, probe)));
  return calibrate(asRanked(given), prior, priorWeight);
}

/**
 * The facts after the answer's first citation, as citations in the model's order: each label's places as the index
 * found them (a name defined in two files is two places; a user's file is where it uses the symbol), lines written by
 * the index, none cited twice.
 */
function remainingFacts(ranked: readonly RankedLabel[], facts: IndexFacts, cited: readonly ModelCitation[], index: GroundingIndex, focus: QuestionFocus): ModelCitation[] {
  const out: ModelCitation[] = [];
  // The model's order first; then the facts it could not write (in files it did not read), in the index's order.
  const inRanked = new Set(ranked.flatMap((r) => placesOf(facts, r.label)));
  const unranked = facts.definitions.filter((d) => d.name && !inRanked.has(d)).map((d) => ({ label: definitionLabel(d), places: [d] }));
  const groups: Array<{ label: string; places: IndexFact[] }> = [...ranked.map((r) => ({ label: r.label, places: placesOf(facts, r.label) })), ...unranked, { label: "", places: facts.definitions.filter((d) => !d.name) }];
  // A fact is one definition (or, unnamed, one file's uses outside definitions): once cited, its other lines are not
  // more facts ("who calls make_response?" listed make_response's call, then a docstring line of the same function).
  const citedAlready = (label: string, place: IndexFact) => [...cited, ...out].some((c) => c.label === label && c.path === place.path && (c.root === undefined || c.root === place.root));
  for (const { label, places } of groups) {
    for (const place of places) {
      if (out.length >= MAX_LISTED_FACTS) return out;
      if (!citedAlready(label, place)) citeOnce(index, [place], label, focus, cited, out);
    }
  }
  return out;
}

/**
 * The citations listed after the answer's own words, each grounded like one of its own, and how they read: a fact
 * answer's list goes on (one `label path:line` per line); an explanation of a symbol the index defines ends with where
 * it is defined (the model's prose names no place); a one-definition answer's runners-up are set apart as candidates.
 */
function citationsAfter(
  cited: readonly ModelCitation[],
  a: { ranked: readonly RankedLabel[]; facts?: IndexFacts; explainFacts: ModelAnswerOptions["facts"]; index: GroundingIndex; question: string },
): { citations: ModelCitation[]; text: (answerSoFar: string) => string } {
  if (a.facts) {
    const list = remainingFacts(a.ranked, a.facts, cited, a.index, questionFocus(a.question));
    return { citations: list, text: (answer) => list.map((c, i) => `${i === 0 && !answer ? "" : "\n"}${c.label ? `${c.label} ` : ""}${c.path}:${c.line}`).join("") };
  }
  const explained = explainedDefinitions(a.question, a.explainFacts);
  if (explained) {
    // The model's prose about undocumented code can be wrong ("handleHTTPRequest is the default client connection."):
    // what the index knows for sure follows it — where it is defined, what it calls, what calls it.
    const defined = definedAt(explained, cited, a.index);
    const all = [...defined];
    const factLines = callsAndCallers(explained.symbol, a.index, a.explainFacts, all);
    const tail = factLines.map((l) => `\n${l}`).join("");
    return { citations: all, text: (answer) => (defined.length ? titledList(answer, "Defined at", defined) : "") + tail };
  }
  const list = otherCandidates(a.ranked, cited, a.index, a.question);
  return { citations: list, text: (answer) => titledList(answer, "Other candidates", list) };
}

/** A list of citations set apart after the answer so far (a blank line, `Title:`, one `- \`label\` path:line` each). */
function titledList(answerSoFar: string, title: string, list: readonly ModelCitation[]): string {
  // The answer may end with a line break already.
  const lines = list.map((c) => `- ${c.label ? `\`${c.label}\` ` : ""}${c.path}:${c.line}`).join("\n");
  return `${answerSoFar.endsWith("\n") ? "\n" : "\n\n"}${title}:\n\n${lines}`;
}

/**
 * A one-definition answer the model did not write (its first label is in a file it did not read): the first label's
 * citation, then the others as candidates, every line written by the index.
 */
function candidatesOnly(ranked: readonly RankedLabel[], index: GroundingIndex, question: string): { citations: ModelCitation[]; text: () => string } {
  const focus = questionFocus(question);
  const first: ModelCitation[] = [];
  if (ranked[0]?.files.length) citeOnce(index, ranked[0].files, ranked[0].label, focus, [], first);
  const others = otherCandidates(ranked, first, index, question);
  const lead = first.map((c) => `${c.label} ${c.path}:${c.line}`).join("");
  return { citations: [...first, ...others], text: () => (others.length ? lead + titledList(lead, "Other candidates", others) : lead) };
}

/**
 * What the question also asks about the answer's definition without naming it again, as the index finds it, each
 * listed after the answer: "… and what does it call?" its callees, "… and who calls it?" its callers (index-facts.ts:
 * without the imports naming it), "… and who uses it?" its users.
 */
function relatedToIt(
  question: string,
  label: string,
  facts: ModelAnswerOptions["facts"],
  index: GroundingIndex,
  cited: readonly ModelCitation[],
): Array<{ citations: ModelCitation[]; text: (answerSoFar: string) => string }> {
  if (!facts) return [];
  const calls = /\b(?:calls|called|invokes)\b/i.test(question);
  const asked = [
    CALLEES_OF_IT.test(question) && { ask: `What does \`${label}\` call?`, kind: "calls" as const, title: "Calls", focus: "other" as const },
    USES_OF_IT.test(question) && { ask: `${calls ? "Who calls" : "Who uses"} \`${label}\`?`, kind: "uses" as const, title: calls ? "Called by" : "Used by", focus: "uses" as const },
  ];
  return asked.flatMap((a) => {
    const found = a ? facts(a.ask) : undefined;
    if (!a || found?.kind !== a.kind) return [];
    const list = remainingFacts([], found, cited, index, { symbol: label, kind: a.focus });
    return [{ citations: list, text: (answer: string) => titledList(answer, a.title, list) }];
  });
}

/** Where an explained symbol is defined, as citations (lines written by the index), none the answer cited already. */
function definedAt(explained: IndexFacts, cited: readonly ModelCitation[], index: GroundingIndex): ModelCitation[] {
  const focus: QuestionFocus = { symbol: explained.symbol, kind: "other" };
  const out: ModelCitation[] = [];
  for (const d of explainedPlaces(explained)) citeOnce(index, [d], definitionLabel(d), focus, cited, out);
  return out;
}

/**
 * The places an answer may lead with: the library's own code when the label has places there (the model chose
 * test/app.engine.js for "where is render defined?" in Express, which defines it in lib/).
 */
export function libraryFirst<T extends CitationTarget>(places: T[], label: string): T[] {
  const best = bestPlaceRank(places, label);
  const library = places.filter((p) => placeRank(p.path, labelName(label), splitQualified(label).owner) === best);
  // Of a name defined for several operating systems, the code that runs here (nginx's os/unix/ before os/win32/).
  const here = library.filter((p) => platformRank(p.path) === 0);
  return here.length ? here : library;
}

/**
 * The places where a label's definition has a body, when it has one anywhere among them: a one-definition answer cites
 * the code that does the work, not a prototype (nginx's `ngx_http_parse_chunked`: ngx_http.h declares it, ngx_http_parse.c
 * defines it; the model, choosing the path, wrote the header).
 */
export function implementationsFirst<T extends CitationTarget>(places: T[], label: string, index: GroundingIndex): T[] {
  const name = labelName(label);
  const withBody = places.filter((p) => index.get(p.root, p.path)?.definitions.some((d) => d.name === name && !d.declarationOnly));
  return withBody.length ? withBody : places;
}

/** Labels in the model's order, those with a place in the library's own code before those only in examples or tests. */
export function libraryLabelsFirst(ranked: RankedLabel[], placesOfLabel: (label: string) => CitationTarget[]): RankedLabel[] {
  return ranked.map((r) => ({ r, rank: bestPlaceRank(placesOfLabel(r.label), r.label) })).sort((a, b) => a.rank - b.rank).map(({ r }) => r);
}

/** Labels whose definition can be called (isCallable) before the others, each group in the given order. */
export function callableLabelsFirst(ranked: RankedLabel[], placesOfLabel: (label: string) => IndexFact[], index: GroundingIndex): RankedLabel[] {
  const callable = (r: RankedLabel) => placesOfLabel(r.label).some((f) => isCallable(definitionOf(index, f)));
  return [...ranked.filter(callable), ...ranked.filter((r) => !callable(r))];
}

/** The best (lowest) place rank among a label's places: library code 0, examples 1, tests 2 (index/code-places.ts). */
function bestPlaceRank(places: readonly CitationTarget[], label: string): number {
  return Math.min(...places.map((p) => placeRank(p.path, labelName(label), splitQualified(label).owner)));
}

/** A label's definition name: `Container.name` → `name`. */
function labelName(label: string): string {
  return label.split(".").pop() ?? label;
}

/** The places of the facts that go by `label` (`name` or `Container.name`). */
function placesOf(facts: IndexFacts, label: string): IndexFact[] {
  return facts.definitions.filter((d) => d.name && (label === d.name || label === definitionLabel(d)));
}

/** Ranked labels after the first that the answer did not cite, as citations (their lines written by the index). */
function otherCandidates(ranked: readonly RankedLabel[], cited: readonly ModelCitation[], index: GroundingIndex, question: string): ModelCitation[] {
  const focus = questionFocus(question);
  // The question asked where a symbol is defined and the model's best label is that symbol: other names add nothing.
  const asked = asksWhereDefined(question) ? focus.symbol?.split(/\.|::/).pop() : undefined;
  if (asked && ranked[0] && (ranked[0].label === asked || ranked[0].label.endsWith(`.${asked}`))) return [];
  const out: ModelCitation[] = [];
  for (const r of ranked.slice(1)) {
    if (cited.some((c) => c.label === r.label) || r.files.length === 0) continue;
    citeOnce(index, r.files, r.label, focus, cited, out);
  }
  return out;
}

/** Appends `label`'s citation in `files` (line written by the index) to `out`, unless the answer or `out` has that place already. */
function citeOnce(index: GroundingIndex, files: readonly CitationTarget[], label: string, focus: QuestionFocus, cited: readonly ModelCitation[], out: ModelCitation[]): void {
  const taken = [...cited, ...out];
  // A name defined for several operating systems is cited where it runs here (libraryFirst).
  const here = [...files].sort((a, b) => platformRank(a.path) - platformRank(b.path));
  const at = resolveCitationLine(index, here, label, focus, taken);
  if (!taken.some((c) => c.path === at.path && c.line === at.line && c.root === at.root)) out.push({ ...at, label });
}

function ungroundedCitations(raw: string): ModelAnswer["citations"] {
  const out: ModelAnswer["citations"] = [];
  for (const line of raw.split("\n")) {
    for (const m of line.matchAll(/([^\n]*?)<\|cite\|>([^\n]*?):(\d+)<\|endcite\|>/g)) {
      out.push({ path: m[2], line: Number(m[3]), label: m[1].replace(/<\|[a-z_]+\|>/g, "").trim() });
    }
  }
  return out;
}

/** The files the answer read (shares ≥ MIN_SHARE), each with the definitions it read most (definition-reads.ts). */
export function readShares(session: RepoSession, index: GroundingIndex): ModelFileRead[] {
  const map = session.readMap();
  if (!map) return [];
  return map.files
    .filter((f) => f.mass >= MIN_SHARE)
    .map((f) => {
      const definitions = definitionReads(f, index.get(f.root, f.path)?.definitions ?? []);
      return definitions.length ? { root: f.root, path: f.path, share: f.mass, definitions } : { root: f.root, path: f.path, share: f.mass };
    });
}

/** The answer's tokens when the model writes none (every fact is in a file it did not read). */
async function* noTokens(): AsyncGenerator<AnswerEvent, void, void> {}
