/**
 * Questions about a repository context, with the answer the model should give and the ground truth to score an
 * answer against. Everything comes from the context's index (exactly the laid-out files, as edited):
 *
 * - (a) where is X defined → X's definitions; what does X call → `WorkspaceIndex.callees`; who uses X →
 *   `WorkspaceIndex.references` (lexical uses, the definitions' own lines excluded);
 * - (b) a removed doc comment's first paragraph → the definition it documented;
 * - (c) explain X → X's removed doc comment.
 *
 * Answers follow answer-format.ts. Lists are capped at MAX_LIST_ITEMS items, in layout order (what the model
 * meets first), with "(+N more)"; any true item counts when scoring.
 */
import type { Definition } from "../index/types";
import { isMention } from "../index/workspace-index";
import { type AnswerPart, type CitationRef, citedList } from "./answer-format";
import type { RemovedDoc, RepoContext } from "./context";
import type { QaTask } from "./tasks";

export const MAX_LIST_ITEMS = 8;

export interface QaItem {
  task: QaTask;
  /** The symbol asked about (one question per symbol and context). */
  symbol: string;
  question: string;
  answer: AnswerPart[];
  /** Citations any of which is right (tasks a and b). */
  truth: CitationRef[];
  /** The expected prose (task c). */
  reference?: string;
}

const TEMPLATES: Record<QaTask, string[]> = {
  whereDefined: ["Where is `{X}` defined?", "Where is {X} defined?", "Find the definition of `{X}`.", "Which file defines `{X}`?", "Go to the definition of {X}."],
  whatCalls: ["What does `{X}` call?", "Which definitions does `{X}` use?", "What does {X} depend on?", "List what `{X}` calls."],
  whoUses: ["Who uses `{X}`?", "Where is `{X}` used?", "Find the references to {X}.", "Which code mentions `{X}`?"],
  needle: ["Which definition does this describe? {D}", "Find the code that matches this description: {D}", "Where is this implemented? {D}", "{D} Where is that?"],
  explain: ["Explain `{X}`.", "What does `{X}` do?", "Describe {X}.", "What is `{X}` for?"],
};

/** The explanation templates (the answer runtime puts everyday explanation questions in these words). */
export const EXPLAIN_TEMPLATES: readonly string[] = TEMPLATES.explain;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The first paragraph of a doc comment on one line, cut at a word boundary near `max` characters. */
export function describe(doc: string, max = 300): string {
  const para = doc.split(/\n\s*\n/)[0].replace(/\s+/g, " ").trim();
  if (para.length > max) {
    const cut = para.slice(0, max);
    return `${cut.slice(0, Math.max(cut.lastIndexOf(" "), max / 2))}…`;
  }
  // A sentence, so that a template can go on after it.
  return /[\p{L}\p{N})`'"]$/u.test(para) ? `${para}.` : para;
}

/** How an answer labels a definition: `Container.name` where it has a container (as people write it), else `name`. */
export function definitionLabel(def: Pick<Definition, "name" | "container">): string {
  const container = plainContainer(def.container);
  return container && !/[\s]/.test(container) ? `${container}.${def.name}` : def.name;
}

/** A container as people write it: `LinkedList<T>` → `LinkedList` (the type's generic parameters dropped). */
export function plainContainer(container: string | undefined): string | undefined {
  const c = container?.replace(/<[^]*$/, "").trim();
  return c || undefined;
}

interface DefAt {
  path: string;
  def: Definition;
}

/**
 * Keys under which names that differ in one word meet: each word replaced by `*`, each word dropped, and the whole
 * name (words split at `_` and camelCase humps, case folded). `ngx_http_add_addrs` and `ngx_mail_add_addrs` share
 * `ngx * add addrs`; `TestMap` dropping `test` meets `Map`; `trimLeftByte` and `trimRightByte` share `trim * byte`.
 */
export function siblingKeys(name: string): string[] {
  const words = name
    .split(/_+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  const keys = [words.join(" ")];
  if (words.length < 2) return keys;
  for (let i = 0; i < words.length; i++) {
    keys.push([...words.slice(0, i), "*", ...words.slice(i + 1)].join(" "));
    keys.push([...words.slice(0, i), ...words.slice(i + 1)].join(" "));
  }
  return keys;
}

/** The definitions whose name has a sibling among the others (siblingKeys): the names a reader most easily confuses. */
function withSiblings(defs: readonly DefAt[]): DefAt[] {
  const namesByKey = new Map<string, Set<string>>();
  for (const d of defs) {
    for (const k of siblingKeys(d.def.name)) {
      let names = namesByKey.get(k);
      if (!names) namesByKey.set(k, (names = new Set()));
      names.add(d.def.name);
    }
  }
  return defs.filter((d) => siblingKeys(d.def.name).some((k) => namesByKey.get(k)!.size > 1));
}

export interface QuestionMakerOptions {
  /**
   * Share of where-defined questions asked about a name with a sibling in the context (siblingKeys): the model's
   * commonest where-defined error is the right neighbourhood's wrong sibling. 0: every definition equally likely.
   */
  siblingShare?: number;
}

export class QuestionMaker {
  private readonly defs: DefAt[] = [];
  private readonly used = new Set<string>();
  private siblingDefs?: DefAt[];

  constructor(
    private readonly ctx: RepoContext,
    private readonly rand: () => number,
    private readonly opts: QuestionMakerOptions = {},
  ) {
    for (const rec of ctx.index.allFiles()) for (const def of rec.definitions) if (IDENTIFIER.test(def.name) && def.name.length >= 3) this.defs.push({ path: rec.path, def });
    this.defs.sort((a, b) => (ctx.fileOrder.get(a.path)! - ctx.fileOrder.get(b.path)!) || a.def.startLine - b.def.startLine);
  }

  /** Where a question of `task` draws its definition from: siblings for a share of where-defined questions. */
  private poolFor(task: QaTask): DefAt[] {
    const share = this.opts.siblingShare ?? 0;
    if (task !== "whereDefined" || share <= 0 || this.rand() >= share) return this.defs;
    this.siblingDefs ??= withSiblings(this.defs);
    return this.siblingDefs.length ? this.siblingDefs : this.defs;
  }

  /** Symbols already asked about: no other question about them in this context. */
  markUsed(name: string): void {
    this.used.add(name);
  }

  private template(task: QaTask, fill: Record<string, string>): string {
    const list = TEMPLATES[task];
    return list[Math.floor(this.rand() * list.length)].replace(/\{(\w)\}/g, (_, k: string) => fill[k]);
  }

  private cite(path: string, line0: number): CitationRef {
    return { path, line: line0 + 1 };
  }

  private exactHits(name: string) {
    return this.ctx.index.find(name, { limit: 50 }).filter((h) => h.definition.name === name);
  }

  /** How a question names `def`: its name, or Container.name when the name alone is ambiguous; undefined if neither is unique. */
  private displayName(def: Definition): string | undefined {
    const hits = this.exactHits(def.name);
    if (hits.length === 1) return def.name;
    const container = plainContainer(def.container);
    if (!container || /[.:\s]/.test(container)) return undefined;
    const same = hits.filter((h) => plainContainer(h.definition.container) === container);
    return same.length === 1 ? `${container}.${def.name}` : undefined;
  }


  /** Up to `n` questions of a task, drawn at random among the definitions that allow one. */
  make(task: Exclude<QaTask, "needle" | "explain">, n: number): QaItem[] {
    const out: QaItem[] = [];
    const tries = Math.min(this.defs.length, n * 30);
    for (let t = 0; t < tries && out.length < n; t++) {
      const pool = this.poolFor(task);
      const pick = pool[Math.floor(this.rand() * pool.length)];
      if (this.used.has(pick.def.name)) continue;
      const item = task === "whereDefined" ? this.whereDefined(pick) : task === "whatCalls" ? this.whatCalls(pick) : this.whoUses(pick);
      if (!item) continue;
      this.used.add(pick.def.name);
      out.push(item);
    }
    return out;
  }

  whereDefined({ def }: DefAt): QaItem | undefined {
    const hits = this.exactHits(def.name);
    if (hits.length === 0 || hits.length > 3) return undefined;
    const items = hits.map((h) => ({ label: definitionLabel(h.definition), cite: this.cite(h.path, h.definition.nameLine) }));
    return {
      task: "whereDefined",
      symbol: def.name,
      question: this.template("whereDefined", { X: def.name }),
      answer: citedList(items),
      truth: items.map((i) => i.cite),
    };
  }

  whatCalls({ path, def }: DefAt): QaItem | undefined {
    if ((def.kind !== "function" && def.kind !== "method") || def.declarationOnly) return undefined;
    const name = this.displayName(def);
    if (!name) return undefined;
    const rec = this.ctx.index.get(this.ctx.root, path);
    if (!rec) return undefined;
    const callees = this.ctx.index.callees(this.ctx.root, path, def, 20);
    if (callees.length === 0) return undefined;
    const firstUse = (n: string) => rec.references[n]?.find((l) => l >= def.startLine && l <= def.endLine && !isMention(rec, n, l)) ?? def.endLine;
    const ordered = callees
      .map((c) => ({ c, at: firstUse(c.definition.name) }))
      .sort((a, b) => a.at - b.at || (a.c.definition.name < b.c.definition.name ? -1 : 1))
      .map((x) => x.c);
    const items = ordered.map((c) => ({ label: c.definition.name, cite: this.cite(c.path, c.definition.nameLine) }));
    return {
      task: "whatCalls",
      symbol: def.name,
      question: this.template("whatCalls", { X: name }),
      answer: citedList(items.slice(0, MAX_LIST_ITEMS), Math.max(0, items.length - MAX_LIST_ITEMS)),
      truth: items.map((i) => i.cite),
    };
  }

  whoUses({ def }: DefAt): QaItem | undefined {
    if (this.exactHits(def.name).length > 3) return undefined;
    // Uses in code where there are any, as the product's answer (answer/index-facts.ts): a mention is not a use.
    const refs = this.ctx.index.uses(def.name, 5000);
    if (refs.length === 0) return undefined;
    const order = this.ctx.fileOrder;
    refs.sort((a, b) => order.get(a.path)! - order.get(b.path)! || a.line - b.line);
    const items = refs.map((r) => ({
      label: this.ctx.index.definitionAt(this.ctx.root, r.path, r.line)?.name ?? "",
      cite: this.cite(r.path, r.line),
    }));
    return {
      task: "whoUses",
      symbol: def.name,
      question: this.template("whoUses", { X: def.name }),
      answer: citedList(items.slice(0, MAX_LIST_ITEMS), Math.max(0, items.length - MAX_LIST_ITEMS)),
      truth: items.map((i) => i.cite),
    };
  }

  /** (b): the removed doc's description → the definition (any definition of the same name counts). */
  needle(r: RemovedDoc): QaItem | undefined {
    if (this.used.has(r.def.name)) return undefined;
    this.used.add(r.def.name);
    const target = this.cite(r.path, r.def.nameLine);
    const others = this.exactHits(r.def.name)
      .map((h) => this.cite(h.path, h.definition.nameLine))
      .filter((c) => c.path !== target.path || c.line !== target.line);
    return {
      task: "needle",
      symbol: r.def.name,
      question: this.template("needle", { D: describe(r.def.doc) }),
      answer: citedList([{ label: definitionLabel(r.def), cite: target }]),
      truth: [target, ...others],
    };
  }

  /** (c): explain X → the removed doc comment. */
  explain(r: RemovedDoc): QaItem | undefined {
    if (this.used.has(r.def.name)) return undefined;
    const name = this.displayName(r.def);
    if (!name) return undefined;
    this.used.add(r.def.name);
    return {
      task: "explain",
      symbol: r.def.name,
      question: this.template("explain", { X: name }),
      answer: [{ text: r.def.doc }],
      truth: [],
      reference: r.def.doc,
    };
  }
}
