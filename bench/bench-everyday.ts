/**
 * Everyday questions about real repositories (bench/everyday/questions.json): how often the answer's first citation,
 * and any of its first five, lands in a definition that answers the question. Each question is asked the way a
 * person does — `longview ask <repo> "<question>"` with the bundled model — and, in the same run, with
 * `--index-only` (the index's own answer: BM25 over names and doc comments, no model), the baseline.
 * usage: node dist/bench/bench-everyday.js --repos DIR [--only flask,express] [--json FILE] [--answer-cli PATH] [--answerers index]
 *        DIR holds one folder per repository, named as in questions.json (bench/everyday/README.md fetches them).
 *        --answer-cli: another build's dist/cli.js answers (an earlier commit, to compare); this build's index
 *        still resolves the accepted definitions' lines.
 *        --answerers: which to ask, of "model,index" (the default: both); "index" alone takes a minute.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

interface Question {
  q: string;
  /** "path:Label" — the definitions that answer it (Label: `name` or `Container.name`). */
  accept: string[];
}
interface Repo {
  name: string;
  source: string;
  commit: string;
  questions: Question[];
}
interface Citation {
  path: string;
  line: number;
  endLine?: number;
}
interface Range {
  path: string;
  start: number;
  end: number;
}

const { values } = parseArgs({ options: { repos: { type: "string" }, only: { type: "string" }, json: { type: "string" }, questions: { type: "string" }, "answer-cli": { type: "string" }, answerers: { type: "string", default: "model,index" } } });
if (!values.repos) throw new Error("--repos DIR is required (bench/everyday/README.md)");
const cli = path.resolve(__dirname, "../cli.js");
const answerCli = values["answer-cli"] ? path.resolve(values["answer-cli"]) : cli;
const questionsFile = values.questions ?? path.resolve(__dirname, "../../bench/everyday/questions.json");
const repos = (JSON.parse(fs.readFileSync(questionsFile, "utf8")) as { repos: Repo[] }).repos.filter((r) => !values.only || values.only.split(",").includes(r.name));

// The accepted lines come from this build's index, kept apart from the answering build's (their formats may differ).
const truthEnv = { ...process.env, XDG_CACHE_HOME: path.join(os.tmpdir(), "longview-everyday-truth") };

function run(args: string[], by = cli): unknown {
  const r = spawnSync(process.execPath, [by, ...args], { encoding: "utf8", maxBuffer: 64 << 20, env: by === cli && args[0] === "find" ? truthEnv : process.env });
  if (r.status !== 0) throw new Error(`longview ${args.join(" ")} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout);
}

/** Accepted definitions the index does not know (a parse error hid them): reported, not scored. */
const unknownToIndex: string[] = [];

/**
 * The accepted definitions' line ranges (1-based), from the index (`longview find`). A label the index lacks is
 * reported: a misspelt label is an error in the set; a definition a parse error hid is the index's miss.
 */
function acceptedRanges(dir: string, accept: readonly string[]): Range[] {
  return accept.flatMap((a) => {
    const [file, label] = [a.slice(0, a.lastIndexOf(":")), a.slice(a.lastIndexOf(":") + 1)];
    const name = label.split(".").pop()!;
    const container = label.includes(".") ? label.slice(0, label.lastIndexOf(".")) : undefined;
    type Hit = { path: string; definition: { name: string; container?: string; startLine: number; endLine: number } };
    // Every definition of the label in that file (Python's @overload stubs and the real one). The qualified query
    // first: `find` lists a bounded number of hits, and ripgrep has more than that many `new`s.
    const matchingIn = (hits: Hit[]) => hits.filter((h) => h.path === file && h.definition.name === name && (container === undefined || h.definition.container === container));
    let hits = run(["find", label, "--dir", dir, "--json"]) as Hit[];
    let matching = matchingIn(hits);
    if (matching.length === 0 && label !== name) matching = matchingIn((hits = run(["find", name, "--dir", dir, "--json"]) as Hit[]));
    if (matching.length === 0) {
      unknownToIndex.push(`${a} (the index has: ${hits.map((h) => `${h.path}:${h.definition.container ? `${h.definition.container}.` : ""}${h.definition.name}`).join(", ") || "nothing"})`);
      return [];
    }
    return matching.map((h) => ({ path: file, start: h.definition.startLine + 1, end: h.definition.endLine + 1 }));
  });
}

const hits = (cited: readonly Citation[], ranges: readonly Range[]) => cited.map((c) => ranges.some((r) => r.path === c.path && c.line >= r.start && c.line <= r.end));

interface Row {
  repo: string;
  question: string;
  answerer: "model" | "index";
  top1: boolean;
  top5: boolean;
  first?: string;
  /** The first five citations, `path:line`. */
  cited: string[];
  seconds: number;
}

function main(): void {
  const rows: Row[] = [];
  for (const repo of repos) {
    const dir = path.resolve(values.repos!, repo.name);
    if (!fs.existsSync(dir)) throw new Error(`${dir} is missing (${repo.source} at ${repo.commit}: bench/everyday/README.md)`);
    // The first ask builds the index and the model's KV cache (kept on disk); later asks restore them.
    for (const { q, accept } of repo.questions) {
      const ranges = acceptedRanges(dir, accept);
      for (const answerer of (["model", "index"] as const).filter((a) => values.answerers!.split(",").includes(a))) {
        const t0 = performance.now();
        const out = run(["ask", dir, q, "--json", ...(answerer === "index" ? ["--index-only"] : [])], answerCli) as { answer?: { citations: Citation[] }; citations?: Citation[] };
        // The index answer lists definitions (cited with their end line) among their uses; the model's, its citations in order.
        const cited = answerer === "model" ? (out.answer?.citations ?? []) : (out.citations ?? []).filter((c) => c.endLine !== undefined);
        const h = hits(cited, ranges);
        const row: Row = { repo: repo.name, question: q, answerer, top1: h[0] === true, top5: h.slice(0, 5).some(Boolean), first: cited[0] ? `${cited[0].path}:${cited[0].line}` : undefined, cited: cited.slice(0, 5).map((c) => `${c.path}:${c.line}`), seconds: (performance.now() - t0) / 1000 };
        rows.push(row);
        console.log(`${repo.name} ${answerer.padEnd(5)} ${row.top1 ? "1" : row.top5 ? "5" : "-"} ${row.seconds.toFixed(1).padStart(5)} s  ${q}  → ${row.first ?? "(no citation)"}`);
      }
    }
  }
  const pct = (xs: Row[], key: "top1" | "top5") => `${((100 * xs.filter((r) => r[key]).length) / Math.max(1, xs.length)).toFixed(0)}%`;
  const lines = ["", "| repository | questions | model top-1 | model top-5 | index only top-1 | index only top-5 |", "|---|---:|---:|---:|---:|---:|"];
  for (const name of [...repos.map((r) => r.name), "all"]) {
    const of = (a: Row["answerer"]) => rows.filter((r) => r.answerer === a && (name === "all" || r.repo === name));
    lines.push(`| ${name} | ${of("model").length} | ${pct(of("model"), "top1")} | ${pct(of("model"), "top5")} | ${pct(of("index"), "top1")} | ${pct(of("index"), "top5")} |`);
  }
  if (unknownToIndex.length) lines.push("", `Accepted definitions the index does not know (not scored): ${[...new Set(unknownToIndex)].join("; ")}`);
  lines.push("", `machine: ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}, Node ${process.version}, ${new Date().toISOString()}`);
  console.log(lines.join("\n"));
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ rows }, null, 1));
}

main();
