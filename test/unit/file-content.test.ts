import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeFileContent, decodeText, lineShape, looksBinary } from "../../model-runtime/src/workspace/file-content";

const limits = { maxFileBytes: 1000, maxLineLength: 200, maxAverageLineLength: 100 };

test("binary content (a NUL byte) is skipped as binary", () => {
  const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0x02]);
  assert.equal(looksBinary(bytes), true);
  const r = decodeFileContent(bytes, limits);
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.reason, "binary");
});

test("files over the size limit are skipped as too-large", () => {
  const r = decodeFileContent(new Uint8Array(1001).fill(0x61), limits);
  assert.equal(!r.ok && r.reason, "too-large");
});

test("a very long line or a high average line length means minified", () => {
  const oneLong = new TextEncoder().encode(`var a=1;${"x".repeat(300)}\n`);
  const r1 = decodeFileContent(oneLong, { ...limits, maxFileBytes: 1e6 });
  assert.equal(!r1.ok && r1.reason, "minified");
  const wide = new TextEncoder().encode(Array.from({ length: 20 }, () => "y".repeat(150)).join("\n"));
  const r2 = decodeFileContent(wide, { ...limits, maxFileBytes: 1e6 });
  assert.equal(!r2.ok && r2.reason, "minified");
  const normal = new TextEncoder().encode("function f() {\n  return 1;\n}\n");
  assert.equal(decodeFileContent(normal, limits).ok, true);
});

test("invalid UTF-8 decodes as latin1 with one character per byte, keeping line numbers", () => {
  const bytes = new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a, 0x78, 0xff, 0x0a]); // "café\nxÿ\n" in latin1
  const { text, encoding } = decodeText(bytes);
  assert.equal(encoding, "latin1");
  assert.equal(text, "caf\u00e9\nx\u00ff\n");
  assert.equal(lineShape(text).lines, 3);
});

test("UTF-8 with BOM and UTF-16LE with BOM decode to the same text", () => {
  const s = "héllo 世界\n";
  const utf8 = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(s)]);
  const utf16 = new Uint8Array(2 + s.length * 2);
  utf16[0] = 0xff;
  utf16[1] = 0xfe;
  for (let i = 0; i < s.length; i++) {
    utf16[2 + 2 * i] = s.charCodeAt(i) & 0xff;
    utf16[3 + 2 * i] = s.charCodeAt(i) >> 8;
  }
  assert.deepEqual(decodeText(utf8), { text: s, encoding: "utf-8" });
  assert.deepEqual(decodeText(utf16), { text: s, encoding: "utf-16le" });
  // UTF-16 has NUL bytes but is text: it must not be classified binary.
  assert.equal(decodeFileContent(utf16, limits).ok, true);
});

test("lineShape counts lines and the longest line", () => {
  assert.deepEqual(lineShape("ab\nabcd\n"), { lines: 3, longest: 4, average: 8 / 3 });
  assert.equal(lineShape("").lines, 1);
});
