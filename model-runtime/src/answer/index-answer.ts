/**
 * Answers from the index alone (no model): find the symbols a question names, and report where they are
 * defined, what they look like, what documents them and who uses them — each fact with a path:line citation.
 * This is what Ask/Explain/hover show until the model is loaded, and the fallback when it cannot be.
 */
import { thisPlatformFirst } from "../index/code-places";
import type { Definition, ReferenceHit, SymbolHit } from "../index/types";
import type { WorkspaceIndex } from "../index/workspace-index";
import { DefinitionSearch, type SearchHit, nameWordsIn } from "./definition-search";
import { askedVariables } from "./index-facts";

const searches = new WeakMap<WorkspaceIndex, DefinitionSearch>();

/** The index's full-text search, built on first use and kept in step with the index afterwards. */
export function definitionSearch(index: WorkspaceIndex): DefinitionSearch {
  let s = searches.get(index);
  if (!s) {
    s = new DefinitionSearch(index);
    searches.set(index, s);
  }
  return s;
}

export interface Citation {
  root: string;
  path: string;
  /** 1-based, as shown to people. */
  line: number;
  endLine?: number;
}

export interface IndexAnswer {
  /** Markdown. Citations appear inline as `path:line` and are listed in `citations` in order of appearance. */
  markdown: string;
  citations: Citation[];
  /** Symbols the question was understood to be about. */
  symbols: string[];
  /** Files the answer drew on (the "what it read" list). */
  files: Array<{ root: string; path: string }>;
}

const STOP_WORDS = new Set(
  ("a an and are as at be by can code do does file files for from function how i in is it its me method of on or " +
    "show tell that the this to use used uses using what when where which who why with work works defined " +
    "definition class classes called calls call find explain about any all there their type types").split(" "),
);

/**
 * Words that name concepts in questions about code far more often than they name the one symbol meant ("where is
 * the workspace INDEX stored?"). Such a word is looked up as a symbol only when written as code (`index`).
 */
const GENERIC_WORDS = new Set(
  ("index file files data value values list type name path key error result config test main run get set init load save " +
    "read write update build start stop open close parse check create delete add remove find search store cache model " +
    "user time size count state event request response server client node tree item line text string number object array " +
    "map table query token layout code function method class module package option options setting settings handler " +
    "manager service util utils helper helpers default input output message log logger print format render view page " +
    "component app application main root source target options args params context session connection database").split(" "),
);

/** A word questions use for a concept or as grammar more often than as the one symbol meant ("index", "view", "code"). */
export function isGenericWord(word: string): boolean {
  const w = word.toLowerCase();
  return STOP_WORDS.has(w) || GENERIC_WORDS.has(w);
}

/** Identifier-looking words of a question, most specific first: `quoted`, CamelCase/snake_case, then other words. */
export function candidateSymbols(question: string): string[] {
  return symbolCandidates(question)
    .filter((c) => !c.joined)
    .map((c) => c.text);
}

/**
 * Names a question spells as words: runs of 2–3 adjacent non-stop words joined ("the workspace index" → `workspaceindex`,
 * `workspace_index`), which the index's case-insensitive lookup matches to WorkspaceIndex, workspaceIndex or
 * workspace_index. People name a class or function that way far more often than they type it.
 */
function joinedWordNames(question: string): string[] {
  const out: string[] = [];
  const runs = question.split(/[^A-Za-z]+/).reduce<string[][]>(
    (acc, w) => {
      if (!w || STOP_WORDS.has(w.toLowerCase())) acc.push([]);
      else acc[acc.length - 1].push(w.toLowerCase());
      return acc;
    },
    [[]],
  );
  for (const run of runs) {
    for (let n = 3; n >= 2; n--) {
      for (let i = 0; i + n <= run.length; i++) {
        const words = run.slice(i, i + n);
        out.push(words.join(""), words.join("_"));
      }
    }
  }
  return out;
}

/** Candidates with how surely they are code: `quoted` and code-shaped words are; plain words may be English. */
function symbolCandidates(question: string): Array<{ text: string; surelyCode: boolean; joined?: boolean }> {
  // Ruby names may end in "!" (`filter!`), and quoted in "?" (`empty?`).
  const quoted = [...question.matchAll(/[`'"]([A-Za-z_$][\w$.:]*[!?]?)[`'"]/g)].map((m) => m[1]);
  const words = [...question.matchAll(/[A-Za-z_$][\w$]*(?:(?:\.|::)[A-Za-z_$][\w$]*)*!?/g)].map((m) => m[0]);
  // camelCase, snake_case, Pascal with two humps, qualified names, a Ruby bang method: surely code. A single capital
  // ("How", "Ledger") may be a sentence start, so such words only count after the surely-code ones.
  const codeLike = words.filter((w) => /[a-z][A-Z]|_|\.|::|\$|\w!$/.test(w));
  const plain = words.filter((w) => !STOP_WORDS.has(w.toLowerCase()) && !GENERIC_WORDS.has(w) && w.length > 2);
  const sure = new Set([...quoted, ...codeLike]);
  const spelled = [...quoted, ...codeLike, ...plain];
  // Word runs are looked up exactly (case-insensitive) among the code candidates, after the ones typed as code.
  const joined = joinedWordNames(question).filter((j) => !spelled.some((w) => w.toLowerCase() === j));
  return [
    ...[...new Set([...quoted, ...codeLike])].map((text) => ({ text, surelyCode: true })),
    ...[...new Set(joined)].map((text) => ({ text, surelyCode: true, joined: true })),
    ...[...new Set(plain)].filter((text) => !sure.has(text)).map((text) => ({ text, surelyCode: false })),
  ];
}

function cite(citations: Citation[], root: string, path: string, line0: number, endLine0?: number): string {
  citations.push({ root, path, line: line0 + 1, endLine: endLine0 !== undefined ? endLine0 + 1 : undefined });
  return `${path}:${line0 + 1}`;
}

const FENCE_LANGUAGE: Record<string, string> = {
  ts: "typescript", tsx: "typescript", mts: "typescript", cts: "typescript", js: "javascript", jsx: "javascript", mjs: "javascript",
  cjs: "javascript", py: "python", go: "go", rs: "rust", java: "java", c: "c", h: "cpp", cc: "cpp", cpp: "cpp", hpp: "cpp",
  cs: "csharp", rb: "ruby", php: "php", kt: "kotlin", kts: "kotlin",
};

function fenceFor(path: string, code: string): string {
  const lang = FENCE_LANGUAGE[path.slice(path.lastIndexOf(".") + 1).toLowerCase()] ?? "";
  const ticks = code.includes("```") ? "~~~~" : "```";
  return `${ticks}${lang}\n${code}\n${ticks}`;
}

const CONTAINER_KINDS = new Set(["class", "interface", "enum", "module", "type"]);

/** One definition: kind, where (a citation), its signature as code, its doc comment and, for a class-like
 * definition, its outline (members), as separate blocks. */
function describeDefinition(index: WorkspaceIndex, hit: SymbolHit, citations: Citation[], multiRoot: boolean, withCallees = true): string {
  const d: Definition = hit.definition;
  const where = cite(citations, hit.root, hit.path, d.nameLine, d.endLine);
  const owner = d.container ? ` of \`${d.container}\`` : "";
  const decl = d.declarationOnly ? " (declaration)" : "";
  const rootNote = multiRoot ? ` in folder ${hit.root}` : "";
  const blocks = [`**${d.kind}**${owner}${decl} at ${where}${rootNote}`, fenceFor(hit.path, d.signature)];
  if (d.doc) blocks.push(d.doc.split("\n").slice(0, 6).map((l) => `> ${l}`).join("\n"));
  if (CONTAINER_KINDS.has(d.kind)) {
    const members = (index.get(hit.root, hit.path)?.definitions ?? []).filter(
      (m) => m.container === d.name && m.startLine >= d.startLine && m.endLine <= d.endLine,
    );
    if (members.length) {
      const shown = members.slice(0, 12).map((m) => `\`${m.name}\` ${cite(citations, hit.root, hit.path, m.nameLine)}`);
      blocks.push(`**Members:** ${shown.join(", ")}${members.length > 12 ? `, … (${members.length - 12} more)` : ""}`);
    }
  } else if (withCallees && !d.declarationOnly && (d.kind === "function" || d.kind === "method")) {
    const callees = index.callees(hit.root, hit.path, d, 10);
    if (callees.length) {
      const shown = callees.map((c) => `\`${c.definition.name}\` ${cite(citations, c.root, c.path, c.definition.nameLine)}`);
      blocks.push(`**Uses:** ${shown.join(", ")}`);
    }
  }
  return blocks.join("\n\n");
}

/** Uses grouped by file, a line per file with up to three citations. */
function describeReferences(refs: ReferenceHit[], citations: Citation[], max: number): string {
  const byFile = new Map<string, ReferenceHit[]>();
  for (const r of refs) {
    const k = `${r.root}\u0000${r.path}`;
    const list = byFile.get(k) ?? [];
    list.push(r);
    byFile.set(k, list);
  }
  const out: string[] = [];
  for (const list of [...byFile.values()].slice(0, max)) {
    const shown = list.slice(0, 3).map((r) => cite(citations, r.root, r.path, r.line));
    out.push(`- ${shown.join(", ")}${list.length > 3 ? ` (+${list.length - 3} more)` : ""}`);
  }
  if (byFile.size > max) out.push(`- … and ${byFile.size - max} more files`);
  return out.join("\n");
}

/**
 * What a question asks of the symbols it names, so the answer leads with it: "who uses X" / "what calls X" → the
 * uses first; "what does X call" → its callees first; anything else (and "where is X defined and who uses it")
 * → the definition first.
 */
export function questionIntent(question: string): "uses" | "calls" | "definition" {
  if (/\bdefin(?:ed|ition)\b|\bdeclared\b/i.test(question)) return "definition";
  if (/\bwhat (?:does|do) [\w$.:`'"]+ (?:call|use|invoke|depend on)\b|\bcallees\b/i.test(question)) return "calls";
  if (/\bwho (?:uses|calls|references)\b|\bwhat calls\b|\bwhere (?:is|are) .+ used\b|\bcallers?\b|\bused by\b|\busages?\b|\buses of\b|\breferences? to\b/i.test(question)) return "uses";
  return "definition";
}

/** Answer a free-form question from the index. */
export function answerFromIndex(index: WorkspaceIndex, question: string, opts: { maxSymbols?: number } = {}): IndexAnswer {
  const citations: Citation[] = [];
  const sections: string[] = [];
  const symbols: string[] = [];
  const multiRoot = new Set([...index.allFiles()].slice(0, 1000).map((f) => f.root)).size > 1;
  // "Where is DEFAULT_TIMEOUT defined?" about a variable or a constant (no definition has the name): where it is bound.
  const bound = askedVariables(index, question);
  if (bound.length) {
    const name = bound[0].variable.name;
    const parts = [`### \`${name}\``, `A variable, not a function or a type; bound at:`];
    for (const { root, path, variable: v } of bound) {
      const owner = v.container ? ` in \`${v.container}\`` : "";
      parts.push(`${cite(citations, root, path, v.line)}${owner}\n\n${fenceFor(path, v.text)}`);
    }
    parts.push(...usedInParts(index.references(name, 200), citations));
    return { markdown: parts.join("\n\n"), citations, symbols: [name], files: citedFiles(citations) };
  }
  const candidates = symbolCandidates(question);
  // A short question ("explain refill") is all symbol; in a sentence, a plain word ("handle", "timeout") names a
  // symbol only next to one the question names as code (RateLimiter … refill: a member, or in the same file).
  const shortQuestion = candidates.filter((c) => !c.joined).length <= 2;
  const intent = questionIntent(question);
  const answerSymbol = (name: string, hits: SymbolHit[], qualified = false) => {
    symbols.push(name);
    found.push(...hits);
    const parts = [`### \`${name}\``];
    // A qualified symbol (`HonoRequest.header`) gets the uses of its definitions, not every `header`'s.
    const refs = qualified ? index.usesOfSome(hits, 200) : index.references(name, 200);
    // Parts are written in display order: citations are collected as they are written.
    const usedIn = () => (refs.length ? usedInParts(refs, citations) : ["No uses found elsewhere in the index."]);
    const fn = hits.find((h) => !h.definition.declarationOnly && (h.definition.kind === "function" || h.definition.kind === "method"));
    const callees = intent === "calls" && fn ? index.callees(fn.root, fn.path, fn.definition, 10) : [];
    if (intent === "uses") parts.push(...usedIn());
    if (callees.length) parts.push(`**Calls:** ${callees.map((c) => `\`${c.definition.name}\` ${cite(citations, c.root, c.path, c.definition.nameLine)}`).join(", ")}`);
    if (hits.length > 1) parts.push(`Defined in ${hits.length} places.`);
    for (const h of hits) parts.push(describeDefinition(index, h, citations, multiRoot, callees.length === 0));
    if (intent !== "uses") parts.push(...usedIn());
    sections.push(parts.join("\n\n"));
  };
  let searched: SearchHit[] | undefined;
  const searchHits = () => (searched ??= definitionSearch(index).query(question, 12));
  /** The BM25 search's hits that are not `named` already, as a section. */
  const searchSection = (named: readonly string[]) => {
    const hits = searchHits();
    const best = hits[0]?.score ?? 0;
    const matching = hits.filter((h) => h.score >= 0.35 * best && !named.includes(h.definition.name));
    const related = withImplementations(index, thisPlatformFirst(matching, (h) => h.definition.name, (h) => h.path)).slice(0, 5);
    if (related.length) {
      const parts = ["### Definitions that match the question"];
      for (const h of related) parts.push(`#### \`${h.definition.name}\``, describeDefinition(index, h, citations, multiRoot));
      sections.push(parts.join("\n\n"));
      for (const h of related) symbols.push(h.definition.name);
    }
  };
  const found: SymbolHit[] = [];
  let surelyNamed = false;
  for (const pass of ["code", "plain"] as const) {
    for (const candidate of candidates) {
      if (symbols.length >= (opts.maxSymbols ?? 3)) break;
      if ((pass === "code") !== candidate.surelyCode) continue;
      let hits = index.find(candidate.text, { limit: 8 });
      if (pass === "plain") {
        hits = hits.filter((h) => h.definition.name === candidate.text);
        if (!shortQuestion) {
          hits = hits.filter((h) =>
            found.some((f) => (f.root === h.root && f.path === h.path) || h.definition.container === f.definition.name),
          );
        }
      }
      if (hits.length === 0 || symbols.includes(hits[0].definition.name)) continue;
      answerSymbol(hits[0].definition.name, hits, /\.|::/.test(candidate.text) && candidate.text !== hits[0].definition.name);
      surelyNamed ||= pass === "code";
    }
  }
  // Plain words that happen to name a definition are weak evidence: "how are blueprints registered?" named Flask's
  // Request.blueprints, while the search's first hit, register_blueprint, holds more of the question's words in its
  // name. Then the search's hits lead.
  if (symbols.length > 0 && !surelyNamed) {
    const top = searchHits()[0];
    const covers = (name: string) => nameWordsIn(question, name);
    if (top && !symbols.includes(top.definition.name) && symbols.every((n) => covers(top.definition.name) > covers(n))) {
      const plainSections = sections.splice(0);
      const plainCitations = citations.splice(0);
      const plainSymbols = symbols.splice(0);
      searchSection(plainSymbols);
      // The symbol sections' citations were collected as written: re-cite them after the search's.
      sections.push(...plainSections);
      citations.push(...plainCitations);
      symbols.push(...plainSymbols);
    }
  }
  // Questions in words ("how are invoice totals computed?") name no symbol: search definitions' names, docs and
  // signatures (BM25). When the question named symbols that exist, their answer stands alone: related hits
  // would mostly be other places that mention the same name.
  if (symbols.length === 0) searchSection([]);
  if (sections.length === 0) {
    const words = candidateSymbols(question);
    const suggestions = [...new Set(words.flatMap((w) => index.searchNames(w, 5)))].slice(0, 8);
    const hint = suggestions.length ? ` Similar names in the index: ${suggestions.map((s) => `\`${s}\``).join(", ")}.` : "";
    sections.push(`No definition in the index matches ${words.length ? words.map((w) => `\`${w}\``).join(", ") : "this question"}.${hint}`);
  }
  return { markdown: sections.join("\n\n"), citations, symbols, files: citedFiles(citations) };
}

/** "Used in N files:" and the uses, each cited (nothing when there are none). */
function usedInParts(refs: ReferenceHit[], citations: Citation[]): string[] {
  if (refs.length === 0) return [];
  const files = new Set(refs.map((r) => `${r.root}/${r.path}`)).size;
  return [`**Used in ${files} file${files === 1 ? "" : "s"}:**`, describeReferences(refs, citations, 6)];
}

/** The files an answer cites, each once, in the order first cited. */
function citedFiles(citations: readonly Citation[]): Array<{ root: string; path: string }> {
  return [...new Map(citations.map((c) => [`${c.root}\u0000${c.path}`, { root: c.root, path: c.path }])).values()];
}

const sameDefinition = (a: SymbolHit, b: SymbolHit) => a.root === b.root && a.path === b.path && a.definition.nameLine === b.definition.nameLine;

/**
 * A bodiless hit — an interface's method, a C prototype — says what is done, its implementations how: they come
 * first, up to 2 per declaration (library code first, as `find` orders them). Asked "where are validation rules
 * checked?", gin's `StructValidator.ValidateStruct` (an interface method) leads the search, `defaultValidator.ValidateStruct`
 * does the checking.
 */
export function withImplementations<T extends SymbolHit>(index: WorkspaceIndex, hits: T[]): Array<T | SymbolHit> {
  const out: Array<T | SymbolHit> = [];
  const add = (h: T | SymbolHit) => {
    if (!out.some((o) => sameDefinition(o, h))) out.push(h);
  };
  for (const h of hits) {
    const d = h.definition;
    if (d.declarationOnly && (d.kind === "method" || d.kind === "function")) {
      const bodies = index.find(d.name, { limit: 20 }).filter((x) => !x.definition.declarationOnly && x.definition.kind === d.kind);
      for (const b of bodies.slice(0, 2)) add(b);
    }
    add(h);
  }
  return out;
}

/** Everything the index knows about one symbol (Explain Symbol / hover). */
export function explainSymbol(index: WorkspaceIndex, name: string): IndexAnswer {
  return answerFromIndex(index, `\`${name}\``, { maxSymbols: 1 });
}
