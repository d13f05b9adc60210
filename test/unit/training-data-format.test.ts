import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { type AnswerPart, answerProse, answerToText, encodeAnswer, parseCitations } from "../../model-runtime/src/training-data/answer-format";
import type { Sample } from "../../model-runtime/src/training-data/sample";
import { ShardWriter, decodeSample, encodeSample, readShard, taskBitsOf } from "../../model-runtime/src/training-data/shard-format";
import { splitHash, splitOf } from "../../model-runtime/src/training-data/split";
import { freshSeed, rng } from "../helpers/tmp-tree";

const tokenizer = CodeTokenizer.load();

function randomSample(rand: () => number, B: number): Sample {
  const numBlocks = 1 + Math.floor(rand() * 40);
  const T = numBlocks * B;
  // Runs of repeated ids (like padding) next to random ones, so both stored forms (raw and deflated) occur.
  const ids = new Int32Array(T);
  const compressible = rand() < 0.5;
  for (let i = 0; i < T; i++) ids[i] = compressible && rand() < 0.7 ? 0 : Math.floor(rand() * 16384);
  const spans: Sample["spans"] = [];
  let at = 0;
  while (at < T && rand() < 0.9) {
    const start = at + Math.floor(rand() * 50);
    const end = Math.min(T, start + 1 + Math.floor(rand() * 200));
    if (start >= T) break;
    spans.push({ start, end, lossClass: 1 + Math.floor(rand() * 6) });
    at = end;
  }
  const anchors = Array.from({ length: Math.floor(rand() * Math.min(numBlocks, 9)) }, (_, i) => i);
  const starts = [0, ...Array.from({ length: numBlocks - 1 }, (_, i) => i + 1).filter(() => rand() < 0.3)];
  return {
    ids,
    spans,
    facts: {
      numBlocks,
      blockSize: B,
      anchorBlocks: Int32Array.from(anchors),
      anchorTier: Uint8Array.from(anchors.map(() => Math.floor(rand() * 256))),
      segmentStarts: Int32Array.from(starts),
      sinkBlocks: Math.floor(rand() * 3),
    },
    questionStart: Math.floor(rand() * T),
    turns: [],
  };
}

test("shards round-trip every field of every sample, and a flipped byte is caught", () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lv-shard-"));
  try {
    const samples = Array.from({ length: 12 }, () => randomSample(rand, [16, 64][Math.floor(rand() * 2)]));
    const writer = new ShardWriter();
    samples.forEach((s, i) => writer.add(encodeSample(s, i * 7)));
    const file = path.join(dir, "s.lvds");
    const header = { hello: "world", n: samples.length };
    const bytes = writer.write(file, header);
    assert.equal(fs.statSync(file).size, bytes);
    const back = readShard(file);
    assert.deepEqual(back.header, header);
    assert.equal(back.samples.length, samples.length);
    back.samples.forEach((got, i) => {
      const want = samples[i];
      assert.deepEqual(Array.from(got.ids), Array.from(want.ids), `seed ${seed}: sample ${i} ids`);
      assert.deepEqual(got.spans, want.spans, `seed ${seed}: sample ${i} spans`);
      assert.equal(got.repoIndex, i * 7);
      assert.equal(got.questionStart, want.questionStart);
      assert.equal(got.taskBits, taskBitsOf(want.spans));
      assert.equal(got.facts.numBlocks, want.facts.numBlocks);
      assert.equal(got.facts.blockSize, want.facts.blockSize);
      assert.equal(got.facts.sinkBlocks, want.facts.sinkBlocks);
      assert.deepEqual(Array.from(got.facts.anchorBlocks), Array.from(want.facts.anchorBlocks));
      assert.deepEqual(Array.from(got.facts.anchorTier), Array.from(want.facts.anchorTier));
      assert.deepEqual(Array.from(got.facts.segmentStarts), Array.from(want.facts.segmentStarts));
    });

    // Corrupt one byte inside some sample's stored tokens: the CRC (or the inflater) must refuse it.
    const buf = fs.readFileSync(file);
    const one = encodeSample(samples[0], 0);
    const decoded = decodeSample(one);
    assert.equal(decoded.ids.length, samples[0].ids.length);
    const { spans, facts } = samples[0];
    const A = facts.anchorBlocks.length;
    const tokensAt = 56 + 12 * spans.length + 5 * A + ((4 - (A % 4)) % 4) + 4 * facts.segmentStarts.length;
    const stored = one.readUInt32LE(44);
    const flipped = Buffer.from(one);
    // Deflated: skip the stream's last byte (its unused end bits) and the Adler-32 trailer, which a flip may not touch.
    const deflated = one.readUInt32LE(40) === 1;
    const span = deflated ? stored - 5 : stored;
    flipped[tokensAt + Math.floor(rand() * span)] ^= 1 << Math.floor(rand() * 8);
    // The flip is refused — or, where it hit bits the inflater never reads (a deflate block's padding), the tokens come
    // back unchanged: never silently different.
    let undetected: ReturnType<typeof decodeSample> | undefined;
    try {
      undetected = decodeSample(flipped);
    } catch (e) {
      assert.match((e as Error).message, /CRC|expected|invalid|incorrect|unexpected|header|distance|stored/i, `seed ${seed}`);
    }
    if (undetected) assert.deepEqual(Array.from(undetected.ids), Array.from(samples[0].ids), `seed ${seed}: an undetected flip changed the tokens`);
    const badMagic = Buffer.from(one);
    badMagic[0] ^= 1;
    assert.throws(() => decodeSample(badMagic), /magic/);
    fs.writeFileSync(file, buf.subarray(0, buf.length - 3));
    assert.throws(() => readShard(file), /truncated|CRC|expected/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("tokens that do not fit uint16 are refused", () => {
  const s = randomSample(rng(1), 16);
  s.ids[0] = 70000;
  assert.throws(() => encodeSample(s, 0), /uint16/);
});

test("the train/eval split is a pure function of the id: same answer in any order, ~10% held out", () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const ids = Array.from({ length: 4000 }, (_, i) => `npm/pkg-${i}-${Math.floor(rand() * 1e9).toString(36)}`);
  const first = new Map(ids.map((id) => [id, splitOf(id)]));
  const shuffled = [...ids].sort(() => rand() - 0.5);
  for (const id of shuffled) assert.equal(splitOf(id), first.get(id), `seed ${seed}: ${id}`);
  const held = ids.filter((id) => first.get(id) === "eval").length / ids.length;
  // Binomial(4000, 0.1): sd ≈ 0.0047; ±5 sd.
  assert.ok(Math.abs(held - 0.1) < 0.024, `seed ${seed}: ${held} held out`);
  // Another salt is another split (a version bump reshuffles), the hash is in [0, 1).
  const moved = ids.filter((id) => splitOf(id, 0.1, "other-salt") !== first.get(id)).length;
  assert.ok(moved > 200, `seed ${seed}: only ${moved} moved with another salt`);
  for (const id of ids.slice(0, 100)) {
    const h = splitHash(id);
    assert.ok(h >= 0 && h < 1);
  }
});

test("an answer encodes to ids that decode to its text, and its citations parse back in order", () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const paths = ["src/billing.ts", "pkg/a b/ü.go", "lib/x.py", "crates/fraud/src/scoring.rs"];
  for (let n = 0; n < 30; n++) {
    const parts: AnswerPart[] = [];
    const cites = [];
    for (let k = 0; k < 1 + Math.floor(rand() * 5); k++) {
      if (rand() < 0.6) {
        const c = { path: paths[Math.floor(rand() * paths.length)], line: 1 + Math.floor(rand() * 5000) };
        cites.push(c);
        parts.push({ cite: c });
      } else {
        parts.push({ text: ["computeTotal ", "\n", "Returns the total. ", "(+3 more)", " `x` "][Math.floor(rand() * 5)] });
      }
    }
    const ids = encodeAnswer(tokenizer, parts);
    assert.equal(ids[ids.length - 1], tokenizer.specialTokenId("<|endanswer|>"));
    const text = tokenizer.decode(ids);
    assert.equal(text, `${answerToText(parts)}<|endanswer|>`, `seed ${seed}`);
    assert.deepEqual(parseCitations(text), cites, `seed ${seed}`);
    assert.ok(!answerProse(text).includes("<|"), `seed ${seed}`);
  }
  // The path inside a citation is the same token sequence as the path alone (as file headers encode it).
  const p = "model-runtime/src/layout/repo-layout.ts";
  const ids = Array.from(encodeAnswer(tokenizer, [{ cite: { path: p, line: 42 } }]));
  const alone = Array.from(tokenizer.encode(p));
  assert.deepEqual(ids.slice(1, 1 + alone.length), alone);
});

test("answerProse keeps the prose: list lines of a label and its citation go, a citation inside a sentence leaves its words", () => {
  const text = [
    "Returns the total of the ledger.",
    "It calls `rate` <|cite|>src/rates.ts:3<|endcite|> for each line.",
    "Ledger.total <|cite|>src/ledger.ts:12<|endcite|>",
    "- `Ledger.post` <|cite|>src/ledger.ts:4<|endcite|>",
    "<|cite|>README.md:1<|endcite|>",
  ].join("\n");
  assert.equal(answerProse(`${text}<|endanswer|>ignored`), "Returns the total of the ledger.\nIt calls `rate`  for each line.");
});
