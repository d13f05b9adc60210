/**
 * Tokenizer benchmark: bytes/token and tokens/s of the shipped code tokenizer per language, against peers measured
 * in the same run: the same library (@huggingface/tokenizers) on the same file, a GPT-2-regex BPE and a code-regex
 * BPE trained here on the same sample at the same vocabulary size (so only the pre-tokenizer differs), and plain
 * bytes. Prints a table; docs/benchmarks/tokenizer.md keeps results.
 *
 * usage: node dist/bench/bench-tokenizer.js [--eval DIR] [--train DIR] [--machine] [--tokenizer FILE] [--eval-mb N] [--train-mb N]
 *   --eval / --train: folders of <language>.txt (scripts/tokenizer/collect-corpus.ts writes holdout/ and train/);
 *   by default /tmp/tok-corpus/out/{holdout,train} when present, else files found on this machine (node_modules,
 *   the Python standard library, Go and Rust sources, /usr/include), split by file into evaluation and training
 *   (--machine forces that). Machine files may overlap the tokenizer's own training corpus (npm packages, the
 *   Python standard library), which flatters the shipped row; the held-out corpus does not.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { countPieces, trainBpe } from "../model-runtime/src/tokenizer/bpe-trainer";
import { CodeTokenizer, SPECIAL_TOKENS, defaultTokenizerPath } from "../model-runtime/src/tokenizer/index";
import { CODE_PRETOKENIZER_REGEX, GPT2_PRETOKENIZER_REGEX, compilePreTokenizer } from "../model-runtime/src/tokenizer/pretokenizer";
import { buildTokenizerJson } from "../model-runtime/src/tokenizer/tokenizer-json";

const { values } = parseArgs({
  options: {
    eval: { type: "string" },
    train: { type: "string" },
    tokenizer: { type: "string" },
    "eval-mb": { type: "string", default: "1" },
    "train-mb": { type: "string", default: "4" },
    machine: { type: "boolean", default: false },
  },
});
const evalBytes = Number(values["eval-mb"]) * 1e6;
const trainBytes = Number(values["train-mb"]) * 1e6;

type Sample = Map<string, string>; // language → text

/** Machine sources by language: [directory, file pattern]. */
const MACHINE_SOURCES: Record<string, Array<[string, RegExp]>> = {
  ts: [["node_modules", /\.ts$/]],
  js: [["node_modules", /\.js$/]],
  python: [["/usr/lib/python3.11", /\.py$/]],
  go: [["/usr/share/go-1.19/src", /\.go$/], ["/usr/lib/go/src", /\.go$/]],
  rust: [["/usr/src/rustc-1.63.0/library", /\.rs$/]],
  c: [["/usr/include", /\.h$/]],
};

function listFiles(dir: string, re: RegExp, out: string[], limit: number): void {
  if (out.length >= limit || !fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && !e.name.startsWith(".") && e.name !== "testdata") listFiles(p, re, out, limit);
    else if (e.isFile() && re.test(e.name) && !/\.min\./.test(e.name)) out.push(p);
    if (out.length >= limit) return;
  }
}

/** Evaluation and training samples from this machine, alternating files so the two never share one. */
function machineSamples(): { evalSet: Sample; trainSet: Sample } {
  const evalSet: Sample = new Map();
  const trainSet: Sample = new Map();
  for (const [lang, sources] of Object.entries(MACHINE_SOURCES)) {
    const files: string[] = [];
    for (const [dir, re] of sources) listFiles(dir, re, files, 20000);
    let e = "";
    let t = "";
    files.forEach((f, i) => {
      const size = fs.statSync(f).size;
      if (size > 300_000) return;
      if (i % 4 === 0 && e.length < evalBytes) e += fs.readFileSync(f, "utf8");
      else if (i % 4 !== 0 && t.length < trainBytes) t += fs.readFileSync(f, "utf8");
    });
    if (e.length > 0) evalSet.set(lang, e);
    if (t.length > 0) trainSet.set(lang, t);
  }
  return { evalSet, trainSet };
}

function folderSample(dir: string, limit: number): Sample {
  const s: Sample = new Map();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".txt")).sort()) {
    const text = fs.readFileSync(path.join(dir, f), "utf8");
    s.set(f.replace(/\.txt$/, ""), text.slice(0, limit));
  }
  return s;
}

function trainPeer(trainSet: Sample, regex: string, vocabSize: number): CodeTokenizer {
  const pattern = compilePreTokenizer(regex);
  const counts = new Map<string, number>();
  for (const text of trainSet.values()) countPieces(text, pattern, counts);
  const model = trainBpe(counts, { vocabSize: vocabSize - SPECIAL_TOKENS.length });
  return CodeTokenizer.fromJSON(buildTokenizerJson(model, SPECIAL_TOKENS, regex), `peer ${regex.slice(0, 20)}…`);
}

function seconds(f: () => void): number {
  const t = performance.now();
  f();
  return (performance.now() - t) / 1000;
}

function main(): void {
  const corpus = "/tmp/tok-corpus/out";
  const useCorpus = !values.machine;
  const evalDir = values.eval ?? (useCorpus && fs.existsSync(`${corpus}/holdout`) ? `${corpus}/holdout` : undefined);
  const trainDir = values.train ?? (useCorpus && fs.existsSync(`${corpus}/train`) ? `${corpus}/train` : undefined);
  const machine = !evalDir || !trainDir ? machineSamples() : undefined;
  const evalSet = evalDir ? folderSample(evalDir, evalBytes) : machine!.evalSet;
  const trainSet = trainDir ? folderSample(trainDir, trainBytes) : machine!.trainSet;
  for (const lang of [...evalSet.keys()]) if (!["ts", "js", "python", "go", "rust", "java", "c", "cpp"].includes(lang)) evalSet.delete(lang);

  const file = values.tokenizer ?? defaultTokenizerPath();
  const t0 = performance.now();
  const shipped = CodeTokenizer.load(file);
  const loadMs = performance.now() - t0;
  const vocab = shipped.vocabSize;
  let trainMB = 0;
  for (const t of trainSet.values()) trainMB += Buffer.byteLength(t) / 1e6;
  const tt = performance.now();
  const gpt2 = trainPeer(trainSet, GPT2_PRETOKENIZER_REGEX, vocab);
  const code = trainPeer(trainSet, CODE_PRETOKENIZER_REGEX, vocab);
  const trainSeconds = (performance.now() - tt) / 1000;

  // JIT warm-up on text outside the measurement, so the first language measured isn't charged for compilation.
  const warmup = CodeTokenizer.load(file);
  const sample = [...evalSet.values()].map((t) => t.slice(0, 50_000)).join("\n");
  warmup.encodeWithOffsets(sample);
  warmup.encodeReference(sample);

  console.log(`machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "?"}; node ${process.version}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`tokenizer: ${file} (vocab ${vocab}, loaded in ${loadMs.toFixed(0)} ms)`);
  console.log(`evaluation text: ${evalDir ?? "files on this machine"}; peers trained on ${trainMB.toFixed(1)} MB from ${trainDir ?? "other files on this machine"} in ${trainSeconds.toFixed(1)} s`);
  console.log("");
  const header = ["language", "MB", "bytes/tok shipped", "GPT-2 regex (peer)", "code regex (peer)", "plain bytes", "shipped vs GPT-2", "fast Mtok/s first", "fast Mtok/s warm", "library Mtok/s", "fast / library"];
  const rows: string[][] = [];
  let allBytes = 0;
  let allTokens = 0;
  for (const [lang, text] of evalSet) {
    const bytes = Buffer.byteLength(text);
    const fresh = CodeTokenizer.load(file); // empty piece cache: what the first pass over a repository sees
    let ids: Int32Array = new Int32Array();
    const first = seconds(() => (ids = fresh.encodeWithOffsets(text).ids));
    const warm = Math.min(...[0, 1, 2].map(() => seconds(() => fresh.encodeWithOffsets(text))));
    let libIds: Int32Array = new Int32Array();
    const lib = Math.min(...[0, 1].map(() => seconds(() => (libIds = fresh.encodeReference(text)))));
    if (libIds.length !== ids.length || libIds.some((id, i) => id !== ids[i])) throw new Error(`${lang}: fast path and library disagree`);
    const bpt = bytes / ids.length;
    const g = bytes / gpt2.encode(text).length;
    const c = bytes / code.encode(text).length;
    allBytes += bytes;
    allTokens += ids.length;
    rows.push([lang, (bytes / 1e6).toFixed(2), bpt.toFixed(3), g.toFixed(3), c.toFixed(3), "1.000", `${((1 - g / bpt) * 100).toFixed(1)}% fewer tokens`,
      (ids.length / first / 1e6).toFixed(2), (ids.length / warm / 1e6).toFixed(2), (ids.length / lib / 1e6).toFixed(2), `${(lib / warm).toFixed(1)}×`]);
  }
  console.log(`| ${header.join(" | ")} |`);
  console.log(`|${header.map(() => "---").join("|")}|`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log(`\nall languages: ${(allBytes / allTokens).toFixed(3)} bytes/token shipped`);

  // A ~1M-token "repository": the evaluation texts (repeated only if too short), through a fresh tokenizer.
  let repo = [...evalSet.values()].join("\n");
  while (repo.length < 4.5e6) repo += repo;
  repo = repo.slice(0, 4.5e6);
  const fresh = CodeTokenizer.load(file);
  let n = 0;
  const fastS = seconds(() => (n = fresh.encodeWithOffsets(repo).ids.length));
  const libS = seconds(() => fresh.encodeReference(repo));
  console.log(`${(n / 1e6).toFixed(2)}M-token repository (${(Buffer.byteLength(repo) / 1e6).toFixed(1)} MB): fast path with offsets ${fastS.toFixed(2)} s, library ${libS.toFixed(2)} s`);
}

main();
