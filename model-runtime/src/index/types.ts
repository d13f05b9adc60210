/**
 * The workspace index's data model. Plain data (structured-clone friendly) so it crosses worker threads and
 * persists as is. Lines and columns are 0-based here; user-facing text shows 1-based lines.
 */

export type DefinitionKind =
  | "function"
  | "method"
  | "class"
  | "interface"
  | "type"
  | "enum"
  | "module"
  | "macro";

/** A definition found by tree-sitter: the global anchors of the model's layout come from these. */
export interface Definition {
  name: string;
  kind: DefinitionKind;
  /** Range of the whole definition node. */
  startLine: number;
  startColumn: number;
  endLine: number;
  endColumn: number;
  /** Position of the name identifier (what a citation points at). */
  nameLine: number;
  nameColumn: number;
  /** The definition's first line(s) up to its body, whitespace-collapsed and length-capped: the "signature". */
  signature: string;
  /** Doc comment (JSDoc, docstring, ///, //) directly attached to the definition, markers stripped; "" if none. */
  doc: string;
  /** Name of the enclosing class/interface/impl/module definition, if any (e.g. the class of a method). */
  container?: string;
  /** True for a declaration without a body (C/C++ prototype, TS overload signature, interface method). */
  declarationOnly?: boolean;
  /**
   * The names a function's or method's parameters bind (parse/parameters.ts): in its body they shadow definitions of
   * the same name elsewhere (WorkspaceIndex.callees). Absent when it has none, and for other kinds.
   */
  parameters?: string[];
  /** The names a function's or method's body declares or assigns as local variables (parse/extract.ts addLocals);
   * like its parameters, they hide definitions of the same names inside it. Absent when none. */
  locals?: string[];
}

/**
 * A name bound outside every function: a module's variable or constant, a class's field or attribute. Not a
 * definition — the layout, the model and the search know it only as code — but "where is DEFAULT_TIMEOUT defined?"
 * and the hover can cite it.
 */
export interface VariableDeclaration {
  name: string;
  /** 0-based line of the binding. */
  line: number;
  /** The class (or other definition) it is written in, if any. */
  container?: string;
  /** The binding's line, whitespace-collapsed and length-capped (`DEFAULT_TIMEOUT = 30`). */
  text: string;
}

/** A variable found by WorkspaceIndex.variablesNamed, with its file. */
export interface VariableHit {
  root: string;
  path: string;
  variable: VariableDeclaration;
}

/** An import/require/use/include statement. `source` is the module text with quotes and <> stripped. */
export interface ImportEntry {
  source: string;
  line: number;
  /** The statement's first and last lines, where it spans several (`from x import (\n a,\n b)`, `import {\n a\n} from "x"`). */
  span?: [number, number];
}

/** Identifier uses in a file, grouped by name: name → ascending unique 0-based lines. */
export type ReferenceMap = Record<string, number[]>;

/** Where a file's names occur only in prose (comments, strings), in two parts so that whole prose lines stay cheap. */
export interface Mentions {
  /** Ascending 0-based lines where every listed name occurs only in prose (docstring and comment lines). */
  lines: number[];
  /** On the other lines, the names that occur there only in prose (a trailing comment, a string argument). */
  names: ReferenceMap;
}

export type SkipReason = "binary" | "too-large" | "minified" | "unreadable" | "not-a-file" | "excluded";

/** One indexed file. `path` is relative to its workspace folder, with forward slashes. */
export interface FileRecord {
  /** Name of the workspace folder (root) that holds the file: multi-root workspaces have several. */
  root: string;
  path: string;
  /** tree-sitter language id ("typescript", "python" ...) or "text" for files indexed as plain text. */
  language: string;
  /** sha1 of the raw bytes: a restart re-parses only files whose hash changed. */
  hash: string;
  size: number;
  mtimeMs: number;
  lineCount: number;
  /** Text encoding the content was decoded with ("utf-8", or "latin1" for non-UTF-8 files). */
  encoding: "utf-8" | "utf-16le" | "latin1";
  definitions: Definition[];
  imports: ImportEntry[];
  /** Names bound outside every function (VariableDeclaration); absent when none. */
  variables?: VariableDeclaration[];
  references: ReferenceMap;
  /**
   * Which occurrences of `references` are only in comments and string literals: mentions, which tell a reader where
   * a name is talked about but are not uses in code (not calls). Empty for a text file, whose every line is prose
   * (isMention in workspace-index.ts); absent in records built without it.
   */
  mentions?: Mentions;
  /**
   * Names the file's code uses only as members (`r->main`, `router.GET`), never bare: a callee by such a name is a
   * member (a method), not a free function (WorkspaceIndex.callees). Absent in text files and older records.
   */
  memberOnly?: string[];
  /**
   * For each member-only name, what is written before its dot: one entry for all its lines, or one per line of
   * `references[name]` (`util` in `util.warn(…)`, "" for an expression; parse/extract.ts lexicalReferences). Absent
   * where memberOnly is.
   */
  memberQualifiers?: Record<string, string[]>;
  /**
   * For each name the code calls, the lines where it does (`name(`, a decorator, a tagged template; parse/extract.ts
   * lexicalReferences): what a function calls is what it calls, not every function whose name it writes. Absent in
   * languages that call without parentheses (Ruby, Kotlin), text files and older records.
   */
  calls?: ReferenceMap;
  /** True when tree-sitter reported syntax errors (definitions may be partial). */
  hasErrors: boolean;
}

/** A file the walker saw and deliberately left out, with its reason (logged and shown in the status). */
export interface SkippedFile {
  root: string;
  path: string;
  reason: SkipReason;
  detail: string;
  /** Size and mtime when skipped (content-based skips): unchanged files are not re-read on restart. */
  size?: number;
  mtimeMs?: number;
}

/** A workspace folder to index. */
export interface IndexRoot {
  /** Display name, unique among roots (VS Code's workspace folder name). */
  name: string;
  /** Absolute file-system path. */
  path: string;
}

export interface IndexOptions {
  /** Glob patterns (files.exclude and longview.exclude), relative to each root. */
  exclude: string[];
  /** If non-empty, only files matching one of these globs are indexed. */
  include: string[];
  /** Files larger than this are skipped ("too-large"). */
  maxFileBytes: number;
  /** A file whose longest line exceeds this (or average line length exceeds maxAverageLineLength) is "minified". */
  maxLineLength: number;
  maxAverageLineLength: number;
  /** Honour .gitignore files (and .git/info/exclude). */
  useGitignore: boolean;
}

/** Folders that hold other people's code or build output in nearly every repository; users can override. */
export const DEFAULT_EXCLUDES = ["**/node_modules", "**/bower_components", "**/.venv", "**/__pycache__", "**/.tox", "**/.mypy_cache"];

export const DEFAULT_INDEX_OPTIONS: IndexOptions = {
  exclude: DEFAULT_EXCLUDES,
  include: [],
  maxFileBytes: 2 * 1024 * 1024,
  maxLineLength: 4000,
  maxAverageLineLength: 300,
  useGitignore: true,
};

/** A symbol's location, as returned by `find`. */
export interface SymbolHit {
  root: string;
  path: string;
  definition: Definition;
}

export interface ReferenceHit {
  root: string;
  path: string;
  line: number;
  /** The name occurs on this line only in prose (a comment, a string, a text file), not in code. */
  mention?: true;
}

export interface IndexStats {
  files: number;
  bytes: number;
  definitions: number;
  imports: number;
  references: number;
  skipped: number;
  languages: Record<string, number>;
}
