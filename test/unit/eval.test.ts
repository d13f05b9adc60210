import assert from "node:assert/strict";
import { test } from "node:test";
import type { Answerer } from "../../model-runtime/src/eval/answerer";
import { BASELINES, intentOf } from "../../model-runtime/src/eval/baselines";
import { aggregate, runEval } from "../../model-runtime/src/eval/harness";
import { lcsLength, rougeL, topK, words } from "../../model-runtime/src/eval/metrics";
import { resultTable } from "../../model-runtime/src/eval/report";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";
import { QA_TASKS } from "../../model-runtime/src/training-data/tasks";
import { copyFixture } from "../e2e/lib/fixture";
import { freshSeed, rng } from "../helpers/tmp-tree";

/** Longest common subsequence by plain recursion over all pairs (exponential memo-free check on tiny inputs). */
function lcsBrute(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  if (a[0] === b[0]) return 1 + lcsBrute(a.slice(1), b.slice(1));
  return Math.max(lcsBrute(a.slice(1), b), lcsBrute(a, b.slice(1)));
}

test("LCS and ROUGE-L agree with their definitions on random word lists", () => {
  const seed = freshSeed();
  const rand = rng(seed);
  const vocab = ["a", "b", "c", "d", "e"];
  for (let n = 0; n < 200; n++) {
    const a = Array.from({ length: Math.floor(rand() * 9) }, () => vocab[Math.floor(rand() * vocab.length)]);
    const b = Array.from({ length: Math.floor(rand() * 9) }, () => vocab[Math.floor(rand() * vocab.length)]);
    const l = lcsBrute(a, b);
    assert.equal(lcsLength(a, b), l, `seed ${seed}: ${a} / ${b}`);
    const r = rougeL(a.join(" "), b.join(" "));
    if (l === 0) assert.equal(r.f1, 0);
    else {
      assert.ok(Math.abs(r.precision - l / a.length) < 1e-12 && Math.abs(r.recall - l / b.length) < 1e-12, `seed ${seed}`);
      assert.ok(Math.abs(r.f1 - (2 * r.precision * r.recall) / (r.precision + r.recall)) < 1e-12);
    }
  }
  assert.equal(rougeL("Returns the Total!", "returns the total").f1, 1);
  assert.deepEqual(words("computeTotal(x_y) — 42"), ["computetotal", "x", "y", "42"]);
});

test("top-k: distinct right citations among the first k, as a hit or out of min(k, right ones)", () => {
  const c = (path: string, line: number) => ({ path, line });
  const truth = [c("a.ts", 3)];
  assert.equal(topK([c("a.ts", 3)], truth, 1), 1);
  assert.equal(topK([c("b.ts", 3), c("a.ts", 3)], truth, 1), 0);
  assert.equal(topK([c("b.ts", 3), c("a.ts", 3)], truth, 5), 1);
  assert.equal(topK([c("./a.ts", 3)], truth, 1), 1);
  const many = [c("a", 1), c("a", 2), c("a", 3), c("a", 4), c("a", 5), c("a", 6)];
  // Repeating a right citation does not count twice.
  assert.equal(topK([c("a", 1), c("a", 1), c("x", 9), c("a", 2)], many, 5), 2 / 5);
  // One question, two right places (a C prototype and its definition): either one found is a hit.
  const two = [c("a.h", 3), c("a.c", 10)];
  assert.equal(topK([c("a.c", 10)], two, 5, "hit"), 1);
  assert.equal(topK([c("a.c", 10)], two, 5, "precision"), 1 / 2);
  assert.equal(topK([c("x", 1), c("a.h", 3)], two, 1, "hit"), 0);
  assert.equal(topK([], truth, 5), 0);
  assert.equal(topK([c("a", 1)], [], 5), 0);
});

test("baselines read the question's intent from its wording", () => {
  assert.equal(intentOf("Where is `x` defined?"), "whereDefined");
  assert.equal(intentOf("Which file defines `x`?"), "whereDefined");
  assert.equal(intentOf("What does `x` call?"), "whatCalls");
  assert.equal(intentOf("Which definitions does `x` use?"), "whatCalls");
  assert.equal(intentOf("What does x depend on?"), "whatCalls");
  assert.equal(intentOf("Who uses `x`?"), "whoUses");
  assert.equal(intentOf("Where is `x` used?"), "whoUses");
  assert.equal(intentOf("Which code mentions `x`?"), "whoUses");
});

test("the harness asks every answerer every question it applies to, on contexts within each length", async () => {
  const seed = freshSeed();
  const dir = copyFixture("polyglot");
  const seen: Array<{ tokens: number; question: string; endsWithAnswer: boolean }> = [];
  // An answerer that uses the model's entry point (withQuestion) and answers nothing: it must score 0.
  const probe: Answerer = {
    name: "probe",
    answer(layout, question) {
      const { ids } = layout.withQuestion(question);
      seen.push({ tokens: layout.numTokens, question, endsWithAnswer: ids[ids.length - 1] === tokenizer.specialTokenId("<|answer|>") });
      return "";
    },
  };
  const tokenizer = CodeTokenizer.load();
  const answerers = [...BASELINES, probe];
  const buckets = [4096, 8192];
  const result = await runEval({ units: [{ id: "local/polyglot", path: dir, licence: "test", origin: "fixture" }], answerers, tokenizer, buckets, perTask: 4, seed, threads: 0 });
  assert.equal(result.contexts.length, 2, `seed ${seed}`);
  for (const c of result.contexts) assert.ok(c.tokens <= c.bucket, `seed ${seed}: ${c.tokens} tokens in the ${c.bucket} bucket`);
  const small = result.contexts.find((c) => c.bucket === 4096)!;
  const large = result.contexts.find((c) => c.bucket === 8192)!;
  assert.ok(large.files >= small.files);
  const questions = result.contexts.reduce((a, c) => a + Object.values(c.questions).reduce((x, y) => x + y, 0), 0);
  const applicable = (task: string) => answerers.filter((a) => !a.tasks || a.tasks.includes(task as never)).length;
  const expected = result.contexts.reduce((a, c) => a + Object.entries(c.questions).reduce((x, [t, n]) => x + n * applicable(t), 0), 0);
  assert.equal(result.results.length, expected, `seed ${seed}`);
  assert.equal(seen.length, questions);
  assert.ok(seen.every((s) => s.endsWithAnswer && s.tokens <= 8192));
  for (const r of result.results.filter((x) => x.answerer === "probe")) assert.ok((r.top1 ?? r.rougeL ?? 0) === 0 && (r.top5 ?? 0) === 0);
  // The (a) truth comes from the index's own queries: exact lookup must find every definition.
  for (const r of result.results.filter((x) => x.answerer.startsWith("index-lookup") && x.task === "whereDefined")) assert.equal(r.top5, 1, `seed ${seed}`);
  const cells = aggregate(result.results);
  assert.ok(cells.size > 0);
  const table = resultTable(result, answerers, buckets);
  for (const task of QA_TASKS) assert.ok(table.includes(task === "explain" ? "(c) explain" : "|"), table);
  assert.match(table, /\| repositories \| \| 1 \| 1 \|/);
});
