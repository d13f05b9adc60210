/**
 * Sparse pattern library benchmark: CSR build time and density at 64k, 256k and 1M tokens (block 64), and
 * the time of an incremental update after a one-file edit (same block count, and a file that grows by a
 * block). Synthetic repository facts: files of varied length, a repository-map prefix, definition and import
 * anchors. Prints a table; pass --png <dir> to also write mask pictures of the 64k layouts.
 *
 * usage: node dist/bench/bench-patterns.js [--reps 5] [--png <dir>] [--quick]
 *
 * Times are wall-clock medians; "cpu" is the process CPU time of the same runs (less sensitive to other
 * processes on a shared machine). An edit's time includes re-validating the facts and patching the CSR.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Rng } from "../kernels/testing/random";
import { type BlockEdit, type BlockFacts, SparsePatterns, longviewHeadSpecs, patternStats, renderMaskPng } from "../model-runtime/src/patterns";

const args = process.argv.slice(2);
const argValue = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const REPS = Number(argValue("--reps") ?? 5);
const PNG_DIR = argValue("--png");
const QUICK = args.includes("--quick");
const BLOCK = 64;
const REPO_MAP_BLOCKS = 16;

interface SyntheticRepo {
  facts: BlockFacts;
  /** First block of each file, plus the end. */
  fileStarts: number[];
}

/**
 * Files of 1–200 blocks (log-uniform, ~30 on average), after a repository-map prefix. Anchors: the map
 * (tier 3), each file's first block (imports, tier 1) and ~13% of other blocks (definitions, tier 2), which
 * gives ~3,000 anchor blocks at 1M tokens.
 */
function syntheticRepo(rng: Rng, tokens: number): SyntheticRepo {
  const numBlocks = Math.ceil(tokens / BLOCK);
  const segmentStart = new Int32Array(numBlocks);
  const fileStarts: number[] = [0];
  let b = REPO_MAP_BLOCKS;
  fileStarts.push(b);
  while (b < numBlocks) {
    const len = Math.min(numBlocks - b, Math.round(Math.exp(rng.next() * Math.log(200))));
    for (let i = 0; i < len; i++) segmentStart[b + i] = b;
    b += len;
    if (b < numBlocks) fileStarts.push(b);
  }
  fileStarts.push(numBlocks);
  const anchors = anchorsFor(rng, numBlocks, fileStarts, 0, numBlocks);
  return { facts: { numBlocks, blockSize: BLOCK, anchorBlocks: anchors.blocks, anchorTier: anchors.tier, segmentStart, sinkBlocks: 1 }, fileStarts };
}

function anchorsFor(rng: Rng, numBlocks: number, fileStarts: number[], from: number, to: number): { blocks: Int32Array; tier: Uint8Array } {
  const starts = new Set(fileStarts);
  const blocks: number[] = [];
  const tier: number[] = [];
  for (let b = from; b < to; b++) {
    if (b < REPO_MAP_BLOCKS) {
      blocks.push(b);
      tier.push(3);
    } else if (starts.has(b)) {
      blocks.push(b);
      tier.push(1);
    } else if (rng.next() < 0.13) {
      blocks.push(b);
      tier.push(2);
    }
  }
  void numBlocks;
  return { blocks: Int32Array.from(blocks), tier: Uint8Array.from(tier) };
}

/** New facts after file `f` is re-parsed: its definition anchors are redrawn, and it grows by `grow` blocks. */
function editFile(rng: Rng, repo: SyntheticRepo, f: number, grow: number): { repo: SyntheticRepo; edit: BlockEdit } {
  const { facts, fileStarts } = repo;
  const start = fileStarts[f];
  const oldEnd = fileStarts[f + 1];
  const newEnd = oldEnd + grow;
  const n2 = facts.numBlocks + grow;
  const newStarts = fileStarts.map((s, i) => (i > f ? s + grow : s));
  const segmentStart = new Int32Array(n2);
  segmentStart.set(facts.segmentStart!.subarray(0, start));
  for (let b = start; b < newEnd; b++) segmentStart[b] = start;
  for (let b = newEnd; b < n2; b++) segmentStart[b] = facts.segmentStart![b - grow] + grow;
  const inside = anchorsFor(rng, n2, newStarts, start, newEnd);
  const blocks: number[] = [];
  const tier: number[] = [];
  const tiers = facts.anchorTier!;
  facts.anchorBlocks.forEach((a, i) => {
    if (a < start) {
      blocks.push(a);
      tier.push(tiers[i]);
    }
  });
  inside.blocks.forEach((a, i) => {
    blocks.push(a);
    tier.push(inside.tier[i]);
  });
  facts.anchorBlocks.forEach((a, i) => {
    if (a >= oldEnd) {
      blocks.push(a + grow);
      tier.push(tiers[i]);
    }
  });
  return {
    repo: { facts: { ...facts, numBlocks: n2, anchorBlocks: Int32Array.from(blocks), anchorTier: Uint8Array.from(tier), segmentStart }, fileStarts: newStarts },
    edit: { start, oldEnd, newEnd },
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed<T>(f: () => T): { value: T; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { value, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

interface Row {
  tokens: string;
  heads: string;
  budget: number;
  blocks: number;
  anchors: number;
  layouts: string;
  buildMs: string;
  density: string;
  rowBlocks: string;
  atBudget: string;
  anchorCover: string;
  editSameMs: string;
  editSameRows: string;
  editGrowMs: string;
  editGrowRows: string;
}

const rng = new Rng(20261123);
const loadBefore = os.loadavg()[0];
const sizes = QUICK ? [65536] : [65536, 262144, 1048576];
const configs = [
  { heads: 8, budget: 64 },
  { heads: 8, budget: 128 },
  { heads: 2, budget: 128 },
];
const rows: Row[] = [];
for (const tokens of sizes) {
  const repo = syntheticRepo(rng, tokens);
  for (const cfg of configs) {
    const specs = longviewHeadSpecs({ numHeads: cfg.heads, budget: cfg.budget });
    const builds = Array.from({ length: REPS }, () => timed(() => SparsePatterns.build(repo.facts, specs)));
    const sp = builds[builds.length - 1].value;
    const st = patternStats(sp);
    if (PNG_DIR && tokens === sizes[0]) {
      fs.mkdirSync(PNG_DIR, { recursive: true });
      for (let l = 0; l < Math.min(2, sp.layout.numLayouts); l++) {
        const file = path.join(PNG_DIR, `patterns-${tokens}-h${cfg.heads}-b${cfg.budget}-layout${l}.png`);
        fs.writeFileSync(file, renderMaskPng(sp.layout, l, { anchorBlocks: repo.facts.anchorBlocks, segmentStart: repo.facts.segmentStart }));
      }
    }
    // One-file edits at random files (the middle half of the sequence), each applied to the current state.
    const same: { ms: number; rows: number }[] = [];
    const grow: { ms: number; rows: number }[] = [];
    let current = repo;
    for (let i = 0; i < REPS * 2; i++) {
      const nFiles = current.fileStarts.length - 1;
      const f = rng.int(Math.floor(nFiles / 4), Math.floor((3 * nFiles) / 4));
      const g = i % 2 === 0 ? 0 : 1;
      const next = editFile(rng, current, f, g);
      const t = timed(() => sp.update(next.repo.facts, next.edit));
      (g === 0 ? same : grow).push({ ms: t.wallMs, rows: t.value.rebuiltRows.reduce((a, b) => a + b, 0) });
      current = next.repo;
    }
    const fmt = (xs: number[]): string => median(xs).toFixed(1);
    rows.push({
      tokens: `${tokens / 1024}k`,
      heads: `${cfg.heads}`,
      budget: cfg.budget,
      blocks: repo.facts.numBlocks,
      anchors: repo.facts.anchorBlocks.length,
      layouts: `${sp.distinctSpecs.length}/${sp.layout.numLayouts}`,
      buildMs: `${fmt(builds.map((b) => b.wallMs))} (cpu ${fmt(builds.map((b) => b.cpuMs))})`,
      density: `${(st.overall.density * 100).toFixed(3)}%`,
      rowBlocks: `${st.overall.rowBlocks.min}/${st.overall.rowBlocks.mean.toFixed(1)}/${st.overall.rowBlocks.max}`,
      atBudget: `${((100 * st.layouts.reduce((s, l) => s + l.rowsAtBudget, 0)) / (st.numLayouts * st.numBlockRows)).toFixed(0)}%`,
      anchorCover: `${Math.min(...st.layouts.map((l) => l.anchorCoverage.minFraction)).toFixed(3)}`,
      editSameMs: fmt(same.map((e) => e.ms)),
      editSameRows: `${Math.round(median(same.map((e) => e.rows)))}`,
      editGrowMs: fmt(grow.map((e) => e.ms)),
      editGrowRows: `${Math.round(median(grow.map((e) => e.rows)))}`,
    });
  }
}

/** ns per element of a plain Int32Array sum: tells how loaded the machine was while the table ran. */
function calibrate(): number {
  const a = new Int32Array(1 << 20).map((_, i) => i & 1023);
  let best = Infinity;
  let sink = 0;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let k = 0; k < 20; k++) for (let i = 0; i < a.length; i++) sink += a[i];
    best = Math.min(best, ((performance.now() - t0) * 1e6) / (20 * a.length));
  }
  if (sink === 42) console.log("");
  return best;
}

const cpus = os.cpus();
console.log(`machine: ${cpus.length} logical CPUs (nproc), ${cpus[0]?.model ?? "unknown CPU"}, Node ${process.version}, ${os.platform()} ${os.arch()}`);
console.log(`load average (1 min): ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after; calibration ${calibrate().toFixed(2)} ns per element of a plain Int32Array sum; ${REPS} repetitions, medians`);
console.log("");
const header = [
  "tokens", "heads", "budget", "blocks", "anchors", "distinct/layouts", "build ms", "density", "row min/mean/max", "rows at budget",
  "min anchor coverage", "edit (same blocks) ms", "rows rebuilt", "edit (+1 block) ms", "rows rebuilt",
];
const table = rows.map((r) => [r.tokens, r.heads, r.budget, r.blocks, r.anchors, r.layouts, r.buildMs, r.density, r.rowBlocks, r.atBudget, r.anchorCover, r.editSameMs, r.editSameRows, r.editGrowMs, r.editGrowRows].map(String));
console.log(`| ${header.join(" | ")} |`);
console.log(`|${header.map(() => "---").join("|")}|`);
for (const t of table) console.log(`| ${t.join(" | ")} |`);
