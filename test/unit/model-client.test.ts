/**
 * The model-answer service through its worker client, with a small random-weights model: open, prefill progress,
 * streamed answers, cancellation mid-prefill and mid-decode, typed errors for missing/corrupt models, status fields,
 * updates after edits, the KV cache restored from disk.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { type ModelAnswer, type ModelAnswerEvent, type ModelClient, type ModelOpenOptions, ModelUnavailableError, type PrefillProgress, isCancellation } from "../../model-runtime/src/answer/model-client";
import { createModelClient } from "../../model-runtime/src/answer/model-worker-client";
import { Indexer } from "../../model-runtime/src/index/indexer";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../model-runtime/src/model/config";
import { saveModel } from "../../model-runtime/src/model/model-folder";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import { copyFixture } from "../e2e/lib/fixture";
import { removeTree, writeFile } from "../helpers/tmp-tree";

/** The default model's vocabulary and block size (the shipped tokenizer), everything else tiny. */
const TINY: ModelConfig = { ...DEFAULT_MODEL_CONFIG, dModel: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 32, ffnDim: 128 };

let tmp: string;
let modelDir: string;
let workspace: string;
let files: ModelOpenOptions["files"];
const roots = () => [{ name: "ws", path: workspace }];

async function indexOf(dir: string) {
  const ix = new Indexer({ roots: [{ name: "ws", path: dir }], threads: 0 });
  await ix.build();
  await ix.dispose();
  return ix.index;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "longview-model-client-"));
  modelDir = path.join(tmp, "model");
  saveModel(modelDir, TINY, randomWeights(TINY, { seed: 7, int8: true }), { dtype: "int8" });
  workspace = copyFixture("polyglot");
  files = [...(await indexOf(workspace)).allFiles()];
});

after(() => {
  removeTree(tmp);
  removeTree(path.dirname(workspace));
});

async function collect(stream: AsyncIterable<ModelAnswerEvent>): Promise<{ tokens: string[]; done?: ModelAnswer; events: ModelAnswerEvent[] }> {
  const out: { tokens: string[]; done?: ModelAnswer; events: ModelAnswerEvent[] } = { tokens: [], events: [] };
  for await (const ev of stream) {
    out.events.push(ev);
    if (ev.kind === "token") out.tokens.push(ev.text);
    if (ev.kind === "done") out.done = ev.answer;
  }
  return out;
}

test("open: loads in the worker, reports prefill progress, ends ready with every status field", async () => {
  const client = createModelClient();
  const progress: PrefillProgress[] = [];
  const states: string[] = [];
  client.onProgress((p) => progress.push(p));
  client.onStatus((s) => states.push(s.state));
  try {
    const opened = await client.open({ roots: roots(), files, modelFolder: modelDir, kvCacheDir: path.join(tmp, "kv") });
    assert.equal(opened.modelName, "model");
    assert.equal(opened.modelFolder, modelDir);
    assert.ok(opened.backend && opened.dense, JSON.stringify(opened));
    assert.ok(opened.contextTokens > 0 && opened.contextTokens % 64 === 0);
    assert.ok(opened.files > 10 && opened.kvCacheBytes > 0);
    assert.equal(opened.kvCacheSource, "prefill");
    await client.prefill();
    const s = client.status();
    assert.equal(s.state, "ready");
    assert.equal(s.prefilledTokens, s.contextTokens);
    assert.ok(s.lastPrefillMs! > 0 && s.lastPrefillTokens === s.contextTokens && s.lastPrefillTokensPerSecond! > 0, JSON.stringify(s));
    assert.deepEqual([states[0], states.at(-1)], ["loading", "ready"]);
    assert.ok(states.includes("prefilling"));
    // Progress: rising, against the context's size, ending at it, with a rate and an ETA.
    assert.ok(progress.length >= 1);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].done >= progress[i - 1].done);
    assert.equal(progress.at(-1)!.done, s.contextTokens);
    assert.ok(progress.every((p) => p.total === s.contextTokens && p.phase === "prefill" && p.tokensPerSecond >= 0));
    assert.equal(progress.at(-1)!.etaSeconds, 0);

    // ask: tokens stream, then one "done" with the answer, read map and timings.
    const r = await collect(client.ask("Who uses `Ledger`?", { maxNewTokens: 12 }));
    assert.equal(r.events.at(-1)!.kind, "done");
    assert.equal(r.events.filter((e) => e.kind === "done").length, 1);
    const a = r.done!;
    assert.equal(a.text, r.tokens.join("").trim());
    assert.ok(a.stop === "length" || a.stop === "end");
    assert.ok(a.timings.timeToFirstTokenMs > 0 && a.timings.decodeTokens <= 11);
    assert.ok(a.readMap.length > 0);
    const share = a.readMap.reduce((x, f) => x + f.share, 0);
    assert.ok(share > 0 && share <= 1 + 1e-9, `shares sum to ${share}`);
    assert.ok(a.readMap.every((f) => f.root === "ws" && files.some((x) => x.path === f.path)));
    for (const c of a.citations) assert.ok(files.some((x) => x.path === c.path) && c.line >= 1, JSON.stringify(c));

    // Cancel mid-decode: the stream rejects with a cancellation; the session answers again afterwards.
    const controller = new AbortController();
    let seen = 0;
    await assert.rejects(
      (async () => {
        for await (const ev of client.ask("Explain `Ledger`.", { maxNewTokens: 400, signal: controller.signal })) {
          if (ev.kind === "done") throw new Error("the answer finished before the cancellation");
          if (++seen === 1) controller.abort();
        }
      })(),
      (e) => isCancellation(e),
    );
    const again = await collect(client.explain("Ledger", { maxNewTokens: 4 }));
    assert.ok(again.done && again.done.timings.decodeTokens <= 3);
    // Leaving the loop early cancels the answer in the worker too; the next ask is not held up by it.
    for await (const ev of client.ask("Where is `Ledger` defined?", { maxNewTokens: 400 })) if (ev) break;
    const third = await collect(client.ask("Where is `Ledger` defined?", { maxNewTokens: 3 }));
    assert.ok(third.done);
  } finally {
    await client.close();
  }
  assert.equal(client.status().state, "unloaded");
  // The KV cache was saved on the way out; a new client restores it instead of prefilling.
  assert.equal(fs.readdirSync(path.join(tmp, "kv")).filter((f) => f.endsWith(".lvkv")).length, 1);
  const again = createModelClient();
  const progress2: PrefillProgress[] = [];
  again.onProgress((p) => progress2.push(p));
  try {
    const s = await again.open({ roots: roots(), files, modelFolder: modelDir, kvCacheDir: path.join(tmp, "kv") });
    assert.equal(s.kvCacheSource, "disk");
    assert.equal(s.state, "ready");
    assert.equal(s.prefilledTokens, s.contextTokens);
    assert.ok((await collect(again.ask("Who uses `Ledger`?", { maxNewTokens: 3 }))).done);
    assert.equal(progress2.length, 0);
  } finally {
    await again.close();
  }
});

test("cancel mid-prefill: rejects as a cancellation, leaves a paused, resumable prefill", async () => {
  const client = createModelClient();
  try {
    // The TypeScript path prefills in chunks of 256 tokens: slow enough to stop half-way.
    const s = await client.open({ roots: roots(), files, modelFolder: modelDir, backend: "js", prefill: false });
    assert.equal(s.backend, "js");
    assert.equal(s.dense, "typescript");
    assert.equal(s.prefilledTokens, 0);
    const controller = new AbortController();
    const stop = client.onProgress(() => controller.abort());
    await assert.rejects(client.prefill({ signal: controller.signal }), (e) => isCancellation(e));
    stop();
    const paused = client.status();
    assert.equal(paused.state, "prefilling");
    assert.equal(paused.prefillPaused, true);
    assert.ok(paused.prefilledTokens > 0 && paused.prefilledTokens < paused.contextTokens, JSON.stringify(paused));
    // An ask resumes it (no explicit prefill) and answers.
    const r = await collect(client.ask("Where is `Ledger` defined?", { maxNewTokens: 2 }));
    assert.ok(r.done);
    assert.equal(client.status().prefilledTokens, paused.contextTokens);
    assert.equal(client.status().state, "ready");
  } finally {
    await client.close();
  }
});

test("updates after edits: new and changed files are laid out and re-prefilled; removed ones leave", async () => {
  const client = createModelClient();
  const ws = copyFixture("polyglot");
  try {
    const index = await indexOf(ws);
    const s0 = await client.open({ roots: [{ name: "ws", path: ws }], files: [...index.allFiles()], modelFolder: modelDir });
    await client.prefill();
    const refresh: PrefillProgress[] = [];
    client.onProgress((p) => refresh.push(p));
    writeFile(ws, "src/added.ts", "export function addedHelper(n: number): number {\n  return n + 1;\n}\n");
    const after = await indexOf(ws);
    const added = after.get("ws", "src/added.ts")!;
    assert.ok(added);
    await client.updateFiles([added], []);
    const s1 = client.status();
    assert.equal(s1.state, "ready");
    assert.equal(s1.files, s0.files + 1);
    assert.equal(s1.prefilledTokens, s1.contextTokens);
    assert.ok(refresh.length > 0 && refresh.every((p) => p.phase === "refresh"));
    assert.ok(refresh.at(-1)!.done === refresh.at(-1)!.total && refresh.at(-1)!.total < s1.contextTokens, "only the changed blocks are re-prefilled");
    await client.updateFiles([], [{ root: "ws", path: "src/added.ts" }]);
    assert.equal(client.status().files, s0.files);
    assert.ok((await collect(client.ask("Where is `Ledger` defined?", { maxNewTokens: 2 }))).done);
  } finally {
    await client.close();
    removeTree(path.dirname(ws));
  }
});

test("a missing or corrupt model is a typed ModelUnavailableError, and the status says failed", async () => {
  const missing = createModelClient();
  try {
    await assert.rejects(missing.open({ roots: roots(), files, modelFolder: path.join(tmp, "nope") }), (e) => e instanceof ModelUnavailableError && e.reason === "missing" && e.code === "LONGVIEW_MODEL_UNAVAILABLE");
    assert.equal(missing.status().state, "failed");
    assert.match(missing.status().error!, /no model at/);
  } finally {
    await missing.close();
  }
  const corrupt = path.join(tmp, "corrupt");
  fs.cpSync(modelDir, corrupt, { recursive: true });
  const w = path.join(corrupt, "model.safetensors");
  const bytes = fs.readFileSync(w);
  bytes[bytes.length - 10] ^= 0xff; // one flipped byte: only the checksum can tell
  fs.writeFileSync(w, bytes);
  const client = createModelClient();
  try {
    await assert.rejects(client.open({ roots: roots(), files, modelFolder: corrupt }), (e) => e instanceof ModelUnavailableError && e.reason === "invalid" && /SHA-256/.test(e.message));
    assert.equal(client.status().state, "failed");
    await assert.rejects(collect(client.ask("anything")), (e) => e instanceof ModelUnavailableError);
  } finally {
    await client.close();
  }
  fs.writeFileSync(path.join(corrupt, "config.json"), "{ not json");
  const bad = createModelClient();
  try {
    await assert.rejects(bad.open({ roots: roots(), files, modelFolder: corrupt }), (e) => e instanceof ModelUnavailableError && e.reason === "invalid");
  } finally {
    await bad.close();
  }
});

test("the worker keeps the caller's event loop free while it prefills", async () => {
  const client: ModelClient = createModelClient();
  try {
    await client.open({ roots: roots(), files, modelFolder: modelDir, backend: "js", prefill: false });
    let ticks = 0;
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
      ticks++;
    }, 10);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1500);
    await client.prefill({ signal: controller.signal }).catch((e) => assert.ok(isCancellation(e)));
    clearInterval(timer);
    assert.ok(ticks > 20, `only ${ticks} timer ticks while prefilling`);
    assert.ok(worst < 250, `the event loop stalled for ${worst.toFixed(0)} ms`);
  } finally {
    await client.close();
  }
});
