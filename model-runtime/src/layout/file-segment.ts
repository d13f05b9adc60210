/**
 * One file's tokens in the layout:
 *
 *   <|file|><|path|>src/billing.ts<|endpath|><|anchor|>import ./rates<|endanchor|>
 *   …the file's text…
 *   <|endfile|>
 *
 * The header (path + imports) opens the file's first block: the file's own anchor block, which its later
 * tokens (and, through the pattern library, others) can attend to. Definitions are anchored in the
 * repository map (repo-map.ts). Each body token maps back to its exact (line, column).
 */
import type { FileRecord } from "../index/types";
import type { LayoutTokenizer, PieceEncoder, SpecialIds, EncodingCache } from "./tokens";

export interface FileSegmentContent {
  ids: Int32Array;
  /** Tokens [0, headerLength) are the path and import anchors; the body follows. */
  headerLength: number;
  /** Body tokens start at `headerLength`; bodyOffsets[i] = UTF-16 offset in the text of body token i. */
  bodyOffsets: Uint32Array;
  /** UTF-16 offsets of line starts in the text. */
  lineStarts: Uint32Array;
}

export function lineStartsOf(text: string): Uint32Array {
  let n = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) n++;
  const starts = new Uint32Array(n);
  let k = 1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts[k++] = i + 1;
  return starts;
}

/** Index of the last element <= x in a sorted array (x >= arr[0]). */
export function upperBoundIndex(arr: Uint32Array | Int32Array, x: number): number {
  let lo = 0;
  let hi = arr.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (arr[mid] <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export interface SegmentBuildContext {
  tokenizer: LayoutTokenizer;
  pieces: PieceEncoder;
  specials: SpecialIds;
  cache: EncodingCache;
  maxImportAnchors: number;
}

/** `cache: false` for text that is not the whole file (a slice read for a question): the cache is keyed by the file's hash. */
export function buildFileSegment(record: FileRecord, text: string, ctx: SegmentBuildContext, opts: { cache?: boolean } = {}): FileSegmentContent {
  const { specials: sp, pieces } = ctx;
  const header: number[] = [sp.file, sp.path, ...pieces.encode(record.path), sp.endPath];
  for (const imp of record.imports.slice(0, ctx.maxImportAnchors)) header.push(sp.anchor, ...pieces.encode(`import ${imp.source}`));
  header.push(sp.endAnchor);

  const cached = opts.cache !== false;
  let body = cached ? ctx.cache.get(record.hash) : undefined;
  if (!body) {
    body = ctx.tokenizer.encodeWithOffsets(text);
    if (cached) ctx.cache.set(record.hash, body);
  }
  const ids = new Int32Array(header.length + body.ids.length + 1);
  ids.set(header, 0);
  ids.set(body.ids, header.length);
  ids[ids.length - 1] = sp.endFile;
  return { ids, headerLength: header.length, bodyOffsets: body.offsets, lineStarts: lineStartsOf(text) };
}

/** Where token `rel` of a file's segment came from: its header, or a body token's (line, column), lines counted from `firstLine`. */
export function locateInFile(c: FileSegmentContent, rel: number, root: string, path: string, firstLine = 0): { kind: "header"; root: string; path: string } | { kind: "body"; root: string; path: string; line: number; column: number } {
  if (rel < c.headerLength) return { kind: "header", root, path };
  const bodyIndex = rel - c.headerLength;
  if (bodyIndex >= c.bodyOffsets.length) return { kind: "header", root, path }; // <|endfile|>
  const offset = c.bodyOffsets[bodyIndex];
  const line = upperBoundIndex(c.lineStarts, offset);
  return { kind: "body", root, path, line: firstLine + line, column: offset - c.lineStarts[line] };
}
