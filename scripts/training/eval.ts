// `npm run eval`: the evaluation on held-out repositories (model-runtime/src/eval): the baselines and, with --model,
// the model (grounded citations) and the same model through a plain sliding window (what the anchors buy). Prints
// the table (top-1 / top-5 for citation tasks, ROUGE-L F1 for explanations) per context length, the model's prefill
// and decode speed per backend, and writes every per-question result to --json.
//
// usage: npm run eval -- [--tok-corpus DIR] [--no-system] [--only REGEX] [--unit DIR ...] [--eval-list FILE] [--buckets 16384,65536,262144,1048576]
//          [--per-task 20] [--tasks whereDefined,needle] [--min-fill 0.5] [--max-repos N] [--seed 1] [--threads 1] [--json FILE] [--index-cache DIR]
//          [--model DIR [--backend auto|cpu|js|webgpu|cuda[,…]] [--no-window] [--ungrounded] [--free-labels] [--no-search] [--no-calibration] [--no-retrieval] [--no-selection] [--select-blocks N] [--no-fusion] [--no-matched-first] [--no-index-facts] [--capped] [--fusion-sweep 1,3,10] [--ngram-sweep 0,2,4] [--max-new-tokens 160] [--no-baselines]]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ModelBackendChoice } from "../../model-runtime/src/answer/model-client";
import type { Answerer } from "../../model-runtime/src/eval/answerer";
import { BASELINES } from "../../model-runtime/src/eval/baselines";
import { type ModelAnswerer, createModelAnswerers, speedTable } from "../../model-runtime/src/eval/model-answerer";
import { DEFAULT_BUCKETS, runEval } from "../../model-runtime/src/eval/harness";
import { resultTable } from "../../model-runtime/src/eval/report";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { type RepoUnit, discoverUnits } from "../../model-runtime/src/training-data/corpus-units";
import { rootNameOf } from "../../model-runtime/src/training-data/repo-files";
import { splitOf } from "../../model-runtime/src/training-data/split";
import { QA_TASKS, type QaTask } from "../../model-runtime/src/training-data/tasks";

const { values } = parseArgs({
  options: {
    "tok-corpus": { type: "string", default: "/tmp/tok-corpus" },
    "no-system": { type: "boolean", default: false },
    only: { type: "string" },
    unit: { type: "string", multiple: true },
    "eval-list": { type: "string" },
    buckets: { type: "string", default: DEFAULT_BUCKETS.join(",") },
    "per-task": { type: "string", default: "20" },
    tasks: { type: "string" },
    "min-fill": { type: "string", default: "0.5" },
    "max-repos": { type: "string", default: "0" },
    "eval-fraction": { type: "string", default: "0.1" },
    seed: { type: "string", default: "1" },
    threads: { type: "string", default: "1" },
    json: { type: "string" },
    "index-cache": { type: "string" },
    model: { type: "string" },
    backend: { type: "string", default: "auto" },
    "no-window": { type: "boolean", default: false },
    ungrounded: { type: "boolean", default: false },
    "free-labels": { type: "boolean", default: false },
    "no-search": { type: "boolean", default: false },
    "no-calibration": { type: "boolean", default: false },
    "no-retrieval": { type: "boolean", default: false },
    "no-matched-first": { type: "boolean", default: false },
    capped: { type: "boolean", default: false },
    "no-selection": { type: "boolean", default: false },
    "select-blocks": { type: "string" },
    "no-fusion": { type: "boolean", default: false },
    "model-lead": { type: "boolean", default: false },
    "free-after-lead": { type: "boolean", default: false },
    "no-index-facts": { type: "boolean", default: false },
    "fusion-sweep": { type: "string" },
    "ngram-sweep": { type: "string" },
    "max-new-tokens": { type: "string", default: "160" },
    "no-baselines": { type: "boolean", default: false },
  },
});

function tasksOption(s: string): QaTask[] {
  const tasks = s.split(",").filter(Boolean) as QaTask[];
  const unknown = tasks.filter((t) => !QA_TASKS.includes(t));
  if (unknown.length) throw new Error(`--tasks: unknown ${unknown.join(", ")} (tasks: ${QA_TASKS.join(", ")})`);
  return tasks;
}

async function main(): Promise<void> {
  let units: RepoUnit[];
  if (values.unit?.length) {
    units = values.unit.map((dir) => ({ id: `local/${path.basename(path.resolve(dir))}`, path: path.resolve(dir), licence: "unknown (local folder)", origin: "local" }));
  } else if (values["eval-list"]) {
    // A held-out list written by data:build (<out>/eval-repos.json, or the committed one).
    units = (JSON.parse(fs.readFileSync(values["eval-list"], "utf8")) as { repos: RepoUnit[] }).repos;
  } else {
    // The held-out repositories: the same discovery and split as data:build.
    const evalFraction = Number(values["eval-fraction"]);
    units = discoverUnits({ tokCorpus: values["tok-corpus"], system: !values["no-system"] }).units.filter((u) => splitOf(u.id, evalFraction) === "eval");
  }
  if (values.only) {
    const re = new RegExp(values.only);
    units = units.filter((u) => re.test(u.id));
  }
  const maxRepos = Number(values["max-repos"]);
  if (maxRepos > 0) units = units.slice(0, maxRepos);
  const buckets = values.buckets!.split(",").map(Number);
  const answerers: Answerer[] = values["no-baselines"] ? [] : [...BASELINES];
  const models: ModelAnswerer[] = [];
  const disposers: Array<() => void> = [];
  if (values.model) {
    // One engine per backend asked for; each gives the anchored model and its sliding-window twin.
    for (const backend of values.backend!.split(",") as ModelBackendChoice[]) {
      const m = await createModelAnswerers(values.model, { backend, window: !values["no-window"], ungrounded: values.ungrounded, freeLabels: values["free-labels"], noSearch: values["no-search"], noCalibration: values["no-calibration"], noRetrieval: values["no-retrieval"], noSelection: values["no-selection"], selectBlocks: values["select-blocks"] === undefined ? undefined : Number(values["select-blocks"]), noFusion: values["no-fusion"], noMatchedFirst: values["no-matched-first"], modelLead: values["model-lead"], freeAfterLead: values["free-after-lead"], noIndexFacts: values["no-index-facts"], capped: values.capped, fusionSweep: values["fusion-sweep"]?.split(",").map(Number), ngramSweep: values["ngram-sweep"]?.split(",").map(Number), maxNewTokens: Number(values["max-new-tokens"]) });
      models.push(...m.answerers);
      disposers.push(m.dispose);
    }
    answerers.push(...models);
  }
  const t0 = performance.now();
  const result = await runEval({
    units,
    answerers,
    tokenizer: CodeTokenizer.load(),
    buckets,
    perTask: Number(values["per-task"]),
    tasks: values.tasks ? tasksOption(values.tasks) : undefined,
    minFill: Number(values["min-fill"]),
    seed: Number(values.seed),
    threads: Number(values.threads),
    indexStoreDir: values["index-cache"] ? (u) => path.join(values["index-cache"]!, rootNameOf(u)) : undefined,
    log: (m) => console.log(m),
  });
  for (const s of result.skipped) console.log(`skipped ${s.unit}: ${s.reason}`);
  const cpu = os.cpus();
  console.log(`\nmachine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, Node ${process.version}; ${units.length} held-out repositories, ${result.contexts.length} contexts, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  console.log("top-1 / top-5 (citation tasks; for list answers: precision at k) — ROUGE-L F1 (explanations)\n");
  console.log(resultTable(result, answerers, buckets));
  if (models.length) {
    console.log(`\nmodel ${path.resolve(values.model!)}: prefill and decode speed\n`);
    console.log(speedTable(models.map((m) => m.speed)));
  }
  for (const d of disposers) d();
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify({ buckets, contexts: result.contexts, skipped: result.skipped, results: result.results, speed: models.map((m) => m.speed) })}\n`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
