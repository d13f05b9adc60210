// Builds the tokenizer's training corpus from permissively licensed code that is on this machine (or was brought
// here: see model-runtime/assets/tokenizer/CORPUS.md for the exact set-up commands). Nothing here is committed: the
// corpus goes to --out (default /tmp/tok-corpus/out) as one text file per language and split, plus manifest.json,
// which records every source, its licence and how many files/bytes it contributed.
//
// usage: node --import tsx scripts/tokenizer/collect-corpus.ts [--out DIR] [--npm DIR] [--mirrors DIR] [--seed N]
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

type Lang = "ts" | "js" | "python" | "go" | "rust" | "java" | "c" | "cpp" | "markdown" | "json" | "config" | "shell" | "web";

/** No single source may supply more than this share of a language's training text, so one project's style can't dominate. */
const MAX_SOURCE_SHARE = 0.3;

/** Megabytes of training text kept per language: a balanced code mix, with a little of what repositories also hold. */
const CAP_MB: Record<Lang, number> = {
  ts: 24, js: 18, python: 20, go: 20, rust: 20, java: 16, c: 12, cpp: 14,
  markdown: 3, json: 2, config: 1, shell: 1, web: 2,
};

const EXT_LANG: Record<string, Lang> = {
  ".ts": "ts", ".tsx": "ts", ".mts": "ts", ".cts": "ts",
  ".js": "js", ".jsx": "js", ".mjs": "js", ".cjs": "js",
  ".py": "python", ".go": "go", ".rs": "rust", ".java": "java",
  ".c": "c", ".h": "c",
  ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp", ".ipp": "cpp", ".inl": "cpp",
  ".md": "markdown", ".json": "json", ".yml": "config", ".yaml": "config", ".toml": "config",
  ".sh": "shell", ".bash": "shell", ".html": "web", ".css": "web", ".scss": "web",
};

/** SPDX identifiers we accept as permissive (npm `license` fields are checked against this list). */
const PERMISSIVE = new Set(["MIT", "ISC", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "0BSD", "Unlicense", "CC0-1.0", "BlueOak-1.0.0", "PSF-2.0", "Zlib", "BSL-1.0"]);

interface Source {
  id: string;
  licence: string;
  origin: string;
  root: string;
  /** Languages of .h files under this root (C++ projects put C++ in .h). */
  headerLang?: Lang;
  skipDirs?: string[];
  /** Overrides MAX_SOURCE_SHARE for a language's only large source (Go's standard library, Rust's). */
  maxShare?: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const outDir = arg("out", "/tmp/tok-corpus/out");
const npmDir = arg("npm", "/tmp/tok-corpus/npm");
const mirrorsDir = arg("mirrors", "/work/.mirror");
const seed = Number(arg("seed", "1"));
const recordFile = arg("record", path.join("model-runtime", "assets", "tokenizer", "CORPUS.md"));

/** npm's `license` field is an SPDX expression; an OR of which any part is permissive is permissive. */
function isPermissiveSpdx(expr: unknown): boolean {
  if (typeof expr !== "string") return false;
  const parts = expr.replace(/[()]/g, "").split(/\s+OR\s+/);
  return parts.some((p) => p.split(/\s+AND\s+/).every((q) => PERMISSIVE.has(q.trim())));
}

function npmSources(): Source[] {
  const nm = path.join(npmDir, "node_modules");
  if (!fs.existsSync(nm)) return [];
  const names: string[] = [];
  for (const d of fs.readdirSync(nm)) {
    if (d.startsWith(".")) continue;
    if (d.startsWith("@")) for (const e of fs.readdirSync(path.join(nm, d))) names.push(`${d}/${e}`);
    else names.push(d);
  }
  const out: Source[] = [];
  for (const name of names.sort()) {
    const root = path.join(nm, name);
    let pkg: { version?: string; license?: unknown };
    try {
      pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
    } catch {
      continue;
    }
    if (!isPermissiveSpdx(pkg.license)) {
      console.log(`skip npm ${name}: licence ${JSON.stringify(pkg.license)}`);
      continue;
    }
    out.push({ id: `npm:${name}@${pkg.version}`, licence: String(pkg.license), origin: "npm registry", root, skipDirs: ["node_modules"] });
  }
  return out;
}

/** Repositories brought here as bare git mirrors; each is exported once to a scratch folder. */
const MIRRORS: Array<{ repo: string; licence: string; headerLang?: Lang }> = [
  { repo: "apache/commons-lang", licence: "Apache-2.0" },
  { repo: "apache/commons-collections", licence: "Apache-2.0" },
  { repo: "apache/commons-io", licence: "Apache-2.0" },
  { repo: "google/gson", licence: "Apache-2.0" },
  { repo: "google/guice", licence: "Apache-2.0" },
  { repo: "FasterXML/jackson-databind", licence: "Apache-2.0" },
  { repo: "libuv/libuv", licence: "MIT" },
  { repo: "curl/curl", licence: "curl (MIT-style)" },
  { repo: "nginx/nginx", licence: "BSD-2-Clause" },
  { repo: "tmux/tmux", licence: "ISC" },
  { repo: "madler/zlib", licence: "Zlib" },
  { repo: "lua/lua", licence: "MIT" },
  { repo: "fmtlib/fmt", licence: "MIT", headerLang: "cpp" },
  { repo: "google/leveldb", licence: "BSD-3-Clause", headerLang: "cpp" },
  { repo: "pallets/flask", licence: "BSD-3-Clause" },
  { repo: "pallets/werkzeug", licence: "BSD-3-Clause" },
  { repo: "pallets/click", licence: "BSD-3-Clause" },
  { repo: "psf/requests", licence: "Apache-2.0" },
  { repo: "encode/httpx", licence: "BSD-3-Clause" },
  { repo: "fastapi/fastapi", licence: "MIT" },
  { repo: "sqlalchemy/sqlalchemy", licence: "MIT" },
];

function mirrorSources(): Source[] {
  const out: Source[] = [];
  for (const m of MIRRORS) {
    const git = path.join(mirrorsDir, m.repo.replace("/", "+"), "repo");
    if (!fs.existsSync(git)) {
      console.log(`missing mirror ${m.repo}`);
      continue;
    }
    const commit = execFileSync("git", ["-C", git, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
    const root = path.join(path.dirname(outDir), "src", m.repo.replace("/", "+"));
    if (!fs.existsSync(root)) {
      fs.mkdirSync(root, { recursive: true });
      execFileSync("bash", ["-c", `git -C '${git}' archive HEAD | tar -x -C '${root}'`]);
    }
    out.push({ id: `github:${m.repo}@${commit.slice(0, 12)}`, licence: m.licence, origin: "GitHub snapshot", root, headerLang: m.headerLang });
  }
  return out;
}

function systemSources(): Source[] {
  const s: Source[] = [
    { id: "debian:libpython3.11-stdlib (/usr/lib/python3.11)", licence: "PSF-2.0", origin: "Debian", root: "/usr/lib/python3.11", skipDirs: ["site-packages", "dist-packages", "__pycache__"] },
    { id: "debian:golang-1.19-src", licence: "BSD-3-Clause", origin: "Debian", root: "/usr/share/go-1.19/src", maxShare: 1 },
    { id: "debian:rust-src 1.63 (library)", licence: "MIT OR Apache-2.0", origin: "Debian", root: "/usr/src/rustc-1.63.0/library", maxShare: 0.6 },
    { id: "debian:rust-src 1.63 (compiler)", licence: "MIT OR Apache-2.0", origin: "Debian", root: "/usr/src/rustc-1.63.0/compiler", maxShare: 0.5 },
    { id: "debian:libgtest-dev (googletest)", licence: "BSD-3-Clause", origin: "Debian", root: "/usr/src/googletest", headerLang: "cpp" },
    { id: "debian:libabsl-dev", licence: "Apache-2.0", origin: "Debian", root: "/usr/include/absl", headerLang: "cpp" },
    { id: "debian:nlohmann-json3-dev", licence: "MIT", origin: "Debian", root: "/usr/include/nlohmann", headerLang: "cpp" },
    { id: "debian:libglm-dev", licence: "MIT", origin: "Debian", root: "/usr/include/glm", headerLang: "cpp" },
    { id: "debian:rapidjson-dev", licence: "MIT", origin: "Debian", root: "/usr/include/rapidjson", headerLang: "cpp" },
    { id: "debian:libcatch2-dev", licence: "BSL-1.0", origin: "Debian", root: "/usr/include/catch2", headerLang: "cpp" },
    { id: "debian:libstb-dev", licence: "MIT OR Unlicense", origin: "Debian", root: "/usr/include/stb" },
  ];
  return s.filter((x) => fs.existsSync(x.root));
}

function* walk(dir: string, skip: Set<string>): Generator<string> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip.has(e.name) && !e.name.startsWith(".")) yield* walk(p, skip);
    } else if (e.isFile()) yield p;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Generated or minified text teaches the tokenizer nothing about code that people read. */
function looksLikeHumanCode(text: string): boolean {
  if (text.includes("\0")) return false;
  const lines = text.split("\n");
  let longest = 0;
  for (const l of lines) if (l.length > longest) longest = l.length;
  return longest <= 1000 && text.length / lines.length <= 120;
}

interface Doc { source: Source; lang: Lang; text: string; hash: string }

function mulberry32(a: number): () => number {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Manifest {
  created: string;
  seed: number;
  rejectedFiles: number;
  languages: Record<string, { available: number; train: number; holdout: number; files: number }>;
  sources: Array<{ id: string; licence: string; origin: string; files: number; bytes: number; holdoutFiles: number }>;
}

/** CORPUS.md: how the corpus was made, then every source with its licence and share. */
function corpusRecord(m: Manifest): string {
  const mb = (b: number): string => (b / 1e6).toFixed(2);
  const langRows = Object.entries(m.languages)
    .sort((a, b) => b[1].train - a[1].train)
    .map(([lang, s]) => `| ${lang} | ${mb(s.available)} | ${mb(s.train)} | ${mb(s.holdout)} | ${s.files} |`);
  const licences = new Map<string, number>();
  for (const s of m.sources) licences.set(s.licence, (licences.get(s.licence) ?? 0) + s.bytes);
  const licenceRows = [...licences].sort((a, b) => b[1] - a[1]).map(([l, b]) => `| ${l} | ${mb(b)} |`);
  const sourceRows = m.sources.map((s) => `| ${s.id} | ${s.licence} | ${s.origin} | ${s.files} | ${mb(s.bytes)} |`);
  return `# Tokenizer training corpus

Generated by \`scripts/tokenizer/collect-corpus.ts\` on ${m.created.slice(0, 10)} (seed ${m.seed}); the corpus itself is not
committed. Only permissively licensed code was used: every source and its licence is listed below. npm packages were
kept only when their \`package.json\` \`license\` is an SPDX expression of permissive licences (MIT, ISC, Apache-2.0,
BSD-2/3-Clause, 0BSD, Unlicense, CC0-1.0, BlueOak-1.0.0, PSF-2.0, Zlib, BSL-1.0); packages under any other licence
(e.g. MPL-2.0, CC-BY-4.0) were skipped. Files were dropped when binary, not UTF-8, larger than 512 KiB, or minified
(a line over 1,000 characters or a mean line over 120); duplicates (same content) were kept once. No single source
gives more than 30% of a language's text (Go's and Rust's standard sources excepted: they are those languages' only
large sources here). One file in twenty (by content hash) is held out to measure compression.

## How to rebuild it

\`\`\`sh
# 1. npm packages (scratch folder outside the repository)
mkdir -p /tmp/tok-corpus/npm && cd /tmp/tok-corpus/npm && npm init -y
npm install --ignore-scripts --no-audit --no-fund --legacy-peer-deps typescript lodash express react react-dom vue rxjs \\
  eslint webpack @babel/core @babel/parser @babel/traverse prettier jquery d3 three axios moment date-fns chalk commander \\
  yargs ramda immutable redux @reduxjs/toolkit mobx preact svelte @angular/core @angular/common zod fastify koa hono \\
  graphql socket.io ws mocha chai sinon typeorm mongoose sequelize knex pino winston undici node-fetch rollup vite ts-morph \\
  @typescript-eslint/parser @typescript-eslint/eslint-plugin vscode-languageserver vscode-languageserver-protocol \\
  highlight.js marked markdown-it uuid semver glob minimatch ajv yaml js-yaml acorn terser postcss async underscore fp-ts \\
  io-ts effect @nestjs/core @nestjs/common inversify class-validator lit @lit/reactive-element solid-js @sveltejs/kit \\
  @trpc/server @tanstack/query-core @tanstack/react-query jotai zustand immer xstate dayjs luxon bignumber.js decimal.js \\
  mathjs chart.js leaflet @types/node @types/react @types/lodash @types/express @types/jest playwright-core \\
  puppeteer-core vitest jest-circus @jest/core pretty-format
# 2. Debian packages (bookworm)
apt-get install golang-1.19-src rust-src libgtest-dev libabsl-dev nlohmann-json3-dev libglm-dev rapidjson-dev \\
  libstb-dev libcatch2-dev        # plus libpython3.11-stdlib, already present
# 3. GitHub snapshots (bare mirrors under /work/.mirror/<owner>+<name>/repo), exported at the commits listed below
# 4. collect, then train
node --import tsx scripts/tokenizer/collect-corpus.ts --out /tmp/tok-corpus/out
node --import tsx scripts/tokenizer/train.ts --corpus /tmp/tok-corpus/out --vocab 16384 \\
  --sweep 8192,12288,16384,20480,24576,28672,32768
\`\`\`

## Languages (MB)

| language | available | train | held out | files |
|---|---|---|---|---|
${langRows.join("\n")}

${m.rejectedFiles} files were rejected as binary, non-UTF-8 or minified.

## Licences (MB used, train + held out)

| licence | MB |
|---|---|
${licenceRows.join("\n")}

## Sources (${m.sources.length})

| source | licence | from | files used | MB used |
|---|---|---|---|---|
${sourceRows.join("\n")}
`;
}

function main(): void {
  const sources = [...systemSources(), ...mirrorSources(), ...npmSources()];
  const seen = new Set<string>();
  const byLang = new Map<Lang, Doc[]>();
  let rejected = 0;
  for (const source of sources) {
    for (const file of walk(source.root, new Set(source.skipDirs ?? []))) {
      if (/\.min\.|\.map$|\.bundle\./.test(file)) continue;
      const ext = file.endsWith(".d.ts") ? ".ts" : path.extname(file).toLowerCase();
      let lang = EXT_LANG[ext];
      if (!lang) continue;
      if (ext === ".h" && source.headerLang) lang = source.headerLang;
      const size = fs.statSync(file).size;
      if (size === 0 || size > 512 * 1024) continue;
      let text: string;
      try {
        text = utf8.decode(fs.readFileSync(file));
      } catch {
        rejected++;
        continue;
      }
      if (!looksLikeHumanCode(text)) {
        rejected++;
        continue;
      }
      const hash = createHash("sha1").update(text).digest("hex");
      if (seen.has(hash)) continue;
      seen.add(hash);
      if (!byLang.has(lang)) byLang.set(lang, []);
      byLang.get(lang)!.push({ source, lang, text, hash });
    }
  }

  fs.mkdirSync(path.join(outDir, "train"), { recursive: true });
  fs.mkdirSync(path.join(outDir, "holdout"), { recursive: true });
  const rand = mulberry32(seed);
  const perSource = new Map<string, { licence: string; origin: string; files: number; bytes: number; holdoutFiles: number }>();
  const perLang: Record<string, { available: number; train: number; holdout: number; files: number }> = {};
  for (const [lang, docs] of byLang) {
    for (let i = docs.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [docs[i], docs[j]] = [docs[j], docs[i]];
    }
    const cap = CAP_MB[lang] * 1e6;
    const train = fs.openSync(path.join(outDir, "train", `${lang}.txt`), "w");
    const holdout = fs.openSync(path.join(outDir, "holdout", `${lang}.txt`), "w");
    const stats = { available: 0, train: 0, holdout: 0, files: 0 };
    const sourceBytes = new Map<string, number>();
    for (const d of docs) stats.available += Buffer.byteLength(d.text);
    for (const d of docs) {
      // One file in twenty (by content hash, so stable across runs) is held out to measure compression honestly.
      const isHoldout = parseInt(d.hash.slice(0, 8), 16) % 20 === 0;
      const bytes = Buffer.byteLength(d.text);
      if (isHoldout ? stats.holdout >= cap / 19 : stats.train >= cap) continue;
      const shareKey = `${isHoldout ? "holdout" : "train"}:${d.source.id}`;
      const fromSource = sourceBytes.get(shareKey) ?? 0;
      if (fromSource + bytes > (d.source.maxShare ?? MAX_SOURCE_SHARE) * (isHoldout ? cap / 19 : cap)) continue;
      sourceBytes.set(shareKey, fromSource + bytes);
      fs.writeSync(isHoldout ? holdout : train, d.text.endsWith("\n") ? d.text : d.text + "\n");
      if (isHoldout) stats.holdout += bytes;
      else stats.train += bytes;
      stats.files++;
      const s = perSource.get(d.source.id) ?? { licence: d.source.licence, origin: d.source.origin, files: 0, bytes: 0, holdoutFiles: 0 };
      s.files++;
      s.bytes += bytes;
      if (isHoldout) s.holdoutFiles++;
      perSource.set(d.source.id, s);
    }
    fs.closeSync(train);
    fs.closeSync(holdout);
    perLang[lang] = stats;
  }
  const manifest = {
    created: new Date().toISOString(),
    seed,
    rejectedFiles: rejected,
    languages: perLang,
    sources: [...perSource].map(([id, s]) => ({ id, ...s })).sort((a, b) => a.id.localeCompare(b.id)),
  };
  fs.writeFileSync(path.join(outDir, "manifest.json"), JSON.stringify(manifest, null, 1));
  fs.writeFileSync(recordFile, corpusRecord(manifest));
  for (const [lang, s] of Object.entries(perLang)) {
    console.log(`${lang.padEnd(9)} available ${(s.available / 1e6).toFixed(1).padStart(6)} MB  train ${(s.train / 1e6).toFixed(1).padStart(5)} MB  holdout ${(s.holdout / 1e6).toFixed(2).padStart(5)} MB`);
  }
  console.log(`${manifest.sources.length} sources used, ${rejected} files rejected (binary, non-UTF-8 or minified)`);
}

main();
