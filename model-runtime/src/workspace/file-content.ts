/**
 * Decide whether a file's bytes are worth indexing, and decode them safely.
 * Repository content is untrusted input: binary blobs, generated bundles and odd encodings must be recognised
 * and skipped (with a reason) or decoded without throwing.
 */
import type { FileRecord, SkipReason } from "../index/types";

export interface ContentLimits {
  maxFileBytes: number;
  maxLineLength: number;
  maxAverageLineLength: number;
}

export type DecodedContent =
  | { ok: true; text: string; encoding: FileRecord["encoding"] }
  | { ok: false; reason: SkipReason; detail: string };

const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const utf16le = new TextDecoder("utf-16le");
const latin1 = new TextDecoder("latin1");

/** Git's heuristic: a NUL byte in the first 8000 bytes means binary (UTF-16 is recognised by its BOM first). */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8000);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/** Decode with BOM detection; invalid UTF-8 falls back to latin1 so every byte maps to one character and
 * line numbers stay right. */
export function decodeText(bytes: Uint8Array): { text: string; encoding: FileRecord["encoding"] } {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) {
    return { text: utf16le.decode(bytes.subarray(2)), encoding: "utf-16le" };
  }
  const hasUtf8Bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const body = hasUtf8Bom ? bytes.subarray(3) : bytes;
  try {
    return { text: utf8Strict.decode(body), encoding: "utf-8" };
  } catch {
    return { text: latin1.decode(body), encoding: "latin1" };
  }
}

/** Longest line and average line length, in characters. One pass, no allocation. */
export function lineShape(text: string): { lines: number; longest: number; average: number } {
  let lines = 1;
  let longest = 0;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    if (i - start > longest) longest = i - start;
    start = i + 1;
    lines++;
  }
  if (text.length - start > longest) longest = text.length - start;
  return { lines, longest, average: text.length / lines };
}

/** Classify and decode raw file bytes. */
export function decodeFileContent(bytes: Uint8Array, limits: ContentLimits): DecodedContent {
  if (bytes.length > limits.maxFileBytes) {
    return { ok: false, reason: "too-large", detail: `${bytes.length} bytes > limit ${limits.maxFileBytes}` };
  }
  const utf16 = bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe;
  if (!utf16 && looksBinary(bytes)) return { ok: false, reason: "binary", detail: "NUL byte in the first 8000 bytes" };
  const { text, encoding } = decodeText(bytes);
  const shape = lineShape(text);
  if (shape.longest > limits.maxLineLength) {
    return { ok: false, reason: "minified", detail: `a line of ${shape.longest} characters (limit ${limits.maxLineLength})` };
  }
  if (text.length > 1024 && shape.average > limits.maxAverageLineLength) {
    return { ok: false, reason: "minified", detail: `average line length ${Math.round(shape.average)} (limit ${limits.maxAverageLineLength})` };
  }
  return { ok: true, text, encoding };
}
