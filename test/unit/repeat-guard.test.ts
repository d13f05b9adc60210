/**
 * The repeat guard: an answer that starts repeating a line ends there, the repeat left out of the text, the stream,
 * the citations and the raw answer; lines unlike the earlier ones stream at once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { answerWithModel } from "../../model-runtime/src/answer/model-answer";
import type { ModelAnswer } from "../../model-runtime/src/answer/model-client";
import { RepeatGuard, banRepeatedNgrams } from "../../model-runtime/src/answer/repeat-guard";
import type { AnswerEvent, RepoSession } from "../../model-runtime/src/engine/repo-session";
import { SeededRandom } from "../../model-runtime/src/model/random-init";
import { CodeTokenizer } from "../../model-runtime/src/tokenizer";

const seed = Number(process.env.TEST_SEED ?? Date.now() % 1e9);
const rng = new SeededRandom(seed);

/** Feeds `text` to a fresh guard in pieces cut at `cuts`; what it emitted (in order) and whether it saw a repeat. */
function feed(text: string, cuts: number[]): { emitted: string; repeated: boolean } {
  const guard = new RepeatGuard();
  let emitted = "";
  let from = 0;
  for (const at of [...cuts, text.length]) {
    const step = guard.push(text.slice(from, at));
    emitted += step.emit;
    if (step.repeated) return { emitted, repeated: true };
    from = at;
  }
  const end = guard.end();
  return { emitted: emitted + end.emit, repeated: end.repeated };
}

test("RepeatGuard: a repeated citation line ends the answer and is never emitted", () => {
  const text = "app src/cli.py:963\nload_app src/cli.py:120\napp src/cli.py:963\nmore text\n";
  const { emitted, repeated } = feed(text, [3, 10, 19, 25, 44, 46, 50]);
  assert.equal(repeated, true);
  assert.equal(emitted, "app src/cli.py:963\nload_app src/cli.py:120\n");
});

test("RepeatGuard: a line unlike the earlier ones streams at once; a line that begins like one is held until it differs", () => {
  const guard = new RepeatGuard();
  assert.equal(guard.push("parse_args src/a.py:10\n").emit, "parse_args src/a.py:10\n");
  assert.equal(guard.push("run").emit, "run", "no earlier line begins with 'run'");
  assert.equal(guard.push(" the loop\n").emit, " the loop\n");
  const held = guard.push("parse_");
  assert.equal(held.emit, "");
  assert.equal(guard.holding, true);
  assert.equal(guard.push("args src/b.py:4").emit, "parse_args src/b.py:4", "released where it differs (b.py, not a.py)");
  assert.equal(guard.holding, false);
});

test("RepeatGuard: short lines (braces, fences, blank lines) may recur; an unfinished last line that repeats is dropped at the end", () => {
  assert.deepEqual(feed("```\ncode\n```\n}\n}\n\n\nok", [2, 5, 9]), { emitted: "```\ncode\n```\n}\n}\n\n\nok", repeated: false });
  assert.deepEqual(feed("first line here\nsecond\nfirst line here", [4, 20]), { emitted: "first line here\nsecond\n", repeated: true });
  // Leading and trailing spaces do not hide a repeat.
  assert.equal(feed("  indented line x\nindented line x  \n", [7]).repeated, true);
});

test("RepeatGuard: random answers cut into random pieces emit exactly the text before the first repeated line", () => {
  const pool = ["alpha src/a.ts:1", "alpha src/a.ts:12", "beta() returns the sum", "}", "", "gamma src/c.ts:3", "alp"];
  for (let trial = 0; trial < 300; trial++) {
    const lines = Array.from({ length: 1 + rng.int(8) }, () => pool[rng.int(pool.length)]);
    const text = lines.join("\n") + (rng.int(2) ? "\n" : "");
    const cuts = Array.from({ length: rng.int(6) }, () => rng.int(text.length + 1)).sort((a, b) => a - b);
    // The reference: the first line (≥ 8 characters with a letter) equal to an earlier one, and everything before it.
    const seen = new Set<string>();
    let expected = text;
    let repeats = false;
    let offset = 0;
    for (const line of text.split("\n")) {
      const t = line.trim();
      if (t.length >= 8 && seen.has(t)) {
        expected = text.slice(0, offset);
        repeats = true;
        break;
      }
      if (t.length >= 8) seen.add(t);
      offset += line.length + 1;
    }
    assert.deepEqual(feed(text, cuts), { emitted: expected, repeated: repeats }, JSON.stringify({ seed, text, cuts }));
  }
});

test("answerWithModel: a model that loops on a line stops there; text, stream, citations and raw answer leave the repeat out", async () => {
  const tokenizer = CodeTokenizer.load();
  const special = (t: "<|cite|>" | "<|endcite|>") => tokenizer.specialTokenId(t);
  const cite = (label: string, at: string) => [...tokenizer.encode(`${label} `), special("<|cite|>"), ...tokenizer.encode(at), special("<|endcite|>"), ...tokenizer.encode("\n")];
  // The script a looping model writes: two lines, then the first again and again.
  const script = [...cite("app", "src/cli.py:963"), ...cite("load_app", "src/cli.py:120"), ...cite("app", "src/cli.py:963"), ...cite("app", "src/cli.py:963")];
  const session = {
    async *ask(): AsyncGenerator<AnswerEvent, void, void> {
      for (let i = 0; i < script.length; i++) yield { id: script[i], logprob: 0, index: i, position: 1000 + i, last: i === script.length - 1 } as AnswerEvent;
    },
    readMap: () => undefined,
  } as unknown as RepoSession;
  const gen = answerWithModel(session, tokenizer, { get: () => undefined }, "how does it find the app?", { grounded: false, maxNewTokens: script.length });
  let streamed = "";
  let result: { answer: ModelAnswer; raw: string } | undefined;
  for (;;) {
    const r = await gen.next();
    if (r.done) {
      result = r.value;
      break;
    }
    if (r.value.kind === "token") streamed += r.value.text;
  }
  assert.equal(result.answer.stop, "repeat");
  assert.equal(result.answer.text, "app src/cli.py:963\nload_app src/cli.py:120");
  assert.equal(streamed.trim(), result.answer.text, "the repeat was never streamed");
  assert.deepEqual(result.answer.citations.map((c) => `${c.path}:${c.line}`), ["src/cli.py:963", "src/cli.py:120"]);
  assert.equal(result.raw.split("<|cite|>").length - 1, 2, result.raw);
});

test("banRepeatedNgrams: exactly the tokens that would repeat an n-gram of the history are masked (brute force on random histories)", () => {
  for (let trial = 0; trial < 200; trial++) {
    const vocab = 2 + rng.int(5);
    const n = 1 + rng.int(4);
    const history = Array.from({ length: rng.int(20) }, () => rng.int(vocab));
    const logits = new Float32Array(vocab).fill(1);
    banRepeatedNgrams(logits, history, n);
    const ngrams = new Set<string>();
    for (let i = 0; i + n <= history.length; i++) ngrams.add(history.slice(i, i + n).join(","));
    for (let t = 0; t < vocab; t++) {
      const next = [...history.slice(history.length - (n - 1)), t];
      const repeats = history.length >= n - 1 && ngrams.has(next.join(","));
      assert.equal(logits[t] === -Infinity, repeats, JSON.stringify({ seed, history, n, t }));
    }
  }
});
