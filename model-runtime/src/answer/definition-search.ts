/**
 * Full-text search over definitions (BM25, through MiniSearch): names split into words, doc comments,
 * signatures, containers and paths. It answers questions that name no symbol ("how are invoice totals
 * computed?") and is the retrieval baseline the model is measured against. Kept in step with the index file by
 * file through the index's change events.
 */
import MiniSearch from "minisearch";
import { placeRank } from "../index/code-places";
import type { Definition, FileRecord, SymbolHit } from "../index/types";
import type { WorkspaceIndex } from "../index/workspace-index";
import { fileKey } from "../index/workspace-index";

interface DefinitionDoc {
  id: string;
  name: string;
  container: string;
  doc: string;
  signature: string;
  /** The names and words written inside the definition's own lines (bodyWords). */
  body: string;
  path: string;
  /** searchWeight: place and kind. */
  weight: number;
}

/** "computeInvoiceTotal" → "compute invoice total", "parse_config" → "parse config", "HTTPServer" → "http server". */
export function splitIdentifier(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .replace(/[_\-./:$]+/g, " ");
}

/**
 * English function words, and the words of a question about code that name nothing in it ("show me the code that …").
 * Not "find": it asks ("find the code that …") but also names (Flask's find_best_app for "how does flask find the app").
 */
const STOP = new Set(
  (
    "a an and are as at be by does do for from how i in is it of on or the this that to what when where which who why with " +
    "show locate located code implemented implementation happens work works"
  ).split(" "),
);

/**
 * Words a question uses as pronouns, dropped from questions only (a name may hold them: cobra's `MarkFlagsOneRequired`
 * had led "how does cobra suggest commands when one is mistyped?").
 */
const QUESTION_ONLY_STOP = new Set(["one", "ones"]);

/**
 * A light suffix stemmer, the same for documents and queries: store/stored/stores/storing → "stor",
 * suggest/suggestions → "suggest" (cobra's `SuggestionsFor` for "how does cobra suggest commands…").
 */
export function stem(word: string): string {
  let w = word;
  for (const suffix of ["ions", "ion", "ing", "ed", "es", "s"]) {
    if (w.endsWith(suffix) && !w.endsWith("ss") && w.length - suffix.length >= 3) {
      w = w.slice(0, -suffix.length);
      break;
    }
  }
  return w.length > 3 && w.endsWith("e") ? w.slice(0, -1) : w;
}

/**
 * Words code abbreviates, and irregular verb forms a suffix stemmer cannot reach, mapped to the word a question
 * uses: nginx's `ngx_http_limit_req_handler` is about "requests", a question asks where a line is "written".
 */
const NORMAL_FORM = new Map<string, string>(Object.entries({
  req: "request", reqs: "request", res: "response", resp: "response", ctx: "context", conf: "configuration",
  cfg: "configuration", config: "configuration", msg: "message", buf: "buffer", str: "string", len: "length",
  num: "number", fn: "function", func: "function", init: "initialize", alloc: "allocate", addr: "address",
  conn: "connection", srv: "server", env: "environment", arg: "argument", args: "argument", param: "parameter",
  params: "parameter", err: "error", mgr: "manager", db: "database", tmp: "temporary", val: "value", idx: "index",
  dir: "directory", src: "source", dst: "destination", auth: "authentication", cert: "certificate", certs: "certificate",
  pkg: "package", attr: "attribute", attrs: "attribute", prev: "previous", cb: "callback", impl: "implementation",
  written: "write", wrote: "write", sent: "send", built: "build", found: "find", made: "make", got: "get", kept: "keep",
  held: "hold", chosen: "choose", chose: "choose", taken: "take", took: "take", given: "give", shown: "show",
  thrown: "throw", threw: "throw", began: "begin", begun: "begin", ran: "run", left: "leave",
}));

function terms(text: string): string[] {
  return splitIdentifier(text)
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 1 && !STOP.has(t))
    .map((t) => stem(NORMAL_FORM.get(t) ?? t));
}

/** A question's search words: a definition's words less the pronouns (QUESTION_ONLY_STOP). */
function questionTerms(text: string): string[] {
  return terms(text).filter((t) => !QUESTION_ONLY_STOP.has(t));
}

/** How many of a question's search words a definition's name holds ("register_blueprint": 2 of "how are blueprints registered?"). */
export function nameWordsIn(question: string, name: string): number {
  const asked = new Set(questionTerms(question));
  return new Set(terms(name).filter((t) => asked.has(t))).size;
}

/**
 * For each definition of a file, the distinct words written in its own lines — identifiers it uses, words of its
 * comments and strings — not those of the definitions nested in it (a class keeps its fields, its methods keep
 * theirs). Code without doc comments is found by what it does: nginx's `ngx_http_limit_req_handler` says "excess",
 * "rate" and "limiting requests" only in its body. Read from the index's per-line names (FileRecord.references), so
 * nothing is re-read from disk.
 */
export function bodyWords(rec: FileRecord): string[][] {
  const owner = new Int32Array(rec.lineCount + 1).fill(-1);
  // Larger spans first, so a nested definition's lines end up owned by it.
  const order = rec.definitions.map((_, i) => i).sort((a, b) => spanOf(rec.definitions[b]) - spanOf(rec.definitions[a]));
  for (const i of order) owner.fill(i, rec.definitions[i].startLine, Math.min(rec.definitions[i].endLine, rec.lineCount) + 1);
  const words = rec.definitions.map(() => new Set<string>());
  for (const name of Object.keys(rec.references)) {
    for (const line of rec.references[name]) {
      const i = owner[line] ?? -1;
      if (i >= 0) words[i].add(name);
    }
  }
  return words.map((w) => [...w]);
}

const spanOf = (d: Definition) => d.endLine - d.startLine;

/** How much a definition's score counts: tests and examples rank below library code that matches as well. */
const PLACE_WEIGHT = [1, 0.5, 0.4];

/**
 * Questions in words mostly ask how something is done, which code with a body answers: type aliases, interfaces and
 * enums (TypeScript's conditional types name every concept a question might use) and declarations without a body
 * (an interface's method, a C prototype) count less than a definition that matches as well and does the work.
 */
export const TYPE_WEIGHT = 0.6;
export const DECLARATION_WEIGHT = 0.6;

/** What a definition's BM25 score is multiplied by: where it lives (library, examples, tests) and what it is. */
export function searchWeight(path: string, def: Definition): number {
  const kindWeight = def.kind === "type" || def.kind === "interface" || def.kind === "enum" ? TYPE_WEIGHT : 1;
  return PLACE_WEIGHT[placeRank(path, def.name, def.container)] * kindWeight * (def.declarationOnly ? DECLARATION_WEIGHT : 1);
}

export interface SearchHit extends SymbolHit {
  score: number;
}

/**
 * Results by score, equal scores by id (file key, then definition): MiniSearch keeps a running average of field
 * lengths, so the last bits of a score depend on the order files were added, and equal scores come in that order.
 * Compared at 12 significant digits, the ranking is the same whichever parse finished first.
 */
function inStableOrder<T extends { id: unknown; score: number }>(results: T[]): T[] {
  return results
    .map((r) => ({ r, score: Number(r.score.toPrecision(12)), id: String(r.id) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((x) => x.r);
}

/** The body field counts less than a doc comment: it holds every word a definition uses (chosen on bench/everyday: docs/benchmarks/everyday.md). */
const BODY_BOOST = 0.3;

export class DefinitionSearch {
  private readonly search = new MiniSearch<DefinitionDoc>({
    fields: ["name", "container", "doc", "signature", "body", "path"],
    storeFields: ["weight"],
    tokenize: (text) => [text],
    processTerm: (term) => terms(term),
    searchOptions: {
      processTerm: (term) => questionTerms(term),
      boost: { name: 3, container: 1.2, doc: 1, signature: 0.6, body: BODY_BOOST, path: 0.5 },
      prefix: (t) => t.length > 4,
      fuzzy: 0,
      boostDocument: (_id, _term, stored) => Number(stored?.weight ?? 1),
    },
  });
  private readonly idsByFile = new Map<string, string[]>();
  private readonly unsubscribe: () => void;

  constructor(private readonly index: WorkspaceIndex) {
    for (const rec of index.allFiles()) this.add(rec);
    this.unsubscribe = index.onChange((before, after) => {
      if (before) this.remove(before);
      if (after) this.add(after);
    });
  }

  private add(rec: FileRecord): void {
    const key = fileKey(rec.root, rec.path);
    const body = bodyWords(rec);
    const docs = rec.definitions.map((d: Definition, i: number) => ({
      id: `${key}\u0000${i}`,
      name: d.name,
      container: d.container ?? "",
      doc: d.doc,
      signature: d.signature,
      body: body[i].join(" "),
      path: rec.path,
      weight: searchWeight(rec.path, d),
    }));
    this.search.addAll(docs);
    this.idsByFile.set(key, docs.map((d) => d.id));
  }

  private remove(rec: FileRecord): void {
    const key = fileKey(rec.root, rec.path);
    for (const id of this.idsByFile.get(key) ?? []) this.search.discard(id);
    this.idsByFile.delete(key);
  }

  /** Best-matching definitions for a free-text query, highest score first. */
  query(text: string, limit = 10): SearchHit[] {
    const out: SearchHit[] = [];
    for (const r of inStableOrder(this.search.search(text, { combineWith: "OR" }))) {
      const [root, path, i] = String(r.id).split("\u0000");
      const rec = this.index.get(root, path);
      const definition = rec?.definitions[Number(i)];
      if (!rec || !definition) continue;
      out.push({ root, path, definition, score: r.score });
      if (out.length >= limit) break;
    }
    return out;
  }

  dispose(): void {
    this.unsubscribe();
  }
}
