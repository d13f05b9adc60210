// Small generated TypeScript files with their index records, for engine and session tests: `n` one-line functions
// named after the file (src/m3.ts → m3Fn0 …), each record as the indexer would write it for that text.
import path from "node:path";
import type { FileRecord } from "../../model-runtime/src/index/types";

/** An index record of `defs` as one-line functions on lines 0…; `random` salts the hash (a fresh version each call). */
export function functionRecord(p: string, defs: string[], random: () => number, imports: string[] = []): FileRecord {
  return {
    root: "r",
    path: p,
    language: "typescript",
    hash: `${p}#${random()}`,
    size: 0,
    mtimeMs: 0,
    lineCount: 0,
    encoding: "utf-8",
    definitions: defs.map((name, i) => ({ kind: "function", name, nameLine: i, nameColumn: 9, startLine: i, startColumn: 0, endLine: i, endColumn: 0, signature: `function ${name}()`, doc: "" })),
    imports: imports.map((source, line) => ({ source, line })),
    references: {},
    hasErrors: false,
  } as FileRecord;
}

/** A file of `n` functions `(a, b) => body` and its record. */
export function functionSource(p: string, n: number, random: () => number, body = "return a + b;"): { record: FileRecord; text: string } {
  const defs = Array.from({ length: n }, (_, i) => `${path.basename(p, ".ts")}Fn${i}`);
  return { record: functionRecord(p, defs, random), text: defs.map((d) => `export function ${d}(a: number, b: number) { ${body} }`).join("\n") + "\n" };
}
