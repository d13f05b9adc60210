// What a question has the model read beyond the layout (answer/question-reads.ts): files of the best hits that the
// layout left out — small ones whole, big ones by their hit definitions' lines — and never tests unless asked.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readsForHits } from "../../model-runtime/src/answer/question-reads";
import type { FileRecord } from "../../model-runtime/src/index/types";
import { functionRecord } from "../helpers/function-sources";

/** A file of `n` functions, each `lines` lines long (a doc-less body of filler lines), and its record. */
function file(path: string, n: number, lines: number): { record: FileRecord; text: string } {
  const names = Array.from({ length: n }, (_, i) => `f${i}`);
  const record = functionRecord(path, names, Math.random);
  const text: string[] = [];
  record.definitions.forEach((d, i) => {
    d.startLine = d.nameLine = i * lines;
    d.endLine = i * lines + lines - 1;
    text.push(`function f${i}() {`, ...Array.from({ length: lines - 2 }, (_, k) => `  const v${k} = ${"x".repeat(60)};`), "}");
  });
  return { record, text: text.join("\n") };
}

test("readsForHits: left-out files only, small ones whole, big ones by their hits' lines (merged), tests only when asked", () => {
  const small = file("src/small.ts", 3, 5);
  const big = file("src/big.ts", 40, 20); // ~50k characters: read by slices
  const laid = file("src/laid.ts", 3, 5);
  const spec = file("src/big.test.ts", 2, 5);
  const files = new Map([small, big, laid, spec].map((f) => [f.record.path, f]));
  const choice = {
    laidOut: (f: { path: string }) => f.path === "src/laid.ts",
    get: (_r: string, p: string) => files.get(p)?.record,
    readText: (_r: string, p: string) => files.get(p)?.text,
  };
  const hit = (f: { record: FileRecord }, i: number) => ({ root: "r", path: f.record.path, ...f.record.definitions[i] });
  const sources = readsForHits([hit(big, 10), hit(laid, 0), hit(small, 2), hit(big, 11), hit(spec, 0), hit(big, 30)], choice);
  assert.deepEqual(sources.map((s) => [s.record.path, s.firstLine]), [["src/big.ts", 198], ["src/big.ts", 598], ["src/small.ts", undefined]]);
  // The slice of hits 10 and 11 (adjacent): from two lines above f10 to the end of f11, the file's own lines.
  const [first, second, whole] = sources;
  assert.equal(first.text, big.text.split("\n").slice(198, 240).join("\n"));
  assert.equal(second.text, big.text.split("\n").slice(598, 620).join("\n"));
  assert.equal(whole.text, small.text);
  // A question about tests reads the test file too; a file that can no longer be read is skipped.
  assert.deepEqual(readsForHits([hit(spec, 1)], choice, true).map((s) => s.record.path), ["src/big.test.ts"]);
  assert.deepEqual(readsForHits([hit(small, 0)], { ...choice, readText: () => undefined }), []);
});
