/**
 * The in-memory workspace index: file records plus a name → definitions map kept up to date file by file,
 * so a one-file update costs that file's definitions only. Queries are synchronous and cheap (hover-fast).
 */
import { isTestModule, placeRank } from "./code-places";
import { dirname, type ImportResolver, importResolver } from "./import-resolution";
import type { Definition, FileRecord, IndexStats, ReferenceHit, SkippedFile, SymbolHit, VariableHit } from "./types";

export function fileKey(root: string, path: string): string {
  return `${root}\u0000${path}`;
}

export interface FindOptions {
  /** Maximum hits (default 50). */
  limit?: number;
  /** Restrict to some definition kinds. */
  kinds?: Definition["kind"][];
}

/** A file's entry changed: `before` is what the index held (undefined if new), `after` what it holds now
 * (undefined if removed or now skipped). */
export type IndexChangeListener = (before: FileRecord | undefined, after: FileRecord | undefined) => void;

export class WorkspaceIndex {
  private readonly listeners = new Set<IndexChangeListener>();
  private readonly files = new Map<string, FileRecord>();
  private readonly skippedFiles = new Map<string, SkippedFile>();
  /** exact name → keys of files defining it (a key repeats once per definition). */
  private readonly byName = new Map<string, string[]>();
  /** lower-cased name → exact names, for case-insensitive lookups. */
  private readonly byLowerName = new Map<string, Set<string>>();
  /** Bumped on every change: caches (layout, KV) key on it. */
  version = 0;
  /** Bumped when a file is added or removed (not when one is edited): the import resolver's tables key on it. */
  private pathsVersion = 0;
  /** The import resolver over the files as they are (importedFiles), rebuilt only when files come or go. */
  private resolver?: { pathsVersion: number; files: FileRecord[]; imports: ImportResolver };
  /** Each record's imported files (keys), for the paths version they were resolved against. */
  private readonly importsOf = new WeakMap<FileRecord, { pathsVersion: number; keys: Set<string> }>();
  /** Each record's names bound to imported modules (modulesNamed), for the paths version they were resolved against. */
  private readonly modulesOf = new WeakMap<FileRecord, { pathsVersion: number; byName: Map<string, Set<string>> }>();
  /** Per file, the definitions written inside a function, each with its outermost such function (enclosingFunction). */
  private readonly functionOwners = new WeakMap<FileRecord, Map<Definition, Definition>>();
  /** The files in placeRank order (filesByPlace), for the index's version. */
  private byPlace?: { version: number; files: FileRecord[] };
  private inPathOrder?: { version: number; files: FileRecord[] };

  /** Follow changes file by file (derived indexes stay in step without rebuilding). Returns an unsubscribe. */
  onChange(listener: IndexChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.files.size;
  }

  /**
   * Every file, in path order (kept until the index changes). Whatever is built from the index — the search, the
   * layout, the uses of a name — must not depend on which parse worker finished first: the same repository gives the
   * same answer on every run.
   */
  allFiles(): readonly FileRecord[] {
    if (this.inPathOrder?.version !== this.version) {
      const keys = [...this.files.keys()].sort();
      this.inPathOrder = { version: this.version, files: keys.map((k) => this.files.get(k)!) };
    }
    return this.inPathOrder.files;
  }

  skipped(): SkippedFile[] {
    return [...this.skippedFiles.values()];
  }

  get(root: string, path: string): FileRecord | undefined {
    return this.files.get(fileKey(root, path));
  }

  getSkipped(root: string, path: string): SkippedFile | undefined {
    return this.skippedFiles.get(fileKey(root, path));
  }

  upsert(record: FileRecord): void {
    const key = fileKey(record.root, record.path);
    const before = this.files.get(key);
    this.removeKey(key, false);
    if (!before) this.pathsVersion++;
    this.files.set(key, record);
    for (const def of record.definitions) {
      let keys = this.byName.get(def.name);
      if (!keys) {
        keys = [];
        this.byName.set(def.name, keys);
        const lower = def.name.toLowerCase();
        let names = this.byLowerName.get(lower);
        if (!names) this.byLowerName.set(lower, (names = new Set()));
        names.add(def.name);
      }
      keys.push(key);
    }
    this.version++;
    for (const l of this.listeners) l(before, record);
  }

  markSkipped(skip: SkippedFile): void {
    const key = fileKey(skip.root, skip.path);
    this.removeKey(key);
    this.skippedFiles.set(key, skip);
    this.version++;
  }

  remove(root: string, path: string): boolean {
    const removed = this.removeKey(fileKey(root, path));
    if (removed) this.version++;
    return removed;
  }

  private removeKey(key: string, notify = true): boolean {
    const hadSkip = this.skippedFiles.delete(key);
    const old = this.files.get(key);
    if (!old) return hadSkip;
    this.files.delete(key);
    if (notify) {
      this.pathsVersion++; // (an upsert replacing the file keeps its path and passes notify = false)
      for (const l of this.listeners) l(old, undefined);
    }
    for (const def of old.definitions) {
      const keys = this.byName.get(def.name);
      if (!keys) continue;
      const i = keys.indexOf(key);
      if (i >= 0) keys.splice(i, 1);
      if (keys.length === 0) {
        this.byName.delete(def.name);
        const lower = def.name.toLowerCase();
        const names = this.byLowerName.get(lower);
        names?.delete(def.name);
        if (names && names.size === 0) this.byLowerName.delete(lower);
      }
    }
    return true;
  }

  /** Files under a root (or all roots) whose key is not in `keep`: used to drop files deleted from disk. */
  keysNotIn(keep: Set<string>, root?: string): Array<{ root: string; path: string }> {
    const out: Array<{ root: string; path: string }> = [];
    for (const map of [this.files, this.skippedFiles]) {
      for (const [key, r] of map) if ((!root || r.root === root) && !keep.has(key)) out.push({ root: r.root, path: r.path });
    }
    return out;
  }

  /** Definitions named exactly `name` (or `Container.name`), then case-insensitive matches if there are none. */
  find(query: string, options: FindOptions = {}): SymbolHit[] {
    const limit = options.limit ?? 50;
    let name = query.trim();
    let container: string | undefined;
    // "Class.method" or "ns::fn": look the member up by name, then keep hits whose container matches.
    const qualified = /^(.+?)(?:\.|::)([^.:]+)$/.exec(name);
    if (qualified && !this.byName.has(name)) {
      container = qualified[1];
      name = qualified[2];
    }
    let names = this.byName.has(name) ? [name] : [...(this.byLowerName.get(name.toLowerCase()) ?? [])];
    if (names.length === 0) return [];
    names = names.sort();
    const hits: SymbolHit[] = [];
    for (const n of names) {
      const seen = new Set<string>();
      for (const key of this.byName.get(n) ?? []) {
        if (seen.has(key)) continue;
        seen.add(key);
        const rec = this.files.get(key);
        if (!rec) continue;
        for (const def of rec.definitions) {
          if (def.name !== n) continue;
          if (options.kinds && !options.kinds.includes(def.kind)) continue;
          if (container && def.container && !def.container.endsWith(container)) continue;
          hits.push({ root: rec.root, path: rec.path, definition: def });
        }
      }
    }
    // Full definitions before bare declarations (a C prototype, a TS overload); for "obj.name", those written as such
    // (Express's `res.render = function render(…)` has no container, its signature says `res.render`); the library's
    // own code before its examples and tests; then by path for stability.
    const qualifiedBy = (h: SymbolHit) => container !== undefined && (h.definition.container !== undefined || h.definition.signature.includes(query.trim()));
    hits.sort(
      (a, b) =>
        Number(!!a.definition.declarationOnly) - Number(!!b.definition.declarationOnly) ||
        Number(qualifiedBy(b)) - Number(qualifiedBy(a)) ||
        placeRank(a.path, a.definition.name, a.definition.container) - placeRank(b.path, b.definition.name, b.definition.container) ||
        (a.path < b.path ? -1 : a.path > b.path ? 1 : a.definition.nameLine - b.definition.nameLine),
    );
    return hits.slice(0, limit);
  }

  /** The files, the library's own first, then examples, then tests (placeRank), kept until the index changes. */
  private filesByPlace(): FileRecord[] {
    if (this.byPlace?.version !== this.version) {
      const files = [...this.allFiles()];
      const rank = new Map(files.map((f) => [f, placeRank(f.path, "")]));
      this.byPlace = { version: this.version, files: files.sort((a, b) => rank.get(a)! - rank.get(b)!) };
    }
    return this.byPlace.files;
  }

  /** Names that contain `fragment` (case-insensitive), shortest first: for completion and fuzzy "did you mean". */
  searchNames(fragment: string, limit = 20): string[] {
    const f = fragment.toLowerCase();
    if (!f) return [];
    const out: string[] = [];
    for (const [lower, names] of this.byLowerName) if (lower.includes(f)) out.push(...names);
    return out.sort((a, b) => a.length - b.length || (a < b ? -1 : 1)).slice(0, limit);
  }

  /**
   * Every line that uses identifier `name`, excluding the definitions' own name positions and the lines of a function
   * where a parameter or a local variable of that name hides it (boundLocally): uses in code first, then the lines that
   * only mention it (comments, strings, text files; `mention` set); each group the library's own files first, then
   * examples, then tests (placeRank: who calls a function is asked about the library, and its tests call it most), each
   * file in order. A library file's test module (isTestModule: Rust's `mod tests`) counts with the tests: axum's "who
   * calls into_make_service?" had listed its inline tests first.
   */
  references(name: string, limit = 500): ReferenceHit[] {
    // Uses by place rank: library, examples, tests.
    const uses: ReferenceHit[][] = [[], [], []];
    const mentions: ReferenceHit[] = [];
    // Files come in rank order and a use joins its rank's list at the end (a test module's, the tests'): once the lists
    // up to this file's rank hold `limit` uses, nothing still to come is among the first `limit`.
    const settled = (rank: number) => uses.slice(0, rank + 1).reduce((n, u) => n + u.length, 0) >= limit;
    for (const rec of this.filesByPlace()) {
      if (!Object.hasOwn(rec.references, name)) continue;
      const fileRank = placeRank(rec.path, "");
      if (settled(fileRank)) break;
      const lines = rec.references[name];
      const defLines = new Set(rec.definitions.filter((d) => d.name === name).map((d) => d.nameLine));
      const hidden = this.hiddenLocally(rec, name);
      const testModules = fileRank < 2 ? rec.definitions.filter(isTestModule) : [];
      for (const line of lines) {
        if (defLines.has(line) || hidden(line)) continue;
        if (isMention(rec, name, line)) {
          if (mentions.length < limit) mentions.push({ root: rec.root, path: rec.path, line, mention: true });
          continue;
        }
        const inTests = testModules.some((m) => line >= m.startLine && line <= m.endLine);
        uses[inTests ? 2 : fileRank].push({ root: rec.root, path: rec.path, line });
        if (settled(fileRank)) break;
      }
    }
    const inCode = uses.flat();
    return (inCode.length >= limit ? inCode : [...inCode, ...mentions]).slice(0, limit);
  }

  /**
   * The lines that use `name` in code; for a name used nowhere in code, the lines that mention it (a README, a
   * comment) — what "who uses X" answers with: a definition whose comment names X does not use it.
   */
  uses(name: string, limit = 500): ReferenceHit[] {
    const refs = this.references(name, limit);
    const inCode = refs.filter((r) => !r.mention);
    return inCode.length ? inCode : refs;
  }

  /**
   * What a definition uses: names occurring in code inside its line range (not only in its comments or strings) that
   * are defined somewhere in the index (itself, its parameters, locals and what it defines inside excepted), each
   * resolved to the definition the file's code most likely means (bestDefinitionFor). Lexical, so it over-approximates
   * calls (a type or a constant counts too), which is what a reader wants to follow — callables first (isCallable). A
   * name the file uses only as a member (`router.GET`, `r->main`) resolves to a member definition (a method) when there
   * is one; in C, where nothing but a struct field follows `->` or `.`, to nothing else (nginx's `r->main` had made
   * every request handler "call" `main`).
   */
  callees(root: string, path: string, def: Definition, limit = 20): SymbolHit[] {
    const rec = this.get(root, path);
    if (!rec) return [];
    const out: SymbolHit[] = [];
    for (const name in rec.references) {
      if (name === def.name || !this.byName.has(name)) continue;
      const lines = rec.references[name];
      // A parameter's or a local's uses are its own (boundLocally): Hono's `bodyLimit({ onError })` calling
      // `onError(c)` does not call `Hono.onError`.
      const hidden = this.hiddenLocally(rec, name);
      if (!lines.some((l) => l >= def.startLine && l <= def.endLine && !isMention(rec, name, l) && !hidden(l))) continue;
      // A name the definition defines inside itself (a nested function, a local class) is its own part, and it
      // shadows the name's definitions elsewhere.
      if (rec.definitions.some((d) => d.name === name && d !== def && d.startLine >= def.startLine && d.endLine <= def.endLine)) continue;
      const chosen = this.meaning(rec, name, def)?.hit;
      // A function it names without calling (a callback it passes, a method it only reads) is not one it calls; a
      // pytest fixture it takes as a parameter is (pytest calls it for the test).
      const fixture = chosen?.path.endsWith("conftest.py") === true;
      if (chosen && isCallable(chosen.definition) && !fixture && !calledOn(rec, name, (l) => l >= def.startLine && l <= def.endLine)) continue;
      if (chosen) out.push(chosen);
    }
    // What it calls first — functions, methods, function-like macros —, then the types and constants it uses, each
    // group in the file's order: asked what nginx's ngx_http_limit_req_handler calls, the list had started with
    // ngx_uint_t, ngx_int_t and NGX_OK.
    return [...out.filter((h) => isCallable(h.definition)), ...out.filter((h) => !isCallable(h.definition))].slice(0, limit);
  }

  /**
   * The definition that `name`, written in `rec`'s code inside `user` (undefined: outside every definition), most
   * likely means. A name the file uses only as a member (`router.GET`, `r->main`) means a member definition (a
   * method) or a function of a module the file imports, when there is one; in C, where nothing but a struct field
   * follows `->` or `.`, nothing else.
   */
  private meaning(rec: FileRecord, name: string, user: Definition | undefined, definitions?: SymbolHit[], line?: number): Meaning | undefined {
    let hits = definitions ?? this.find(name, { limit: 64 });
    const memberOnly = rec.memberOnly?.includes(name) ?? false;
    // The lines it is written on: the one asked about, else the user's, else all.
    const within = line !== undefined ? (l: number) => l === line : user ? (l: number) => l >= user.startLine && l <= user.endLine : () => true;
    const qualified = memberOnly ? this.qualifiedMeaning(rec, name, hits, within, user) : undefined;
    if (qualified) hits = qualified;
    else if (memberOnly) {
      // After a dot: a method, or a function of a module the file imports (Python's `coercions.expect(…)`, a JS
      // namespace import's `utils.parse(…)`). In C and C++ nothing but a member follows `.` or `->`.
      const members = hits.filter((h) => h.definition.container);
      const free = rec.language === "c" || rec.language === "cpp" ? [] : hits.filter((h) => !h.definition.container);
      let moduleFunctions: SymbolHit[] = [];
      if (free.length) {
        const imported = this.importedFiles(rec.root, rec.path);
        const reach = new Set([...imported, ...this.importedTwice(imported)]);
        moduleFunctions = free.filter((h) => reach.has(fileKey(h.root, h.path)));
      }
      const dotted = [...moduleFunctions, ...members];
      hits = dotted.length || rec.language === "c" ? dotted : hits;
    }
    return this.bestDefinitionFor(rec, hits, user, !memberOnly);
  }

  /**
   * The names bound outside every function (module variables and constants, class fields) called `symbol` — `x`, or
   * `Owner.x` for one written in Owner —, library files first: what "where is DEFAULT_TIMEOUT defined?" cites when no
   * definition has that name (FileRecord.variables).
   */
  variablesNamed(symbol: string, limit = 8): VariableHit[] {
    const { owner, name } = splitQualified(symbol);
    const out: VariableHit[] = [];
    for (const rec of this.filesByPlace()) {
      for (const variable of rec.variables ?? []) {
        if (variable.name !== name || (owner !== undefined && !variable.container?.endsWith(owner))) continue;
        out.push({ root: rec.root, path: rec.path, variable });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /** The definition that `name` written on `line` of a file means (meaning), for a hover. */
  meantAt(root: string, path: string, line: number, name: string): SymbolHit | undefined {
    const rec = this.get(root, path);
    return rec && this.meaning(rec, name, innermostDefinition(rec, line), undefined, line)?.hit;
  }

  /** Whether `name` on `line` of a file is a parameter's or a local variable's (boundLocally): no definition elsewhere. */
  localAt(root: string, path: string, line: number, name: string): boolean {
    const rec = this.get(root, path);
    return !!rec && this.hiddenLocally(rec, name)(line);
  }

  /**
   * The uses in code of one definition: the lines using its name (uses) except those where the file sees another
   * definition of that name (meaning: its own, an imported one, its folder's) — a use whose meaning is only a guess
   * (the first by path) is kept, and overloads (same file, same container) are one symbol. Against compilers' callers
   * (bench:callees, docs/benchmarks/index.md) more of the functions listed are callers (Hono 57% → 64%, undici 35% →
   * 56%, SQLAlchemy 13% → 22%) and fewer callers are found (91% → 80%, 92% → 84%, 74% → 46%): methods called on
   * variables of a type the index cannot know. Used where a question or the hover names one definition.
   */
  usesOf(hit: SymbolHit, limit = 500): ReferenceHit[] {
    // Overloads (Python's @overload stubs before the implementation, a redefinition under `if`) are one symbol.
    const same = (h: SymbolHit | undefined) => h !== undefined && h.root === hit.root && h.path === hit.path && h.definition.container === hit.definition.container;
    const out: ReferenceHit[] = [];
    const definitions = this.find(hit.definition.name, { limit: 64 });
    for (const use of this.uses(hit.definition.name, 5000)) {
      const rec = this.get(use.root, use.path);
      const meant = rec && this.meaning(rec, hit.definition.name, innermostDefinition(rec, use.line), definitions, use.line);
      if (!meant || same(meant.hit) || !meant.seen) out.push(use);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * The uses of some definitions of a name — those a qualified question names (`HonoRequest.header`): usesOf each,
   * each line once, in the order met.
   */
  usesOfSome(hits: readonly SymbolHit[], limit = 500): ReferenceHit[] {
    const seen = new Set<string>();
    return hits
      .flatMap((h) => this.usesOf(h, limit))
      .filter((r) => {
        const key = `${fileKey(r.root, r.path)}\u0000${r.line}`;
        return !seen.has(key) && !!seen.add(key);
      })
      .slice(0, limit);
  }

  /**
   * Which of `hits` (the definitions of one name) the code of `rec` inside `user` means, by what the file can see: its
   * own definitions (not those nested in `user`), then those of the files it imports, of its folder (a Go package, a
   * Java package, a C module's header; first in Go but for a function after a package name), of the files its imports
   * import (a barrel's or an `__init__`'s re-exports), else the first by path. Full definitions before bare
   * declarations (a C prototype in the included header names the function its .c file implements), and library code
   * calls neither tests nor examples (Gson's `fromJson` "used" a `reader` defined only in a test). Hono's `except`
   * calls the trie router's `add` it imports, not the linear router's first by path.
   */
  private bestDefinitionFor(rec: FileRecord, hits: readonly SymbolHit[], user: Definition | undefined, usedBare: boolean): Meaning | undefined {
    const callerPlace = placeRank(rec.path, ""); // by path: a library function named test_… is still library code
    // In its own file, not a definition nested in `user` (its own part, handled by callees), but `user` itself (recursion).
    const nested = (d: Definition) => user !== undefined && d !== user && d.startLine >= user.startLine && d.endLine <= user.endLine;
    const visible = hits.filter((h) => {
      const sameFile = h.root === rec.root && h.path === rec.path;
      if (sameFile ? nested(h.definition) : placeRank(h.path, "") > callerPlace) return false;
      // A definition inside a function (a closure, a class local to a test) is that function's alone.
      const owner = this.enclosingFunction(h);
      return owner === undefined || (sameFile && user !== undefined && user.startLine >= owner.startLine && user.endLine <= owner.endLine);
    });
    const full = visible.filter((h) => !h.definition.declarationOnly);
    const candidates = full.length ? full : visible;
    if (candidates.length === 0) return undefined;
    const inFile = (keys: ReadonlySet<string>) => candidates.find((h) => keys.has(fileKey(h.root, h.path)));
    const own = new Set([fileKey(rec.root, rec.path)]);
    const imported = this.importedFiles(rec.root, rec.path);
    const folder = dirname(rec.path);
    const inFolder = () => candidates.find((h) => h.root === rec.root && dirname(h.path) === folder);
    // In Go a bare name is its own package's, and so, most often, is a method (`c.String()` on the package's
    // Context, not on a type of a package it imports); `binding.Default` — a function after a package — is imported.
    const goPackageFirst = rec.language === "go" && (usedBare || candidates.some((h) => h.definition.container));
    // The module an import statement naming it brings it from, and that module's re-exports, two hops deep (a test's
    // `from ...testing import is_true` is testing/__init__.py's re-export of testing/assertions.py's, not the
    // operators module's `is_true` that some other import reaches).
    const named = () => {
      const modules = this.modulesNamed(rec, candidates[0].definition.name);
      if (modules.size === 0) return undefined;
      // Nearest first: the module itself, then what it imports (method-override's `parseBody` is utils/body.ts's,
      // not the HonoRequest method in a file body.ts imports).
      for (const tier of this.reExportTiers(modules)) {
        const hit = inFile(tier);
        if (hit) return hit;
      }
      return undefined;
    };
    const seen = inFile(own) ?? (goPackageFirst ? inFolder() : undefined) ?? named() ?? inFile(imported) ?? inFolder() ?? inFile(this.importedTwice(imported));
    return seen ? { hit: seen, seen: true } : { hit: candidates[0], seen: false };
  }

  /**
   * The function or method whose body `hit` is defined in (Python's `def process(value)` returned by a
   * `bind_processor`, a class written inside a test), or undefined for a definition of its module or of a class there.
   * Such a definition is that function's own: no other function calls it by name (SQLAlchemy's `self.process(…)` had
   * resolved to one of the nested `process` closures of a dialect's type, imported by the caller's file). C's macros
   * are file-wide wherever written.
   */
  private enclosingFunction(hit: SymbolHit): Definition | undefined {
    if (hit.definition.kind === "macro") return undefined;
    const rec = this.get(hit.root, hit.path);
    if (!rec) return undefined;
    let owners = this.functionOwners.get(rec);
    if (!owners) this.functionOwners.set(rec, (owners = functionOwners(rec)));
    return owners.get(hit.definition);
  }

  /**
   * On which lines of `rec` a parameter or a local variable hides `name` (boundLocally) — never for a pytest fixture
   * (a name defined in a conftest.py), which pytest passes in by that name: `def test_home(client)` does use the
   * fixture `client`. The one rule for callees, uses and the hover.
   */
  private hiddenLocally(rec: FileRecord, name: string): (line: number) => boolean {
    const fixture = rec.language === "python" && (this.byName.get(name) ?? []).some((key) => key.endsWith("conftest.py"));
    return fixture ? () => false : (line) => boundLocally(rec, name, line);
  }

  /**
   * Keys of the files that the file imports (index/import-resolution.ts), for the index as it is now: resolved when
   * first asked, again after the file is edited or files come or go; the resolver's path tables are rebuilt only when
   * files come or go (bench:index on Go's 7,827 files: 26.8 ms, where resolving every file took 169 ms).
   */
  importedFiles(root: string, path: string): ReadonlySet<string> {
    return this.importedByKey(fileKey(root, path));
  }

  private importedByKey(key: string): ReadonlySet<string> {
    const rec = this.files.get(key);
    if (!rec) return EMPTY;
    const cached = this.importsOf.get(rec);
    if (cached?.pathsVersion === this.pathsVersion) return cached.keys;
    const { files, imports } = this.currentResolver();
    const keys = new Set(imports.targetsOf(rec).map((j) => fileKey(files[j].root, files[j].path)));
    this.importsOf.set(rec, { pathsVersion: this.pathsVersion, keys });
    return keys;
  }

  private currentResolver(): NonNullable<WorkspaceIndex["resolver"]> {
    if (this.resolver?.pathsVersion !== this.pathsVersion) {
      const files = [...this.allFiles()];
      this.resolver = { pathsVersion: this.pathsVersion, files, imports: importResolver(files) };
    }
    return this.resolver;
  }

  /** Keys of the module files `name` stands for in `rec` (ImportResolver.modulesNamed), kept like importedFiles. */
  private modulesNamed(rec: FileRecord, name: string): ReadonlySet<string> {
    let cached = this.modulesOf.get(rec);
    if (cached?.pathsVersion !== this.pathsVersion) this.modulesOf.set(rec, (cached = { pathsVersion: this.pathsVersion, byName: new Map() }));
    let keys = cached.byName.get(name);
    if (!keys) {
      const { files, imports } = this.currentResolver();
      keys = new Set(imports.modulesNamed(rec, name).map((j) => fileKey(files[j].root, files[j].path)));
      cached.byName.set(name, keys);
    }
    return keys;
  }

  /**
   * What a name the file writes only after `q.` can mean, from the names `q` written before its dots
   * (FileRecord.memberQualifiers): after an imported module's name, that module's functions (or those it re-exports:
   * SQLAlchemy's `util.warn(…)` is util/langhelpers.py's `warn`, not the compiler's own `warn` method); after a class's
   * name, that class's members (`Gson.fromJson` is not `JsonReader.fromJson`). Undefined — no narrowing — when any
   * qualifier is something else (`self`, a variable, an expression): only a type checker knows what those hold.
   */
  private qualifiedMeaning(rec: FileRecord, name: string, hits: readonly SymbolHit[], within: (line: number) => boolean, user?: Definition): SymbolHit[] | undefined {
    const qualifiers = qualifiersWithin(rec, name, within);
    if (!qualifiers.size) return undefined;
    const out = new Set<SymbolHit>();
    for (const q of qualifiers) {
      if (!q) return undefined;
      if (SELF_NAMES.has(q)) {
        // `self.process(…)` in a method: its class's member, else the nearest base class's (PGCompiler's `process`
        // is SQLCompiler's); `super.x()` starts at the bases.
        const own = user?.container;
        if (!own) return undefined;
        const chain = this.classChain(rec, own).slice(q === "super" ? 1 : 0);
        const inClass = chain.map((c) => hits.filter((h) => h.definition.container === c)).find((found) => found.length);
        if (!inClass) return undefined;
        for (const h of inClass) out.add(h);
        continue;
      }
      // The module, and what it re-exports, two hops deep: `sql.and_` is sql/__init__.py's re-export of
      // expression.py's re-export of _elements_constructors.py's `and_`.
      const modules = this.modulesNamed(rec, q);
      const reach = new Set(this.reExportTiers(modules).flatMap((tier) => [...tier]));
      const meant = hits.filter((h) => (h.definition.container === undefined ? reach.has(fileKey(h.root, h.path)) : h.definition.container === q));
      if (meant.length === 0) return undefined;
      for (const h of meant) out.add(h);
    }
    return [...out];
  }

  /**
   * A class and its base classes, nearest first, by name (read from the class definitions' signatures: baseClasses),
   * the class's own file's definition of a name first; at most 8 classes.
   */
  private classChain(rec: FileRecord, className: string): string[] {
    const chain = [className];
    for (let i = 0; i < chain.length && chain.length < 8; i++) {
      const classes = this.find(chain[i], { limit: 16 }).filter((h) => h.definition.name === chain[i] && h.definition.kind === "class");
      const def = classes.find((h) => h.root === rec.root && h.path === rec.path) ?? classes[0];
      for (const base of def ? baseClasses(def.definition.signature, this.get(def.root, def.path)?.language ?? "") : []) if (!chain.includes(base)) chain.push(base);
    }
    return chain;
  }

  /** Modules (keys), the files they import, and the files those import: where what they re-export can be defined. */
  private reExportTiers(modules: ReadonlySet<string>): ReadonlySet<string>[] {
    if (modules.size === 0) return [];
    const hop = this.importedTwice(modules);
    return [modules, hop, this.importedTwice(hop)];
  }

  /** The files imported by the files in `keys`: a second hop. */
  private importedTwice(keys: ReadonlySet<string>): Set<string> {
    const out = new Set<string>();
    for (const key of keys) for (const k of this.importedByKey(key)) out.add(k);
    return out;
  }

  /** The innermost definition enclosing a position (for hover and "explain symbol at cursor"). */
  definitionAt(root: string, path: string, line: number): Definition | undefined {
    const rec = this.get(root, path);
    return rec ? innermostDefinition(rec, line) : undefined;
  }

  stats(): IndexStats {
    const s: IndexStats = { files: 0, bytes: 0, definitions: 0, imports: 0, references: 0, skipped: this.skippedFiles.size, languages: {} };
    for (const rec of this.files.values()) {
      s.files++;
      s.bytes += rec.size;
      s.definitions += rec.definitions.length;
      s.imports += rec.imports.length;
      for (const name in rec.references) s.references += rec.references[name].length;
      s.languages[rec.language] = (s.languages[rec.language] ?? 0) + 1;
    }
    return s;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** The definition a name means in a place, and whether the file sees it there (its own, imported, its folder's) or it is only the first by path. */
interface Meaning {
  hit: SymbolHit;
  seen: boolean;
}

/** A function, a method or a function-like macro (`#define ngx_log_debug0(level, log, …)`): what can be called. */
export function isCallable(d: Definition | undefined): boolean {
  return d !== undefined && (d.kind === "function" || d.kind === "method" || (d.kind === "macro" && /^#\s*define\s+[\w$]+\(/.test(d.signature)));
}

/**
 * Whether `name` on `line` of `rec` is a parameter's or a local variable's: a function there (or one around it) takes
 * a parameter or declares a local of that name, and the file writes the name bare somewhere (a name it only writes
 * after a dot, `this.handler`, is never the local). A parameter or a local named like a definition elsewhere —
 * Flask's `app`, ripgrep's `path`, a `callback`, Hono's `const handler = …` — is neither a call of it nor a use.
 */
export function boundLocally(rec: FileRecord, name: string, line: number): boolean {
  for (const d of rec.definitions) {
    if (d.startLine <= line && line <= d.endLine && (d.parameters?.includes(name) || d.locals?.includes(name))) return !rec.memberOnly?.includes(name);
  }
  return false;
}

/** Whether `name` occurs on `line` of `rec` only in prose: in a comment or a string, or anywhere in a text file. */
export function isMention(rec: FileRecord, name: string, line: number): boolean {
  if (rec.language === "text") return true;
  const m = rec.mentions;
  if (!m) return false;
  return includesSorted(m.lines, line) || (Object.hasOwn(m.names, name) && includesSorted(m.names[name], line));
}

/** Whether ascending `lines` holds `line` (binary search). */
function includesSorted(lines: readonly number[], line: number): boolean {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid] === line) return true;
    if (lines[mid] < line) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** What a method writes for its own object: `self.x`, `this.x`, `cls.x` mean its class's members; `super.x` its bases'. */
const SELF_NAMES = new Set(["self", "this", "cls", "super"]);

/**
 * The base classes a class definition's signature names, as bare names: Python's `class A(pkg.B, metaclass=M)` → B;
 * `extends B` (TypeScript, JavaScript, Java, PHP), `: B, IFoo` (C#, C++ with access words, Kotlin's `B(x)`), Ruby's
 * `< Mod::B`. Type arguments are dropped first (`class Hono<E extends Env> extends HonoBase<E>` → HonoBase).
 */
export function baseClasses(signature: string, language: string): string[] {
  let s = signature;
  while (/<[^<>]*>/.test(s)) s = s.replace(/<[^<>]*>/g, "");
  const last = (name: string) => name.trim().split(/\.|::|\\/).pop()!.replace(/\[.*$/, "").replace(/\(.*$/, "").trim();
  const valid = (name: string) => /^[A-Za-z_$][\w$]*$/.test(name);
  let names: string[] = [];
  if (language === "python") {
    const m = /^\s*class\s+\w+\s*\(([^)]*)\)/.exec(s);
    names = m ? m[1].split(",").filter((b) => !b.includes("=")) : [];
  } else if (language === "ruby") {
    const m = /^\s*class\s+[\w:]+\s*<\s*([\w:]+)/.exec(s);
    names = m ? [m[1]] : [];
  } else {
    const ext = /\bextends\s+([\w$.\\]+)/.exec(s);
    if (ext) names = [ext[1]];
    else {
      const colon = /\bclass\s+[\w$]+(?:\s*\([^)]*\))?\s*:\s*([^{]+)/.exec(s);
      names = colon ? colon[1].split(",").map((b) => b.replace(/\b(?:public|private|protected|virtual)\b/g, "")) : [];
    }
  }
  return names.map(last).filter(valid);
}

/** What `rec` writes before the dot of `name` on the code lines `within` selects (FileRecord.memberQualifiers). */
function qualifiersWithin(rec: FileRecord, name: string, within: (line: number) => boolean): Set<string> {
  const qualifiers = rec.memberQualifiers?.[name];
  const lines = Object.hasOwn(rec.references, name) ? rec.references[name] : [];
  const out = new Set<string>();
  if (!qualifiers) return out;
  lines.forEach((l, i) => {
    if (within(l) && !isMention(rec, name, l)) out.add(qualifiers.length === 1 ? qualifiers[0] : qualifiers[i]);
  });
  return out;
}

/**
 * The definitions of a file written inside a function or method, each mapped to the outermost function around it.
 * Definitions come in source order (outer before inner at the same start), so one pass with the current outermost
 * function suffices.
 */
function functionOwners(rec: FileRecord): Map<Definition, Definition> {
  const out = new Map<Definition, Definition>();
  let outer: Definition | undefined;
  const before = (l1: number, c1: number, l2: number, c2: number) => l1 < l2 || (l1 === l2 && c1 <= c2);
  const inside = (d: Definition, o: Definition) => before(o.startLine, o.startColumn, d.startLine, d.startColumn) && before(d.endLine, d.endColumn, o.endLine, o.endColumn);
  const sorted = [...rec.definitions].sort((a, b) => a.startLine - b.startLine || a.startColumn - b.startColumn || b.endLine - a.endLine || b.endColumn - a.endColumn);
  for (const d of sorted) {
    if (outer && d !== outer && inside(d, outer)) {
      out.set(d, outer);
      continue;
    }
    outer = d.kind === "function" || d.kind === "method" ? d : undefined;
  }
  return out;
}

/**
 * Whether `rec` calls `name` on a line `at` accepts (FileRecord.calls); true where the record keeps no call lines (a
 * language that calls without parentheses, an older record): every use may be a call there.
 */
export function calledOn(rec: FileRecord, name: string, at: (line: number) => boolean): boolean {
  if (!rec.calls) return true;
  return Object.hasOwn(rec.calls, name) && rec.calls[name].some(at);
}

/** `Owner.x` / `ns::x` → { owner: "Owner", name: "x" }; a bare `x` has no owner. */
export function splitQualified(symbol: string): { owner?: string; name: string } {
  const name = symbol.split(/\.|::/).pop() ?? symbol;
  return name === symbol ? { name } : { owner: symbol.slice(0, symbol.length - name.length).replace(/(?:\.|::)$/, ""), name };
}

/** The innermost definition of `rec` enclosing a 0-based line. */
export function innermostDefinition(rec: FileRecord, line: number): Definition | undefined {
  return innermostOf(rec.definitions, line);
}

/** The innermost of `definitions` whose lines hold a 0-based line (the parser's, before there is a record, too). */
export function innermostOf(definitions: readonly Definition[], line: number): Definition | undefined {
  let best: Definition | undefined;
  for (const d of definitions) if (d.startLine <= line && line <= d.endLine && (!best || d.startLine >= best.startLine)) best = d;
  return best;
}
