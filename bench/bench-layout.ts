/**
 * Layout benchmark on a real repository: tokenize + lay out + build the sparse CSR, then a one-file edit
 * (re-layout of that file + the map, and the pattern rows it touches). Prints a table; results are kept in
 * docs/benchmarks/layout.md.
 * usage: node dist/bench/bench-layout.js <dir> [--max-tokens N] [--heads 8] [--budget 160] [--png FILE]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Indexer } from "../model-runtime/src/index/indexer";
import { ANCHOR_TIER, RepoLayout } from "../model-runtime/src/layout/repo-layout";
import { readLayoutSources } from "../model-runtime/src/layout/sources";
import { EncodingCache } from "../model-runtime/src/layout/tokens";
import { buildPatterns, longviewHeadSpecs, patternStats, renderMaskPng, updatePatterns } from "../model-runtime/src/patterns";
import { CodeTokenizer } from "../model-runtime/src/tokenizer";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { "max-tokens": { type: "string" }, heads: { type: "string" }, budget: { type: "string" }, block: { type: "string" }, png: { type: "string" } },
});

async function main(): Promise<void> {
  const dir = path.resolve(positionals[0] ?? "node_modules/typescript/lib");
  const maxTokens = Number(values["max-tokens"] ?? 1 << 20);
  const numHeads = Number(values.heads ?? 8);
  const budget = Number(values.budget ?? 160);
  const blockSize = Number(values.block ?? 64);
  const indexer = new Indexer({ roots: [{ name: path.basename(dir), path: dir }] });
  await indexer.build();
  await indexer.dispose();
  const tokenizer = CodeTokenizer.load();
  const sources = readLayoutSources(indexer.index, indexer.roots);

  // Tokenization is cached by content hash across layouts; time it apart from the layout itself.
  const cache = new EncodingCache(64_000_000);
  const tTok = performance.now();
  let textBytes = 0;
  for (const s of sources) {
    cache.set(s.record.hash, tokenizer.encodeWithOffsets(s.text));
    textBytes += Buffer.byteLength(s.text);
  }
  const tokenizeMs = performance.now() - tTok;

  const t0 = performance.now();
  const layout = RepoLayout.build(sources, tokenizer, { blockSize, maxTokens }, cache);
  const layoutMs = performance.now() - t0;
  const t1 = performance.now();
  const facts = layout.blockFacts(numHeads);
  const patterns = buildPatterns(facts, longviewHeadSpecs({ numHeads, budget, anchorGroups: numHeads, firstAnchorTier: ANCHOR_TIER }));
  const csrMs = performance.now() - t1;
  const stats = patternStats(patterns);
  const ls = layout.stats();

  // One-file edit: a mid-sequence file gains a function (fits its slot or moves to the end).
  const victim = sources[Math.floor(sources.length / 2)];
  const editedText = `${victim.text}\nexport function longviewBenchEdit() { return 1; }\n`;
  const editedRecord = {
    ...victim.record,
    hash: `${victim.record.hash}-edited`,
    definitions: [...victim.record.definitions, { ...victim.record.definitions[0], name: "longviewBenchEdit", nameLine: victim.record.lineCount }],
  };
  const t2 = performance.now();
  const update = layout.update([{ record: editedRecord, text: editedText }], []);
  const t3 = performance.now();
  const newFacts = layout.blockFacts(numHeads);
  let rebuiltRows = 0;
  for (const edit of update.edits) rebuiltRows += updatePatterns(patterns, newFacts, edit).rebuiltRows.reduce((a, b) => a + b, 0);
  const t4 = performance.now();

  const full = stats.numBlockRows * stats.numBlockRows * stats.numLayouts;
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(`\nLongview layout benchmark — ${new Date().toISOString().slice(0, 10)}, ${os.availableParallelism()} cores (${cpu}), Node ${process.version}`);
  console.log(`repository: ${dir}: ${sources.length} files, ${(textBytes / 1e6).toFixed(1)} MB`);
  console.log(`layout: ${ls.tokens} tokens (${ls.padTokens} padding) in ${ls.blocks} blocks of ${blockSize}; map ${ls.mapTokens} tokens = ${ls.anchorBlocks} anchor blocks, ${ls.definitionsAnchored} definitions anchored (${ls.definitionsOmitted} left out); ${ls.omittedFiles.length} files left out`);
  console.log(`patterns: ${numHeads} heads, ${stats.numLayouts} distinct layouts, budget ${budget} blocks/row\n`);
  console.log("| measure | value |");
  console.log("|---|---|");
  console.log(`| tokenize all files (cached by content hash afterwards) | ${tokenizeMs.toFixed(0)} ms (${((textBytes / 1e6) / (tokenizeMs / 1000)).toFixed(1)} MB/s) |`);
  console.log(`| layout (map, order, slots, location maps) | ${layoutMs.toFixed(0)} ms |`);
  console.log(`| sparse patterns → CSR (${numHeads} heads) | ${csrMs.toFixed(0)} ms |`);
  console.log(`| layout + CSR | ${(layoutMs + csrMs).toFixed(0)} ms |`);
  console.log(`| one-file edit: layout update (file + map) | ${(t3 - t2).toFixed(1)} ms |`);
  console.log(`| one-file edit: pattern rows rebuilt (${rebuiltRows} rows, ${update.edits.length} edits) | ${(t4 - t3).toFixed(1)} ms |`);
  console.log(`| one-file edit total | ${(t4 - t2).toFixed(1)} ms |`);
  console.log(`| density, causal triangle | ${(100 * stats.overall.density).toFixed(3)}% |`);
  console.log(`| density, full square (FlexAttention's measure) | ${((100 * stats.overall.keptBlocks) / full).toFixed(3)}% |`);
  console.log(`| blocks per row min/mean/max | ${stats.overall.rowBlocks.min}/${stats.overall.rowBlocks.mean.toFixed(1)}/${stats.overall.rowBlocks.max} |`);
  console.log(`| rows that cannot reach every earlier anchor block through some head (one hop) | ${stats.overall.rowsMissingAnchorsInAnyHead} of ${stats.numBlockRows} |`);
  if (values.png) {
    fs.writeFileSync(values.png, renderMaskPng(patterns.layout, 0, { anchorBlocks: facts.anchorBlocks, segmentStart: facts.segmentStart }));
    console.log(`\nmask picture: ${values.png}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
