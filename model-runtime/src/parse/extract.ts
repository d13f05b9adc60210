/**
 * Parse one file with tree-sitter and extract its definitions (with signatures and doc comments), imports and
 * identifier uses. One `SourceParser` per thread: grammars and compiled queries are loaded once and reused,
 * and every tree is deleted right away because the wasm heap never shrinks (2 GiB cap).
 */
import fs from "node:fs";
import path from "node:path";
import { Language, type Node, Parser, Query, type QueryMatch } from "web-tree-sitter";
import type { Definition, DefinitionKind, ImportEntry, Mentions, ReferenceMap, VariableDeclaration } from "../index/types";
import { innermostOf } from "../index/workspace-index";
import grammarFiles from "./grammar-files.json";
import { LANGUAGES, type LanguageSpec } from "./languages";
import { parameterNames } from "./parameters";
import { firstBranchOnly } from "./preprocessor";

export interface ParsedSource {
  definitions: Definition[];
  /** Names bound outside every function (addLocals). */
  variables: VariableDeclaration[];
  imports: ImportEntry[];
  references: ReferenceMap;
  /** Which occurrences of `references` are only in comments and string literals (lexicalReferences). */
  mentions: Mentions;
  /** Names the file's code uses only as members (lexicalReferences). */
  memberOnly: string[];
  /** For those, what is written before the dot (lexicalReferences). */
  memberQualifiers: MemberQualifiers;
  /** Where each name is called (lexicalReferences). */
  calls?: ReferenceMap;
  hasErrors: boolean;
}

/** A parse that ran over its time budget returns null from tree-sitter; we then index the file as text. */
export class ParseTimeoutError extends Error {}

interface LoadedLanguage {
  spec: LanguageSpec;
  parser: Parser;
  definitions: Query;
  prose: Query;
}

/** Grammar .wasm files live in dist/grammars when bundled, and in node_modules when run from source. */
export function locateGrammar(file: string): string {
  const candidates: string[] = [];
  if (process.env.LONGVIEW_GRAMMAR_DIR) candidates.push(path.join(process.env.LONGVIEW_GRAMMAR_DIR, file));
  candidates.push(path.join(__dirname, "grammars", file));
  const rel = grammarFiles.GRAMMAR_FILES.find((g) => g.endsWith(`/${file}`));
  if (rel) {
    for (let dir = __dirname; ; dir = path.dirname(dir)) {
      candidates.push(path.join(dir, "node_modules", rel));
      if (path.dirname(dir) === dir) break;
    }
  }
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`grammar ${file} not found (looked in ${candidates.slice(0, 3).join(", ")} …)`);
  return found;
}

/** More specific kinds win when two patterns match the same node (a Python method is also a function). */
const KIND_RANK: Record<DefinitionKind, number> = {
  method: 6, class: 5, interface: 5, enum: 5, module: 4, macro: 4, type: 3, function: 2,
};

const COMMENT_TYPES = new Set(["comment", "line_comment", "block_comment"]);
/** Nodes that sit between a doc comment and its definition without breaking the attachment. */
const TRANSPARENT_SIBLINGS = new Set(["attribute_item", "decorator", "annotation", "marker_annotation"]);
/**
 * Wrappers whose own preceding comments document the definition inside them: `export …`, decorators, templates, and
 * JavaScript's `const f = () => …`, `res.send = function send() …` and `defineGetter(req, 'query', function query() …)`
 * (a declaration, statement or call around the function).
 */
const WRAPPER_TYPES = new Set([
  "export_statement", "decorated_definition", "template_declaration", "ambient_declaration",
  "lexical_declaration", "variable_declaration", "expression_statement", "arguments", "call_expression",
]);
/** A file's licence or overview block: not the doc of the definition that happens to follow it (`/*!` never qualifies: not `/**`). */
const FILE_HEADER = /@(?:license|copyright|file|fileoverview|module|preserve)\b/i;
/** Enclosing nodes that name a definition's container (class of a method, impl type of a Rust fn …). */
const CONTAINER_TYPES = new Set([
  "class_declaration", "abstract_class_declaration", "class_definition", "class_specifier", "struct_specifier",
  "interface_declaration", "enum_declaration", "record_declaration", "trait_item", "impl_item", "internal_module",
  "module", "namespace_definition", "mod_item", "class", "object", "type_spec", "struct_declaration", "trait_declaration",
  "object_declaration",
]);
/** Bodies that no grammar field names (Kotlin's class_body and function_body): a signature ends where one begins. */
const UNNAMED_BODIES = new Set(["class_body", "function_body", "enum_class_body"]);
/** Languages with `#if` conditional compilation, which their grammars parse as if every branch were compiled. */
const PREPROCESSED = new Set(["c", "cpp", "csharp"]);
const C_DEFINITION_PARENTS = new Set(["function_definition", "declaration", "field_declaration", "template_declaration"]);

const MAX_SIGNATURE = 200;
const MAX_DOC = 1200;

function collapse(text: string, max: number): string {
  const s = text.replace(/\s+/g, " ").trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Strip comment markers: /** *\/, leading *, //, ///, //!, #, and Python string quotes. */
export function cleanDocComment(raw: string): string {
  const lines = raw
    .replace(/^\s*\/\*+!?/, "")
    .replace(/\*+\/\s*$/, "")
    .split("\n")
    .map((l) => l.replace(/^\s*(\/\/[\/!]?|#+|\*(?!\/))\s?/, "").trimEnd());
  while (lines.length && lines[0].trim() === "") lines.shift();
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  const text = lines.join("\n").trim();
  return text.length > MAX_DOC ? `${text.slice(0, MAX_DOC - 1)}…` : text;
}

/**
 * C#'s XML documentation comment as text: the summary's words, a `<see cref="X"/>` as X, and parameters and the
 * return value as `@param` / `@returns` lines (so a doc summary stops where they begin, as for JSDoc).
 */
export function xmlDocText(doc: string): string {
  if (!/<(summary|remarks|param|returns)\b/.test(doc)) return doc;
  return doc
    .replace(/<(?:see|seealso|paramref|typeparamref)\s+(?:cref|name|langword)="([^"]*)"\s*\/>/g, (_, name: string) => name.replace(/^[A-Z]:/, ""))
    .replace(/<param\s+name="([^"]*)"\s*>/g, "\n@param $1 ")
    .replace(/<returns>/g, "\n@returns ")
    .replace(/<\/?[a-zA-Z][^>]*>/g, "")
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{2,}/g, "\n")
    .trim();
}

/** A definition's doc: Python's docstring (else the comment above), C#'s XML doc as text, else the comment above. */
function docComment(languageId: string, def: Node): string {
  if (languageId === "python") return pythonDocstring(def) || leadingComment(def);
  return languageId === "csharp" ? xmlDocText(leadingComment(def)) : leadingComment(def);
}

function pythonDocstring(def: Node): string {
  const body = def.childForFieldName("body");
  const first = body?.namedChild(0);
  if (!first || first.type !== "expression_statement") return "";
  const str = first.namedChild(0);
  if (!str || str.type !== "string") return "";
  return cleanDocComment(str.text.replace(/^[rRbBuUfF]*("""|'''|"|')/, "").replace(/("""|'''|"|')$/, ""));
}

/**
 * Contiguous comments directly above the definition (or above its export/decorator wrapper). A `/** … *\/` block may
 * stand one blank line above it, as Express and much JavaScript write JSDoc; other comments must touch it.
 */
function leadingComment(def: Node): string {
  let anchor: Node = def;
  // Ruby: the comments above a module's or class's first statement belong to that node, before its body_statement.
  while (anchor.parent && (WRAPPER_TYPES.has(anchor.parent.type) || (anchor.parent.type === "body_statement" && !anchor.previousNamedSibling))) {
    anchor = anchor.parent;
  }
  const parts: string[] = [];
  let expectedRow = anchor.startPosition.row;
  for (let sib = anchor.previousNamedSibling; sib; sib = sib.previousNamedSibling) {
    // Read a sibling's text only when it is a comment: the sibling above is often a whole function.
    const gapAllowed = parts.length === 0 && expectedRow === anchor.startPosition.row && COMMENT_TYPES.has(sib.type) && sib.text.startsWith("/**") && !FILE_HEADER.test(sib.text);
    if (sib.endPosition.row < expectedRow - (gapAllowed ? 2 : 1)) break;
    if (TRANSPARENT_SIBLINGS.has(sib.type)) {
      expectedRow = sib.startPosition.row;
      continue;
    }
    if (!COMMENT_TYPES.has(sib.type)) break;
    parts.unshift(sib.text);
    expectedRow = sib.startPosition.row;
  }
  return parts.length ? cleanDocComment(parts.join("\n")) : "";
}

function containerName(def: Node): string | undefined {
  // Go methods name their type in the receiver: func (t *T) M().
  const receiver = def.type === "method_declaration" ? def.childForFieldName("receiver") : null;
  if (receiver) {
    const type = receiver.descendantsOfType("type_identifier")[0];
    if (type) return type.text;
  }
  for (let p = def.parent; p; p = p.parent) {
    if (!CONTAINER_TYPES.has(p.type)) continue;
    const name = p.childForFieldName("name") ?? p.childForFieldName("type");
    // `impl<T> LinkedList<T>`, `class Box<T>`: the container is "LinkedList", as people write it in questions.
    if (name) return name.text.replace(/\s*<[\s\S]*$/, "");
  }
  return undefined;
}

function signatureOf(def: Node, source: string): string {
  const inner = def.type === "template_declaration" ? def.namedChildren.find((c) => c && C_DEFINITION_PARENTS.has(c.type)) : undefined;
  const body = (inner ?? def).childForFieldName("body") ?? def.namedChildren.find((c) => c !== null && UNNAMED_BODIES.has(c.type)) ?? null;
  let end = body && body.startIndex > def.startIndex ? body.startIndex : Math.min(def.endIndex, source.indexOf("\n", def.startIndex) >>> 0);
  // A comment before the body is not part of the signature (Ruby: a module's first class's doc comment).
  const comment = def.namedChildren.find((c) => c !== null && COMMENT_TYPES.has(c.type) && c.startIndex > def.startIndex && c.startIndex < end);
  if (comment) end = comment.startIndex;
  return collapse(source.slice(def.startIndex, Math.min(end, def.startIndex + MAX_SIGNATURE * 2)), MAX_SIGNATURE);
}

/**
 * Definition nodes that never have a body: TypeScript overload and interface signatures, a Go interface's methods, a
 * Rust trait's required functions. (An abstract or interface \`method_declaration\` of Java, C#, PHP or Go is one
 * without a \`body\` field.)
 */
const BODILESS = new Set(["function_signature", "method_signature", "abstract_method_signature", "method_elem", "function_signature_item"]);

/**
 * Python's `@overload` stubs (`typing.overload`, `t.overload`): signatures for type checkers, the implementation (its
 * body and its docstring) follows them. click's `Context.invoke` is two stubs and then the method.
 */
function isPythonOverload(def: Node): boolean {
  const decorated = def.parent?.type === "decorated_definition" ? def.parent : undefined;
  return !!decorated?.namedChildren.some((c) => c?.type === "decorator" && /^@\s*(?:[\w.]+\.)?overload\s*$/.test(c.text));
}

/** C/C++: a function_declarator is deep inside its definition; the definition is the nearest enclosing
 * function_definition / declaration / field_declaration. None means a function pointer parameter: skip. */
function cFunctionNode(declarator: Node): { node: Node; declarationOnly: boolean; isMethod: boolean } | undefined {
  let n: Node | null = declarator.parent;
  while (n && !C_DEFINITION_PARENTS.has(n.type)) {
    if (n.type === "parameter_declaration" || n.type === "parameter_list") return undefined;
    n = n.parent;
  }
  if (!n) return undefined;
  if (n.parent?.type === "template_declaration") n = n.parent;
  const inner = n.type === "template_declaration" ? n.namedChildren.find((c) => c && C_DEFINITION_PARENTS.has(c.type)) ?? n : n;
  const nameNode = declarator.childForFieldName("declarator");
  const isMethod =
    inner.type === "field_declaration" ||
    inner.parent?.type === "field_declaration_list" ||
    (nameNode !== null && ["qualified_identifier", "field_identifier", "destructor_name"].includes(nameNode.type));
  return { node: n, declarationOnly: inner.type !== "function_definition", isMethod };
}

export class SourceParser {
  private readonly loaded = new Map<string, Promise<LoadedLanguage>>();
  private static initialised: Promise<void> | undefined;

  private static init(): Promise<void> {
    SourceParser.initialised ??= Parser.init();
    return SourceParser.initialised;
  }

  private load(languageId: string): Promise<LoadedLanguage> {
    let entry = this.loaded.get(languageId);
    if (!entry) {
      const spec = LANGUAGES[languageId];
      if (!spec) throw new Error(`no grammar for language ${languageId}`);
      entry = (async () => {
        await SourceParser.init();
        const language = await Language.load(locateGrammar(spec.wasm));
        const parser = new Parser();
        parser.setLanguage(language);
        // Local variables ride in the definitions query: one walk of the tree instead of two (a separate query cost ~10%
        // of a full index); their matches have neither a definition nor an import capture, so both skip them.
        return { spec, parser, definitions: new Query(language, `${spec.definitions}\n${spec.locals}`), prose: new Query(language, spec.prose) };
      })();
      this.loaded.set(languageId, entry);
    }
    return entry;
  }

  /** Parse `source` as `languageId`. `timeBudgetMs` bounds the parse (a pathological file must not stall a worker). */
  async parse(languageId: string, source: string, timeBudgetMs = 10_000): Promise<ParsedSource> {
    const lang = await this.load(languageId);
    // The progress callback costs time on every file; only big files can blow the budget, so only they get one.
    const deadline = performance.now() + timeBudgetMs;
    const options = source.length > 200_000 ? { progressCallback: () => performance.now() > deadline } : undefined;
    const tree = lang.parser.parse(source, null, options);
    if (!tree) {
      lang.parser.reset();
      throw new ParseTimeoutError(`parse exceeded ${timeBudgetMs} ms`);
    }
    try {
      const root = tree.rootNode;
      const matches = lang.definitions.matches(root);
      let definitions = this.definitions(lang, matches, source);
      let hasErrors = root.hasError;
      if (hasErrors && PREPROCESSED.has(lang.spec.id)) {
        const recovered = this.firstBranchDefinitions(lang, source, root, definitions, options);
        if (recovered) ({ definitions, hasErrors } = recovered);
      }
      const variables = addLocals(definitions, matches, source);
      return {
        definitions,
        variables,
        imports: this.imports(matches),
        ...lexicalReferences(source, proseMask(lang.prose, root, source.length), lang.spec.id, definitions),
        hasErrors,
      };
    } finally {
      tree.delete();
    }
  }

  /**
   * A C, C++ or C# file that parsed with errors, parsed again with only the first branch of each `#if` (preprocessor.ts):
   * when that has fewer errors, its definitions, plus any of the first parse's it lacks (those of later branches).
   * nginx: 87 of 266 .c files parsed with errors (50 after this), and 6 functions were lost in them,
   * `ngx_http_upstream_get_round_robin_peer` one.
   */
  private firstBranchDefinitions(
    lang: LoadedLanguage,
    source: string,
    root: Node,
    definitions: Definition[],
    options: Parameters<Parser["parse"]>[2],
  ): { definitions: Definition[]; hasErrors: boolean } | undefined {
    const variant = firstBranchOnly(source);
    const tree = variant ? lang.parser.parse(variant, null, options) : null;
    if (!variant || !tree) return undefined;
    try {
      const errors = (node: Node) => node.descendantsOfType("ERROR").length + (node.hasError ? 1 : 0);
      if (errors(tree.rootNode) >= errors(root)) return undefined;
      const recovered = this.definitions(lang, lang.definitions.matches(tree.rootNode), variant);
      const key = (d: Definition) => `${d.name}@${d.nameLine}:${d.nameColumn}`;
      const found = new Set(recovered.map(key));
      const merged = [...recovered, ...definitions.filter((d) => !found.has(key(d)))];
      merged.sort((a, b) => a.startLine - b.startLine || a.startColumn - b.startColumn);
      return { definitions: merged, hasErrors: tree.rootNode.hasError };
    } finally {
      tree.delete();
    }
  }

  private definitions(lang: LoadedLanguage, matches: QueryMatch[], source: string): Definition[] {
    const byRange = new Map<string, Definition>();
    const isC = lang.spec.id === "c" || lang.spec.id === "cpp";
    for (const match of matches) {
      let defNode: Node | undefined;
      let nameNode: Node | undefined;
      let kind: DefinitionKind | undefined;
      for (const cap of match.captures) {
        if (cap.name === "name") nameNode = cap.node;
        else if (cap.name.startsWith("definition.")) {
          defNode = cap.node;
          kind = cap.name.slice("definition.".length) as DefinitionKind;
        }
      }
      if (!defNode || !nameNode || !kind) continue;
      let declarationOnly = false;
      if (isC && defNode.type === "function_declarator") {
        const fn = cFunctionNode(defNode);
        if (!fn) continue;
        defNode = fn.node;
        declarationOnly = fn.declarationOnly;
        if (fn.isMethod) kind = "method";
      } else if (
        BODILESS.has(defNode.type) ||
        (defNode.type === "method_declaration" && !defNode.childForFieldName("body")) ||
        (lang.spec.id === "kotlin" && defNode.type === "function_declaration" && !defNode.namedChildren.some((c) => c?.type === "function_body")) ||
        (lang.spec.id === "python" && isPythonOverload(defNode))
      ) {
        declarationOnly = true;
      }
      const key = `${defNode.startIndex}:${defNode.endIndex}`;
      const previous = byRange.get(key);
      if (previous && KIND_RANK[previous.kind] >= KIND_RANK[kind]) continue;
      const doc = docComment(lang.spec.id, defNode);
      let name = nameNode.text;
      // C++ out-of-line definitions name their class: keep the member name, record the class as container.
      let container = containerName(defNode);
      if (nameNode.type === "qualified_identifier") {
        const parts = name.split("::");
        name = parts.pop() ?? name;
        container ??= parts.join("::") || undefined;
      }
      const def: Definition = {
        name,
        kind,
        startLine: defNode.startPosition.row,
        startColumn: defNode.startPosition.column,
        endLine: defNode.endPosition.row,
        endColumn: defNode.endPosition.column,
        nameLine: nameNode.startPosition.row,
        nameColumn: nameNode.startPosition.column,
        signature: signatureOf(defNode, source),
        doc,
      };
      if (container && container !== name) def.container = container;
      if (declarationOnly) def.declarationOnly = true;
      else if (kind === "function" || kind === "method") {
        const parameters = parameterNames(defNode);
        if (parameters.length) def.parameters = parameters;
      }
      byRange.set(key, def);
    }
    return [...byRange.values()].sort((a, b) => a.startLine - b.startLine || a.startColumn - b.startColumn);
  }

  private imports(matches: QueryMatch[]): ImportEntry[] {
    const out: ImportEntry[] = [];
    const seen = new Set<string>();
    for (const match of matches) {
      const source = match.captures.find((c) => c.name === "source")?.node;
      const statement = match.captures.find((c) => c.name === "import")?.node;
      if (!source || !statement) continue;
      const text = source.text.replace(/^["'<`]|["'>`]$/g, "").trim();
      const key = `${text}@${source.startPosition.row}`;
      if (!text || seen.has(key)) continue;
      seen.add(key);
      const [first, last] = [statement.startPosition.row, statement.endPosition.row];
      out.push(last > first ? { source: text, line: source.startPosition.row, span: [first, last] } : { source: text, line: source.startPosition.row });
    }
    return out;
  }

}

const MAX_LOCALS = 64;

/** Variables recorded per file, at most (a generated table of constants must not bloat the index). */
const MAX_VARIABLES = 256;
/** Longest declaration text kept (the line that binds the name, as in a signature). */
const MAX_VARIABLE_TEXT = 160;

/**
 * The `locals` query's captures, in one pass. Inside a function or method, each is a local variable of the innermost
 * one around it (added to its Definition.locals): with its parameters they hide other definitions of their names inside
 * it (WorkspaceIndex.callees); a local of a block or a callback inside the function counts for the whole function —
 * block scope is not modelled. Outside every function they are the module's variables and constants
 * (`DEFAULT_TIMEOUT = 30`, Go's `var ErrNotFound = …`, Rust's `static`, a Java field), returned with the line that
 * binds each and the class around it, if any, first binding of each name only; a name that is also a definition there
 * (`const handler = () => …`) is the definition's.
 */
function addLocals(definitions: Definition[], matches: QueryMatch[], source: string): VariableDeclaration[] {
  const functions = definitions.filter((d) => d.kind === "function" || d.kind === "method");
  const bodies = functions.filter((d) => !d.declarationOnly);
  const variables: VariableDeclaration[] = [];
  const seen = new Set<string>();
  for (const match of matches) {
    const node = match.captures.find((c) => c.name === "local")?.node;
    if (!node) continue;
    const line = node.startPosition.row;
    const name = node.text;
    const owner = innermostOf(bodies, line);
    if (owner) {
      owner.locals ??= [];
      if (owner.locals.length < MAX_LOCALS && !owner.locals.includes(name)) owner.locals.push(name);
      continue;
    }
    if (variables.length >= MAX_VARIABLES || definitions.some((d) => d.nameLine === line && d.name === name)) continue;
    if (functions.some((d) => d.startLine <= line && line <= d.endLine)) continue;
    const container = innermostOf(definitions, line);
    const key = `${container?.name ?? ""}\u0000${name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const lineStart = source.lastIndexOf("\n", node.startIndex - 1) + 1;
    const lineEnd = source.indexOf("\n", node.startIndex);
    const text = collapse(source.slice(lineStart, lineEnd < 0 ? source.length : lineEnd), MAX_VARIABLE_TEXT);
    variables.push({ name, line, ...(container ? { container: container.name } : {}), text });
  }
  return variables;
}

/**
 * Reserved words of the indexed languages. They can never name a definition, so keeping their uses would only
 * bloat the reference map.
 */
const KEYWORDS = new Set(
  ("abstract and as assert async await break case catch class const continue crate def default defer del do dyn elif else " +
    "enum except export extends extern false final finally fn for from func func go goto if impl implements import in instanceof " +
    "interface is lambda let loop match mod module mut namespace new nil none None nonlocal not null of or package pass " +
    "private protected pub public raise readonly return self Self static struct super switch this throw throws trait True " +
    "true try type typedef typeof union unsafe use var void volatile where while with yield sizeof inline auto register " +
    "signed unsigned int long short char float double bool boolean string chan select fallthrough range map").split(" "),
);

const IDENTIFIER = /[\p{L}_$][\p{L}\p{N}_$]*/gu;
/** JavaScript's private names keep their `#` (`this.#dispatch(…)` uses the method `#dispatch`, not a `dispatch`). */
const JS_IDENTIFIER = /#?[\p{L}_$][\p{L}\p{N}_$]*/gu;
const JS_LANGUAGES = new Set(["typescript", "tsx", "javascript"]);
/** Ruby method names may end in ? or ! (`empty?`, `route!`): part of the name, unless the mark begins `!=` or `!~`. */
const RUBY_IDENTIFIER = /[\p{L}_$][\p{L}\p{N}_$]*(?:[?!](?![=~]))?/gu;

/**
 * Which characters of a parsed source are prose (1): inside a comment or a string literal and not in code embedded
 * there (an f-string's or a template's interpolation). Captures come outer before inner, so painting them in order
 * leaves each character marked by its innermost capture. Offsets are UTF-16 code units, as web-tree-sitter's
 * indices and the identifier regex's both are.
 */
function proseMask(query: Query, root: Node, length: number): Uint8Array {
  const mask = new Uint8Array(length);
  const captures = query.captures(root).sort((a, b) => a.node.startIndex - b.node.startIndex || b.node.endIndex - a.node.endIndex);
  for (const c of captures) mask.fill(c.name === "text" ? 1 : 0, c.node.startIndex, Math.min(c.node.endIndex, length));
  return mask;
}

export interface LexicalReferences {
  /** Every line where each name occurs. */
  references: ReferenceMap;
  /** Which of those occurrences are only in prose (comments, strings): mentions, not uses in code. */
  mentions: Mentions;
  /**
   * Names that the file's code uses only after `.`, `->` or `?.` (`r->main`, `router.GET`): members of something, never
   * the bare name — so not a free function of that name (WorkspaceIndex.callees). `::` qualifies a free name
   * (`std::sort`, `Vec::new`) and `...` spreads one: both count as bare.
   */
  memberOnly: string[];
  /**
   * For each member-only name, what is written right before its dot on each of its lines (`util` in `util.warn(…)`,
   * `self`, a class's name; "" for an expression — `f().x`, `a[0].x`, `->` —, for prose, and for a line with two
   * different ones): one entry when it is the same on every line, else one per line of `references[name]`. Code
   * calling `util.warn` calls an imported module's function (WorkspaceIndex.meaning).
   */
  memberQualifiers: MemberQualifiers;
  /**
   * For each name the code calls, the lines where it does (`name(`, `name<T>(`, a decorator, a tagged template).
   * Absent for languages that call without parentheses (Ruby, Kotlin) and for text.
   */
  calls?: ReferenceMap;
}

export type MemberQualifiers = Record<string, string[]>;

/** A character of an identifier (ASCII fast path; others by Unicode class), for scanning backwards from a dot. */
function identifierChar(c: string | undefined): boolean {
  if (c === undefined) return false;
  const code = c.charCodeAt(0);
  if (code < 128) return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || c === "_" || c === "$" || c === "#";
  return /[\p{L}\p{N}]/u.test(c);
}

/** The identifier written right before the `.` (or `?.`) that precedes `at`, or "" for anything else. */
function qualifierBefore(text: string, at: number): string {
  let i = at - 1;
  while (i >= 0 && (text[i] === " " || text[i] === "\t")) i--;
  if (text[i] !== ".") return "";
  i--;
  if (text[i] === "?") i--;
  while (i >= 0 && (text[i] === " " || text[i] === "\t")) i--;
  const end = i + 1;
  while (i >= 0 && identifierChar(text[i])) i--;
  const q = text.slice(i + 1, end);
  return /^[\d]/.test(q) ? "" : q;
}

/** Languages whose calls need no parentheses (Ruby's `render json: x`, Kotlin's `run { … }`): no call lines for them. */
const CALLS_WITHOUT_PARENTHESES = new Set(["ruby", "kotlin"]);
/** After a name, a call's opening parenthesis: type arguments (`f<T>(`, Rust's `f::<T>(`) may come between. */
const CALL_AFTER = /[ \t]*(?:::)?(?:<[^<>()\n]{0,80}>)?[ \t]*\(/y;

/**
 * Whether the identifier spanning `at`..`end` is called there: followed by `(` (type arguments allowed between), a
 * Python decorator (`@cached`), a JSX element (`<Layout>`), or a JavaScript tagged template (html`…`).
 */
function calledAt(text: string, at: number, end: number, language?: string): boolean {
  // Most names are followed by something else: look at the next character before running the regex.
  let i = end;
  while (text[i] === " " || text[i] === "\t") i++;
  if (text[i] === "(") return true;
  if (text[i] === "<" || text[i] === ":") {
    CALL_AFTER.lastIndex = end;
    if (CALL_AFTER.test(text)) return true;
  }
  if (language === "python" && text[at - 1] === "@") return true;
  // A JSX element renders (calls) its component: `<Layout title=…>`.
  if ((language === "tsx" || language === "javascript") && text[at - 1] === "<") return true;
  return text[end] === "`" && language !== undefined && JS_LANGUAGES.has(language);
}

/** Whether the identifier at `at` follows a member access: `.` (not `..` or `...`), `->` or `?.`, spaces allowed between. */
function afterMemberAccess(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (text[i] === " " || text[i] === "\t")) i--;
  if (text[i] === ">") return text[i - 1] === "-";
  return text[i] === "." && text[i - 1] !== ".";
}

/**
 * Identifier uses by line, found lexically. A tree-sitter query over every identifier node cost ~45% of the parse
 * itself; a regex pass costs ~10% and finds the same uses, plus mentions in comments and strings — which also
 * count as "who refers to this" for a reader, but not as a call: `prose` (proseMask) tells them apart. Most prose is
 * whole lines (docstrings, comment lines), kept as one list of lines; on the other lines only the names that occur
 * there in prose alone are listed — a map of every prose word would double the index. Definitions' own names are
 * filtered at query time.
 */
export function lexicalReferences(text: string, prose?: Uint8Array, language?: string, definitions: readonly Definition[] = []): LexicalReferences {
  // A definition's own name, on its name's line, is not a bare use: a method `def warn(self, …)` called only as
  // `util.warn(…)` and `linter.warn()` is written only after dots.
  const definedOn = new Set(definitions.map((d) => `${d.nameLine}\u0000${d.name}`));
  const identifier = language === "ruby" ? RUBY_IDENTIFIER : language && JS_LANGUAGES.has(language) ? JS_IDENTIFIER : IDENTIFIER;
  // Plain objects (they survive structured clone and v8 serialisation unchanged); every lookup uses
  // Object.hasOwn so names like "constructor" never hit Object.prototype, and "__proto__" is left out.
  const refs: ReferenceMap = {};
  const mentions: Mentions = { lines: [], names: {} };
  const asMember = new Set<string>();
  const calls: ReferenceMap = {};
  /** Member-written name → line → what precedes its dot there. */
  const qualifiers = new Map<string, Map<number, string>>();
  const bare = new Set<string>();
  // The current line's listed names, each with whether it occurred in code there.
  const onLine = new Map<string, boolean>();
  let line = 0;
  const closeLine = () => {
    if (onLine.size === 0) return;
    let code = false;
    for (const inCode of onLine.values()) code ||= inCode;
    if (!code) mentions.lines.push(line);
    else {
      for (const [name, inCode] of onLine) {
        if (inCode) continue;
        if (Object.hasOwn(mentions.names, name)) mentions.names[name].push(line);
        else mentions.names[name] = [line];
      }
    }
    onLine.clear();
  };
  let nextNewline = text.indexOf("\n");
  identifier.lastIndex = 0;
  for (let m = identifier.exec(text); m; m = identifier.exec(text)) {
    if (nextNewline !== -1 && nextNewline < m.index) {
      closeLine();
      do {
        line++;
        nextNewline = text.indexOf("\n", nextNewline + 1);
      } while (nextNewline !== -1 && nextNewline < m.index);
    }
    const name = m[0];
    if (name.length < 2 || name === "__proto__" || KEYWORDS.has(name)) continue;
    const inCode = !prose || prose[m.index] !== 1;
    if (inCode) {
      if (calledAt(text, m.index, m.index + name.length, language)) {
        const lines = Object.hasOwn(calls, name) ? calls[name] : (calls[name] = []);
        if (lines[lines.length - 1] !== line) lines.push(line);
      }
      if (afterMemberAccess(text, m.index)) {
        asMember.add(name);
        const q = qualifierBefore(text, m.index);
        let byLine = qualifiers.get(name);
        if (!byLine) qualifiers.set(name, (byLine = new Map()));
        const earlier = byLine.get(line);
        byLine.set(line, earlier === undefined || earlier === q ? q : "");
      } else if (!definedOn.has(`${line}\u0000${name}`)) bare.add(name);
    }
    const seen = onLine.get(name);
    if (seen === undefined) {
      onLine.set(name, inCode);
      if (!Object.hasOwn(refs, name)) refs[name] = [line];
      else refs[name].push(line);
    } else if (inCode && !seen) onLine.set(name, true);
  }
  closeLine();
  const memberOnly = [...asMember].filter((n) => !bare.has(n));
  const memberQualifiers: MemberQualifiers = {};
  for (const name of memberOnly) {
    const byLine = qualifiers.get(name)!;
    const perLine = refs[name].map((l) => byLine.get(l) ?? "");
    memberQualifiers[name] = perLine.every((q) => q === perLine[0]) ? [perLine[0]] : perLine;
  }
  return { references: refs, mentions, memberOnly, memberQualifiers, ...(language && !CALLS_WITHOUT_PARENTHESES.has(language) ? { calls } : {}) };
}
