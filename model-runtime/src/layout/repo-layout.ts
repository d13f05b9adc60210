/**
 * The whole repository as ONE token sequence, in blocks of `blockSize` tokens:
 *
 *   [repository map] [file A: header+anchors | body] [file B: …] … (question/answer region appended later)
 *
 * Every segment starts on a block boundary and owns whole blocks ("slots"), padded with <|pad|>. That costs
 * half a block per file on average and buys cheap, local updates: an edited file that still fits its slot is
 * rewritten in place, so no other file's tokens move (their positions, and so their KV cache, stay valid); one
 * that outgrows its slot moves to the end, leaving a hole of padding until the next full build.
 *
 * Files are placed in dependency order (imports first). If the repository exceeds `maxTokens`, the files
 * least imported by others are left out, and reported.
 */
import type { BlockFacts } from "../patterns/types";
import type { Definition, FileRecord } from "../index/types";
import { fileKey } from "../index/workspace-index";
import { type FileSegmentContent, type SegmentBuildContext, buildFileSegment, locateInFile } from "./file-segment";
import { QuestionReads, type ReadSegment, type ReadSource } from "./question-reads";
import { buildImportGraph, dependencyOrder } from "./import-graph";
import { type RepoMapContent, buildRepoMap } from "./repo-map";
import { EncodingCache, type LayoutTokenizer, PieceEncoder, specialIds } from "./tokens";

export interface LayoutOptions {
  blockSize: number;
  /** Most tokens of the repository region (map + files). */
  maxTokens: number;
  /** Token budget of the repository map (all definitions' anchors); default: 1/8 of maxTokens. */
  repoMapTokens: number;
  maxImportAnchors: number;
  /** Plain-text (non-code) files longer than this many tokens are data, not context: left out. */
  maxTextFileTokens: number;
}

/** Generated files that never help answer a question about the code. */
const LOCK_FILES = /(^|\/)(package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|Cargo\.lock|poetry\.lock|Pipfile\.lock|go\.sum|composer\.lock|Gemfile\.lock)$/;

export const DEFAULT_LAYOUT_OPTIONS: LayoutOptions = {
  blockSize: 64,
  maxTokens: 1 << 20,
  repoMapTokens: (1 << 20) / 8,
  maxImportAnchors: 16,
  maxTextFileTokens: 16_384,
};

export interface LayoutSource {
  record: FileRecord;
  text: string;
}

export type TokenLocation =
  | { kind: "body"; root: string; path: string; line: number; column: number }
  | { kind: "anchor"; root: string; path: string; line: number; column: number; definition: Definition }
  | { kind: "header"; root: string; path: string }
  | { kind: "map"; root?: string; path?: string; line?: number }
  | { kind: "pad" };

interface MapSegment {
  kind: "map";
  startBlock: number;
  capacityBlocks: number;
  content: RepoMapContent;
  /** files[] of the map content (tokenFile indexes into it). */
  files: FileRecord[];
}

interface FileSegment {
  kind: "file";
  startBlock: number;
  capacityBlocks: number;
  record: FileRecord;
  content: FileSegmentContent;
}

interface HoleSegment {
  kind: "hole";
  startBlock: number;
  capacityBlocks: number;
}

type Segment = MapSegment | FileSegment | HoleSegment;

/** A change of the block STRUCTURE (anchor set, segments, length), in the form the pattern library's incremental
 * update takes. Rewriting tokens inside unchanged blocks is not an edit: the patterns depend on structure only. */
export interface LayoutEdit {
  start: number;
  oldEnd: number;
  newEnd: number;
}

export interface LayoutUpdate {
  /** Structural edits for the pattern library (empty when only block contents changed). */
  edits: LayoutEdit[];
  /** Blocks whose tokens changed (their KV entries are stale). */
  changedBlocks: Array<[number, number]>;
  /** The map outgrew its slot or too much of the sequence is holes: the caller should rebuild from scratch. */
  needsRebuild: boolean;
  millis: number;
}

export interface LayoutStatsSummary {
  tokens: number;
  usedTokens: number;
  padTokens: number;
  blocks: number;
  anchorBlocks: number;
  mapTokens: number;
  definitionsAnchored: number;
  definitionsOmitted: number;
  files: number;
  /** Files not laid out: over the token budget, or lock/data files. */
  omittedFiles: Array<{ root: string; path: string; tokens: number; reason: "budget" | "data" }>;
  holeBlocks: number;
}

/** Tier of the repository map's anchor blocks (group 0); see blockFacts. */
export const ANCHOR_TIER = 2;

function firstDifference(a: Int32Array, b: Int32Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function blocksFor(tokens: number, B: number): number {
  return Math.max(1, Math.ceil(tokens / B));
}

export class RepoLayout {
  readonly blockSize: number;
  private tokens: Int32Array;
  private numBlocksUsed = 0;
  private segments: Segment[] = [];
  /** block → index in `segments`. */
  private blockSegment: Int32Array;
  private readonly fileSegments = new Map<string, FileSegment>();
  private readonly ctx: SegmentBuildContext;
  private readonly nameUses = new Map<string, number>();
  private omitted: LayoutStatsSummary["omittedFiles"] = [];

  private constructor(
    private readonly tokenizer: LayoutTokenizer,
    readonly options: LayoutOptions,
    cache: EncodingCache,
  ) {
    this.blockSize = options.blockSize;
    this.tokens = new Int32Array(0);
    this.blockSegment = new Int32Array(0);
    this.ctx = {
      tokenizer,
      pieces: new PieceEncoder(tokenizer),
      specials: specialIds(tokenizer),
      cache,
      maxImportAnchors: options.maxImportAnchors,
    };
  }

  static build(
    sources: LayoutSource[],
    tokenizer: LayoutTokenizer,
    options: Partial<LayoutOptions> = {},
    cache = new EncodingCache(),
  ): RepoLayout {
    const maxTokens = options.maxTokens ?? DEFAULT_LAYOUT_OPTIONS.maxTokens;
    const full = { ...DEFAULT_LAYOUT_OPTIONS, repoMapTokens: Math.floor(maxTokens / 8), ...options };
    const layout = new RepoLayout(tokenizer, full, cache);
    layout.buildAll(sources);
    return layout;
  }

  // ---------------------------------------------------------------- building

  private buildAll(sources: LayoutSource[]): void {
    const B = this.blockSize;
    const records = sources.map((s) => s.record);
    const graph = buildImportGraph(records);
    const order = dependencyOrder(records, graph);
    const contents = sources.map((s) => buildFileSegment(s.record, s.text, this.ctx));

    // Budget: keep the most-imported files (ties: layout order) within maxTokens, leaving room for the map.
    const mapBlocks = Math.ceil((blocksFor(this.options.repoMapTokens, B) + 1) * 1.25);
    let budgetBlocks = Math.floor(this.options.maxTokens / B) - mapBlocks;
    const rank = order.map((fileIndex, position) => ({ fileIndex, position }));
    rank.sort((a, b) => graph.inDegree[b.fileIndex] - graph.inDegree[a.fileIndex] || a.position - b.position);
    const included = new Set<number>();
    this.omitted = [];
    for (const { fileIndex } of rank) {
      const need = blocksFor(contents[fileIndex].ids.length, B);
      const wanted = this.wanted(records[fileIndex], contents[fileIndex]);
      if (wanted && need <= budgetBlocks) {
        included.add(fileIndex);
        budgetBlocks -= need;
      } else {
        const r = records[fileIndex];
        this.omitted.push({ root: r.root, path: r.path, tokens: contents[fileIndex].ids.length, reason: wanted ? "budget" : "data" });
      }
    }
    const placed = order.filter((i) => included.has(i));
    for (const i of placed) this.countNames(records[i], +1);

    // Map first (its slot has slack so small changes fit in place), then the files.
    const mapContent = this.mapContent(placed.map((i) => records[i]));
    const mapCapacity = blocksFor(Math.ceil(mapContent.ids.length * 1.25) + B, B);
    const totalBlocks = mapCapacity + placed.reduce((a, i) => a + blocksFor(contents[i].ids.length, B), 0);
    this.ensureCapacity(totalBlocks);
    this.segments = [];
    this.fileSegments.clear();
    this.numBlocksUsed = 0;
    this.appendSegment({ kind: "map", startBlock: 0, capacityBlocks: mapCapacity, content: mapContent, files: placed.map((i) => records[i]) });
    for (const i of placed) {
      const seg: FileSegment = {
        kind: "file",
        startBlock: this.numBlocksUsed,
        capacityBlocks: blocksFor(contents[i].ids.length, B),
        record: records[i],
        content: contents[i],
      };
      this.appendSegment(seg);
      this.fileSegments.set(fileKey(records[i].root, records[i].path), seg);
    }
  }

  /** Lock files and big data files (JSON dumps, CSVs …) are indexed but kept out of the model's context. */
  private wanted(record: FileRecord, content: FileSegmentContent): boolean {
    if (LOCK_FILES.test(record.path)) return false;
    return record.language !== "text" || content.ids.length <= this.options.maxTextFileTokens;
  }

  private mapContent(files: FileRecord[]): RepoMapContent {
    return buildRepoMap({ files, nameUses: this.nameUses, budgetTokens: this.options.repoMapTokens }, this.ctx.pieces, this.ctx.specials);
  }

  /** nameUses[name] = number of laid-out files that use `name`. */
  private countNames(record: FileRecord, sign: 1 | -1): void {
    for (const name in record.references) this.nameUses.set(name, (this.nameUses.get(name) ?? 0) + sign);
  }

  private ensureCapacity(blocks: number): void {
    if (blocks <= this.blockSegment.length) return;
    const cap = Math.max(blocks, Math.ceil(this.blockSegment.length * 1.5));
    const tokens = new Int32Array(cap * this.blockSize);
    tokens.set(this.tokens);
    this.tokens = tokens;
    const bs = new Int32Array(cap);
    bs.set(this.blockSegment);
    this.blockSegment = bs;
  }

  private appendSegment(seg: Segment): void {
    this.ensureCapacity(seg.startBlock + seg.capacityBlocks);
    const index = this.segments.length;
    this.segments.push(seg);
    this.blockSegment.fill(index, seg.startBlock, seg.startBlock + seg.capacityBlocks);
    this.writeSegment(seg);
    this.numBlocksUsed = Math.max(this.numBlocksUsed, seg.startBlock + seg.capacityBlocks);
  }

  private writeSegment(seg: Segment): void {
    const B = this.blockSize;
    const start = seg.startBlock * B;
    const end = start + seg.capacityBlocks * B;
    const ids = seg.kind === "hole" ? undefined : seg.content.ids;
    if (ids) this.tokens.set(ids, start);
    this.tokens.fill(this.ctx.specials.pad, start + (ids?.length ?? 0), end);
  }

  // ---------------------------------------------------------------- incremental update

  /**
   * Apply changed files (new or edited, with their text) and removed files. Only the touched slots and the map
   * are rewritten; everything else keeps its tokens and positions.
   */
  update(changed: LayoutSource[], removed: Array<{ root: string; path: string }>): LayoutUpdate {
    const t0 = performance.now();
    const B = this.blockSize;
    const edits: LayoutEdit[] = [];
    const changedBlocks: Array<[number, number]> = [];
    const free = (seg: FileSegment) => {
      this.countNames(seg.record, -1);
      this.fileSegments.delete(fileKey(seg.record.root, seg.record.path));
      const hole: HoleSegment = { kind: "hole", startBlock: seg.startBlock, capacityBlocks: seg.capacityBlocks };
      this.segments[this.blockSegment[seg.startBlock]] = hole;
      this.writeSegment(hole);
      changedBlocks.push([seg.startBlock, seg.startBlock + seg.capacityBlocks]);
    };
    for (const r of removed) {
      const seg = this.fileSegments.get(fileKey(r.root, r.path));
      if (seg) free(seg);
    }
    for (const { record, text } of changed) {
      const key = fileKey(record.root, record.path);
      const content = buildFileSegment(record, text, this.ctx);
      const need = blocksFor(content.ids.length, B);
      const old = this.fileSegments.get(key);
      if (!this.wanted(record, content)) {
        if (old) free(old);
        continue;
      }
      if (old && need <= old.capacityBlocks) {
        this.countNames(old.record, -1);
        old.record = record;
        old.content = content;
        this.countNames(record, +1);
        this.writeSegment(old);
        changedBlocks.push([old.startBlock, old.startBlock + old.capacityBlocks]);
        continue;
      }
      if (old) free(old);
      const start = this.numBlocksUsed;
      const seg: FileSegment = { kind: "file", startBlock: start, capacityBlocks: need, record, content };
      this.appendSegment(seg);
      this.fileSegments.set(key, seg);
      this.countNames(record, +1);
      edits.push({ start, oldEnd: start, newEnd: start + need });
      changedBlocks.push([start, start + need]);
    }

    // The map lists files in slot order; rewrite it in place if it still fits.
    const map = this.segments[0] as MapSegment;
    const files = this.segments.filter((s): s is FileSegment => s.kind === "file").map((s) => s.record);
    const content = this.mapContent(files);
    let needsRebuild = false;
    const newUsed = blocksFor(content.ids.length, B);
    if (newUsed <= map.capacityBlocks) {
      const oldUsed = blocksFor(map.content.ids.length, B);
      const firstChanged = firstDifference(map.content.ids, content.ids);
      map.content = content;
      map.files = files;
      this.writeSegment(map);
      // The anchor set is the map's used blocks: it changes only when that count does.
      if (newUsed !== oldUsed) edits.push({ start: Math.min(oldUsed, newUsed), oldEnd: Math.max(oldUsed, newUsed), newEnd: Math.max(oldUsed, newUsed) });
      if (firstChanged >= 0) changedBlocks.push([Math.floor(firstChanged / B), Math.max(oldUsed, newUsed)]);
    } else {
      needsRebuild = true;
    }
    const holes = this.segments.reduce((a, s) => a + (s.kind === "hole" ? s.capacityBlocks : 0), 0);
    if (holes > 0.25 * this.numBlocksUsed) needsRebuild = true;
    return { edits, changedBlocks, needsRebuild, millis: performance.now() - t0 };
  }

  // ---------------------------------------------------------------- reading

  get numBlocks(): number {
    return this.numBlocksUsed;
  }

  get numTokens(): number {
    return this.numBlocksUsed * this.blockSize;
  }

  /** The token ids of the repository region (a view: valid until the next update). */
  tokenIds(): Int32Array {
    return this.tokens.subarray(0, this.numTokens);
  }

  /** Where token `t` came from: a body token's exact (line, column), an anchor's definition, a map entry… */
  locate(t: number): TokenLocation {
    if (t < 0 || t >= this.numTokens) throw new RangeError(`token ${t} outside the layout (0..${this.numTokens - 1})`);
    const seg = this.segments[this.blockSegment[Math.floor(t / this.blockSize)]];
    const rel = t - seg.startBlock * this.blockSize;
    if (seg.kind === "hole") return { kind: "pad" };
    if (rel >= seg.content.ids.length) return { kind: "pad" };
    if (seg.kind === "map") {
      const f = seg.content.tokenFile[rel];
      if (f < 0) return { kind: "map" };
      const file = seg.files[f];
      const d = seg.content.tokenDef[rel];
      if (d < 0) return { kind: "map", root: file.root, path: file.path };
      const def = file.definitions[d];
      return { kind: "anchor", root: file.root, path: file.path, line: def.nameLine, column: def.nameColumn, definition: def };
    }
    return locateInFile(seg.content, rel, seg.record.root, seg.record.path);
  }

  /** The block holding a definition's anchor (its repository-map entry), or -1 if it has none. */
  anchorBlockOf(root: string, path: string, def: Pick<Definition, "name" | "nameLine">): number {
    const map = this.segments[0] as MapSegment;
    const f = map.files.findIndex((r) => r.root === root && r.path === path);
    if (f < 0) return -1;
    const d = map.files[f].definitions.findIndex((x) => x.name === def.name && x.nameLine === def.nameLine);
    const token = d < 0 ? -1 : map.content.defToken[f][d];
    return token < 0 ? -1 : map.startBlock + Math.floor(token / this.blockSize);
  }

  /** First token and token count of a file's segment, if laid out. */
  fileSpan(root: string, path: string): { start: number; length: number; headerLength: number } | undefined {
    const seg = this.fileSegments.get(fileKey(root, path));
    if (!seg) return undefined;
    return { start: seg.startBlock * this.blockSize, length: seg.content.ids.length, headerLength: seg.content.headerLength };
  }

  /** Files in slot order with their block ranges (for pictures and the "what it read" map). */
  fileBlocks(): Array<{ root: string; path: string; startBlock: number; endBlock: number; anchorEndBlock: number }> {
    return this.segments
      .filter((s): s is FileSegment => s.kind === "file")
      .map((s) => ({
        root: s.record.root,
        path: s.record.path,
        startBlock: s.startBlock,
        endBlock: s.startBlock + s.capacityBlocks,
        anchorEndBlock: s.startBlock + Math.ceil(s.content.headerLength / this.blockSize),
      }));
  }

  /**
   * Block-level facts for the pattern library: the GLOBAL anchor blocks are the repository map's (every
   * definition's entry; tier 3 — a file's own header is reached through its segment instead), each block's
   * segment start (so per-file patterns know where the file and its header begin), and the map's first block
   * as an attention sink. With `anchorGroups` > 1 the map blocks are dealt round-robin into that many groups,
   * group g getting tier ANCHOR_TIER + g, so heads can split the anchors between them
   * (longviewHeadSpecs' anchorGroups) and still reach all of them together.
   */
  blockFacts(anchorGroups = 1): BlockFacts {
    const B = this.blockSize;
    const map = this.segments[0] as MapSegment;
    const mapBlocks = blocksFor(map.content.ids.length, B);
    const segmentStart = new Int32Array(this.numBlocksUsed);
    for (const seg of this.segments) segmentStart.fill(seg.startBlock, seg.startBlock, seg.startBlock + seg.capacityBlocks);
    return {
      numBlocks: this.numBlocksUsed,
      blockSize: B,
      anchorBlocks: Int32Array.from({ length: mapBlocks }, (_, i) => map.startBlock + i),
      anchorTier: Uint8Array.from({ length: mapBlocks }, (_, i) => ANCHOR_TIER + (i % anchorGroups)),
      segmentStart,
      sinkBlocks: 1,
    };
  }

  /**
   * The question/answer region after the repository: `<|question|>` question `<|answer|>`, starting on a fresh
   * block so the repository's blocks (and their KV cache) are untouched. Returns the full sequence and the
   * block facts including the region (its own segment; not an anchor).
   */
  withQuestion(question: string, anchorGroups = 1, reads?: QuestionReads): { ids: Int32Array; questionStart: number; answerStart: number; facts: BlockFacts } {
    const B = this.blockSize;
    const q = this.ctx.tokenizer.encodeWithOffsets(question).ids;
    const readTokens = reads ? reads.numBlocks * B : 0;
    const questionStart = this.numTokens + readTokens;
    const ids = new Int32Array(questionStart + q.length + 2);
    ids.set(this.tokenIds(), 0);
    if (reads) ids.set(reads.ids, this.numTokens);
    ids[questionStart] = this.ctx.tokenizer.specialTokenId("<|question|>");
    ids.set(q, questionStart + 1);
    ids[ids.length - 1] = this.ctx.tokenizer.specialTokenId("<|answer|>");
    const numBlocks = blocksFor(ids.length, B);
    const facts = this.factsWithReads(anchorGroups, reads, numBlocks);
    return { ids, questionStart, answerStart: ids.length, facts };
  }

  /**
   * Block facts of [repository | `reads` | a last segment up to `numBlocks`] (default: just the reads): each read
   * file (or slice) its own segment, as a laid-out file is; nothing after the repository is an anchor.
   */
  factsWithReads(anchorGroups: number, reads: QuestionReads | undefined, numBlocks?: number): BlockFacts {
    const base = this.blockFacts(anchorGroups);
    const readEnd = this.numBlocksUsed + (reads?.numBlocks ?? 0);
    const total = numBlocks ?? readEnd;
    const segmentStart = new Int32Array(total);
    segmentStart.set(base.segmentStart!);
    for (const f of reads?.files ?? []) segmentStart.fill(f.startBlock, f.startBlock, f.endBlock);
    if (total > readEnd) segmentStart.fill(readEnd, readEnd);
    return { ...base, numBlocks: total, segmentStart };
  }

  /**
   * Files (or slices of files) laid out after the repository for one question (question-reads.ts): segments built
   * exactly as the repository's, from the repository's last block on. Sources are taken in order while they fit in
   * `maxTokens`; one that does not is skipped (a later, smaller one may fit).
   */
  readSegments(sources: readonly ReadSource[], maxTokens = Infinity): QuestionReads {
    const B = this.blockSize;
    const start = this.numBlocksUsed;
    const files: ReadSegment[] = [];
    let block = start;
    for (const s of sources) {
      const content = buildFileSegment(s.record, s.text, this.ctx, { cache: s.firstLine === undefined });
      const blocks = blocksFor(content.ids.length, B);
      if ((block + blocks - start) * B > maxTokens) continue;
      files.push({ root: s.record.root, path: s.record.path, startBlock: block, endBlock: block + blocks, firstLine: s.firstLine ?? 0, content });
      block += blocks;
    }
    // Each segment's tokens at its first block, padding after them (as writeSegment lays out a file's slot).
    const ids = new Int32Array((block - start) * B).fill(this.ctx.specials.pad);
    for (const f of files) ids.set(f.content.ids, (f.startBlock - start) * B);
    return new QuestionReads(start, ids, files, B);
  }

  /** Whether files were left out for the token budget (the repository is larger than the context). */
  get leftFilesOut(): boolean {
    return this.omitted.some((o) => o.reason === "budget");
  }

  stats(): LayoutStatsSummary {
    const facts = this.blockFacts();
    let used = 0;
    let holes = 0;
    for (const s of this.segments) {
      if (s.kind === "hole") holes += s.capacityBlocks;
      else used += s.content.ids.length;
    }
    const map = this.segments[0] as MapSegment;
    return {
      tokens: this.numTokens,
      usedTokens: used,
      padTokens: this.numTokens - used,
      blocks: this.numBlocksUsed,
      anchorBlocks: facts.anchorBlocks.length,
      mapTokens: map.content.ids.length,
      definitionsAnchored: map.content.definitionsListed,
      definitionsOmitted: map.content.definitionsOmitted,
      files: this.fileSegments.size,
      omittedFiles: this.omitted,
      holeBlocks: holes,
    };
  }
}
