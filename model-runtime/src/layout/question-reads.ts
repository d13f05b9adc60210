/**
 * Files the model reads for one question, laid out after the repository and before the question:
 *
 *   [repository map | files …] [read: file X | slice of file Y …] [<|question|> … <|answer|> …]
 *
 * A repository larger than the model's context is laid out without its least-imported files (repo-layout.ts), and a
 * question's answer is often in one of them: nginx's everyday questions had none of their answers in the 128k tokens
 * the model holds of its 1.9M. For such a question the answer code picks the files of the search's best hits that the
 * layout left out (answer/question-reads.ts) and they are read here, each file — or, for a big file, the hit
 * definition's lines — as a segment built exactly like a laid-out file's (header with path and imports, then the
 * text), so the model reads them as it reads any file: locally, right before the question. They are not anchors and
 * they live only as long as the question region: the repository's blocks and KV cache are untouched.
 */
import type { FileRecord } from "../index/types";
import { type FileSegmentContent, locateInFile } from "./file-segment";
import type { LayoutSource, TokenLocation } from "./repo-layout";

/** A file's text to read: the whole file, or (with `firstLine`) a slice of it starting at that 0-based line. */
export interface ReadSource extends LayoutSource {
  firstLine?: number;
}

export interface ReadSegment {
  root: string;
  path: string;
  startBlock: number;
  endBlock: number;
  /** The file's line of the segment's first text line (0 for a whole file). */
  firstLine: number;
  content: FileSegmentContent;
}

export class QuestionReads {
  constructor(
    /** The first block after the repository. */
    readonly startBlock: number,
    /** The region's tokens, every segment padded to whole blocks. */
    readonly ids: Int32Array,
    readonly files: readonly ReadSegment[],
    private readonly blockSize: number,
  ) {}

  get numBlocks(): number {
    return this.ids.length / this.blockSize;
  }

  /** Identifies what is read (two regions with the same key hold the same tokens at the same positions). */
  get key(): string {
    return `${this.startBlock}\u0000${this.files.map((f) => `${f.root}\u0000${f.path}\u0000${f.firstLine}\u0000${f.content.ids.length}`).join("\u0001")}`;
  }

  /** Where token `t` (a position in the whole sequence, inside this region) came from. */
  locate(t: number): TokenLocation {
    const block = Math.floor(t / this.blockSize);
    const seg = this.files.find((f) => block >= f.startBlock && block < f.endBlock);
    if (!seg) return { kind: "pad" };
    const rel = t - seg.startBlock * this.blockSize;
    if (rel >= seg.content.ids.length) return { kind: "pad" };
    return locateInFile(seg.content, rel, seg.root, seg.path, seg.firstLine);
  }
}

/** The lines [first, last] (0-based, inclusive) of a file's text, for a slice read. */
export function sliceOfLines(record: FileRecord, text: string, first: number, last: number): ReadSource {
  const lines = text.split("\n");
  const from = Math.max(0, Math.min(first, lines.length - 1));
  const to = Math.max(from, Math.min(last, lines.length - 1));
  return { record, text: lines.slice(from, to + 1).join("\n"), firstLine: from };
}
