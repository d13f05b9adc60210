/**
 * Memory and disk caps (issue 6): the context clamp (setting, model positions, KV memory) and its notice, through
 * the ModelService with a tiny random model; the KV cache files' LRU eviction on a folder of fake files; the service
 * refusing a cache larger than the disk cap and touching a restored one.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { contextBudget, contextLimitNotice, kvBytesPerToken } from "../../model-runtime/src/answer/context-budget";
import type { ModelOpenOptions, ModelStatus } from "../../model-runtime/src/answer/model-client";
import { ModelService } from "../../model-runtime/src/answer/model-service";
import { KvCache } from "../../model-runtime/src/engine/kv-cache";
import { evictKvCacheFiles, kvCacheFileBytes, saveKvCache } from "../../model-runtime/src/engine/kv-store";
import { Indexer } from "../../model-runtime/src/index/indexer";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../../model-runtime/src/model/config";
import { saveModel } from "../../model-runtime/src/model/model-folder";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import { makeTree, removeTree } from "../helpers/tmp-tree";
import { modelStatusLines, modelStatusSentence, modelView } from "../../extension/src/model-view";

/** 2 layers × 2 (K, V) × 1 KV head × 32 dims × 4 bytes = 512 bytes per token. */
const TINY: ModelConfig = { ...DEFAULT_MODEL_CONFIG, dModel: 64, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 32, ffnDim: 128 };
const MB = 1024 * 1024;

let tmp: string;
let modelDir: string;
let workspace: string;
let files: ModelOpenOptions["files"];
const roots = () => [{ name: "ws", path: workspace }];

/** A repository of ~40 files of a few hundred tokens each: well over the 2,048 tokens a 3 MB cap leaves it. */
function repository(): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < 40; i++) {
    const body = Array.from({ length: 12 }, (_, j) => `export function step${i}_${j}(value: number): number {\n  return value * ${j + 1} + ${i};\n}\n`).join("\n");
    out[`src/module${i}.ts`] = `import { step0_0 } from "./module0";\n\n${body}`;
  }
  return out;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "longview-limits-"));
  modelDir = path.join(tmp, "model");
  saveModel(modelDir, TINY, randomWeights(TINY, { seed: 11, int8: true }), { dtype: "int8" });
  workspace = makeTree(repository(), "longview-limits-ws-");
  const ix = new Indexer({ roots: [{ name: "ws", path: workspace }], threads: 0 });
  await ix.build();
  await ix.dispose();
  files = [...ix.index.allFiles()];
});

after(() => {
  removeTree(tmp);
  removeTree(workspace);
});

async function withService<T>(opts: Partial<ModelOpenOptions>, run: (svc: ModelService, status: ModelStatus, logs: string[]) => Promise<T>): Promise<T> {
  const logs: string[] = [];
  const svc = new ModelService({ status: () => {}, progress: () => {}, log: (m) => logs.push(m) });
  try {
    const status = await svc.open({ roots: roots(), files, modelFolder: modelDir, backend: "js", prefill: false, ...opts });
    return await run(svc, status, logs);
  } finally {
    await svc.close();
  }
}

test("KV bytes per token follow the cache: layers × 2 × KV heads × head dims × 4 (float32)", () => {
  assert.equal(kvBytesPerToken(TINY), 2 * 2 * 1 * 32 * 4);
  const real = new KvCache(TINY, 10);
  assert.equal(kvBytesPerToken(TINY) * 10, real.bytes);
  // The default model: 6 layers, 2 KV heads of 64: 6 KB per token (docs/engine.md).
  assert.equal(kvBytesPerToken({ numLayers: 6, numKvHeads: 2, headDim: 64 }), 6144);
});

test("the context is the smallest of the setting, the model's positions and floor(memory cap / bytes per token)", () => {
  const bpt = 6144;
  const mem = contextBudget({ maxContextTokens: 1 << 20, maxPositions: 1 << 20, maxModelMemoryMB: 256, bytesPerToken: bpt });
  assert.equal(mem.maxTokens, Math.floor((256 * MB) / bpt)); // 43,690
  assert.equal(mem.limitedBy, "memory");
  const model = contextBudget({ maxContextTokens: 1 << 20, maxPositions: 32768, maxModelMemoryMB: 2048, bytesPerToken: bpt });
  assert.deepEqual([model.maxTokens, model.limitedBy], [32768, "model"]);
  const setting = contextBudget({ maxContextTokens: 8192, maxPositions: 32768, maxModelMemoryMB: 2048, bytesPerToken: bpt });
  assert.deepEqual([setting.maxTokens, setting.limitedBy], [8192, "setting"]);
  // The default cap: 2048 MB.
  const byDefault = contextBudget({ maxPositions: 1 << 20, bytesPerToken: bpt });
  assert.deepEqual([byDefault.maxTokens, byDefault.limitedBy, byDefault.maxModelMemoryMB], [Math.floor((2048 * MB) / bpt), "memory", 2048]);
});

test("the notice names the limit that cut the repository, and is absent when it fit", () => {
  const mem = contextBudget({ maxContextTokens: 1 << 20, maxPositions: 1 << 20, maxModelMemoryMB: 2048, bytesPerToken: 12_000 });
  assert.equal(contextLimitNotice(mem, 180_000, 420_000), "The model reads 180k of 420k tokens: longview.maxModelMemoryMB (2048 MB) limits its KV cache.");
  assert.equal(contextLimitNotice(mem, 180_000, 180_000), undefined);
  assert.match(contextLimitNotice(mem, 1500, 4200, { memory: "--max-model-memory", context: "--max-context" })!, /^The model reads 1\.5k of 4\.2k tokens: --max-model-memory \(2048 MB\)/);
  const setting = contextBudget({ maxContextTokens: 8192, maxPositions: 32768, maxModelMemoryMB: 2048, bytesPerToken: 6144 });
  assert.match(contextLimitNotice(setting, 8000, 20_000)!, /longview\.maxContextTokens \(8192\) limits its context/);
});

test("service: a small memory cap clamps the layout and the KV cache, and the status says so", async () => {
  const capped = await withService({ maxModelMemoryMB: 3 }, async (svc, status, logs) => {
    // 3 MB / 512 B = 6,144 positions: the layout gets 6,144 − 4,096 answer room = 2,048.
    assert.ok(status.contextTokens > 0 && status.contextTokens <= 2048, `${status.contextTokens}`);
    assert.ok(status.kvCacheBytes <= 3 * MB, `${status.kvCacheBytes} bytes`);
    assert.ok(status.omittedFiles > 0);
    assert.ok(status.repositoryTokens! > status.contextTokens);
    assert.equal(status.contextLimitedBy, "memory");
    assert.match(status.contextNotice!, /^The model reads [\d.]+k? of [\d.]+k? tokens: longview\.maxModelMemoryMB \(3 MB\) limits its KV cache\.$/);
    assert.ok(logs.some((l) => /context: 6144 tokens \(3 MB/.test(l)), logs.join("\n"));
    // The answer room stays within the cap once prefilled.
    await svc.prefill();
    assert.ok(svc.status().kvCacheBytes <= 3 * MB);
    return status;
  });
  await withService({ maxModelMemoryMB: 2048 }, async (_svc, status) => {
    assert.equal(status.contextLimitedBy, undefined);
    assert.equal(status.contextNotice, undefined);
    assert.equal(status.omittedFiles, 0);
    assert.ok(status.contextTokens > capped.contextTokens);
    // The whole repository, as the capped run estimated it (within block padding).
    assert.ok(Math.abs(status.contextTokens - capped.repositoryTokens!) < status.contextTokens * 0.25, `${status.contextTokens} vs ${capped.repositoryTokens}`);
  });
  await withService({ maxModelMemoryMB: 2048, maxContextTokens: 6144, limitNames: { memory: "--max-model-memory", context: "--max-context" } }, async (_svc, status) => {
    assert.equal(status.contextLimitedBy, "setting");
    assert.match(status.contextNotice!, /--max-context \(6144\) limits its context/);
  });
});

test("extension: the memory notice reaches the model strip, the notification and Show Index Status; other limits only the details", () => {
  const base: ModelStatus = { state: "ready", modelName: "model", notices: [], contextTokens: 2048, prefilledTokens: 2048, files: 10, omittedFiles: 30, kvCacheBytes: 3 * MB, lastPrefillMs: 1000 };
  const notice = "The model reads 2k of 9.3k tokens: longview.maxModelMemoryMB (3 MB) limits its KV cache.";
  const memory = { phase: { kind: "ready" as const }, status: { ...base, contextLimitedBy: "memory" as const, contextNotice: notice } };
  assert.equal(modelView(memory).notice, notice);
  assert.match(modelView(memory).text, /^Model ready/);
  assert.ok(modelStatusSentence(memory).endsWith(` ${notice}`));
  assert.ok(modelStatusLines(memory).includes(`model context limit: ${notice}`));
  assert.equal(modelView({ phase: { kind: "loading" }, status: memory.status }).notice, undefined);
  const model = { phase: { kind: "ready" as const }, status: { ...base, contextLimitedBy: "model" as const, contextNotice: "The model reads 32k of 90k tokens: the model was trained for 32k positions." } };
  assert.equal("notice" in modelView(model), false);
  assert.equal(modelStatusSentence(model), "Model: ready, 2,048 tokens, last prefill 1.0 s.");
  assert.ok(modelStatusLines(model).some((l) => l.startsWith("model context limit: The model reads 32k")));
});

/** A fake cache file of `bytes` whose last use was `ageSeconds` ago. */
function fakeCache(dir: string, name: string, bytes: number, ageSeconds: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(bytes));
  const t = new Date(Date.now() - ageSeconds * 1000);
  fs.utimesSync(file, t, t);
  return file;
}

test("disk cap: the least recently used other cache files go until the folder fits; the one just written stays", () => {
  const dir = fs.mkdtempSync(path.join(tmp, "lru-"));
  const oldest = fakeCache(dir, "a.lvkv", 400, 400);
  const older = fakeCache(dir, "b.lvkv", 300, 300);
  const recent = fakeCache(dir, "c.lvkv", 200, 100);
  const other = fakeCache(dir, "notes.txt", 5000, 1000); // not a cache file: neither counted nor deleted
  const tmpWrite = fakeCache(dir, "d.lvkv.tmp-123", 5000, 1000); // a write in progress
  // Just written, and stamped oldest of all: the mtime must not make it a candidate.
  const written = fakeCache(dir, "new.lvkv", 250, 10_000);
  // Total 1,150; cap 500: a (400) then b (300) go → 450.
  assert.deepEqual(evictKvCacheFiles(written, 500), [oldest, older]);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["c.lvkv", "d.lvkv.tmp-123", "new.lvkv", "notes.txt"]);
  assert.ok(fs.existsSync(recent) && fs.existsSync(other) && fs.existsSync(tmpWrite));
  // Already within the cap: nothing goes.
  assert.deepEqual(evictKvCacheFiles(written, 450), []);
  // The written file alone over the cap: every other one goes, it stays.
  assert.deepEqual(evictKvCacheFiles(written, 100), [recent]);
  assert.ok(fs.existsSync(written));
});

test("disk cap: kvCacheFileBytes is the size saveKvCache writes", async () => {
  const cache = new KvCache(TINY, 100);
  cache.length = 37;
  const key = { modelHash: "f".repeat(64), layoutVersion: JSON.stringify({ format: "x", roots: ["ws"] }) };
  const file = path.join(tmp, "size", "one.lvkv");
  await saveKvCache(file, cache, new Int32Array(37), key);
  assert.equal(fs.statSync(file).size, kvCacheFileBytes(cache, key));
});

test("service: a cache larger than the disk cap is not saved (one log line); a fitting one evicts older files; a restore touches its file", async () => {
  const kvDir = path.join(tmp, "kv-capped");
  fs.mkdirSync(kvDir, { recursive: true });
  // Capped at 3 MB of memory, the cache file is ~1 MB: a 0.5 MB disk cap refuses it.
  await withService({ maxModelMemoryMB: 3, kvCacheDir: kvDir, maxKvCacheDiskMB: 0.5 }, async (svc, _s, logs) => {
    await svc.prefill();
    await svc.close();
    const refusal = logs.filter((l) => l.startsWith("KV cache not saved"));
    assert.equal(refusal.length, 1, logs.join("\n"));
    assert.match(refusal[0], /^KV cache not saved: \d+ MB is more than the disk cap of 0\.5 MB \(longview\.maxKvCacheDiskMB\)$/);
  });
  assert.deepEqual(fs.readdirSync(kvDir), []);

  // Two stale caches from before, 1 MB each, the first used longer ago; a 2.5 MB cap keeps the newer one.
  const stale1 = fakeCache(kvDir, "0000000000000000-aaaaaaaaaaaaaaaa.lvkv", MB, 200);
  const stale2 = fakeCache(kvDir, "0000000000000000-bbbbbbbbbbbbbbbb.lvkv", MB, 100);
  let saved: string[] = [];
  await withService({ maxModelMemoryMB: 3, kvCacheDir: kvDir, maxKvCacheDiskMB: 2.5 }, async (svc, _s, logs) => {
    await svc.prefill();
    await svc.close();
    saved = fs.readdirSync(kvDir).filter((f) => f !== path.basename(stale1) && f !== path.basename(stale2));
    assert.equal(saved.length, 1, fs.readdirSync(kvDir).join(", "));
    assert.ok(!fs.existsSync(stale1), "the least recently used cache was evicted");
    assert.ok(fs.existsSync(stale2), "the newer one fits beside the new cache");
    assert.ok(logs.some((l) => /deleted 1 least recently used/.test(l)), logs.join("\n"));
  });
  // Restoring marks the file used: its mtime moves to now.
  const file = path.join(kvDir, saved[0]);
  const past = new Date(Date.now() - 3600_000);
  fs.utimesSync(file, past, past);
  await withService({ maxModelMemoryMB: 3, kvCacheDir: kvDir, maxKvCacheDiskMB: 2.5 }, async (_svc, status) => {
    assert.equal(status.kvCacheSource, "disk");
    assert.ok(fs.statSync(file).mtimeMs > Date.now() - 60_000, "touched on restore");
  });
});
