/**
 * Grounded citations: the model picks WHAT it cites and WHERE (which file), the index supplies the exact
 * coordinates. A 26 M-parameter model copies a path it has read well but cannot count lines, so while decoding:
 *
 *   text  ──<|cite|>──► path: only tokens that continue the path of a laid-out file (a trie over each path's ids,
 *                       encoded exactly as the layout encodes it); ":" only where a whole path has been written
 *         ◄─<|endcite|>─ line: the ":" ends the path; the line is written from the index (resolveCitationLine),
 *                       never sampled, then <|endcite|> is forced.
 *
 * `GroundedDecoder.choose` plugs into Engine.generate's `choose` hook: it masks logits (sets them to −∞) and samples,
 * or returns a forced token. It also records each citation with its label (the answer line's text before it).
 */
import type { Definition, FileRecord } from "../index/types";
import { innermostDefinition, isMention } from "../index/workspace-index";
import type { SampledToken } from "../engine/sampling";
import { definitionLabel, plainContainer } from "../training-data/questions";
import type { DefinedNames } from "./grounded-labels";
import { isGenericWord } from "./index-answer";
import { descend } from "./token-trie";
import type { ModelCitation } from "./model-client";

export interface CitationTarget {
  root: string;
  path: string;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Files whose path ends here (several roots may hold the same path). */
  files: CitationTarget[];
}

const newNode = (): TrieNode => ({ children: new Map(), files: [] });

/** Every citable path as token ids. */
export class PathTrie {
  readonly root = newNode();
  size = 0;

  static build(files: Iterable<CitationTarget>, encode: (text: string) => ArrayLike<number>): PathTrie {
    const trie = new PathTrie();
    for (const f of files) trie.add(f, encode(f.path));
    return trie;
  }

  add(file: CitationTarget, ids: ArrayLike<number>): void {
    if (ids.length === 0) return;
    descend(this.root, ids, newNode).files.push(file);
    this.size++;
  }

  /** The same trie with only the branches that lead to files `keep` accepts (undefined when none does). */
  restrictedTo(keep: (file: CitationTarget) => boolean): PathTrie | undefined {
    const out = new PathTrie();
    const copy = (from: TrieNode, to: TrieNode): boolean => {
      to.files = from.files.filter(keep);
      out.size += to.files.length;
      let any = to.files.length > 0;
      for (const [id, child] of from.children) {
        const next = newNode();
        if (copy(child, next)) {
          to.children.set(id, next);
          any = true;
        }
      }
      return any;
    };
    return copy(this.root, out.root) ? out : undefined;
  }
}

/** What the index must answer for grounding (a WorkspaceIndex does). */
export interface GroundingIndex {
  get(root: string, path: string): FileRecord | undefined;
}

/** What a question is about: its symbol and whether it asks for uses (the citation is then a use, not a definition). */
export interface QuestionFocus {
  symbol?: string;
  kind: "uses" | "other";
}

/** The explanation templates (training-data/questions.ts) and their everyday forms: answered in prose, not a list. */
const EXPLAIN = /^\s*(?:please\s+)?(?:explain|describe|summari[sz]e)\b|\bwhat (?:does|do) (?:the )?\S+ (?:(?:class|function|method|module|struct|type|interface) )?do\b|\bwhat (?:is|are) \S+ (?:used )?for\b|\bhow does\b|\b(?:purpose|role) of\b/i;

/** Whether a question asks for an explanation (prose) rather than citations. */
export function asksForExplanation(question: string): boolean {
  return EXPLAIN.test(question);
}

// "#name": a JavaScript private member; "name!": a Ruby method that changes its receiver (`filter!`). A trailing "?"
// is the question's own mark unless the name is quoted (`empty?`).
const IDENT = String.raw`#?[A-Za-z_$][\w$]*(?:(?:\.|::)#?[A-Za-z_$][\w$]*)*!?`;
const USES = /\bwho (?:uses|calls|references)\b|\bwhere (?:is|are) .+ used\b|\breferences? to\b|\bmentions?\b|\bcallers? of\b|\bused by\b|\busages? of\b|\buses of\b/i;
/**
 * The training templates that name a symbol without backticks (training-data/questions.ts), in any case: people type
 * "what does compose do?" as often as the template's "What does compose do?".
 */
const PLAIN_SYMBOL = [
  new RegExp(String.raw`\bWhere is (${IDENT}) (?:defined|used)\b`, "i"),
  new RegExp(String.raw`\bdefinition of (${IDENT})`, "i"),
  new RegExp(String.raw`\breferences to (${IDENT})`, "i"),
  new RegExp(String.raw`\bWhat does (${IDENT}) (?:depend|call|do)\b`, "i"),
  new RegExp(String.raw`\b(?:Describe|Explain) (${IDENT})`, "i"),
  new RegExp(String.raw`\bWho (?:uses|calls) (${IDENT})`, "i"),
  // Everyday forms of the explanation template: "how does compose work?" (not "how does gin work out the client IP…"),
  // "what is send_file for?"
  new RegExp(String.raw`\bhow (?:does|do) (${IDENT}) work\s*[?.!]*\s*$`, "i"),
  new RegExp(String.raw`\bwhat (?:is|are) (${IDENT}) (?:used )?for\b`, "i"),
];
/** The everyday form that says what kind of definition it names: "what does the Flask class do?" */
const THE_X_KIND = new RegExp(String.raw`\bthe (${IDENT}) (?:class|function|method|module|struct|interface)\b`);

/** Words that start a noun phrase ("Explain the request context"), never a symbol's name. */
const DETERMINERS = new Set("a an the this that these those how what which why where who when my our your its it".split(" "));

/** A question that asks for the callers or users of what it is about without naming it again: "… and who calls it?" */
export const USES_OF_IT = /\b(?:who|what|which \w+) (?:calls|uses|invokes|references) (?:it|them|this|that)\b|\bwhere (?:is|are) (?:it|they) (?:called|used)\b/i;

/** A question that asks what its subject calls without naming it again: "… and what does it call?" */
export const CALLEES_OF_IT = /\bwhat (?:does|do) (?:it|they|this|that) (?:call|invoke|depend on)\b|\bwhat (?:it|they) (?:calls?|invokes?)\b/i;

export function questionFocus(question: string): QuestionFocus {
  // "Where is X defined and who calls it?": the citations are of X's definition; its callers are listed after them.
  const kind = USES.test(question) && !USES_OF_IT.test(question) ? "uses" : "other";
  const quoted = new RegExp(String.raw`\`(${IDENT}\??)\``).exec(question);
  if (quoted) return { symbol: quoted[1], kind };
  for (const re of PLAIN_SYMBOL) {
    const m = re.exec(question);
    // "Explain the request context": a word of the sentence is not the symbol.
    if (m && !DETERMINERS.has(m[1].toLowerCase())) return { symbol: m[1], kind };
  }
  // In "the X class" a generic lower-case word is a concept ("the session interface"); "the Config class" names one.
  const kindNamed = THE_X_KIND.exec(question);
  if (kindNamed && !DETERMINERS.has(kindNamed[1].toLowerCase()) && !(isGenericWord(kindNamed[1]) && !/[A-Z_]/.test(kindNamed[1]))) return { symbol: kindNamed[1], kind };
  const codeLike = question.match(new RegExp(IDENT, "g"))?.find((w) => /[a-z][A-Z]|_|\.|::/.test(w) && !/^\.|\.$/.test(w));
  return { symbol: codeLike, kind };
}

/** The name a label gives ("computeTotal", "Ledger.record", "see parseArgs" → its last identifier). */
function labelName(label: string): { name: string; container?: string; whole: string } | undefined {
  // Names that are not identifiers: an operator method (Ruby's `AcceptEntry.<=>`, `[]`), a Ruby setter (`body=`) and a
  // Kotlin name in backticks (`-DeprecatedOkio`) — read whole, or the label would name its container or line 1.
  const special = /^(?:([\w$:.]+)\.)?(`[^`]+`|[^\w\s.`]+|[A-Za-z_]\w*=)$/.exec(label.trim());
  if (special) return { name: special[2], container: special[1]?.split(/\.|::/).pop(), whole: label.trim() };
  // A Ruby method's name may end in ! or ? (`filter!`, `empty?`): part of the name, not punctuation.
  const m = new RegExp(`(${IDENT}[!?]?)\\W*$`).exec(label.trim());
  if (!m) return undefined;
  const parts = m[1].split(/\.|::/);
  return { name: parts[parts.length - 1], container: parts.length > 1 ? parts[parts.length - 2] : undefined, whole: label.trim() };
}

/**
 * Whether a label's name is the definition's: the same name, or the name followed by a ! or ? that only the sentence
 * has ("parse?" where the file defines `parse` and no `parse?`; Ruby's `filter!` and `empty?` are names of their own).
 */
function namesDefinition(labelName: string, definitionName: string | undefined, rec: FileRecord): boolean {
  if (labelName === definitionName) return true;
  if (!/[!?]$/.test(labelName) || labelName.slice(0, -1) !== definitionName) return false;
  return !rec.definitions.some((d) => d.name === labelName);
}

function definitionsNamed(rec: FileRecord, label: { name: string; container?: string; whole?: string }): Definition[] {
  // Containers as labels write them: `LinkedList<T>` → `LinkedList` (questions.ts plainContainer).
  const named = rec.definitions.filter((d) => namesDefinition(label.name, d.name, rec));
  const inContainer = (d: Definition) => d.container !== undefined && (plainContainer(d.container) ?? d.container).endsWith(label.container!);
  // `Router.route` is the method in Router when the file has one (axum's routing/mod.rs also declares `mod route;`),
  // else a definition without a container (Express's `res.render = function …`).
  let defs = label.container ? (named.some(inContainer) ? named.filter(inContainer) : named.filter((d) => !d.container)) : named;
  // A name the split misreads is the whole label: a dotted namespace (`Newtonsoft.Json.Bson`), a quoted module
  // (`'./context'`), a computed member (`HonoRequest.[GET_MATCH_RESULT]`), a raw identifier (`r#async`).
  const whole = label.whole;
  if (!defs.length && whole) defs = rec.definitions.filter((d) => d.name === whole || definitionLabel(d) === whole);
  // Full definitions before bare declarations, then in file order.
  return defs.sort((a, b) => Number(!!a.declarationOnly) - Number(!!b.declarationOnly) || a.nameLine - b.nameLine);
}

/** The bare name the question is about ("Ledger.record" → "record"). */
function focusName(focus: QuestionFocus): string | undefined {
  return focus.symbol ? (labelName(focus.symbol)?.name ?? focus.symbol) : undefined;
}

/** 0-based lines of `rec` that use `symbol`, its own definitions' name lines excluded: uses in code first, then mentions. */
function usesIn(rec: FileRecord, symbol: string): number[] {
  if (!Object.hasOwn(rec.references, symbol)) return [];
  const own = new Set(rec.definitions.filter((d) => d.name === symbol).map((d) => d.nameLine));
  const inCode: number[] = [];
  const mentioned: number[] = [];
  for (const l of rec.references[symbol]) if (!own.has(l)) (isMention(rec, symbol, l) ? mentioned : inCode).push(l);
  return [...inCode, ...mentioned];
}

/**
 * The 1-based line of a citation of one of `files` (the path the model wrote; several roots may share it):
 *  1. a who-uses question: the line where the question's symbol is used inside the definition the label names
 *     (the encloser; an empty label: a use outside every definition), else its first use in the file;
 *  2. a definition named by the label in that file (where defined, what calls, which definition …);
 *  3. the question's symbol: its definition in the file, else its first use there;
 *  4. line 1.
 * Lines already cited in this answer are taken last, so a list of uses in one encloser walks through them.
 */
export function resolveCitationLine(
  index: GroundingIndex,
  files: readonly CitationTarget[],
  label: string,
  focus: QuestionFocus,
  cited: readonly ModelCitation[] = [],
): { root: string; path: string; line: number } {
  const records = files.map((f) => index.get(f.root, f.path)).filter((r): r is FileRecord => !!r);
  const taken = (r: FileRecord, line1: number) => cited.some((c) => c.path === r.path && (c.root === undefined || c.root === r.root) && c.line === line1);
  const pick = (r: FileRecord, lines0: number[]) => {
    if (lines0.length === 0) return undefined;
    const line0 = lines0.find((l) => !taken(r, l + 1)) ?? lines0[0];
    return { root: r.root, path: r.path, line: line0 + 1 };
  };
  const name = labelName(label);
  const symbol = focusName(focus);
  const usesOf = (r: FileRecord) => (symbol ? usesIn(r, symbol) : []);
  if (focus.kind === "uses" && symbol) {
    for (const r of records) {
      const uses = usesOf(r);
      const inEncloser = uses.filter((l) => {
        const e = innermostDefinition(r, l);
        return name ? namesDefinition(name.name, e?.name, r) : e === undefined;
      });
      const hit = pick(r, inEncloser) ?? pick(r, uses);
      if (hit) return hit;
    }
  }
  // A label with no identifier in it names a module by its path (`'../..'`), if anything.
  const named = name ?? (label.trim() ? { name: label.trim(), whole: label.trim() } : undefined);
  if (named) {
    for (const r of records) {
      const hit = pick(r, definitionsNamed(r, named).map((d) => d.nameLine));
      if (hit) return hit;
    }
  }
  if (symbol) {
    for (const r of records) {
      const hit = pick(r, definitionsNamed(r, { name: symbol }).map((d) => d.nameLine)) ?? pick(r, usesOf(r));
      if (hit) return hit;
    }
  }
  const first = records[0] ?? files[0];
  return { root: first.root, path: first.path, line: 1 };
}

export interface GroundedDecoderOptions {
  trie: PathTrie;
  index: GroundingIndex;
  question: string;
  ids: { cite: number; endCite: number; colon: number; newline?: number };
  /** Ids of `:${line}` (the answer format encodes the line part on its own). */
  encode: (text: string) => ArrayLike<number>;
  /** Bytes of ids (to read the label: the answer line's text before the citation). */
  decodeBytes: (ids: ArrayLike<number>) => Uint8Array;
  /** Special-token ids never allowed inside an answer's text (besides the markers handled here). */
  forbidden?: readonly number[];
  /** The layout's defined names, to read a misspelt label as the nearest one (grounded-labels.ts); absent: no repair. */
  names?: DefinedNames;
}

type State =
  | { kind: "text" }
  | { kind: "lead"; queue: number[]; citeIn?: readonly CitationTarget[] }
  | { kind: "cite"; citeIn: readonly CitationTarget[] }
  | { kind: "path"; node: TrieNode; ids: number[] }
  | { kind: "forced"; queue: number[] };

/** Constrained decoding of one answer (one instance per answer). */
export class GroundedDecoder {
  readonly citations: ModelCitation[] = [];
  private state: State = { kind: "text" };
  private lineBytes: number[] = [];
  private readonly focus: QuestionFocus;
  private readonly textDecoder = new TextDecoder("utf-8");
  /** Set when the last chosen token completed a citation (the one just pushed), for the caller to announce. */
  completed?: ModelCitation;

  constructor(private readonly opts: GroundedDecoderOptions) {
    this.focus = questionFocus(opts.question);
  }

  /** Whether a citation is being written (path or coordinates): its tokens are not prose. */
  get inCitation(): boolean {
    return this.state.kind !== "text";
  }

  /**
   * Makes `ids` the answer's first tokens (a label found by label-search.ts), written as prose; call before decoding.
   * `citeIn`: the label's citation follows at once (`<|cite|>` forced), its path chosen among these files (an empty
   * label with `citeIn` starts the answer with that citation).
   */
  lead(ids: readonly number[], citeIn?: readonly CitationTarget[]): void {
    if (ids.length) this.state = { kind: "lead", queue: [...ids], citeIn };
    else if (citeIn?.length) this.state = { kind: "cite", citeIn };
  }

  choose(logits: Float32Array, sample: (logits: Float32Array) => SampledToken): SampledToken {
    const { cite, endCite, colon } = this.opts.ids;
    this.completed = undefined;
    const s = this.state;
    if (s.kind === "lead") {
      const id = s.queue.shift()!;
      if (s.queue.length === 0) this.state = s.citeIn?.length ? { kind: "cite", citeIn: s.citeIn } : { kind: "text" };
      this.addText(id);
      return { id, logprob: 0 };
    }
    if (s.kind === "cite") {
      const within = (f: CitationTarget) => s.citeIn.some((c) => c.root === f.root && c.path === f.path);
      this.state = { kind: "path", node: (this.opts.trie.restrictedTo(within) ?? this.opts.trie).root, ids: [] };
      return { id: cite, logprob: 0 };
    }
    if (s.kind === "forced") {
      const id = s.queue.shift()!;
      if (s.queue.length === 0) this.finishCitation();
      return { id, logprob: 0 };
    }
    if (s.kind === "path") {
      const allowed = [...s.node.children.keys()];
      if (s.node.files.length) allowed.push(colon);
      const t = allowed.length === 1 ? { id: allowed[0], logprob: 0 } : sample(keepOnly(logits, allowed));
      // ":" ends the path only where a whole path was written; a path may itself continue with ":".
      if (t.id === colon && s.node.files.length) this.writeLine(s.node.files);
      else {
        s.node = s.node.children.get(t.id)!;
        s.ids.push(t.id);
      }
      return t;
    }
    logits[endCite] = -Infinity;
    if (this.opts.trie.size === 0) logits[cite] = -Infinity;
    for (const f of this.opts.forbidden ?? []) logits[f] = -Infinity;
    const t = sample(logits);
    if (t.id === cite) this.state = { kind: "path", node: (this.candidatePaths(this.groundedLabel()) ?? this.opts.trie).root, ids: [] };
    else this.addText(t.id);
    return t;
  }

  /**
   * Symbol-grounded paths: when the label names something the index knows, only the files that can hold that
   * citation stay open — the files defining the label, or for a who-uses question the files where the label's
   * definition uses the question's symbol. The model still chooses among them (a name defined in several files);
   * a label the index does not know leaves every laid-out path open.
   */
  private candidatePaths(label: string): PathTrie | undefined {
    const name = labelName(label);
    if (!name) return undefined;
    const symbol = focusName(this.focus);
    const accepts = (f: CitationTarget): boolean => {
      const rec = this.opts.index.get(f.root, f.path);
      if (!rec) return false;
      if (this.focus.kind === "uses" && symbol) return usesIn(rec, symbol).some((l) => namesDefinition(name.name, innermostDefinition(rec, l)?.name, rec));
      return definitionsNamed(rec, name).length > 0;
    };
    return this.opts.trie.restrictedTo(accepts);
  }

  private addText(id: number): void {
    const bytes = this.opts.decodeBytes([id]);
    const nl = bytes.lastIndexOf(10);
    if (nl >= 0) this.lineBytes = Array.from(bytes.subarray(nl + 1));
    else for (const b of bytes) this.lineBytes.push(b);
    if (this.lineBytes.length > 4096) this.lineBytes = this.lineBytes.slice(-1024);
  }

  private label(): string {
    return this.textDecoder.decode(Uint8Array.from(this.lineBytes)).trim();
  }

  /** The label as the citation stands on it: a name the layout does not define read as the nearest defined one. */
  private groundedLabel(): string {
    const label = this.label();
    const parsed = labelName(label);
    const near = parsed && this.opts.names?.nearest(parsed.name);
    if (!parsed || !near || near === parsed.name) return label;
    return parsed.container ? `${parsed.container}.${near}` : near;
  }

  private pending?: ModelCitation;

  private writeLine(files: CitationTarget[]): void {
    const label = this.groundedLabel();
    const at = resolveCitationLine(this.opts.index, files, label, this.focus, this.citations);
    const lineIds = Array.from(this.opts.encode(`:${at.line}`));
    // The ":" was just chosen; the digits and <|endcite|> follow, forced.
    const digits = lineIds[0] === this.opts.ids.colon ? lineIds.slice(1) : Array.from(this.opts.encode(String(at.line)));
    this.pending = { root: at.root, path: at.path, line: at.line, label };
    this.state = { kind: "forced", queue: [...digits, this.opts.ids.endCite] };
  }

  private finishCitation(): void {
    this.state = { kind: "text" };
    // Text after a citation on the same line labels the next one ("a <cite…> and b <cite…>").
    this.lineBytes = [];
    if (this.pending) {
      this.citations.push(this.pending);
      this.completed = this.pending;
      this.pending = undefined;
    }
  }
}

/** `logits` with every id outside `allowed` set to −∞ (in place). */
function keepOnly(logits: Float32Array, allowed: readonly number[]): Float32Array {
  const keep = allowed.map((id) => logits[id]);
  logits.fill(-Infinity);
  allowed.forEach((id, i) => (logits[id] = Number.isFinite(keep[i]) ? keep[i] : -1e30));
  return logits;
}
