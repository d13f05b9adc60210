/**
 * The training corpus as REPOSITORY units — one project or package each, the thing a user opens in VS Code — with
 * the licence of each. Sources are the permissively licensed code collected for the tokenizer
 * (model-runtime/assets/tokenizer/CORPUS.md) and the Debian source packages on this machine:
 *
 * - GitHub snapshots (`<tok-corpus>/src/<owner>+<name>`): one unit each; licence as recorded in the tokenizer
 *   corpus manifest (no recorded licence → not used);
 * - npm packages (`<tok-corpus>/npm/node_modules`): one unit each; licence from its package.json, permissive
 *   SPDX expressions only;
 * - Go's standard library: one unit per top-level package folder (`cmd/<tool>` each on its own);
 * - Python's standard library: one unit per package folder, plus one for the top-level modules;
 * - Rust's library and compiler sources: one unit per crate;
 * - C/C++ header libraries (googletest, Abseil per component, nlohmann-json, GLM, RapidJSON, Catch2, stb).
 *
 * Unit ids carry no version, so the train/eval split (split.ts) stays put when a source is updated.
 */
import fs from "node:fs";
import path from "node:path";

export interface RepoUnit {
  /** Stable id, e.g. "github/pallets/flask", "npm/@babel/core", "go/net", "python/asyncio". */
  id: string;
  /** Absolute folder indexed as the repository root. */
  path: string;
  /** SPDX expression (or the licence's name). */
  licence: string;
  origin: string;
  version?: string;
  /** Globs excluded on top of the index defaults (relative to the unit). */
  exclude?: string[];
  /** When set, only these paths (relative, files or folders) of `path` belong to the unit. */
  only?: string[];
}

export interface UnitDiscovery {
  units: RepoUnit[];
  skipped: Array<{ id: string; reason: string }>;
}

/** SPDX identifiers accepted as permissive (the tokenizer corpus' list). */
const PERMISSIVE = new Set(["MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Unlicense", "CC0-1.0", "BlueOak-1.0.0", "PSF-2.0", "Zlib", "BSL-1.0"]);

/** An SPDX expression is permissive when some OR-branch is made only of permissive licences. */
export function isPermissiveSpdx(expr: unknown): boolean {
  if (typeof expr !== "string" || !expr.trim()) return false;
  const parts = expr.replace(/[()]/g, "").split(/\s+OR\s+/);
  return parts.some((p) => p.split(/\s+AND\s+/).every((q) => PERMISSIVE.has(q.trim())));
}

/** Test data, generated parsers' tables and vendored dependencies say little about a project's own code. */
const COMMON_EXCLUDES = ["**/testdata/**", "**/*.min.js", "**/*.map", "**/*.snap"];

export interface DiscoverOptions {
  /** The tokenizer corpus folder (holds src/, npm/, out/manifest.json). */
  tokCorpus?: string;
  /** Include Debian's Go/Python/Rust/C++ sources found on this machine. */
  system?: boolean;
}

function subdirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith("."))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

function recordedLicences(tokCorpus: string): Map<string, { licence: string; version: string }> {
  const out = new Map<string, { licence: string; version: string }>();
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(tokCorpus, "out", "manifest.json"), "utf8")) as { sources: Array<{ id: string; licence: string }> };
    for (const s of manifest.sources) {
      const m = /^github:([^@]+)@(.+)$/.exec(s.id);
      if (m) out.set(m[1], { licence: s.licence, version: m[2] });
    }
  } catch {
    // No manifest: GitHub snapshots have no vetted licence and are skipped.
  }
  return out;
}

function githubUnits(tokCorpus: string, found: UnitDiscovery): void {
  const licences = recordedLicences(tokCorpus);
  const src = path.join(tokCorpus, "src");
  for (const dir of subdirs(src)) {
    const repo = dir.replace("+", "/");
    const id = `github/${repo}`;
    const rec = licences.get(repo);
    if (!rec) {
      found.skipped.push({ id, reason: "no licence recorded in the tokenizer corpus manifest" });
      continue;
    }
    found.units.push({ id, path: path.join(src, dir), licence: rec.licence, origin: "GitHub snapshot", version: rec.version, exclude: COMMON_EXCLUDES });
  }
}

function npmUnits(tokCorpus: string, found: UnitDiscovery): void {
  const nm = path.join(tokCorpus, "npm", "node_modules");
  const names: string[] = [];
  for (const d of subdirs(nm)) {
    if (d.startsWith("@")) for (const e of subdirs(path.join(nm, d))) names.push(`${d}/${e}`);
    else names.push(d);
  }
  for (const name of names) {
    const root = path.join(nm, name);
    let pkg: { version?: string; license?: unknown };
    try {
      pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    } catch {
      found.skipped.push({ id: `npm/${name}`, reason: "no readable package.json" });
      continue;
    }
    if (!isPermissiveSpdx(pkg.license)) {
      found.skipped.push({ id: `npm/${name}`, reason: `licence ${JSON.stringify(pkg.license)} is not permissive` });
      continue;
    }
    found.units.push({ id: `npm/${name}`, path: root, licence: String(pkg.license), origin: "npm registry", version: pkg.version, exclude: COMMON_EXCLUDES });
  }
}

function systemUnits(found: UnitDiscovery): void {
  const go = "/usr/share/go-1.19/src";
  if (fs.existsSync(go)) {
    for (const d of subdirs(go)) {
      if (d === "testdata") continue;
      if (d === "cmd") {
        for (const tool of subdirs(path.join(go, "cmd"))) {
          if (tool === "vendor" || tool === "testdata") continue;
          found.units.push({ id: `go/cmd/${tool}`, path: path.join(go, "cmd", tool), licence: "BSD-3-Clause", origin: "Debian golang-1.19-src", version: "1.19", exclude: COMMON_EXCLUDES });
        }
        continue;
      }
      found.units.push({ id: `go/${d}`, path: path.join(go, d), licence: "BSD-3-Clause", origin: "Debian golang-1.19-src", version: "1.19", exclude: COMMON_EXCLUDES });
    }
  }
  const py = "/usr/lib/python3.11";
  if (fs.existsSync(py)) {
    const skip = new Set(["site-packages", "dist-packages", "__pycache__", "lib-dynload", "lib2to3"]);
    for (const d of subdirs(py)) {
      if (skip.has(d) || d.startsWith("config-")) continue;
      found.units.push({ id: `python/${d}`, path: path.join(py, d), licence: "PSF-2.0", origin: "Debian libpython3.11-stdlib", version: "3.11", exclude: COMMON_EXCLUDES });
    }
    const modules = fs.readdirSync(py).filter((f) => f.endsWith(".py")).sort();
    found.units.push({ id: "python/(top-level modules)", path: py, licence: "PSF-2.0", origin: "Debian libpython3.11-stdlib", version: "3.11", only: modules });
  }
  const rust = "/usr/src/rustc-1.63.0";
  for (const part of ["library", "compiler"]) {
    for (const crate of subdirs(path.join(rust, part))) {
      found.units.push({ id: `rust/${part}/${crate}`, path: path.join(rust, part, crate), licence: "MIT OR Apache-2.0", origin: "Debian rust-src", version: "1.63.0", exclude: COMMON_EXCLUDES });
    }
  }
  for (const sub of subdirs("/usr/src/googletest")) {
    found.units.push({ id: `cpp/googletest/${sub}`, path: path.join("/usr/src/googletest", sub), licence: "BSD-3-Clause", origin: "Debian libgtest-dev", exclude: COMMON_EXCLUDES });
  }
  for (const sub of subdirs("/usr/include/absl")) {
    found.units.push({ id: `cpp/absl/${sub}`, path: path.join("/usr/include/absl", sub), licence: "Apache-2.0", origin: "Debian libabsl-dev" });
  }
  const headers: Array<[string, string, string, string]> = [
    ["cpp/nlohmann-json", "/usr/include/nlohmann", "MIT", "Debian nlohmann-json3-dev"],
    ["cpp/glm", "/usr/include/glm", "MIT", "Debian libglm-dev"],
    ["cpp/rapidjson", "/usr/include/rapidjson", "MIT", "Debian rapidjson-dev"],
    ["cpp/catch2", "/usr/include/catch2", "BSL-1.0", "Debian libcatch2-dev"],
    ["c/stb", "/usr/include/stb", "MIT OR Unlicense", "Debian libstb-dev"],
  ];
  for (const [id, p, licence, origin] of headers) if (fs.existsSync(p)) found.units.push({ id, path: p, licence, origin });
}

/** Every repository unit available on this machine, sorted by id. */
export function discoverUnits(opts: DiscoverOptions = {}): UnitDiscovery {
  const found: UnitDiscovery = { units: [], skipped: [] };
  const tokCorpus = opts.tokCorpus ?? "/tmp/tok-corpus";
  if (fs.existsSync(tokCorpus)) {
    githubUnits(tokCorpus, found);
    npmUnits(tokCorpus, found);
  }
  if (opts.system ?? true) systemUnits(found);
  const seen = new Set<string>();
  found.units = found.units
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .filter((u) => !seen.has(u.id) && seen.add(u.id));
  return found;
}
