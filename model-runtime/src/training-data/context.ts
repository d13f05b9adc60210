/**
 * A repository context as the model will read it: some of a repository's files laid out by RepoLayout within a
 * token budget, with chosen doc comments taken out of the text (doc-removal.ts), plus an index of exactly the
 * laid-out files as edited — the ground truth of every question asked about this context. Training samples and
 * evaluation contexts are both built here, so they see the same thing the product lays out.
 */
import crypto from "node:crypto";
import type { Definition, FileRecord } from "../index/types";
import { WorkspaceIndex } from "../index/workspace-index";
import type { SourceParser } from "../parse/extract";
import { type LayoutSource, RepoLayout } from "../layout/repo-layout";
import type { EncodingCache, LayoutTokenizer } from "../layout/tokens";
import { type DocRange, blankRanges, checkRemoval, findDocRange, overlaps, splitLines } from "./doc-removal";
import type { RepoFiles } from "./repo-files";

export interface ContextTools {
  tokenizer: LayoutTokenizer & { decode(ids: ArrayLike<number>): string };
  cache: EncodingCache;
  parser: SourceParser;
}

export interface DocCandidate {
  path: string;
  def: Definition;
}

export interface RemovedDoc extends DocCandidate {
  range: DocRange;
}

export interface RepoContext {
  root: string;
  layout: RepoLayout;
  /** The laid-out files (as edited), and nothing else: what an answer may cite. */
  index: WorkspaceIndex;
  /** path → text as laid out (doc comments removed). */
  texts: Map<string, string>;
  /** path → text on disk. */
  originalTexts: Map<string, string>;
  removed: RemovedDoc[];
  /** Every blanked range (including removals later rejected): their tokens carry no loss. */
  blanked: Array<{ path: string; range: DocRange }>;
  /** Docs chosen for removal that could not be removed exactly (not located, or the re-parse disagreed). */
  rejectedDocs: number;
  /** Laid-out paths in slot order. */
  fileOrder: Map<string, number>;
}

export interface ContextOptions {
  blockSize: number;
  /** Token budget of the repository region (map + files). */
  maxTokens: number;
}

const LICENCE_WORDS = /\b(copyright|licen[cs]e|spdx|all rights reserved|permission is hereby granted)\b/i;

/** A doc comment worth asking about: a sentence or more of prose, not a licence header or a lone tag. */
export function usableDoc(def: Definition): boolean {
  const doc = def.doc;
  if (doc.length < 24 || doc.length > 800 || doc.endsWith("…")) return false;
  if (LICENCE_WORDS.test(doc)) return false;
  if (!/^[A-Za-z_$][\w$]*$/.test(def.name) || def.name.length < 3) return false;
  const words = doc.match(/[A-Za-z]{2,}/g) ?? [];
  return words.length >= 4;
}

function sha1(text: string): string {
  return crypto.createHash("sha1").update(text).digest("hex");
}

/** The body token of a laid-out file that starts at or before (line, column): its first token at that position. */
export function bodyTokenAt(layout: RepoLayout, root: string, path: string, line: number, column: number): number {
  const span = layout.fileSpan(root, path);
  if (!span) return -1;
  let lo = span.start + span.headerLength;
  let hi = span.start + span.length - 2; // the last token is <|endfile|>
  if (hi < lo) return -1;
  const before = (t: number) => {
    const loc = layout.locate(t);
    if (loc.kind !== "body") return false;
    return loc.line < line || (loc.line === line && loc.column <= column);
  };
  if (!before(lo)) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (before(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Tokens [from, to) of a laid-out file whose location lies in lines [startLine, endLine]. */
export function tokensOfLines(layout: RepoLayout, root: string, path: string, startLine: number, endLine: number): [number, number] {
  const span = layout.fileSpan(root, path);
  if (!span) return [0, 0];
  const first = span.start + span.headerLength;
  const end = span.start + span.length - 1;
  const firstAtOrAfter = (line: number) => {
    let lo = first;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const loc = layout.locate(mid);
      if (loc.kind === "body" && loc.line < line) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return [firstAtOrAfter(startLine), firstAtOrAfter(endLine + 1)];
}

/**
 * Lays out `subset` of the repository within the budget, removes the doc comments `chooseDocs` picks among the
 * laid-out definitions, re-parses the edited files, lays out again and checks that each edited definition's name
 * is still located where it was.
 */
export async function buildContext(
  repo: RepoFiles,
  subset: readonly FileRecord[],
  opts: ContextOptions,
  tools: ContextTools,
  chooseDocs: (candidates: DocCandidate[]) => DocCandidate[] = () => [],
): Promise<RepoContext> {
  const layoutOptions = { blockSize: opts.blockSize, maxTokens: opts.maxTokens };
  const sourceOf = (r: FileRecord): LayoutSource => ({ record: r, text: repo.texts.get(r.path) ?? "" });
  const first = RepoLayout.build(subset.map(sourceOf), tools.tokenizer, layoutOptions, tools.cache);
  const laidOut = new Set(first.fileBlocks().map((f) => f.path));
  const byPath = new Map(subset.map((r) => [r.path, r]));

  const candidates: DocCandidate[] = [];
  for (const p of laidOut) {
    const rec = byPath.get(p)!;
    if (rec.language === "text") continue;
    for (const def of rec.definitions) if (usableDoc(def)) candidates.push({ path: p, def });
  }
  const chosen = chooseDocs(candidates);

  // Edit file by file; a file whose re-parse disagrees keeps its text and loses its removals.
  const edited = new Map<string, FileRecord>();
  const editedTexts = new Map<string, string>();
  const removed: RemovedDoc[] = [];
  let rejectedDocs = 0;
  const chosenByFile = new Map<string, DocCandidate[]>();
  for (const c of chosen) (chosenByFile.get(c.path) ?? chosenByFile.set(c.path, []).get(c.path)!).push(c);
  for (const [p, list] of chosenByFile) {
    const rec = byPath.get(p)!;
    const text = repo.texts.get(p) ?? "";
    const lines = splitLines(text);
    const accepted: RemovedDoc[] = [];
    for (const c of list) {
      const range = findDocRange(lines, c.def, rec.language);
      if (!range || accepted.some((a) => overlaps(a.range, range))) {
        rejectedDocs++;
        continue;
      }
      accepted.push({ ...c, range });
    }
    if (accepted.length === 0) continue;
    const newText = blankRanges(text, accepted.map((a) => a.range));
    let problem: string | undefined;
    let parsed: Awaited<ReturnType<SourceParser["parse"]>> | undefined;
    try {
      parsed = await tools.parser.parse(rec.language, newText);
      problem = checkRemoval(rec.definitions, parsed.definitions, accepted.map((a) => a.def));
    } catch (e) {
      problem = (e as Error).message;
    }
    if (problem || !parsed) {
      rejectedDocs += accepted.length;
      continue;
    }
    edited.set(p, {
      ...rec,
      hash: sha1(newText),
      size: Buffer.byteLength(newText),
      definitions: parsed.definitions,
      imports: parsed.imports,
      references: parsed.references,
      mentions: parsed.mentions,
      hasErrors: parsed.hasErrors,
    });
    editedTexts.set(p, newText);
    removed.push(...accepted);
  }

  const finalSources = subset.map((r) => {
    const e = edited.get(r.path);
    return e ? { record: e, text: editedTexts.get(r.path)! } : sourceOf(r);
  });
  const layout = edited.size ? RepoLayout.build(finalSources, tools.tokenizer, layoutOptions, tools.cache) : first;
  const files = layout.fileBlocks();
  const fileOrder = new Map(files.map((f, i) => [f.path, i]));

  // Blank lines are shorter than the doc they replace: the same files (or more) fit, and every name stays put. The
  // token holding a removed doc's definition name must be located on the name's line, and its text must be the
  // ORIGINAL file's text at that (line, column).
  const ids = layout.tokenIds();
  const kept: RemovedDoc[] = [];
  for (const r of removed) {
    const { nameLine, nameColumn, name } = r.def;
    const t = fileOrder.has(r.path) ? bodyTokenAt(layout, repo.root.name, r.path, nameLine, nameColumn) : -1;
    const loc = t >= 0 ? layout.locate(t) : undefined;
    const line = splitLines(repo.texts.get(r.path) ?? "")[nameLine] ?? "";
    const token = t >= 0 ? tools.tokenizer.decode([ids[t]]) : "";
    const exact =
      loc?.kind === "body" &&
      loc.line === nameLine &&
      line.startsWith(name, nameColumn) &&
      (line + "\n").startsWith(token, loc.column) &&
      loc.column + token.length > nameColumn;
    if (exact) kept.push(r);
    else rejectedDocs++;
  }

  const index = new WorkspaceIndex();
  const texts = new Map<string, string>();
  const originalTexts = new Map<string, string>();
  const finalByPath = new Map(finalSources.map((s) => [s.record.path, s]));
  for (const f of files) {
    const s = finalByPath.get(f.path)!;
    index.upsert(s.record);
    texts.set(f.path, s.text);
    originalTexts.set(f.path, repo.texts.get(f.path) ?? "");
  }
  const blanked = removed.map((r) => ({ path: r.path, range: r.range }));
  return { root: repo.root.name, layout, index, texts, originalTexts, removed: kept, blanked, rejectedDocs, fileOrder };
}
