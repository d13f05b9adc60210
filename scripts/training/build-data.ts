// `npm run data:build`: training shards for the default model from the repository units on this machine
// (model-runtime/src/training-data; format in docs/training-data.md). Nothing it writes is committed.
//
// usage: npm run data:build -- [--out DIR] [--tok-corpus DIR] [--no-system] [--only REGEX] [--unit DIR ...]
//          [--lengths 8192,16384,32768] [--weights 1,1,1] [--coverage 1] [--max-samples-per-unit 200]
//          [--target-tokens N] [--shard-mb 32] [--seed 1] [--threads 1] [--eval-fraction 0.1]
//          [--reference-samples 3] [--index-cache DIR] [--list] [--write-eval-list FILE]
//          [--turns whereDefined=2,whatCalls=2,whoUses=2,needle=3,explain=2]   (question turns per task in an 8k sample; √length-scaled)
//          [--sibling-share 0.5]   (share of where-defined questions about a name with a one-word sibling in the context)
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { type RepoUnit, discoverUnits } from "../../model-runtime/src/training-data/corpus-units";
import { buildTrainingData, evalListJson } from "../../model-runtime/src/training-data/pipeline";
import { splitOf } from "../../model-runtime/src/training-data/split";
import { QA_TASKS, type QaTask } from "../../model-runtime/src/training-data/tasks";

const { values } = parseArgs({
  options: {
    out: { type: "string", default: "/tmp/longview-data" },
    "tok-corpus": { type: "string", default: "/tmp/tok-corpus" },
    "no-system": { type: "boolean", default: false },
    only: { type: "string" },
    unit: { type: "string", multiple: true },
    lengths: { type: "string", default: "8192,16384,32768" },
    weights: { type: "string" },
    coverage: { type: "string", default: "1" },
    "max-samples-per-unit": { type: "string", default: "200" },
    "target-tokens": { type: "string", default: "0" },
    "shard-mb": { type: "string", default: "32" },
    seed: { type: "string", default: "1" },
    threads: { type: "string", default: "1" },
    "eval-fraction": { type: "string", default: "0.1" },
    "reference-samples": { type: "string", default: "3" },
    "index-cache": { type: "string" },
    list: { type: "boolean", default: false },
    "write-eval-list": { type: "string" },
    turns: { type: "string" },
    "sibling-share": { type: "string", default: "0" },
  },
});

const numbers = (s: string) => s.split(",").filter(Boolean).map(Number);

/** `whereDefined=4,needle=6`: question turns per task in an 8k sample (the others keep their defaults). */
function turnsOption(s: string | undefined): Partial<Record<QaTask, number>> | undefined {
  if (!s) return undefined;
  const out: Partial<Record<QaTask, number>> = {};
  for (const part of s.split(",").filter(Boolean)) {
    const [task, n] = part.split("=");
    if (!QA_TASKS.includes(task as QaTask) || !(Number(n) >= 0)) throw new Error(`--turns: "${part}" is not task=count with task one of ${QA_TASKS.join(", ")}`);
    out[task as QaTask] = Number(n);
  }
  return out;
}

async function main(): Promise<void> {
  let units: RepoUnit[];
  if (values.unit?.length) {
    // Folders given on the command line are units of their own (tests, experiments); their licence is unknown.
    units = values.unit.map((dir) => ({ id: `local/${path.basename(path.resolve(dir))}`, path: path.resolve(dir), licence: "unknown (local folder)", origin: "local" }));
  } else {
    const found = discoverUnits({ tokCorpus: values["tok-corpus"], system: !values["no-system"] });
    for (const s of found.skipped) console.log(`skip ${s.id}: ${s.reason}`);
    units = found.units;
  }
  if (values.only) {
    const re = new RegExp(values.only);
    units = units.filter((u) => re.test(u.id));
  }
  const evalFraction = Number(values["eval-fraction"]);
  if (values["write-eval-list"]) {
    fs.writeFileSync(values["write-eval-list"], evalListJson(units, evalFraction));
    console.log(`wrote ${values["write-eval-list"]}`);
    return;
  }
  if (values.list) {
    for (const u of units) console.log(`${splitOf(u.id, evalFraction).padEnd(5)} ${u.id}  (${u.licence}; ${u.origin})`);
    return;
  }
  const { totals, manifestPath } = await buildTrainingData({
    outDir: values.out!,
    units,
    lengths: numbers(values.lengths!),
    lengthWeights: values.weights ? numbers(values.weights) : undefined,
    coverage: Number(values.coverage),
    maxSamplesPerUnit: Number(values["max-samples-per-unit"]),
    targetTokens: Number(values["target-tokens"]),
    shardBytes: Number(values["shard-mb"]) * 2 ** 20,
    seed: Number(values.seed),
    threads: Number(values.threads),
    evalFraction,
    referenceSamples: Number(values["reference-samples"]),
    indexStoreDir: values["index-cache"],
    turnsAt8k: turnsOption(values.turns),
    siblingShare: Number(values["sibling-share"]),
    log: (m) => console.log(m),
  });
  console.log(`\n${totals.samples} samples, ${totals.tokens} tokens, ${(totals.shardBytes / 2 ** 20).toFixed(1)} MiB (${totals.bytesPerMillionTokens} bytes per million tokens) in ${(totals.millis / 1000).toFixed(0)} s`);
  console.log(`tokens by loss class: ${JSON.stringify(totals.tokensByLossClass)}`);
  console.log(`turns by task: ${JSON.stringify(totals.turnsByTask)}; docs removed ${totals.docsRemoved}, rejected ${totals.docsRejected}; turns dropped ${totals.turnsDropped}`);
  console.log(`manifest: ${manifestPath}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
