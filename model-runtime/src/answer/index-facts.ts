/**
 * What the index alone knows answers a question that names a symbol, as the definitions the answer may name:
 *
 *   where is X defined  → the definitions named X;
 *   what does X call    → the definitions X's body uses (WorkspaceIndex.callees);
 *   who uses X          → the definitions whose bodies use X (each use's innermost encloser).
 *
 * The model answer (model-answer.ts) then writes its answer among these: the model orders them and writes the
 * citations, the index has already decided what is true. A 26M-parameter model reads a whole repository but copies
 * names poorly (it writes `ngx_stream_add_addrs` for the `ngx_mail_add_addrs` the question names, and lists callees
 * that are not called: docs/benchmarks/eval-model.md), while the index's facts are exact where the parse is; so a
 * question the index can answer is answered with its facts, in the model's order. A question naming nothing the
 * index knows (a description, "how does caching work?") gets no facts and the model answers alone.
 */
import type { Definition, FileRecord, SymbolHit, VariableHit } from "../index/types";
import { placeRank, platformRank } from "../index/code-places";
import { calledOn, isCallable, splitQualified, type WorkspaceIndex } from "../index/workspace-index";
import { questionFocus } from "./grounded-citations";

export type FactKind = "where" | "calls" | "uses";

export interface IndexFacts {
  kind: FactKind;
  /** The symbol the question names, as written. */
  symbol: string;
  /**
   * The definitions an answer may name, each with the file its citation goes to (the definition's file; for a use,
   * the file of the use), in the index's order: definitions as found, callees by first use, uses by file.
   */
  definitions: IndexFact[];
  /**
   * Where-defined only, when no definition has the name: the module variables, constants and class fields binding it
   * (WorkspaceIndex.variablesNamed). The answer cites their lines; the model has no label for them.
   */
  variables?: VariableHit[];
}

export interface IndexFact {
  /** Empty for a use outside every definition. */
  name: string;
  container?: string;
  root: string;
  path: string;
}

/** Most definitions handed to the model for one question (a symbol used in hundreds of places). */
export const MAX_FACTS = 24;

/** The facts for `question`, or undefined when it asks none of the three or the index does not know its symbol. */
export function indexFacts(index: WorkspaceIndex, question: string): IndexFacts | undefined {
  const focus = questionFocus(question);
  if (!focus.symbol) return undefined;
  const hits = exactDefinitions(index, focus.symbol);
  const kind = askedKind(question, focus.symbol);
  if (kind === "uses") return factsOf("uses", focus.symbol, usersOf(index, focus.symbol, hits, asksForCallers(question)));
  if (kind === "where") {
    const variables = variablesMeant(index, focus.symbol, hits);
    return variables.length ? { kind, symbol: focus.symbol, definitions: [], variables } : factsOf("where", focus.symbol, mostUsedFirst(index, hits));
  }
  if (kind === "calls") {
    const fn = hits.find((h) => !h.definition.declarationOnly && (h.definition.kind === "function" || h.definition.kind === "method"));
    return fn ? factsOf("calls", focus.symbol, index.callees(fn.root, fn.path, fn.definition, MAX_FACTS)) : undefined;
  }
  return undefined;
}

/**
 * The variables a where-defined question asks about (IndexFacts.variables), without the rest of its facts: the index
 * answer needs only these, and working out the definitions' order (mostUsedFirst) or the users of a name costs uses.
 */
export function askedVariables(index: WorkspaceIndex, question: string): VariableHit[] {
  const focus = questionFocus(question);
  if (!focus.symbol || askedKind(question, focus.symbol) !== "where") return [];
  return variablesMeant(index, focus.symbol, exactDefinitions(index, focus.symbol));
}

/**
 * A variable when no definition has the name, or when `Owner.x` names a class field and no method of Owner
 * (exactDefinitions then falls back to every x).
 */
function variablesMeant(index: WorkspaceIndex, symbol: string, hits: readonly SymbolHit[]): VariableHit[] {
  const { owner } = splitQualified(symbol);
  return hits.length && (!owner || hits.some((h) => h.definition.container?.endsWith(owner))) ? [] : index.variablesNamed(symbol);
}

function factsOf(kind: FactKind, symbol: string, hits: readonly SymbolHit[]): IndexFacts | undefined {
  const seen = new Set<string>();
  const facts: IndexFact[] = [];
  for (const { root, path, definition: d } of hits) {
    const key = [d.container ?? "", d.name, root, path].join("\u0000");
    if (seen.has(key)) continue;
    seen.add(key);
    facts.push({ name: d.name, container: d.container, root, path });
  }
  return facts.length ? { kind, symbol, definitions: facts.slice(0, MAX_FACTS) } : undefined;
}

/**
 * `X` → X's definitions; `Owner.x` / `ns::x` → x's definitions in a container ending with Owner, else those whose
 * signature writes `Owner.x`, else the container-less ones WorkspaceIndex.find also returns (a Python function nested
 * in a function has no container).
 * Exact names only.
 */
function exactDefinitions(index: WorkspaceIndex, symbol: string): SymbolHit[] {
  const { owner, name } = splitQualified(symbol);
  const hits = index.find(symbol, { limit: MAX_FACTS }).filter((h) => h.definition.name === name);
  const members = owner ? hits.filter((h) => h.definition.container?.endsWith(owner)) : [];
  if (members.length) return members;
  // JavaScript's `app.render = function render(…)` has no container: its signature names the owner.
  const written = owner ? hits.filter((h) => h.definition.signature.includes(symbol)) : [];
  return written.length ? written : hits;
}

/**
 * Which of the three the question asks about `symbol`, read only where the phrase names it ("Who uses `X`?",
 * "Where is X defined?", "What does X call?"): a description that says "… returns a reference to the buffer" or "… only
 * used by code that …" asks for the described definition, not for the uses of a name it mentions.
 */
function askedKind(question: string, symbol: string): FactKind | undefined {
  const x = String.raw`[\`'"]?${symbol.replace(/[.*+?^${}()|[\]\\$]/g, "\\$&")}[\`'"]?`;
  const test = (patterns: string[]) => patterns.some((p) => new RegExp(p.replaceAll("X", x), "i").test(question));
  if (
    test([
      String.raw`\b(?:who|what|which code|which functions) (?:uses?|calls?|references?|mentions?|invokes?) X`,
      String.raw`\bwhere (?:is|are) X (?:used|called|referenced)\b`,
      String.raw`\b(?:references?|usages?|uses|callers?|calls) (?:to|of) X`,
      String.raw`\bX(?: is)? used by\b`,
    ])
  )
    return "uses";
  if (
    test([
      String.raw`\bwhere (?:is|are) X (?:defined|declared|implemented|located)\b`,
      String.raw`\b(?:definition|declaration|implementation) of X`,
      String.raw`\b(?:defines|declares) X`,
      String.raw`\bwhere (?:can I|do I|to) find X`,
      String.raw`\bwhere does X live\b`,
      String.raw`\bin which file is X`,
    ])
  )
    return "where";
  if (
    test([
      String.raw`\bwhat (?:does|do) X (?:call|use|invoke|depend on)\b`,
      String.raw`\bwhat X calls\b`,
      String.raw`\b(?:which|what) (?:definitions|functions|methods) (?:does|do) X (?:use|call|invoke)\b`,
      String.raw`\bcallees of X`,
    ])
  )
    return "calls";
  return undefined;
}

/** "Who calls X?", "callers of X", "where is X invoked?": calls asked for, not every use. */
function asksForCallers(question: string): boolean {
  return /\b(?:call|calls|callers?|called|invoke|invokes|invoked)\b/i.test(question);
}

/** Whether a 0-based line lies in one of a file's import statements. */
function onImportLine(rec: FileRecord | undefined, line: number): boolean {
  return !!rec?.imports.some((i) => (i.span ? line >= i.span[0] && line <= i.span[1] : line === i.line));
}

/**
 * Several definitions of one name (Hono's `getPath`: a function in utils/url.ts that eight files call, and three AWS
 * Lambda processors' methods): library code first as found, this platform's before another's (nginx's os/unix/ and
 * os/win32/), then, within each place, the ones more code uses (WorkspaceIndex.usesOf) first — an explanation lists
 * the first three, and had left the one everybody calls out.
 */
function mostUsedFirst(index: WorkspaceIndex, hits: readonly SymbolHit[]): SymbolHit[] {
  if (hits.length < 2) return [...hits];
  const used = new Map(hits.map((h) => [h, index.usesOf(h, 500).length]));
  return [...hits].sort((a, b) => placeRank(a.path, a.definition.name, a.definition.container) - placeRank(b.path, b.definition.name, b.definition.container) || platformRank(a.path) - platformRank(b.path) || used.get(b)! - used.get(a)!);
}

function bareName(symbol: string): string {
  return splitQualified(symbol).name;
}

/**
 * The innermost definitions enclosing the uses of `symbol`, in the order of the uses (a use outside every definition
 * names none): WorkspaceIndex.uses, so mentions only for a name used nowhere in code. A symbol that names some of
 * its name's definitions (`HonoRequest.header`, not `Context.header`) gets their uses (WorkspaceIndex.usesOf):
 * not those in files that see another of them.
 */
function usersOf(index: WorkspaceIndex, symbol: string, asked: readonly SymbolHit[], callersOnly = false): SymbolHit[] {
  const name = bareName(symbol);
  const qualified = name !== symbol && asked.length > 0 && asked.length < index.find(name, { limit: 1000 }).filter((h) => h.definition.name === name).length;
  const uses = qualified ? index.usesOfSome(asked, 2000) : index.uses(asked[0]?.definition.name ?? name, 2000);
  // Only what can be called is asked for by its calls ("who calls DEFAULT_TIMEOUT?" means its uses).
  const byCalls = callersOnly && asked.some((h) => isCallable(h.definition) || h.definition.kind === "class");
  const out: SymbolHit[] = [];
  for (const r of uses) {
    // An import names the symbol without calling it: "who calls make_response?" is not answered by `from .helpers import make_response`.
    // …nor is a line that names it without calling it (`remove.forEach(removeNode)` passes it; FileRecord.calls).
    const rec = index.get(r.root, r.path);
    if (callersOnly && (onImportLine(rec, r.line) || (byCalls && rec && !calledOn(rec, name, (l) => l === r.line)))) continue;
    const d = index.definitionAt(r.root, r.path, r.line);
    // A use outside every definition (a macro test, a module-level call) is a fact without a name; a use inside a
    // definition of the same name (recursion, a reopened namespace) is a use like any other.
    out.push({ root: r.root, path: r.path, definition: d ?? ({ name: "" } as Definition) });
  }
  return out;
}
