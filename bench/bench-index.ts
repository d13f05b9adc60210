/**
 * Index benchmark: full index of a large real code tree, restart from the stored index, the latency of a
 * one-file incremental update until a query sees it, and of import lookups (first, and after an edit). Prints a table; docs/benchmarks/index.md keeps results.
 * usage: node dist/bench/bench-index.js [--threads N] [dir ...]
 *        (default dirs: node_modules/typescript and the Python standard library, if present)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Indexer } from "../model-runtime/src/index/indexer";
import { defaultThreadCount } from "../model-runtime/src/index/parse-pool";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: "string" }, runs: { type: "string" } } });
const threads = values.threads !== undefined ? Number(values.threads) : defaultThreadCount();
const defaults = ["node_modules/typescript", "/usr/lib/python3.11"].filter((d) => fs.existsSync(d));
const dirs = (positionals.length ? positionals : defaults).map((d) => path.resolve(d));

function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const roots = dirs.map((d, i) => ({ name: `${path.basename(d)}-${i}`, path: d }));
  const store = fs.mkdtempSync(path.join(os.tmpdir(), "longview-bench-store-"));
  const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), "longview-bench-edit-"));
  try {
    // 1. Full index from nothing.
    const full = new Indexer({ roots, storeDir: store, threads });
    const r = await full.build();
    const stats = full.index.stats();
    const fullSeconds = r.millis / 1000;
    // The full index's own peak: later phases hold more indexers at once, which no real session does.
    const peakAfterFullIndex = peakRssMB();
    await full.dispose();

    // 2. Restart: load the stored index, walk, parse nothing.
    const restart = new Indexer({ roots, storeDir: store, threads });
    const r2 = await restart.build();
    // Which files a file imports (callees, who-uses of one definition, the hover): the first lookup builds the
    // resolver's path tables; after an edit only the edited file is resolved again (timed in 3).
    const anyFile = restart.index.allFiles()[0];
    const t1 = performance.now();
    if (anyFile) restart.index.importedFiles(anyFile.root, anyFile.path);
    const firstImportsMs = performance.now() - t1;

    // 3. One-file incremental update: edit a real file's copy inside an extra root, time until find() sees it.
    const probeRoot = { name: "edit", path: scratchDir };
    const editIndexer = new Indexer({ roots: [...roots, probeRoot], storeDir: store + "-edit", threads });
    // A mid-sized real file whose language we can append a valid function to.
    const probeSyntax: Record<string, (name: string, i: number) => string> = {
      typescript: (n, i) => `\nfunction ${n}() { return ${i}; }\n`,
      javascript: (n, i) => `\nfunction ${n}() { return ${i}; }\n`,
      python: (n, i) => `\n\ndef ${n}():\n    return ${i}\n`,
      go: (n, i) => `\nfunc ${n}() int { return ${i} }\n`,
      rust: (n, i) => `\nfn ${n}() -> i32 { ${i} }\n`,
    };
    const sample = [...restart.index.allFiles()].find((f) => probeSyntax[f.language] && f.size > 20_000 && f.size < 200_000);
    const sampleRoot = roots.find((x) => x.name === sample?.root);
    const base = sample && sampleRoot ? fs.readFileSync(path.join(sampleRoot.path, sample.path), "utf8") : "export const x = 1;\n";
    const ext = sample ? path.extname(sample.path) : ".ts";
    const editFile = path.join(scratchDir, `edited${ext}`);
    fs.writeFileSync(editFile, base);
    await editIndexer.build();
    const editKey = { root: "edit", path: path.basename(editFile) };
    editIndexer.index.importedFiles(editKey.root, editKey.path); // the path tables, built once
    const latencies: number[] = [];
    const importLatencies: number[] = [];
    const runs = Number(values.runs ?? 7);
    for (let i = 0; i < runs; i++) {
      const name = `longviewBenchProbe${i}`;
      const addition = (probeSyntax[sample?.language ?? "typescript"] ?? probeSyntax.typescript)(name, i);
      fs.writeFileSync(editFile, base + addition);
      const t0 = performance.now();
      await editIndexer.update([editFile]);
      const visible = editIndexer.index.find(name).length === 1;
      latencies.push(performance.now() - t0);
      const t2 = performance.now();
      editIndexer.index.importedFiles(editKey.root, editKey.path);
      importLatencies.push(performance.now() - t2);
      if (!visible) throw new Error(`update did not make ${name} visible in ${editFile} (from ${sample?.path}); record: ${JSON.stringify(editIndexer.index.get("edit", path.basename(editFile))?.definitions.slice(-2))}, skipped: ${JSON.stringify(editIndexer.index.skipped().filter((s) => s.root === "edit"))}`);
    }
    await editIndexer.dispose();
    await restart.dispose();

    const mb = stats.bytes / 1e6;
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    console.log(`\nLongview index benchmark — ${new Date().toISOString().slice(0, 10)}, ${os.availableParallelism()} cores (${cpu}), Node ${process.version}, ${threads} parse workers`);
    console.log(`corpus: ${dirs.join(", ")}`);
    console.log(`files ${stats.files}, ${mb.toFixed(1)} MB indexed, ${stats.definitions} definitions, ${stats.imports} imports, ${stats.references} reference lines, ${stats.skipped} skipped`);
    console.log("");
    console.log("| measure | value |");
    console.log("|---|---|");
    console.log(`| full index | ${fullSeconds.toFixed(2)} s |`);
    console.log(`| files/s | ${(stats.files / fullSeconds).toFixed(0)} |`);
    console.log(`| MB/s of source | ${(mb / fullSeconds).toFixed(1)} |`);
    console.log(`| restart from stored index (walk + load, 0 parsed: ${r2.parsed}) | ${(r2.millis / 1000).toFixed(2)} s |`);
    console.log(`| one-file update visible to find(), median of ${runs} (file of ${(base.length / 1e3).toFixed(0)} kB) | ${median(latencies).toFixed(1)} ms |`);
    console.log(`| one-file update, worst | ${Math.max(...latencies).toFixed(1)} ms |`);
    console.log(`| a file's imports, first lookup (resolver's path tables built) | ${firstImportsMs.toFixed(1)} ms |`);
    console.log(`| the edited file's imports after its edit, median of ${runs} | ${median(importLatencies).toFixed(2)} ms |`);
    console.log(`| peak RSS of the full index (process incl. workers) | ${peakAfterFullIndex.toFixed(0)} MB |`);
  } finally {
    fs.rmSync(store, { recursive: true, force: true });
    fs.rmSync(store + "-edit", { recursive: true, force: true });
    fs.rmSync(scratchDir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
