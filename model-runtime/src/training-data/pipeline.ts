/**
 * `npm run data:build`: repository units → training shards + manifest.
 *
 * 1. Split the units into train / eval by hash (split.ts); write the eval list.
 * 2. Hash every file of the eval units, so no training sample contains a file that is also in an eval repository.
 * 3. For each training unit: index it (the product's Indexer), drop files already used by an earlier unit (exact
 *    duplicates), then draw samples: a length, a file subset of that size (file-subset.ts), a context with doc
 *    comments removed and question turns appended (sample.ts); write them to shards (shard-format.ts).
 * 4. Write manifest.json (repos, licences, counts, token totals, bytes per million tokens), the head-spec parameters
 *    the trainer rebuilds the attention pattern with, and reference CSR layouts of a few samples to check a port of
 *    the pattern builder against.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { hashBytes } from "../index/process-file";
import { DEFAULT_EXCLUDES } from "../index/types";
import { ANCHOR_TIER } from "../layout/repo-layout";
import { EncodingCache } from "../layout/tokens";
import { SourceParser } from "../parse/extract";
import { buildPatterns, longviewHeadSpecs } from "../patterns";
import type { HeadPatternSpec } from "../patterns/types";
import { CodeTokenizer, defaultTokenizerPath } from "../tokenizer";
import { walkRoot } from "../workspace/walker";
import type { RepoUnit } from "./corpus-units";
import { SubsetPicker } from "./file-subset";
import { indexUnit, rootNameOf } from "./repo-files";
import { type Sample, type SampleOptions, blockFactsOf, buildSample } from "./sample";
import { ShardWriter, encodeSample } from "./shard-format";
import { DEFAULT_EVAL_FRACTION, SPLIT_SALT, splitOf } from "./split";
import { LOSS_CLASS_NAMES, type QaTask, QA_TASKS } from "./tasks";

export const DATA_FORMAT = "longview-training-data";
export const DATA_FORMAT_VERSION = 1;

export interface PatternParams {
  numHeads: number;
  budget: number;
  anchorGroups: number;
  firstAnchorTier: number;
}

export const DEFAULT_PATTERN_PARAMS: PatternParams = { numHeads: 8, budget: 128, anchorGroups: 8, firstAnchorTier: ANCHOR_TIER };

export function headSpecsOf(p: PatternParams): HeadPatternSpec[] {
  return longviewHeadSpecs({ numHeads: p.numHeads, budget: p.budget, anchorGroups: p.anchorGroups, firstAnchorTier: p.firstAnchorTier });
}

export interface BuildOptions {
  outDir: string;
  units: RepoUnit[];
  /** Sample lengths (tokens) and how often each is drawn. */
  lengths: number[];
  lengthWeights?: number[];
  blockSize?: number;
  evalFraction?: number;
  /** Passes over each unit's tokens (samples per unit ≈ coverage × unit tokens / sample length). */
  coverage?: number;
  maxSamplesPerUnit?: number;
  /** Stop once this many sample tokens are written (0: no limit). */
  targetTokens?: number;
  /** Start a new shard past this many bytes. */
  shardBytes?: number;
  seed?: number;
  threads?: number;
  pattern?: PatternParams;
  /** Reference CSR layouts written for this many (short) samples. */
  referenceSamples?: number;
  /** Questions per task for an 8k sample (scaled up with length). */
  turnsAt8k?: Partial<Record<QaTask, number>>;
  /** Share of where-defined questions about a name with a sibling in the context (QuestionMakerOptions). */
  siblingShare?: number;
  indexStoreDir?: string;
  log?: (message: string) => void;
}

export interface UnitReport {
  id: string;
  licence: string;
  origin: string;
  version?: string;
  split: "train" | "eval";
  files?: number;
  duplicateFiles?: number;
  estTokens?: number;
  samples?: number;
  tokens?: number;
  skipped?: string;
}

export interface BuildTotals {
  samples: number;
  tokens: number;
  tokensByLossClass: Record<string, number>;
  turnsByTask: Record<string, number>;
  samplesByLength: Record<string, number>;
  shardBytes: number;
  bytesPerMillionTokens: number;
  docsRemoved: number;
  docsRejected: number;
  turnsDropped: number;
  millis: number;
}

const DEFAULT_TURNS: Record<QaTask, number> = { whereDefined: 2, whatCalls: 2, whoUses: 2, needle: 3, explain: 2 };

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed per unit, from the run's seed and the unit's id: a unit's samples do not depend on the others. */
export function unitSeed(seed: number, id: string): number {
  return crypto.createHash("sha256").update(`${seed}\u0000${id}`).digest().readUInt32LE(0);
}

function turnsFor(length: number, at8k: Record<QaTask, number>): Record<QaTask, number> {
  const scale = Math.sqrt(Math.max(1, length / 8192));
  return Object.fromEntries(QA_TASKS.map((t) => [t, Math.round(at8k[t] * scale)])) as Record<QaTask, number>;
}

/** The held-out units as JSON (`npm run eval -- --eval-list FILE` reads it back): everything needed to index them again. */
export function evalListJson(units: readonly RepoUnit[], evalFraction = DEFAULT_EVAL_FRACTION): string {
  const repos = units.filter((u) => splitOf(u.id, evalFraction) === "eval");
  return `${JSON.stringify({ salt: SPLIT_SALT, evalFraction, repos }, null, 1)}\n`;
}

/** Hashes of every file of the units (the same walk the indexer does): files that must not be trained on. */
export async function fileHashes(units: RepoUnit[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const u of units) {
    const walked = await walkRoot({ name: rootNameOf(u), path: u.path }, { exclude: [...DEFAULT_EXCLUDES, ...(u.exclude ?? []), ...(u.only ? ["*/**"] : [])], include: u.only ?? [], useGitignore: true });
    for (const f of walked.files) {
      try {
        out.add(hashBytes(fs.readFileSync(f.absPath)));
      } catch {
        // Unreadable now: it cannot leak into training either.
      }
    }
  }
  return out;
}

function sampleTokensByClass(sample: Sample, into: Record<string, number>): void {
  for (const s of sample.spans) {
    const name = LOSS_CLASS_NAMES[s.lossClass];
    into[name] = (into[name] ?? 0) + (s.end - s.start);
  }
  let covered = 0;
  for (const s of sample.spans) covered += s.end - s.start;
  into.none = (into.none ?? 0) + sample.ids.length - covered;
}

export async function buildTrainingData(opts: BuildOptions): Promise<{ totals: BuildTotals; units: UnitReport[]; manifestPath: string }> {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const B = opts.blockSize ?? 64;
  const evalFraction = opts.evalFraction ?? DEFAULT_EVAL_FRACTION;
  const seed = opts.seed ?? 1;
  const pattern = opts.pattern ?? DEFAULT_PATTERN_PARAMS;
  const heads = headSpecsOf(pattern);
  const weights = opts.lengthWeights ?? opts.lengths.map(() => 1);
  const shardBytes = opts.shardBytes ?? 32 * 1024 * 1024;
  const at8k = { ...DEFAULT_TURNS, ...opts.turnsAt8k };
  fs.mkdirSync(opts.outDir, { recursive: true });

  const units: UnitReport[] = opts.units.map((u) => ({ id: u.id, licence: u.licence, origin: u.origin, version: u.version, split: splitOf(u.id, evalFraction) }));
  const evalUnits = opts.units.filter((_, i) => units[i].split === "eval");
  const trainUnits = opts.units.filter((_, i) => units[i].split === "train");
  fs.writeFileSync(path.join(opts.outDir, "eval-repos.json"), evalListJson(opts.units, evalFraction));
  log(`${opts.units.length} units: ${trainUnits.length} train, ${evalUnits.length} held out for evaluation`);
  const evalHashes = await fileHashes(evalUnits);
  log(`${evalHashes.size} files of held-out units kept out of training`);

  const tokenizerPath = defaultTokenizerPath();
  const tokenizer = CodeTokenizer.load(tokenizerPath);
  const tools = { tokenizer, cache: new EncodingCache(4_000_000), parser: new SourceParser() };
  const writer = new ShardWriter();
  const shards: Array<{ file: string; samples: number; tokens: number; bytes: number; sha256: string }> = [];
  const totals: BuildTotals = {
    samples: 0,
    tokens: 0,
    tokensByLossClass: {},
    turnsByTask: {},
    samplesByLength: {},
    shardBytes: 0,
    bytesPerMillionTokens: 0,
    docsRemoved: 0,
    docsRejected: 0,
    turnsDropped: 0,
    millis: 0,
  };
  const repoIndex = new Map(opts.units.map((u, i) => [u.id, i]));
  const shardHeader = { format: DATA_FORMAT, version: DATA_FORMAT_VERSION, blockSize: B, vocabSize: tokenizer.vocabSize, lossClasses: LOSS_CLASS_NAMES };
  let shardTokens = 0;
  const flush = () => {
    if (writer.count === 0) return;
    const file = `shard-${String(shards.length).padStart(5, "0")}.lvds`;
    const full = path.join(opts.outDir, file);
    const count = writer.count;
    const bytes = writer.write(full, shardHeader);
    const sha256 = crypto.createHash("sha256").update(fs.readFileSync(full)).digest("hex");
    shards.push({ file, samples: count, tokens: shardTokens, bytes, sha256 });
    totals.shardBytes += bytes;
    shardTokens = 0;
    log(`wrote ${file}: ${count} samples, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  };
  const references: Array<{ shard: string; index: number; numBlocks: number; rowPtr: number[][]; colIdx: number[][] }> = [];
  const seen = new Set<string>();

  for (const unit of trainUnits) {
    if (opts.targetTokens && totals.tokens >= opts.targetTokens) break;
    const report = units[repoIndex.get(unit.id)!];
    let repo;
    try {
      repo = await indexUnit(unit, { threads: opts.threads ?? 1, storeDir: opts.indexStoreDir ? path.join(opts.indexStoreDir, rootNameOf(unit)) : undefined });
    } catch (e) {
      report.skipped = `index failed: ${(e as Error).message}`;
      continue;
    }
    const before = repo.records.length;
    repo.records = repo.records.filter((r) => !evalHashes.has(r.hash) && !seen.has(r.hash));
    for (const r of repo.records) seen.add(r.hash);
    report.files = repo.records.length;
    report.duplicateFiles = before - repo.records.length;
    const defs = repo.records.reduce((a, r) => a + r.definitions.length, 0);
    if (defs < 5) {
      report.skipped = `${defs} definitions`;
      continue;
    }
    const picker = new SubsetPicker(repo.records);
    report.estTokens = picker.totalTokens;
    const rand = mulberry32(unitSeed(seed, unit.id));
    const meanLength = opts.lengths.reduce((a, l, i) => a + l * weights[i], 0) / weights.reduce((a, w) => a + w, 0);
    // A repository smaller than a sample gives `coverage` samples (different docs removed, different questions).
    // Files too big for the longest sample never appear, so they do not count.
    const usable = picker.fittingTokens(Math.max(...opts.lengths) * 0.9);
    if (usable < 256) {
      report.skipped = `no file fits a ${Math.max(...opts.lengths)}-token sample`;
      continue;
    }
    const perSample = Math.min(meanLength * 0.8, usable);
    const wanted = Math.max(1, Math.min(opts.maxSamplesPerUnit ?? 200, Math.round(((opts.coverage ?? 1) * usable) / perSample)));
    report.samples = 0;
    report.tokens = 0;
    let lengthSum = 0;
    for (let s = 0; s < wanted; s++) {
      // Lengths the unit cannot fill are not drawn (a small repository gives short samples).
      const fits = opts.lengths.map((l, i) => (l <= Math.max(opts.lengths[0], usable * 2) ? weights[i] : 0));
      let r = rand() * fits.reduce((a, w) => a + w, 0);
      let li = 0;
      while (li < fits.length - 1 && (r -= fits[li]) >= 0) li++;
      const length = opts.lengths[li];
      const turns = turnsFor(length, at8k);
      const qaReserve = Math.min(length / 4, QA_TASKS.reduce((a, t) => a + turns[t], 0) * 2 * B);
      const sampleOpts: SampleOptions = { blockSize: B, maxTokens: length, qaReserve, anchorGroups: pattern.anchorGroups, turns, siblingShare: opts.siblingShare };
      const subset = picker.pick(length - qaReserve, rand);
      let built;
      try {
        built = await buildSample(repo, subset, sampleOpts, tools, rand);
      } catch (e) {
        log(`${unit.id}: sample failed: ${(e as Error).stack}`);
        continue;
      }
      const { sample, stats, ctx } = built;
      const encoded = encodeSample(sample, repoIndex.get(unit.id)!);
      writer.add(encoded);
      // Reference layouts: short samples, and one long enough (> 2 × budget blocks) that rows run out of budget.
      const refWanted = opts.referenceSamples ?? 3;
      const nb = sample.facts.numBlocks;
      const longDone = references.some((r) => r.numBlocks > 2 * pattern.budget);
      const wantRef = sample.turns.length > 0 && references.length < refWanted && (references.length < refWanted - 1 ? nb <= 160 || (!longDone && nb > 2 * pattern.budget && nb <= 640) : !longDone ? nb > 2 * pattern.budget && nb <= 640 : nb <= 160);
      if (wantRef) {
        const csr = buildPatterns(blockFactsOf(sample.facts), heads).layout;
        const R = csr.numBlockRows;
        references.push({
          shard: `shard-${String(shards.length).padStart(5, "0")}.lvds`,
          index: writer.count - 1,
          numBlocks: R,
          rowPtr: Array.from({ length: csr.numLayouts }, (_, l) => Array.from(csr.rowPtr.subarray(l * (R + 1), (l + 1) * (R + 1)))),
          colIdx: Array.from({ length: csr.numLayouts }, (_, l) => Array.from(csr.colIdx.subarray(l * csr.maxNnz, l * csr.maxNnz + csr.rowPtr[l * (R + 1) + R]))),
        });
      }
      totals.samples++;
      totals.tokens += sample.ids.length;
      shardTokens += sample.ids.length;
      report.samples++;
      report.tokens += sample.ids.length;
      totals.samplesByLength[length] = (totals.samplesByLength[length] ?? 0) + 1;
      lengthSum += length;
      sampleTokensByClass(sample, totals.tokensByLossClass);
      for (const t of sample.turns) totals.turnsByTask[t.task] = (totals.turnsByTask[t.task] ?? 0) + 1;
      totals.docsRemoved += ctx.removed.length;
      totals.docsRejected += stats.rejectedDocs;
      totals.turnsDropped += stats.turnsDropped;
      if (writer.size >= shardBytes) flush();
    }
    log(`${unit.id}: ${report.files} files (${report.duplicateFiles} duplicates dropped), ~${report.estTokens} tokens → ${report.samples} samples, ${report.tokens} tokens (${((100 * report.tokens) / Math.max(1, lengthSum)).toFixed(0)}% of their lengths)`);
  }
  flush();
  totals.bytesPerMillionTokens = totals.tokens ? Math.round((totals.shardBytes / totals.tokens) * 1e6) : 0;
  totals.millis = performance.now() - t0;

  fs.writeFileSync(
    path.join(opts.outDir, "reference-csr.json"),
    `${JSON.stringify({ note: "CSR layouts built by model-runtime/src/patterns for the named samples; a port must reproduce them exactly", pattern, headSpecs: heads, samples: references })}\n`,
  );
  const manifest = {
    format: DATA_FORMAT,
    version: DATA_FORMAT_VERSION,
    created: new Date().toISOString(),
    seed,
    blockSize: B,
    lengths: opts.lengths,
    lengthWeights: weights,
    tokenizer: {
      file: path.relative(process.cwd(), tokenizerPath),
      sha256: crypto.createHash("sha256").update(fs.readFileSync(tokenizerPath)).digest("hex"),
      vocabSize: tokenizer.vocabSize,
    },
    lossClasses: LOSS_CLASS_NAMES,
    pattern: { ...pattern, headSpecs: heads },
    split: { salt: SPLIT_SALT, evalFraction, evalRepos: evalUnits.map((u) => u.id) },
    totals,
    shards,
    repos: units,
  };
  const manifestPath = path.join(opts.outDir, "manifest.json");
  fs.writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 1)}\n`);
  return { totals, units, manifestPath };
}
