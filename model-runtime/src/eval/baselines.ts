/**
 * Baselines measured in the same run as the model, on the same contexts and questions:
 *
 * - `grep` (a): text search of the laid-out files for the symbol — definition-looking lines first — like a person
 *   with grep and no index;
 * - `index-lookup` (a): the index's own find / callees / references. The (a) ground truth is made with these very
 *   queries, so this is the ceiling of (a) by construction, not a competitor: it shows what exact lookup gives;
 * - `index-answer` (all): the product's answer today, before the model (answer/index-answer.ts);
 * - `bm25` (b): MiniSearch BM25 over definitions' names, docs and signatures (answer/definition-search.ts), the doc
 *   being asked about removed from the index as from the context;
 * - `signature` (c): the definition's signature as its explanation.
 *
 * (a) baselines tell the question's intent by its wording (they are not models); the templates are in
 * training-data/questions.ts.
 */
import { DefinitionSearch } from "../answer/definition-search";
import { answerFromIndex } from "../answer/index-answer";
import type { WorkspaceIndex } from "../index/workspace-index";
import { type AnswerPart, answerToText, citedList } from "../training-data/answer-format";
import { plainContainer } from "../training-data/questions";
import type { AnswerContext, Answerer } from "./answerer";

type Intent = "whereDefined" | "whatCalls" | "whoUses";

export function intentOf(question: string): Intent {
  if (/\b(who uses|where is .+ used|references to|mentions)\b/i.test(question)) return "whoUses";
  if (/\b(call|calls|depend on|definitions does .+ use)\b/i.test(question)) return "whatCalls";
  return "whereDefined";
}

const QUESTION_WORDS = new Set("where what which who how does do did is are the this that find list go to of for defined definition definitions define defines file code call calls use uses used mentions references describe explain depend on".split(" "));

/**
 * The symbol a question is about: a `quoted` name, else the question's identifier-like word that names a definition in
 * the context (code-shaped words first). Baselines have no language model; this is their whole understanding.
 */
function symbolOf(question: string, ctx: AnswerContext): string | undefined {
  const quoted = /`([^`]+)`/.exec(question)?.[1];
  if (quoted) return quoted;
  const words = (question.match(/[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)?/g) ?? []).filter((w) => !QUESTION_WORDS.has(w.toLowerCase()));
  const codeShaped = (w: string) => /[a-z][A-Z]|_|\.|\$/.test(w);
  const ranked = [...words.filter(codeShaped), ...words.filter((w) => !codeShaped(w))];
  return ranked.find((w) => ctx.index.find(w, { limit: 1 }).some((h) => h.definition.name === w.split(".").pop())) ?? ranked[0];
}

/** Definitions a (possibly `Container.name`) symbol names; containers compared without generic parameters. */
function lookup(ctx: AnswerContext, symbol: string) {
  const dot = symbol.lastIndexOf(".");
  if (dot > 0) {
    const [container, name] = [symbol.slice(0, dot), symbol.slice(dot + 1)];
    const hits = ctx.index.find(name, { limit: 50 }).filter((h) => h.definition.name === name && plainContainer(h.definition.container) === container);
    if (hits.length) return hits;
  }
  return ctx.index.find(symbol, { limit: 5 });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function filesInOrder(ctx: AnswerContext): string[] {
  return [...ctx.texts.keys()].sort((a, b) => (ctx.fileOrder.get(a) ?? 0) - (ctx.fileOrder.get(b) ?? 0));
}

/** Lines of the context that mention `name` (whole word), definition-looking lines first, in layout order. */
function grepLines(ctx: AnswerContext, name: string): Array<{ path: string; line: number; text: string; definition: boolean }> {
  const word = new RegExp(`(^|[^\\w$])${escape(name)}(?![\\w$])`);
  const def = new RegExp(
    `\\b(?:def|class|function|func|fn|struct|enum|union|interface|type|trait|mod|module|namespace|macro_rules!|define)\\s+(?:\\([^)]*\\)\\s*)?\\*?${escape(name)}(?![\\w$])`,
  );
  // C style: a function definition's name at the start of a line, or after its return type, with no `;` after it.
  const cDef = new RegExp(`^(?:[A-Za-z_][\\w\\s*]*[\\s*])?${escape(name)}\\s*\\([^;]*$`);
  const out: Array<{ path: string; line: number; text: string; definition: boolean }> = [];
  for (const path of filesInOrder(ctx)) {
    const lines = ctx.texts.get(path)!.split("\n");
    lines.forEach((text, i) => {
      if (word.test(text)) out.push({ path, line: i + 1, text, definition: def.test(text) || cDef.test(text) });
    });
  }
  return [...out.filter((l) => l.definition), ...out.filter((l) => !l.definition)];
}

const CALL = /([A-Za-z_$][\w$]*)\s*\(/g;
const NOT_CALLS = new Set(["if", "for", "while", "switch", "return", "catch", "function", "def", "func", "fn", "sizeof", "typeof", "super", "print", "new", "match", "elif", "and", "or", "not", "in"]);

export const grepBaseline: Answerer = {
  name: "grep",
  tasks: ["whereDefined", "whatCalls", "whoUses"],
  answer(_layout, question, ctx) {
    const name = symbolOf(question, ctx);
    if (!name) return "";
    const hits = grepLines(ctx, name);
    const intent = intentOf(question);
    if (intent === "whoUses") return answerToText(citedList(hits.filter((h) => !h.definition).slice(0, 8).map((h) => ({ label: "", cite: h }))));
    if (intent === "whereDefined") return answerToText(citedList(hits.slice(0, 5).map((h) => ({ label: name, cite: h }))));
    // What it calls: identifiers called in the lines after its (first) definition-looking line, until the indentation
    // returns to the definition's level; each cited at its own first definition-looking line.
    const at = hits.find((h) => h.definition);
    if (!at) return "";
    const lines = ctx.texts.get(at.path)!.split("\n");
    const indent = (s: string) => s.length - s.trimStart().length;
    const base = indent(lines[at.line - 1]);
    const called: string[] = [];
    for (let i = at.line - 1; i < Math.min(lines.length, at.line + 200); i++) {
      if (i > at.line && lines[i].trim() && indent(lines[i]) <= base && !/^\s*[)}\]]/.test(lines[i])) break;
      for (const m of lines[i].matchAll(CALL)) if (m[1] !== name && !NOT_CALLS.has(m[1]) && !called.includes(m[1])) called.push(m[1]);
    }
    const items = [];
    for (const c of called) {
      const d = grepLines(ctx, c).find((h) => h.definition);
      if (d) items.push({ label: c, cite: d });
      if (items.length >= 8) break;
    }
    return answerToText(citedList(items));
  },
};

export const indexLookupBaseline: Answerer = {
  name: "index-lookup (truth source)",
  tasks: ["whereDefined", "whatCalls", "whoUses"],
  answer(_layout, question, ctx) {
    const name = symbolOf(question, ctx);
    if (!name) return "";
    const hits = lookup(ctx, name);
    const intent = intentOf(question);
    const cite = (path: string, line0: number) => ({ path, line: line0 + 1 });
    if (intent === "whereDefined") return answerToText(citedList(hits.map((h) => ({ label: h.definition.name, cite: cite(h.path, h.definition.nameLine) }))));
    if (intent === "whoUses") {
      const refs = ctx.index.uses(hits[0]?.definition.name ?? name, 500);
      refs.sort((a, b) => (ctx.fileOrder.get(a.path) ?? 0) - (ctx.fileOrder.get(b.path) ?? 0) || a.line - b.line);
      return answerToText(citedList(refs.slice(0, 8).map((r) => ({ label: "", cite: cite(r.path, r.line) }))));
    }
    const h = hits.find((x) => !x.definition.declarationOnly) ?? hits[0];
    if (!h) return "";
    const callees = ctx.index.callees(h.root, h.path, h.definition, 20);
    return answerToText(citedList(callees.slice(0, 8).map((c) => ({ label: c.definition.name, cite: cite(c.path, c.definition.nameLine) }))));
  },
};

export const indexAnswerBaseline: Answerer = {
  name: "index-answer (product today)",
  answer(_layout, question, ctx) {
    const a = answerFromIndex(ctx.index, question);
    const parts: AnswerPart[] = [{ text: a.markdown.replace(/\S+:\d+/g, "") }, ...a.citations.map((c) => ({ cite: { path: c.path, line: c.line } }))];
    return answerToText(parts);
  },
};

const searches = new WeakMap<WorkspaceIndex, DefinitionSearch>();

export const bm25Baseline: Answerer = {
  name: "bm25",
  tasks: ["needle"],
  answer(_layout, question, ctx) {
    let search = searches.get(ctx.index);
    if (!search) searches.set(ctx.index, (search = new DefinitionSearch(ctx.index)));
    const hits = search.query(question, 5);
    return answerToText(citedList(hits.map((h) => ({ label: h.definition.name, cite: { path: h.path, line: h.definition.nameLine + 1 } }))));
  },
};

export const signatureBaseline: Answerer = {
  name: "signature",
  tasks: ["explain"],
  answer(_layout, question, ctx) {
    const name = symbolOf(question, ctx);
    const hit = name ? lookup(ctx, name)[0] : undefined;
    return hit?.definition.signature ?? "";
  },
};

export const BASELINES: readonly Answerer[] = [grepBaseline, indexLookupBaseline, indexAnswerBaseline, bm25Baseline, signatureBaseline];
