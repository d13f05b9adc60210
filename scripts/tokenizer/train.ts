// Trains Longview's byte-level BPE on the corpus that collect-corpus.ts wrote, and writes tokenizer.json.
// With --sweep it also measures bytes/token on the held-out files at several vocabulary sizes (one training run:
// a smaller vocabulary is a prefix of the merges), which is how the shipped size was chosen (docs/tokenizer.md).
//
// usage: node --import tsx scripts/tokenizer/train.ts [--corpus DIR] [--vocab N] [--regex code|gpt2]
//          [--pattern ONIGURUMA_REGEX] [--out FILE] [--sweep 8192,16384,...] [--report FILE]
import fs from "node:fs";
import path from "node:path";
import { countPieces, trainBpe, truncateBpe, type BpeModel } from "../../model-runtime/src/tokenizer/bpe-trainer";
import { FastBpeEncoder } from "../../model-runtime/src/tokenizer/fast-encoder";
import { CODE_PRETOKENIZER_REGEX, GPT2_PRETOKENIZER_REGEX, compilePreTokenizer } from "../../model-runtime/src/tokenizer/pretokenizer";
import { SPECIAL_TOKENS } from "../../model-runtime/src/tokenizer/special-tokens";
import { buildTokenizerJson, serializeTokenizerJson } from "../../model-runtime/src/tokenizer/tokenizer-json";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const corpus = arg("corpus", "/tmp/tok-corpus/out");
const vocabSize = Number(arg("vocab", "24576"));
const regexName = arg("regex", "code");
// --pattern takes an Oniguruma pattern directly, for trying variants (docs/tokenizer.md lists the ones measured).
const regex = arg("pattern", "") || (regexName === "gpt2" ? GPT2_PRETOKENIZER_REGEX : CODE_PRETOKENIZER_REGEX);
const out = arg("out", path.join("model-runtime", "assets", "tokenizer", "tokenizer.json"));
const sweep = arg("sweep", "").split(",").filter(Boolean).map(Number);
const report = arg("report", "");

function readLangFiles(dir: string): Array<{ lang: string; text: string }> {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .sort()
    .map((f) => ({ lang: f.replace(/\.txt$/, ""), text: fs.readFileSync(path.join(dir, f), "utf8") }));
}

function main(): void {
  const pattern = compilePreTokenizer(regex);
  const t0 = performance.now();
  const counts = new Map<string, number>();
  let bytes = 0;
  for (const { lang, text } of readLangFiles(path.join(corpus, "train"))) {
    countPieces(text, pattern, counts);
    bytes += Buffer.byteLength(text);
    console.log(`counted ${lang}: ${counts.size} distinct pieces so far`);
  }
  const t1 = performance.now();
  console.log(`pre-tokenized ${(bytes / 1e6).toFixed(1)} MB into ${counts.size} distinct pieces in ${((t1 - t0) / 1000).toFixed(1)} s`);

  const learned = Math.max(vocabSize, ...sweep) - SPECIAL_TOKENS.length;
  const model = trainBpe(counts, {
    vocabSize: learned,
    onProgress: (m, v, c) => console.log(`  ${m} merges, vocab ${v + SPECIAL_TOKENS.length}, best pair count ${c}, ${((performance.now() - t1) / 1000).toFixed(0)} s`),
  });
  const t2 = performance.now();
  console.log(`trained ${model.merges.length} merges (${model.tokens.length} learned tokens) in ${((t2 - t1) / 1000).toFixed(1)} s`);

  const shipped = truncateBpe(model, vocabSize - SPECIAL_TOKENS.length);
  const json = buildTokenizerJson(shipped, SPECIAL_TOKENS, regex);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, serializeTokenizerJson(json));
  console.log(`wrote ${out} (${(fs.statSync(out).size / 1e6).toFixed(2)} MB, vocab ${shipped.tokens.length + SPECIAL_TOKENS.length})`);

  if (sweep.length > 0) runSweep(model, pattern, sweep);
}

/** bytes/token on held-out files for each vocabulary size and language. */
function runSweep(model: BpeModel, pattern: RegExp, sizes: number[]): void {
  const holdout = readLangFiles(path.join(corpus, "holdout"));
  const rows: Array<Record<string, number>> = [];
  for (const size of sizes.sort((a, b) => a - b)) {
    const json = buildTokenizerJson(truncateBpe(model, size - SPECIAL_TOKENS.length), SPECIAL_TOKENS, regex);
    const enc = new FastBpeEncoder(json.model, pattern);
    const row: Record<string, number> = { vocab: size };
    let allBytes = 0;
    let allTokens = 0;
    for (const { lang, text } of holdout) {
      const b = Buffer.byteLength(text);
      const t = enc.encode(text).length;
      row[lang] = b / t;
      allBytes += b;
      allTokens += t;
    }
    row.all = allBytes / allTokens;
    rows.push(row);
    console.log(Object.entries(row).map(([k, v]) => `${k}=${k === "vocab" ? v : v.toFixed(3)}`).join(" "));
  }
  if (report) fs.writeFileSync(report, JSON.stringify({ regex: regexName, rows }, null, 1));
}

main();
