/**
 * Which indexed files an import statement refers to. Resolution is by path suffix, language-aware but heuristic: a
 * repository's build configuration (tsconfig paths, PYTHONPATH, go.mod) is not read, so an unresolved import simply
 * resolves to nothing. Used for the layout's dependency order (layout/import-graph.ts) and to tell which of several
 * definitions of a name a file's code means (WorkspaceIndex.callees).
 */
import type { FileRecord } from "./types";

const STRIP_EXTENSION = /\.(d\.ts|tsx?|mts|cts|jsx?|mjs|cjs|py|pyi|go|rs|java|c|cc|cpp|cxx|h|hh|hpp|hxx|rb|php|cs|kt|kts)$/i;

/** "src/a/index.ts" → "src/a", "pkg/__init__.py" → "pkg", "src/lib.rs"/"mod.rs" → folder. */
function moduleKey(path: string): string {
  const noExt = path.replace(STRIP_EXTENSION, "");
  return noExt.replace(/\/(index|__init__|mod)$/, "");
}

/** "src/a/b.ts" → "src/a"; "" for a file at the root. */
export function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

function normalize(parts: string[]): string {
  const out: string[] = [];
  for (const p of parts) {
    if (p === "" || p === ".") continue;
    if (p === "..") out.pop();
    else out.push(p);
  }
  return out.join("/");
}

/** importTargets[i] = indices of the files that file i imports (resolved, deduplicated, no self edges). */
export function importTargets(files: readonly FileRecord[]): number[][] {
  const { targetsOf } = importResolver(files);
  return files.map((f) => targetsOf(f));
}

/** Answers about imports, as indices into the `files` the resolver was built over. */
export interface ImportResolver {
  /** The files a file imports (resolved, deduplicated, itself excepted). */
  targetsOf(from: FileRecord): number[];
  /**
   * The module files a name of `from` stands for, where an import binds it to a module: Python's `from .. import util`
   * (the package's util module, or util/__init__.py), `import a.b as m`, JavaScript's `import * as utils from "./utils"`
   * and `const util = require("./util")`. Empty for a name no import binds, and in other languages. Read from the
   * import statements' lines that write the name (records keep no bound names).
   */
  modulesNamed(from: FileRecord, name: string): number[];
}

/**
 * A resolver over a fixed set of files: the lookup tables depend on their paths only, so an edit (new imports, same
 * paths) asks it again without rebuilding them.
 */
export function importResolver(files: readonly FileRecord[]): ImportResolver {
  const byKey = new Map<string, number[]>();
  const byLastSegment = new Map<string, number[]>();
  const byDir = new Map<string, number[]>();
  files.forEach((f, i) => {
    const key = `${f.root}/${moduleKey(f.path)}`;
    (byKey.get(key) ?? byKey.set(key, []).get(key)!).push(i);
    const last = moduleKey(f.path).split("/").pop()!;
    (byLastSegment.get(last) ?? byLastSegment.set(last, []).get(last)!).push(i);
    // A folder is keyed with its root's name in front; the root's own files by the root's name alone, which is
    // usually the repository's name and so the last piece of a Go module path (github.com/gin-gonic/gin).
    const folder = dirname(f.path);
    const dir = folder ? `${f.root}/${folder}` : f.root;
    (byDir.get(dir) ?? byDir.set(dir, []).get(dir)!).push(i);
  });

  const dirsByLastSegment = new Map<string, string[]>();
  for (const dir of byDir.keys()) {
    const last = dir.slice(dir.lastIndexOf("/") + 1);
    (dirsByLastSegment.get(last) ?? dirsByLastSegment.set(last, []).get(last)!).push(dir);
  }
  // C# namespaces against folders (root name included): "Newtonsoft.Json/Linq" is reached by "Json.Linq",
  // "Newtonsoft.Json.Linq" …, every dotted suffix of two pieces or more (one for a one-piece folder path).
  const dirsByDottedSuffix = new Map<string, string[]>();
  if (files.some((f) => f.language === "csharp")) {
    for (const dir of byDir.keys()) {
      const pieces = dir.replace(/\/$/, "").split(/[/.]/).filter(Boolean);
      for (let k = Math.min(2, pieces.length); k <= pieces.length; k++) {
        const key = pieces.slice(pieces.length - k).join(".");
        (dirsByDottedSuffix.get(key) ?? dirsByDottedSuffix.set(key, []).get(key)!).push(dir);
      }
    }
  }

  /** Files whose module path ends with `segs` (`a/b` matches `a/b` and `x/a/b`). */
  const endingWith = (segs: string[]): number[] => {
    const suffix = segs.join("/");
    return (byLastSegment.get(segs[segs.length - 1]) ?? []).filter((i) => {
      const k = moduleKey(files[i].path);
      return k === suffix || k.endsWith(`/${suffix}`);
    });
  };

  /** The file a path names relative to the importing file's folder (`./a`, `../b`, Ruby's require_relative). */
  const besideFile = (from: FileRecord, relative: string): number[] | undefined =>
    byKey.get(`${from.root}/${moduleKey(normalize([...dirname(from.path).split("/"), ...relative.split("/")]))}`);

  const resolveSuffix = (from: FileRecord, segments: string[]): number[] => {
    // Longest suffix first: `a/b/c` can be `x/a/b/c` or, for an item import (Rust `use a::b::Item`), `a/b`.
    for (let drop = 0; drop < Math.min(segments.length, 2); drop++) {
      const segs = segments.slice(0, segments.length - drop);
      if (segs.length === 0) break;
      const matching = endingWith(segs);
      if (matching.length) {
        // Prefer the same root, then the shortest path (closest to the import's natural location).
        matching.sort((a, b) => Number(files[b].root === from.root) - Number(files[a].root === from.root) || files[a].path.length - files[b].path.length);
        return [matching[0]];
      }
    }
    return [];
  };

  const resolve = (from: FileRecord, source: string): number[] => {
    const lang = from.language;
    if (source.startsWith(".")) {
      if (lang === "python") {
        // from .a.b import c / from .. import x
        const dots = /^\.+/.exec(source)![0].length;
        const base = dirname(from.path).split("/");
        const up = base.slice(0, Math.max(0, base.length - (dots - 1)));
        const rest = source.slice(dots).split(".").filter(Boolean);
        return byKey.get(`${from.root}/${normalize([...up, ...rest])}`) ?? [];
      }
      return besideFile(from, source) ?? [];
    }
    if (lang === "csharp") {
      // `using Newtonsoft.Json.Linq` names a namespace, which projects keep in the folder of that name
      // (Src/Newtonsoft.Json/Linq, or Linq/ under a workspace folder named Newtonsoft.Json): depend on its files.
      // Two pieces at least, so `using System.Linq` never lands in a Linq/ folder of the repository.
      const segs = source.split(".").filter(Boolean);
      for (let k = segs.length; k >= Math.min(2, segs.length); k--) {
        const dirs = dirsByDottedSuffix.get(segs.slice(segs.length - k).join("."));
        if (dirs?.length) return dirs.flatMap((d) => byDir.get(d) ?? []);
      }
      return [];
    }
    if (lang === "go") {
      // A Go import names a package = a directory (module path + folder); depend on every file in it. The module
      // prefix (github.com/user/repo) is not in the folder path, so match the longest suffix of >= 2 segments,
      // or the whole path when it has one segment.
      // The root's name counts as a folder: in a checkout named gin, github.com/gin-gonic/gin/binding is gin/binding
      // and github.com/gin-gonic/gin the root's own files (one piece suffices for the root alone).
      const segs = source.split("/").filter(Boolean);
      for (let k = segs.length; k >= 1; k--) {
        const suffix = segs.slice(segs.length - k).join("/");
        for (const dir of dirsByLastSegment.get(segs[segs.length - 1]) ?? []) {
          const matches = dir === `${from.root}/${suffix}` || `/${dir}`.endsWith(`/${suffix}`);
          if (matches && (k >= Math.min(2, segs.length) || dir === from.root)) return byDir.get(dir) ?? [];
        }
      }
      return [];
    }
    if (lang === "ruby") {
      // require_relative "billing/line" is relative to the requiring file; require "sinatra/base" to a load path (lib/).
      const relative = besideFile(from, source);
      if (relative) return relative;
    }
    if (lang === "php") {
      // `use App\Models\User`: the vendor prefix maps to a folder (app/, src/) through composer's autoload, so match
      // the longest trailing part of the name as a path; `require 'lib/x.php'` is a path already.
      const segs = source.replace(STRIP_EXTENSION, "").split(/[\\/]/).filter(Boolean);
      for (let k = segs.length; k >= 1; k--) {
        const matching = endingWith(segs.slice(segs.length - k)).filter((i) => files[i].root === from.root);
        if (matching.length === 1 || (matching.length > 1 && k >= 2)) return [matching.sort((a, b) => files[a].path.length - files[b].path.length)[0]];
      }
      return [];
    }
    let segments: string[];
    if (lang === "rust") segments = source.replace(/^(crate|self|super)::/, "").replace(/[{}*].*$/, "").split("::").filter(Boolean);
    else if (lang === "python" || lang === "java" || lang === "kotlin") segments = source.split(".").filter(Boolean);
    else if (lang === "c" || lang === "cpp" || lang === "ruby") segments = source.replace(STRIP_EXTENSION, "").split("/").filter(Boolean);
    else segments = source.replace(/^@/, "").split("/").filter(Boolean); // bare JS/TS specifiers: usually packages, sometimes path aliases
    if (segments.length === 0) return [];
    return resolveSuffix(from, segments);
  };

  const targetsOf = (from: FileRecord): number[] => {
    const seen = new Set<number>();
    for (const imp of from.imports) for (const j of resolve(from, imp.source)) if (files[j].root !== from.root || files[j].path !== from.path) seen.add(j);
    return [...seen];
  };

  const modulesNamed = (from: FileRecord, name: string): number[] => {
    const python = from.language === "python";
    if (!python && !JS_FAMILY.has(from.language)) return [];
    const lines = Object.hasOwn(from.references, name) ? from.references[name] : [];
    const out = new Set<number>();
    for (const imp of from.imports) {
      const [first, last] = imp.span ?? [imp.line, imp.line];
      if (!lines.some((l) => l >= first && l <= last)) continue;
      // Python: `from S import name` names a submodule of S when there is one; otherwise (`import S as name`, or a
      // function or class imported from S) S itself.
      const submodule = python ? resolve(from, /\.$/.test(imp.source) ? `${imp.source}${name}` : `${imp.source}.${name}`) : [];
      for (const j of submodule.length ? submodule : resolve(from, imp.source)) out.add(j);
    }
    return [...out];
  };

  return { targetsOf, modulesNamed };
}

const JS_FAMILY = new Set(["typescript", "tsx", "javascript"]);
