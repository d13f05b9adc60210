/**
 * Turn one file on disk into a FileRecord (or a SkippedFile with its reason): read, classify, decode, hash,
 * parse. Runs inside the parse workers; also callable in-process.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { ParseTimeoutError, type ParsedSource, SourceParser, lexicalReferences } from "../parse/extract";
import { languageForPath } from "../parse/languages";
import { decodeFileContent, lineShape } from "../workspace/file-content";
import type { FileCandidate } from "../workspace/walker";
import type { FileRecord, IndexOptions, SkippedFile } from "./types";

export type ProcessResult = { kind: "file"; record: FileRecord; note?: string } | { kind: "skip"; skip: SkippedFile };

export function hashBytes(bytes: Uint8Array): string {
  return crypto.createHash("sha1").update(bytes).digest("hex");
}

/** Text files (docs, configs) still say who mentions what; big ones are data and are left alone. */
const MAX_TEXT_REFERENCE_BYTES = 256 * 1024;

export async function processFile(parser: SourceParser, file: FileCandidate, options: IndexOptions): Promise<ProcessResult> {
  const skip = (reason: SkippedFile["reason"], detail: string): ProcessResult => ({
    kind: "skip",
    skip: { root: file.root, path: file.path, reason, detail, size: file.size, mtimeMs: file.mtimeMs },
  });
  if (file.size > options.maxFileBytes) return skip("too-large", `${file.size} bytes > limit ${options.maxFileBytes}`);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file.absPath);
  } catch (e) {
    return skip("unreadable", (e as Error).message);
  }
  const decoded = decodeFileContent(bytes, options);
  if (!decoded.ok) return skip(decoded.reason, decoded.detail);

  const language = languageForPath(file.path);
  let parsed: ParsedSource | undefined;
  let note: string | undefined;
  if (language) {
    try {
      parsed = await parser.parse(language, decoded.text);
    } catch (e) {
      // A file tree-sitter cannot handle is still indexed, as text, so search and the model can see it.
      note = e instanceof ParseTimeoutError ? `parse timed out; indexed as text` : `parse failed (${(e as Error).message}); indexed as text`;
    }
  }
  // A text file is all prose: its record's language says so (WorkspaceIndex reads every use there as a mention).
  parsed ??= {
    definitions: [],
    variables: [],
    imports: [],
    references: bytes.length <= MAX_TEXT_REFERENCE_BYTES ? lexicalReferences(decoded.text).references : {},
    mentions: { lines: [], names: {} },
    memberOnly: [],
    memberQualifiers: {},
    hasErrors: false,
  };
  const record: FileRecord = {
    root: file.root,
    path: file.path,
    language: language && !note ? language : "text",
    hash: hashBytes(bytes),
    size: bytes.length,
    mtimeMs: file.mtimeMs,
    lineCount: lineShape(decoded.text).lines,
    encoding: decoded.encoding,
    definitions: parsed.definitions,
    imports: parsed.imports,
    ...(parsed.variables.length ? { variables: parsed.variables } : {}),
    references: parsed.references,
    mentions: parsed.mentions,
    ...(parsed.memberOnly.length ? { memberOnly: parsed.memberOnly, memberQualifiers: parsed.memberQualifiers } : {}),
    ...(parsed.calls ? { calls: parsed.calls } : {}),
    hasErrors: parsed.hasErrors,
  };
  if (decoded.encoding === "latin1") note = (note ? `${note}; ` : "") + "not valid UTF-8; decoded as latin1";
  return { kind: "file", record, note };
}
