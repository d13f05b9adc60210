/** The CLI's commands, each a function returning an exit code. Output is for people unless --json. */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Indexer } from "../index/indexer";
import { DEFAULT_EXCLUDES, type IndexRoot } from "../index/types";

export interface CommonOptions {
  /** Explicit store dir; null disables persistence; undefined = default cache location. */
  store?: string | null;
  threads?: number;
  exclude?: string[];
  json: boolean;
  verbose: boolean;
  fresh: boolean;
}

export function defaultStoreDir(roots: IndexRoot[]): string {
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  const key = crypto.createHash("sha1").update(roots.map((r) => r.path).join("\n")).digest("hex").slice(0, 16);
  return path.join(cache, "longview", key, "index");
}

export function rootsFromDirs(dirs: string[]): IndexRoot[] {
  const roots: IndexRoot[] = [];
  const names = new Set<string>();
  for (const d of dirs) {
    const abs = path.resolve(d);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) throw new Error(`not a directory: ${d}`);
    let name = path.basename(abs) || abs;
    for (let i = 2; names.has(name); i++) name = `${path.basename(abs)}-${i}`;
    names.add(name);
    roots.push({ name, path: abs });
  }
  return roots;
}

/** Build (or refresh from the store) the index of `dirs`. The caller disposes the indexer. */
export async function openIndex(dirs: string[], opts: CommonOptions, onLog?: (m: string) => void): Promise<Indexer> {
  const roots = rootsFromDirs(dirs);
  const storeDir = opts.store === null ? undefined : opts.store ?? defaultStoreDir(roots);
  const indexer = new Indexer({
    roots,
    storeDir,
    threads: opts.threads,
    options: { exclude: [...DEFAULT_EXCLUDES, ...(opts.exclude ?? [])] },
    log: onLog ?? (opts.verbose ? (m) => console.error(m) : undefined),
  });
  return indexer;
}

function formatBytes(n: number): string {
  return n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

export async function commandIndex(dirs: string[], opts: CommonOptions): Promise<number> {
  const skips: string[] = [];
  const indexer = await openIndex(dirs, opts, (m) => {
    if (m.startsWith("skipped ")) skips.push(m.slice(8));
    if (opts.verbose) console.error(m);
  });
  const interactive = process.stderr.isTTY && !opts.json;
  const report = await indexer.build({
    fresh: opts.fresh,
    onProgress: interactive
      ? (p) => process.stderr.write(`\r${p.phase} ${p.filesDone}/${p.filesTotal} files, ${formatBytes(p.bytesDone)}   `)
      : undefined,
  });
  if (interactive) process.stderr.write("\n");
  const stats = indexer.index.stats();
  const skipped = indexer.index.skipped();
  await indexer.dispose();
  if (opts.json) {
    console.log(JSON.stringify({ report, stats, skipped }, null, 1));
    return 0;
  }
  const seconds = report.millis / 1000;
  console.log(
    `indexed ${stats.files} files (${formatBytes(stats.bytes)}): ${stats.definitions} definitions, ${stats.imports} imports, ` +
      `${stats.references} references`,
  );
  console.log(
    `parsed ${report.parsed}, reused ${report.reused}, removed ${report.removed} in ${seconds.toFixed(2)} s` +
      (report.bytesParsed ? ` (${(report.bytesParsed / 1e6 / seconds).toFixed(1)} MB/s)` : ""),
  );
  console.log(`languages: ${Object.entries(stats.languages).map(([l, n]) => `${l} ${n}`).join(", ")}`);
  if (skipped.length) {
    console.log(`skipped ${skipped.length} files:`);
    for (const s of skipped.slice(0, 50)) console.log(`  ${s.root}/${s.path}: ${s.reason} (${s.detail})`);
    if (skipped.length > 50) console.log(`  … ${skipped.length - 50} more (--json lists all)`);
  }
  return 0;
}

export async function commandFind(symbol: string | undefined, dirs: string[], opts: CommonOptions): Promise<number> {
  if (!symbol) throw new Error("find needs a symbol name");
  const indexer = await openIndex(dirs, opts);
  await indexer.build();
  const hits = indexer.index.find(symbol);
  await indexer.dispose();
  if (opts.json) console.log(JSON.stringify(hits, null, 1));
  else if (hits.length === 0) console.log(`no definition of ${symbol}`);
  else
    for (const h of hits) {
      const d = h.definition;
      console.log(`${path.join(h.root, h.path)}:${d.nameLine + 1}  ${d.kind} ${d.container ? `${d.container}.` : ""}${d.name}  ${d.signature}`);
    }
  return hits.length ? 0 : 1;
}

export async function commandRefs(symbol: string | undefined, dirs: string[], opts: CommonOptions): Promise<number> {
  if (!symbol) throw new Error("refs needs a symbol name");
  const indexer = await openIndex(dirs, opts);
  await indexer.build();
  const refs = indexer.index.references(symbol);
  await indexer.dispose();
  if (opts.json) console.log(JSON.stringify(refs, null, 1));
  else for (const r of refs) console.log(`${path.join(r.root, r.path)}:${r.line + 1}`);
  return refs.length ? 0 : 1;
}
