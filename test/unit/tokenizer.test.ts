// The shipped code tokenizer, its fast encoder (checked token-for-token against @huggingface/tokenizers), offsets,
// special tokens, and the BPE trainer. Random inputs come from a fresh seed each run; replay a failure with
// LONGVIEW_TOKENIZER_SEED=<seed printed below>.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { CodeTokenizer, LAYOUT_SPECIAL_TOKENS, SPECIAL_TOKENS, defaultTokenizerPath } from "../../model-runtime/src/tokenizer/index";
import { countPieces, trainBpe, truncateBpe } from "../../model-runtime/src/tokenizer/bpe-trainer";
import { CODE_PRETOKENIZER_REGEX, compilePreTokenizer, forEachPiece } from "../../model-runtime/src/tokenizer/pretokenizer";
import { buildTokenizerJson, serializeTokenizerJson } from "../../model-runtime/src/tokenizer/tokenizer-json";

const seed = Number(process.env.LONGVIEW_TOKENIZER_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`tokenizer tests: LONGVIEW_TOKENIZER_SEED=${seed}`);

function rng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(seed);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

/** Random valid Unicode: ASCII-heavy, with 2-, 3- and 4-byte characters, controls and combining marks. */
function randomUnicode(length: number): string {
  let s = "";
  while (s.length < length) {
    const r = rand();
    let cp: number;
    if (r < 0.6) cp = 0x20 + int(0x5f);
    else if (r < 0.7) cp = pick([0x0a, 0x09, 0x0d, 0x20, 0x20, 0x00, 0x0b, 0x0c]);
    else if (r < 0.8) cp = 0x80 + int(0x780);
    else if (r < 0.9) cp = 0x800 + int(0xf800); // includes U+FEFF (BOM) and the private-use area
    else if (r < 0.95) cp = 0x10000 + int(0xfffff);
    else cp = 0x300 + int(0x70); // combining marks
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    s += String.fromCodePoint(cp);
  }
  return s;
}

const WORDS = ["foo", "barBaz", "_init", "$el", "return", "const", "self", "x1", "日本", "naïve", "Ωmega", "e\u0301t\u00e9"];
const PUNCT = ["(", ")", "{", "}", ";", ".", ",", "=>", "===", "::", "->", "\"", "'", "`", "/*", "*/", "//", "#", "<|file|>", "<|eos|>"];
const SPACE = [" ", "  ", "    ", "\t", "\n", "\n    ", "\n\n\t\t", "\r\n", " \n", "        "];

/** Code-like text: identifiers, numbers, punctuation and whitespace in random order, sometimes very long pieces. */
function randomCodeLike(parts: number): string {
  let s = "";
  for (let i = 0; i < parts; i++) {
    const r = rand();
    if (r < 0.35) s += pick(WORDS);
    else if (r < 0.45) s += String(int(10 ** (1 + int(8))));
    else if (r < 0.7) s += pick(PUNCT);
    else if (r < 0.95) s += pick(SPACE);
    else if (r < 0.975) s += pick(["a", " ", "=", "\t", "é", "ab"]).repeat(40 + int(400)); // heap path in the fast encoder
    else s += randomUnicode(1 + int(20));
  }
  return s;
}

function realFiles(): string[] {
  const roots = [path.join(__dirname, "../../model-runtime/src"), path.join(__dirname, "../../node_modules/typescript/lib"), "/usr/lib/python3.11/json", "/usr/lib/python3.11/asyncio"];
  const files: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|py|json)$/.test(e.name) && fs.statSync(p).size < 400_000) files.push(p);
    }
  };
  roots.forEach(walk);
  const chosen: string[] = [];
  for (let i = 0; i < 12 && files.length > 0; i++) chosen.push(files.splice(int(files.length), 1)[0]);
  return chosen;
}

const tok = CodeTokenizer.load();
const utf8 = new TextEncoder();

test("the shipped tokenizer.json loads, is small, and has the documented vocabulary layout", () => {
  const file = defaultTokenizerPath();
  assert.ok(fs.statSync(file).size < 3_000_000, "tokenizer.json stays under 3 MB");
  assert.ok(tok.vocabSize >= 16384 && tok.vocabSize <= 32768, `vocab ${tok.vocabSize}`);
  SPECIAL_TOKENS.forEach((t, id) => assert.equal(tok.specialTokenId(t), id, t));
  assert.equal(SPECIAL_TOKENS.length, LAYOUT_SPECIAL_TOKENS.length + 16);
  // The library loads the same file on its own and agrees on the size.
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  const lib = new Tokenizer(json, {});
  assert.equal(lib.get_vocab().size, tok.vocabSize);
});

test("special tokens: single ids when asked for, plain text inside repository content", () => {
  for (const t of SPECIAL_TOKENS) {
    assert.deepEqual(Array.from(tok.encodeWithSpecialTokens(t)), [tok.specialTokenId(t)], t);
    const plain = tok.encode(t);
    assert.ok(plain.length > 1, `${t} as content is several tokens`);
    assert.ok(plain.every((id) => id >= SPECIAL_TOKENS.length), `${t} as content uses no special id`);
    assert.equal(tok.decode(plain), t);
  }
  const prompt = `<|question|>where is main?<|answer|>`;
  const ids = tok.encodeWithSpecialTokens(prompt);
  assert.equal(ids[0], tok.specialTokenId("<|question|>"));
  assert.equal(ids[ids.length - 1], tok.specialTokenId("<|answer|>"));
  assert.equal(tok.decode(ids), prompt);
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), "where is main?");
  assert.throws(() => tok.specialTokenId("<|nope|>" as never), /unknown special token/);
});

test("round trip on random Unicode, random bytes and real files", () => {
  for (let i = 0; i < 200; i++) {
    const s = randomUnicode(int(300));
    const ids = tok.encode(s);
    assert.equal(tok.decode(ids), s);
    assert.deepEqual(tok.decodeBytes(ids), utf8.encode(s));
  }
  for (let i = 0; i < 100; i++) {
    const bytes = Uint8Array.from({ length: int(500) }, () => int(256));
    const s = new TextDecoder().decode(bytes); // what reading a non-UTF-8 file as UTF-8 gives
    assert.equal(tok.decode(tok.encode(s)), s);
  }
  for (const f of realFiles()) {
    const s = fs.readFileSync(f, "utf8");
    assert.equal(tok.decode(tok.encode(s)), s, f);
  }
  for (const s of ["\uFEFFconst x = 1;\r\n", "a\u0000b", "\u{1F600}\u200D\u{1F4BB}"]) assert.equal(tok.decode(tok.encode(s)), s);
  assert.equal(tok.decode([]), "");
  assert.equal(tok.encode("").length, 0);
  assert.throws(() => tok.decode([tok.vocabSize]), /out of range/);
});

test("fast encoder matches @huggingface/tokenizers token for token", () => {
  const inputs: string[] = [];
  for (let i = 0; i < 150; i++) inputs.push(randomCodeLike(1 + int(200)));
  for (let i = 0; i < 50; i++) inputs.push(randomUnicode(int(400)));
  inputs.push(...realFiles().map((f) => fs.readFileSync(f, "utf8")));
  inputs.push("x".repeat(5000), " ".repeat(3000) + "y", "\n".repeat(100), "é".repeat(700));
  for (const s of inputs) {
    const fast = tok.encode(s);
    const lib = tok.encodeReference(s);
    if (fast.length !== lib.length || fast.some((id, i) => id !== lib[i])) {
      assert.fail(`fast and library encodings differ for ${JSON.stringify(s.slice(0, 200))} (seed ${seed})`);
    }
  }
  // The reference path treats special-token strings as text, like encode().
  assert.deepEqual(tok.encodeReference("<|file|>"), tok.encode("<|file|>"));
});

test("offsets point at the exact bytes and characters of each token", () => {
  const inputs = [...realFiles().map((f) => fs.readFileSync(f, "utf8")), ...Array.from({ length: 100 }, () => randomCodeLike(1 + int(150))), ...Array.from({ length: 50 }, () => randomUnicode(int(300)))];
  for (const s of inputs) {
    const { ids, offsets, byteOffsets } = tok.encodeWithOffsets(s);
    assert.deepEqual(ids, tok.encode(s));
    assert.equal(offsets.length, ids.length);
    const bytes = utf8.encode(s);
    for (let i = 0; i < ids.length; i++) {
      const end = i + 1 < ids.length ? byteOffsets[i + 1] : bytes.length;
      assert.deepEqual(bytes.subarray(byteOffsets[i], end), tok.decodeBytes([ids[i]]), `token ${i} bytes`);
      // offsets[i] is the UTF-16 index of the character that holds the token's first byte.
      const before = utf8.encode(s.slice(0, offsets[i])).length;
      const ch = String.fromCodePoint(s.codePointAt(offsets[i])!);
      assert.ok(before <= byteOffsets[i] && byteOffsets[i] < before + utf8.encode(ch).length, `token ${i} char offset`);
    }
  }
});

test("after every line break, the first non-blank character starts a token (anchors land on token boundaries)", () => {
  const inputs = [...realFiles().map((f) => fs.readFileSync(f, "utf8")), ...Array.from({ length: 50 }, () => randomCodeLike(1 + int(150)))];
  for (const s of inputs) {
    const starts = new Set(tok.encodeWithOffsets(s).offsets);
    for (let nl = s.indexOf("\n"); nl >= 0; nl = s.indexOf("\n", nl + 1)) {
      let at = nl + 1;
      while (at < s.length && /[^\S\n]/u.test(s[at])) at++;
      if (at >= s.length || s[at] === "\n") continue;
      assert.ok(starts.has(at), `line at ${at} (${JSON.stringify(s.slice(at, at + 20))}) starts mid-token`);
    }
  }
});

test("the trainer learns merges that shorten the text; truncation equals training a smaller vocabulary", () => {
  const words = ["function", "return", "const", "value", "index", "length", "string", "number"];
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) lines.push(`${pick(["", "    ", "\t"])}${pick(words)} ${pick(words)}(${pick(words)}, ${int(1000)});`);
  const corpus = lines.join("\n");
  const pattern = compilePreTokenizer(CODE_PRETOKENIZER_REGEX);
  const counts = new Map<string, number>();
  countPieces(corpus, pattern, counts);
  let pieces = 0;
  forEachPiece(corpus, pattern, () => pieces++);
  assert.equal([...counts.values()].reduce((a, b) => a + b, 0), pieces);

  const model = trainBpe(counts, { vocabSize: 256 + 60 });
  assert.equal(model.tokens.length, 256 + 60);
  const json = buildTokenizerJson(model, SPECIAL_TOKENS, CODE_PRETOKENIZER_REGEX);
  const trained = CodeTokenizer.fromJSON(JSON.parse(serializeTokenizerJson(json)));
  const bytesOnly = CodeTokenizer.fromJSON(buildTokenizerJson(truncateBpe(model, 256), SPECIAL_TOKENS, CODE_PRETOKENIZER_REGEX));
  const sample = lines.slice(0, 50).join("\n");
  assert.equal(bytesOnly.encode(sample).length, utf8.encode(sample).length);
  assert.ok(trained.encode(sample).length < 0.5 * utf8.encode(sample).length, "60 merges halve a repetitive text");
  assert.deepEqual(trained.encode(sample), trained.encodeReference(sample));
  assert.equal(trained.decode(trained.encode(sample)), sample);
  // Every merge joins two tokens that exist before it, and makes a token of their concatenated bytes.
  for (const [l, r, m] of model.merges) {
    assert.ok(l < m && r < m);
    assert.deepEqual(model.tokens[m], new Uint8Array([...model.tokens[l], ...model.tokens[r]]));
  }
  const small = trainBpe(counts, { vocabSize: 256 + 25 });
  assert.deepEqual(truncateBpe(model, 256 + 25), small);
});

test("a missing or corrupt tokenizer file gives a clear error", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tok-"));
  const bad = path.join(dir, "tokenizer.json");
  fs.writeFileSync(bad, "{ not json");
  assert.throws(() => CodeTokenizer.load(bad), /cannot read tokenizer/);
  fs.writeFileSync(bad, JSON.stringify({ model: { type: "WordPiece" } }));
  assert.throws(() => CodeTokenizer.load(bad), /invalid tokenizer.*not a BPE/);
  assert.throws(() => CodeTokenizer.load(path.join(dir, "missing.json")), /cannot read tokenizer/);
  fs.rmSync(dir, { recursive: true });
});
