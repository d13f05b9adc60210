/**
 * `longview layout <dir>`: lay the repository out as one sequence, build the sparse patterns, print what it
 * costs (tokens, blocks, kept blocks, density per pattern, per-row budget, anchor reach) and write a PNG of
 * the block mask of each distinct head layout.
 */
import fs from "node:fs";
import path from "node:path";
import { ANCHOR_TIER, RepoLayout } from "../layout/repo-layout";
import { readLayoutSources } from "../layout/sources";
import { buildPatterns, longviewHeadSpecs, patternStats, renderMaskPng } from "../patterns";
import { CodeTokenizer } from "../tokenizer";
import { type CommonOptions, openIndex } from "./commands";

export interface LayoutCommandOptions extends CommonOptions {
  blockSize: number;
  heads: number;
  budget: number;
  maxTokens: number;
  png?: string;
}

function ms(t0: number): string {
  return `${(performance.now() - t0).toFixed(0)} ms`;
}

export async function commandLayout(dir: string | undefined, opts: LayoutCommandOptions): Promise<number> {
  if (!dir) throw new Error("usage: longview layout <dir>");
  const t0 = performance.now();
  const indexer = await openIndex([dir], opts);
  await indexer.build();
  await indexer.dispose();
  const tIndex = ms(t0);

  const t1 = performance.now();
  const tokenizer = CodeTokenizer.load();
  const sources = readLayoutSources(indexer.index, indexer.roots);
  const tRead = ms(t1);
  const t2 = performance.now();
  const layout = RepoLayout.build(sources, tokenizer, { blockSize: opts.blockSize, maxTokens: opts.maxTokens });
  const tLayout = ms(t2);
  const t3 = performance.now();
  const facts = layout.blockFacts(opts.heads);
  const heads = longviewHeadSpecs({ numHeads: opts.heads, budget: opts.budget, anchorGroups: opts.heads, firstAnchorTier: ANCHOR_TIER });
  const patterns = buildPatterns(facts, heads);
  const tCsr = ms(t3);
  const stats = patternStats(patterns);
  const ls = layout.stats();

  const out: Record<string, unknown> = { layout: ls, patterns: stats, timings: { index: tIndex, read: tRead, layout: tLayout, csr: tCsr } };
  const pngBase = opts.png ?? path.join(process.cwd(), "longview-layout.png");
  const written: string[] = [];
  for (let l = 0; l < patterns.layout.numLayouts; l++) {
    const file = patterns.layout.numLayouts === 1 ? pngBase : pngBase.replace(/\.png$/, `-head${l}.png`);
    fs.writeFileSync(file, renderMaskPng(patterns.layout, l, { anchorBlocks: facts.anchorBlocks, segmentStart: facts.segmentStart }));
    written.push(file);
  }
  out.png = written;
  if (opts.json) {
    console.log(JSON.stringify(out, null, 1));
    return 0;
  }
  const pct = (x: number) => `${(100 * x).toFixed(3)}%`;
  console.log(`${ls.files} files → ${ls.tokens} tokens (${ls.usedTokens} used, ${ls.padTokens} padding) in ${ls.blocks} blocks of ${opts.blockSize}`);
  console.log(`repository map: ${ls.mapTokens} tokens, ${ls.anchorBlocks} anchor blocks, ${ls.definitionsAnchored} definitions anchored, ${ls.definitionsOmitted} left out`);
  const byReason = (r: string) => ls.omittedFiles.filter((f) => f.reason === r);
  if (byReason("budget").length) console.log(`left out over the ${opts.maxTokens}-token budget: ${byReason("budget").length} files`);
  if (byReason("data").length) console.log(`left out as lock/data files: ${byReason("data").map((f) => f.path).slice(0, 5).join(", ")}${byReason("data").length > 5 ? " …" : ""}`);
  console.log(`timings: index ${tIndex}, read ${tRead}, tokenize+layout ${tLayout}, patterns (CSR) ${tCsr}`);
  const full = stats.numBlockRows * stats.numBlockRows;
  console.log(`\n| layout (heads) | kept blocks | density (causal) | density (full square) | blocks/row min/mean/max | rows missing anchors of other heads' groups |`);
  console.log(`|---|---|---|---|---|---|`);
  for (const l of stats.layouts) {
    const headsOf = Array.from({ length: opts.heads }, (_, h) => h).filter((h) => h % stats.numLayouts === l.layoutIndex);
    console.log(
      `| ${l.layoutIndex} (${headsOf.join(",")}) | ${l.keptBlocks} | ${pct(l.density)} | ${pct(l.keptBlocks / full)} | ` +
        `${l.rowBlocks.min}/${l.rowBlocks.mean.toFixed(1)}/${l.rowBlocks.max} | ${l.anchorCoverage.rowsMissingAnchors} |`,
    );
  }
  console.log(`\nper pattern (layout 0): ${stats.layouts[0].perPrimitive.map((p) => `${p.kind} ${pct(p.density)}`).join(", ")}`);
  console.log(`overall density ${pct(stats.overall.density)} of causal, ${pct(stats.overall.keptBlocks / (full * stats.numLayouts))} of the full square`);
  console.log(`rows that cannot reach every earlier anchor through some head: ${stats.overall.rowsMissingAnchorsInAnyHead} of ${stats.numBlockRows}`);
  console.log(`mask pictures: ${written.join(", ")}`);
  return 0;
}
