// The extension's model side without VS Code: the state in words (model-view), the model answerer (streaming,
// grounded citations, attention map, index fallback with a notice, Stop), hover explanations (cache per symbol and
// file version, budget, cancellation) and the one-at-a-time work queue. The model is a fake ModelClient-like stream.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { ModelAnswer, ModelAnswerEvent, ModelAskOptions, ModelStatus } from "../../model-runtime/src/answer/model-client";
import { ModelUnavailableError } from "../../model-runtime/src/answer/model-client";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";
import type { AnswerPart, AnswerRequest, Answerer } from "../../extension/src/answerer";
import { ExplanationCache, type ExplainTarget, oneLine } from "../../extension/src/explanations";
import { ModelAnswerer, attentionMapOf, groundCitation } from "../../extension/src/model-answerer";
import {
  type ModelSnapshot,
  formatEta,
  indexFallbackNotice,
  modelCanAnswer,
  modelStatusLines,
  modelStatusSentence,
  modelView,
  progressText,
  statusBarView,
} from "../../extension/src/model-view";
import { WorkQueue } from "../../extension/src/work-queue";
import { FakeCancellationToken as Token, RATE_LIMITER_FILES } from "../helpers/extension-fakes";
import { indexFolder, makeTree, removeTree } from "../helpers/tmp-tree";

let dir: string;
let index: WorkspaceIndex;
before(async () => {
  dir = makeTree(RATE_LIMITER_FILES);
  index = await indexFolder(dir);
});
after(() => removeTree(dir));


const STATUS: ModelStatus = {
  state: "ready",
  modelName: "model",
  modelFolder: "/models/model",
  backend: "cpu",
  dense: "native-vnni",
  notices: [],
  contextTokens: 7936,
  prefilledTokens: 7936,
  files: 30,
  omittedFiles: 1,
  kvCacheBytes: 48 * 1024 * 1024,
  lastPrefillMs: 3200,
  lastPrefillTokens: 7936,
  lastPrefillTokensPerSecond: 2480,
  kvCacheSource: "prefill",
};
const ready: ModelSnapshot = { phase: { kind: "ready" }, status: STATUS };
const reading: ModelSnapshot = { phase: { kind: "reading", progress: { phase: "prefill", done: 3350, total: 7936, tokensPerSecond: 2410, etaSeconds: 12.4 } }, status: STATUS };

test("model state in words: progress, ETA, strip, status bar, notices, Show Index Status lines", () => {
  assert.equal(formatEta(12.4), "0:12");
  assert.equal(formatEta(185), "3:05");
  assert.equal(formatEta(3723), "1:02:03");
  assert.equal(progressText(reading.phase.kind === "reading" ? reading.phase.progress : undefined), "42% · 2,410 tokens/s · about 0:12 left");
  const strip = modelView(reading);
  assert.equal(strip.kind, "reading");
  assert.equal(strip.action, "cancel");
  assert.ok(strip.percent! > 41 && strip.percent! < 43);
  assert.match(strip.text, /Model reading the repository: 42% · 2,410 tokens\/s · about 0:12 left/);
  const bar = statusBarView(reading);
  assert.match(bar.text, /reading 42% · 2,410 tok\/s · 0:12/);
  assert.equal(bar.click, "cancel");
  assert.equal(statusBarView({ phase: { kind: "paused" }, status: STATUS }).click, "resume");
  assert.equal(modelView({ phase: { kind: "paused" }, status: { ...STATUS, prefilledTokens: 3968 } }).action, "resume");
  assert.match(modelView(ready).text, /Model ready \(model\) · read 7,936 tokens/);
  assert.equal(modelView(ready).action, undefined);

  assert.equal(modelCanAnswer(ready), true);
  assert.equal(modelCanAnswer({ phase: { kind: "updating" }, status: STATUS }), true);
  assert.equal(modelCanAnswer(reading), false);
  assert.equal(indexFallbackNotice(ready), undefined);
  assert.match(indexFallbackNotice(reading)!, /still reading the repository \(42%\)/);
  assert.match(indexFallbackNotice({ phase: { kind: "unavailable", reason: "no model found (x)" } })!, /model is unavailable \(no model found/);
  assert.match(indexFallbackNotice({ phase: { kind: "off", reason: "Restricted Mode (…)" } })!, /Restricted Mode/);

  const lines = modelStatusLines(ready).join("\n");
  for (const expected of [/model state: ready/, /model: model \(\/models\/model\)/, /model backend in use: attention cpu, dense native-vnni/, /model context: 7936 tokens of 30 files \(1 left out\)/, /KV cache: 48\.0 MiB \(computed\)/, /last prefill: 3\.2 s for 7936 tokens \(2,480 tokens\/s\)/]) {
    assert.match(lines, expected);
  }
  assert.match(modelStatusLines({ phase: { kind: "unavailable", reason: "the model files are corrupt" }, status: { ...STATUS, state: "failed", error: "bad header" } }).join("\n"), /model state: unavailable \(the model files are corrupt\)[\s\S]*model error: bad header/);
  assert.equal(modelStatusSentence(ready), "Model: ready, 7,936 tokens, last prefill 3.2 s.");
});

/** A model whose answer streams `tokens`, then a done event (or fails with `failWith` after the tokens). */
class FakeModel {
  snap: ModelSnapshot = ready;
  asked: Array<{ question: string; signal?: AbortSignal }> = [];
  failWith?: Error;
  /** Wait this long between tokens (for Stop). */
  delayMs = 0;
  constructor(
    private readonly tokens: string[],
    private readonly answer: Omit<ModelAnswer, "timings" | "stop">,
  ) {}
  snapshot(): ModelSnapshot {
    return this.snap;
  }
  async *ask(question: string, opts: ModelAskOptions): AsyncIterable<ModelAnswerEvent> {
    this.asked.push({ question, signal: opts.signal });
    for (const t of this.tokens) {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      if (opts.signal?.aborted) throw Object.assign(new Error("cancelled"), { code: "LONGVIEW_CANCELLED" });
      yield { kind: "token", text: t };
    }
    if (this.failWith) throw this.failWith;
    for (const c of this.answer.citations) yield { kind: "citation", citation: c };
    yield { kind: "done", answer: { ...this.answer, stop: "end", timings: { timeToFirstTokenMs: 5, decodeTokens: this.tokens.length, decodeMs: 10, decodeTokensPerSecond: 100 } } };
  }
}

/** The index's side: a fixed answer, counting calls. */
class FakeIndexAnswerer implements Answerer {
  calls = 0;
  async *answer(_request: AnswerRequest): AsyncIterable<AnswerPart> {
    this.calls++;
    yield { markdown: "**RateLimiter** — class at src/limiter.ts:2", citations: [{ root: "ws", path: "src/limiter.ts", line: 2 }], source: "index", files: [{ root: "ws", path: "src/limiter.ts", weight: 1 }], done: true };
  }
}

async function collect(parts: AsyncIterable<AnswerPart>): Promise<AnswerPart[]> {
  const out: AnswerPart[] = [];
  for await (const p of parts) out.push(p);
  return out;
}

const workspace = () => ({ index, roots: ["ws"] });
const ANSWER = {
  text: "`RateLimiter` is defined at src/limiter.ts:2 and used in src/api.ts:2 (and src/nowhere.ts:1, src/api.ts:99).",
  citations: [
    { root: "ws", path: "src/limiter.ts", line: 2, label: "RateLimiter" },
    { path: "src/api.ts", line: 2, label: "used" },
    { path: "src/nowhere.ts", line: 1, label: "made up" },
    { root: "ws", path: "src/api.ts", line: 99, label: "past the end" },
  ],
  readMap: [
    { root: "ws", path: "src/limiter.ts", share: 0.61 },
    { root: "ws", path: "src/api.ts", share: 0.27 },
  ],
};

test("citations become links only for files and lines the index holds; the root is found when the model gave none", () => {
  assert.deepEqual(groundCitation(index, ["ws"], { path: "src/api.ts", line: 2, label: "" }), { root: "ws", path: "src/api.ts", line: 2 });
  assert.equal(groundCitation(index, ["ws"], { path: "src/nowhere.ts", line: 1, label: "" }), undefined);
  assert.equal(groundCitation(index, ["ws"], { root: "ws", path: "src/api.ts", line: 99, label: "" }), undefined);
  assert.equal(groundCitation(index, ["ws"], { root: "other", path: "src/api.ts", line: 1, label: "" }), undefined);
  assert.equal(groundCitation(index, ["ws"], { path: "src/api.ts", line: 0, label: "" }), undefined);
  const map = attentionMapOf(ANSWER.readMap, [{ root: "ws", path: "src/api.ts", line: 2 }]);
  assert.deepEqual(map.files.map((f) => [f.path, f.share, f.line]), [["src/limiter.ts", 0.61, undefined], ["src/api.ts", 0.27, 2]]);
});

test("the attention map carries each file's definitions as the webview renders them: name, 1-based line, share, most first", () => {
  const readMap = [
    {
      root: "ws",
      path: "src/limiter.ts",
      share: 0.61,
      definitions: [
        { name: "RateLimiter.take", line: 4, share: 0.12 },
        { name: "RateLimiter", line: 2, share: 0.3 },
        { name: "nowhere", line: 0, share: 0.2 }, // no line to open: dropped
        { name: "unread", line: 9, share: 0 },
      ],
    },
    { root: "ws", path: "src/api.ts", share: 0.27, definitions: [] },
    { root: "ws", path: "src/none.ts", share: 0.01 },
  ];
  const map = attentionMapOf(readMap, [{ root: "ws", path: "src/limiter.ts", line: 2 }]);
  assert.deepEqual(map.files[0], {
    root: "ws",
    path: "src/limiter.ts",
    share: 0.61,
    line: 2,
    definitions: [
      { name: "RateLimiter", line: 2, share: 0.3 },
      { name: "RateLimiter.take", line: 4, share: 0.12 },
    ],
  });
  assert.ok(!("definitions" in map.files[1]) && !("definitions" in map.files[2]), "files without definitions have none");
  // A definition's rows never say more than its file.
  for (const f of map.files) assert.ok((f.definitions ?? []).reduce((s, d) => s + d.share, 0) <= f.share);
});

test("a ready model streams its answer, then the final part has grounded citations, the attention map and the index results", async () => {
  const model = new FakeModel(["`Rate", "Limiter` is", " defined at src/limiter.ts:2"], ANSWER);
  const facts = new FakeIndexAnswerer();
  const statuses: string[] = [];
  const answerer = new ModelAnswerer(model, facts, workspace);
  const parts = await collect(answerer.answer({ question: "Where is RateLimiter?", onStatus: (s) => statuses.push(s) }, new Token().token));
  assert.equal(model.asked[0].question, "Where is RateLimiter?");
  assert.ok(parts.length >= 2, `streamed parts: ${parts.length}`);
  assert.ok(parts.slice(0, -1).every((p) => !p.done && p.source === "model"), "parts before the last are in progress");
  assert.equal(parts[0].markdown, "`Rate", "the first token shows at once");
  const last = parts[parts.length - 1];
  assert.equal(last.done, true);
  assert.equal(last.source, "model");
  assert.equal(last.markdown, ANSWER.text, "the final text replaces the streamed one");
  assert.deepEqual(last.citations, [{ root: "ws", path: "src/limiter.ts", line: 2 }, { root: "ws", path: "src/api.ts", line: 2 }]);
  assert.deepEqual(last.attention?.files.map((f) => f.path), ["src/limiter.ts", "src/api.ts"]);
  assert.equal(last.attention?.files[0].line, 2, "a click on a file opens the line the answer cited there");
  assert.match(last.indexFacts!.markdown, /RateLimiter/);
  assert.equal(last.notice, undefined);
  assert.equal(facts.calls, 1);
  assert.deepEqual(statuses, ["The model is reading the question…", ""]);
});

test("while the model reads the repository the index answers at once, saying why; the model is not asked", async () => {
  const model = new FakeModel(["x"], ANSWER);
  model.snap = reading;
  const parts = await collect(new ModelAnswerer(model, new FakeIndexAnswerer(), workspace).answer({ question: "Where is RateLimiter?" }, new Token().token));
  assert.equal(parts.length, 1);
  assert.equal(parts[0].source, "index");
  assert.match(parts[0].notice!, /still reading the repository \(42%\)/);
  assert.equal(model.asked.length, 0);
  for (const snap of [{ phase: { kind: "unavailable", reason: "no model found (/x)" } }, { phase: { kind: "off", reason: "Restricted Mode" } }, { phase: { kind: "paused" } }] as ModelSnapshot[]) {
    model.snap = snap;
    const [p] = await collect(new ModelAnswerer(model, new FakeIndexAnswerer(), workspace).answer({ question: "q" }, new Token().token));
    assert.equal(p.source, "index");
    assert.ok(p.notice && p.notice.startsWith("Answered from the index"), p.notice);
  }
});

test("Stop aborts the model's answer: its signal fires and no part follows", async () => {
  const model = new FakeModel(["a", "b", "c", "d", "e", "f", "g", "h"], ANSWER);
  model.delayMs = 30;
  const token = new Token();
  const seen: AnswerPart[] = [];
  const run = (async () => {
    for await (const p of new ModelAnswerer(model, new FakeIndexAnswerer(), workspace).answer({ question: "q" }, token.token)) {
      seen.push(p);
      if (seen.length === 1) token.cancel();
    }
  })();
  await run;
  assert.equal(model.asked[0].signal?.aborted, true, "the model's signal was aborted");
  assert.equal(seen.length, 1, "nothing after the stop");
  assert.ok(!seen.some((p) => p.done));
});

test("a model that fails mid-answer falls back to the index results, with a notice", async () => {
  const model = new FakeModel(["partial"], ANSWER);
  model.failWith = new ModelUnavailableError("the model worker exited", "runtime");
  const logs: string[] = [];
  const parts = await collect(new ModelAnswerer(model, new FakeIndexAnswerer(), workspace, (m) => logs.push(m)).answer({ question: "q" }, new Token().token));
  const last = parts[parts.length - 1];
  assert.equal(last.source, "index");
  assert.equal(last.done, true);
  assert.match(last.notice!, /model failed while answering \(the model worker exited\)/);
  assert.ok(logs.some((l) => /falling back/.test(l)));
});

// --- hover explanations --------------------------------------------------------------------------------------------

class FakeExplainer {
  calls: Array<{ symbol: string; opts: ModelAskOptions }> = [];
  constructor(
    private readonly tokens: (symbol: string) => string[],
    private readonly delayMs = 5,
  ) {}
  explain = async function* (this: FakeExplainer, symbol: string, opts: ModelAskOptions): AsyncIterable<ModelAnswerEvent> {
    this.calls.push({ symbol, opts });
    let text = "";
    for (const t of this.tokens(symbol)) {
      await new Promise((r) => setTimeout(r, this.delayMs));
      if (opts.signal?.aborted) throw Object.assign(new Error("cancelled"), { code: "LONGVIEW_CANCELLED" });
      text += t;
      yield { kind: "token", text: t };
    }
    yield { kind: "done", answer: { text, citations: [], readMap: [], stop: "end", timings: { timeToFirstTokenMs: 1, decodeTokens: 1, decodeMs: 1, decodeTokensPerSecond: 1 } } };
  };
}

const target = (fileHash = "h1"): ExplainTarget => ({ name: "RateLimiter", root: "ws", path: "src/limiter.ts", line: 1, fileHash });

test("oneLine keeps the first sentence of the first non-empty line", () => {
  assert.equal(oneLine("\n  A token bucket that refills.  It also drains.\nmore"), "A token bucket that refills.");
  assert.equal(oneLine("no full stop here\nsecond"), "no full stop here");
  assert.equal(oneLine("x".repeat(500)).length, 240);
  assert.equal(oneLine(" \n "), "");
});

test("explanations are cached per symbol and file version; hovers waiting for the same one share one model call", async () => {
  const fake = new FakeExplainer((s) => [`${s} is`, " a token bucket.", " More."]);
  const cache = new ExplanationCache((s, o) => fake.explain(s, o), { maxNewTokens: 12, timeoutMs: 5_000 });
  const [a, b] = await Promise.all([cache.get(target(), new AbortController().signal), cache.get(target(), new AbortController().signal)]);
  assert.equal(a, "RateLimiter is a token bucket.");
  assert.equal(b, a);
  assert.equal(fake.calls.length, 1, "one model call for two hovers");
  assert.equal(fake.calls[0].opts.maxNewTokens, 12, "the budget's token limit reaches the model");
  assert.equal(await cache.get(target(), new AbortController().signal), a);
  assert.equal(cache.cached(target()), a);
  assert.equal(fake.calls.length, 1, "served from the cache");
  await cache.get(target("h2"), new AbortController().signal);
  assert.equal(fake.calls.length, 2, "a new version of the file is explained again");
});

test("a hover that goes away cancels the model's work and caches nothing; a slow model is cut at the budget", async () => {
  const fake = new FakeExplainer(() => Array.from({ length: 50 }, (_, i) => `w${i} `), 20);
  const cache = new ExplanationCache((s, o) => fake.explain(s, o), { maxNewTokens: 48, timeoutMs: 5_000 });
  const hover = new AbortController();
  const pending = cache.get(target(), hover.signal);
  await new Promise((r) => setTimeout(r, 60));
  hover.abort();
  assert.equal(await pending, undefined);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(fake.calls[0].opts.signal?.aborted, true, "the model's signal was aborted");
  assert.equal(cache.size, 0);

  const slow = new ExplanationCache((s, o) => fake.explain(s, o), { maxNewTokens: 48, timeoutMs: 150 });
  const t0 = Date.now();
  const text = await slow.get(target(), new AbortController().signal);
  assert.ok(Date.now() - t0 < 1_000, "the budget ends the wait");
  assert.match(text ?? "", /^w0 w1 /, `what arrived in time is kept: ${text}`);
});

test("the model stops once it has written a line", async () => {
  const fake = new FakeExplainer(() => ["Refills", " tokens.\n", "Then", " rambles", " on"]);
  const cache = new ExplanationCache((s, o) => fake.explain(s, o));
  assert.equal(await cache.get(target(), new AbortController().signal), "Refills tokens.");
  assert.equal(fake.calls[0].opts.signal?.aborted, true);
});

// --- one model operation at a time ---------------------------------------------------------------------------------

test("the work queue runs one operation at a time, in order; a waiter that aborts leaves the queue", async () => {
  const q = new WorkQueue();
  const order: string[] = [];
  const first = await q.acquire();
  const second = q.run(async () => void order.push("second"));
  const leaving = new AbortController();
  const third = q.acquire(leaving.signal);
  const fourth = q.run(async () => void order.push("fourth"));
  leaving.abort();
  await assert.rejects(third, (e: Error & { code?: string }) => e.code === "LONGVIEW_CANCELLED");
  order.push("first");
  first();
  await Promise.all([second, fourth]);
  assert.deepEqual(order, ["first", "second", "fourth"]);
  assert.equal(q.idle, true);
});
