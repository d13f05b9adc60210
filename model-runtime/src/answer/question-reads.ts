/**
 * What the model reads for a question beyond the repository it holds (layout/question-reads.ts explains the region):
 * the code of the search's best hits that the layout left out — a small file whole, a big file's hit definition by its
 * lines — best hit first, within READ_TOKENS. A repository that fits the context leaves nothing out, so nothing is read.
 */
import { placeRank } from "../index/code-places";
import type { FileRecord } from "../index/types";
import { type ReadSource, sliceOfLines } from "../layout/question-reads";
import type { RepoLayout } from "../layout/repo-layout";
import type { CitationTarget } from "./grounded-citations";

/**
 * Positions kept free after the repository for the files read for a question. 12k tokens read in ~3 s on two cores
 * (~4k tokens/s) and hold the hits of a typical question: a few small files or six to eight definitions.
 */
export const READ_TOKENS = 12_288;

/**
 * Positions kept free for the files a question reads in a context of `maxContext` positions with `answerRoom` for the
 * question and answer: READ_TOKENS, but never more than a quarter of what is left for the repository (a small memory
 * cap keeps the repository its share), in whole blocks of `blockSize`.
 */
export function readRoom(maxContext: number, answerRoom: number, blockSize: number): number {
  const quarter = Math.floor(Math.max(0, maxContext - answerRoom) / 4 / blockSize) * blockSize;
  return Math.min(READ_TOKENS, quarter);
}

/**
 * The repository laid out for a context of `maxContext` positions with `answerRoom` after it: whole when it fits, else
 * its most-imported files within the context less the answer room and the read room (readRoom), so a question can read
 * what was left out and positions stay within the context. The model service lays repositories out so; the evaluation's
 * `model-capped` measures it.
 */
export function layoutWithReadRoom(build: (maxTokens: number) => RepoLayout, maxContext: number, answerRoom: number, blockSize: number): { layout: RepoLayout; readTokens: number } {
  const within = (room: number) => build(Math.max(blockSize * 8, maxContext - room));
  const whole = within(answerRoom);
  if (!whole.leftFilesOut) return { layout: whole, readTokens: 0 };
  const readTokens = readRoom(maxContext, answerRoom, blockSize);
  return { layout: within(answerRoom + readTokens), readTokens };
}

/** A file this long (UTF-16 units, ~2k tokens) or shorter is read whole; a longer one by its hit definitions' lines. */
const WHOLE_FILE_CHARS = 8_000;
/** Lines of one definition read at most (a long function's start says what it does). */
const MAX_SLICE_LINES = 160;
/** Lines above a definition read with it, at most: its doc comment or decorators. */
const MAX_LEAD_LINES = 24;

export interface ReadHit {
  root?: string;
  path?: string;
  name: string;
  startLine?: number;
  endLine?: number;
}

export interface ReadChoice {
  /** Whether the layout holds a file (the model read it with the repository). */
  laidOut: (file: CitationTarget) => boolean;
  get: (root: string, path: string) => FileRecord | undefined;
  /** A file's text as the index decoded it, or undefined when it can no longer be read. */
  readText: (root: string, path: string) => string | undefined;
}

/**
 * The sources to read for `hits` (best first): one per file left out of the layout, whole when small, else one slice
 * per hit definition (overlapping slices merged), in the order of the file's best hit. Tests and example programs are
 * read only when `withTests`: read, a test named like the question could lead the answer (gin's "how does a middleware
 * hand control to the next handler" led with `TestMiddlewareAbortHandlersChainAndNext`), and questions are about the
 * library's own code.
 */
export function readsForHits(hits: readonly ReadHit[], choice: ReadChoice, withTests = false): ReadSource[] {
  const byFile = new Map<string, { record: FileRecord; text: string; ranges: Array<[number, number]> }>();
  const order: string[] = [];
  for (const h of hits) {
    if (h.root === undefined || h.path === undefined || choice.laidOut({ root: h.root, path: h.path })) continue;
    if (!withTests && placeRank(h.path, h.name) > 0) continue;
    const key = `${h.root}\u0000${h.path}`;
    let file = byFile.get(key);
    if (!file) {
      const record = choice.get(h.root, h.path);
      const text = record && choice.readText(h.root, h.path);
      if (!record || text === undefined) continue;
      byFile.set(key, (file = { record, text, ranges: [] }));
      order.push(key);
    }
    const def = file.record.definitions.find((d) => d.name === h.name && (h.startLine === undefined || d.startLine === h.startLine));
    if (!def) continue;
    const lead = Math.min(MAX_LEAD_LINES, def.doc ? def.doc.split("\n").length + 1 : 2);
    file.ranges.push([Math.max(0, def.startLine - lead), Math.min(def.endLine, def.startLine + MAX_SLICE_LINES)]);
  }
  const out: ReadSource[] = [];
  for (const key of order) {
    const { record, text, ranges } = byFile.get(key)!;
    if (text.length <= WHOLE_FILE_CHARS) {
      out.push({ record, text });
      continue;
    }
    for (const [first, last] of mergedRanges(ranges)) out.push(sliceOfLines(record, text, first, last));
  }
  return out;
}

/** Ranges (inclusive) merged where they overlap or touch, in the order of their first appearance. */
function mergedRanges(ranges: ReadonlyArray<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [a, b] of ranges) {
    const near = out.find(([x, y]) => a <= y + 1 && b >= x - 1);
    if (near) {
      near[0] = Math.min(near[0], a);
      near[1] = Math.max(near[1], b);
    } else out.push([a, b]);
  }
  return out;
}
