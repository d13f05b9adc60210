// K/V kept on the GPU (model-runtime/src/engine/resident-kv.ts), exercised without a GPU: a fake backend whose
// "device" caches are float32 arrays filled with NaN (so a row the engine forgot to upload poisons the logits) and
// whose attention is the TypeScript kernel over those arrays. Checks: the engine's outputs are identical with and
// without the resident path over prefill (growing cache), a refresh of middle blocks, a cancelled and resumed
// prefill, a truncation, a question with attention mass, decode past the capacity, and a cache loaded from disk;
// only the rows each call wrote are uploaded; a device failure falls back to the CPU with a notice; dispose frees.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout, ResidentKvCache, ResidentKvSupport, SparseAttentionBackend } from "../../kernels/api";
import { TimedAttention } from "../../bench/engine-gpu/timed-attention";
import { JsAttentionBackend } from "../../kernels/js";
import { Rng, randomPatternLayout } from "../../kernels/testing";
import { FallbackAttention } from "../../model-runtime/src/engine/attention-backend";
import { AttentionMass, Engine, EngineCancelledError } from "../../model-runtime/src/engine/engine";
import type { KvCache } from "../../model-runtime/src/engine/kv-cache";
import { loadKvCache, saveKvCache } from "../../model-runtime/src/engine/kv-store";
import { DEFAULT_PATTERN, type ModelConfig } from "../../model-runtime/src/model/config";
import { randomWeights } from "../../model-runtime/src/model/random-init";
import type { ModelWeights } from "../../model-runtime/src/model/weights";

const seed = Number(process.env.LONGVIEW_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`resident KV tests seed=${seed} (replay with LONGVIEW_TEST_SEED=${seed})`);
const rng = new Rng(seed);

interface Write {
  layer: number;
  start: number;
  count: number;
}

/** A device cache in host memory: rows never written are NaN. */
class FakeDeviceKv implements ResidentKvCache {
  readonly k: Float32Array;
  readonly v: Float32Array;
  disposed = false;
  constructor(
    readonly layer: number,
    readonly numKvHeads: number,
    readonly capacity: number,
    readonly headDim: number,
    private readonly log: Write[],
  ) {
    this.k = new Float32Array(numKvHeads * capacity * headDim).fill(Number.NaN);
    this.v = new Float32Array(numKvHeads * capacity * headDim).fill(Number.NaN);
  }
  write(k: Float32Array, v: Float32Array, hostCapacity: number, start: number, count: number): void {
    assert.ok(!this.disposed, "write to a disposed device cache");
    assert.ok(start >= 0 && start + count <= this.capacity && start + count <= hostCapacity, `rows [${start}, ${start + count}) out of range`);
    const D = this.headDim;
    for (let h = 0; h < this.numKvHeads; h++) {
      const from = (h * hostCapacity + start) * D;
      this.k.set(k.subarray(from, from + count * D), (h * this.capacity + start) * D);
      this.v.set(v.subarray(from, from + count * D), (h * this.capacity + start) * D);
    }
    this.log.push({ layer: this.layer, start, count });
  }
  dispose(): void {
    this.disposed = true;
  }
}

/** A "GPU" backend with resident K/V; its plain attention() must never run while the resident path works. */
class FakeResidentBackend implements SparseAttentionBackend {
  readonly name = "fake-gpu";
  readonly writes: Write[] = [];
  readonly caches: FakeDeviceKv[] = [];
  residentCalls = 0;
  hostCalls = 0;
  /** Throws on the resident attention call with this index (0-based), if set. */
  failOnCall?: number;
  private readonly js = new JsAttentionBackend();
  private readonly numLayers: number;

  constructor(numLayers: number) {
    this.numLayers = numLayers;
  }

  attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): void {
    this.hostCalls++;
    this.js.attention(shape, layout, inputs, outputs);
  }

  resident(): ResidentKvSupport {
    return {
      // The engine makes a generation of caches in layer order.
      createCache: (numKvHeads, capacity, headDim) => {
        const c = new FakeDeviceKv(this.caches.length % this.numLayers, numKvHeads, capacity, headDim, this.writes);
        this.caches.push(c);
        return c;
      },
      attention: (shape, layout, q, cache, outputs) => {
        const device = cache as FakeDeviceKv;
        assert.ok(!device.disposed, "attention on a disposed device cache");
        assert.equal(shape.kvCapacity, device.capacity);
        if (this.failOnCall === this.residentCalls++) throw new Error("device lost (fake)");
        this.js.attention(shape, layout, { q, k: device.k, v: device.v }, outputs);
      },
    };
  }

  get live(): FakeDeviceKv[] {
    return this.caches.filter((c) => !c.disposed);
  }
}

const config: ModelConfig = {
  vocabSize: 97,
  dModel: 32,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 8,
  ffnDim: 48,
  ropeTheta: 10_000,
  normEps: 1e-5,
  blockSize: 16,
  pattern: DEFAULT_PATTERN,
  tieEmbeddings: false,
  maxPositions: 1 << 20,
};
const B = config.blockSize;
const CHUNK = 2 * B;
const weights: ModelWeights = randomWeights(config, { seed: rng.int(0, 2 ** 30), std: 0.1, normJitter: 0.3 });
const ids = (n: number) => Int32Array.from({ length: n }, () => rng.int(0, config.vocabSize - 1));

async function engineWith(attention: SparseAttentionBackend, log?: (m: string) => void): Promise<Engine> {
  return Engine.create({ config, weights }, { attentionBackend: attention, dense: "typescript", chunkTokens: CHUNK, log });
}

/** Everything the sequence produced: logits, attention mass and the host cache, in order. */
type Trace = Float32Array[];

function cacheRows(cache: KvCache): Float32Array[] {
  const D = cache.headDim;
  const out: Float32Array[] = [];
  for (const t of [...cache.k, ...cache.v])
    for (let h = 0; h < cache.numKvHeads; h++) out.push(t.slice(h * cache.capacity * D, (h * cache.capacity + cache.length) * D));
  return out;
}

interface Script {
  T: number;
  repo: Int32Array;
  edit: Int32Array;
  more: Int32Array;
  question: Int32Array;
  layout: BlockSparseLayout;
}

function script(): Script {
  const T = 6 * B + rng.int(1, B - 1); // a partial last block
  const total = T + 4 * B + 64;
  const layout = randomPatternLayout(rng, "random", B, Math.ceil(total / B), 2);
  return { T, repo: ids(T), edit: ids(2 * B), more: ids(3 * B), question: ids(5), layout };
}

/**
 * prefill (cache grows) → refresh blocks 2..3 → cancelled append, resumed → truncate and redo → question with mass
 * → decode past the capacity. `phase` marks where each step starts in the backend's write log.
 */
async function runScript(engine: Engine, s: Script, phase?: (name: string) => void): Promise<{ trace: Trace; cache: KvCache }> {
  const trace: Trace = [];
  // Room for every step before the decode (grown before any device copy exists); the decode then grows it again.
  const cache = engine.newCache(B);
  cache.ensureCapacity(s.T + 3 * B);
  phase?.("prefill");
  trace.push(await engine.prefill(cache, s.repo, s.layout, { logitsRows: [0, B + 3, s.T - 1] }));
  phase?.("refresh");
  trace.push(await engine.prefill(cache, s.edit, s.layout, { start: 2 * B, logitsRows: [0, 2 * B - 1] }));
  assert.equal(cache.length, s.T, "a refresh in the middle keeps the length");
  phase?.("cancelled");
  const stop = new AbortController();
  await assert.rejects(
    engine.prefill(cache, s.more, s.layout, { onProgress: () => stop.abort(), signal: stop.signal, chunkTokens: B }),
    (e: unknown) => e instanceof EngineCancelledError,
  );
  assert.equal(cache.length, s.T + B, "one chunk landed before the cancellation");
  phase?.("resumed");
  trace.push(await engine.prefill(cache, s.more.subarray(B), s.layout, { logitsRows: [0, 2 * B - 1] }));
  phase?.("truncated");
  cache.truncate(s.T + B);
  trace.push(await engine.prefill(cache, s.more.subarray(B, 2 * B), s.layout));
  phase?.("question");
  const mass = new AttentionMass(s.layout.numBlockRows);
  const qStart = cache.length;
  trace.push(await engine.prefill(cache, s.question, s.layout, { mass, massFrom: qStart + s.question.length - 1 }));
  phase?.("decode");
  // Decode until the cache has grown past its capacity at least once.
  const cap0 = cache.capacity;
  let logits = trace[trace.length - 1];
  for (let i = 0; cache.capacity === cap0 || i < 3; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    logits = await engine.step(cache, best, s.layout, { mass });
    trace.push(logits);
  }
  trace.push(Float32Array.from(mass.blocks));
  return { trace, cache };
}

function assertSameTrace(got: Trace, want: Trace, what: string): void {
  assert.equal(got.length, want.length, `${what}: trace lengths`);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i].length, want[i].length, `${what}: item ${i} length`);
    for (let j = 0; j < want[i].length; j++) {
      if (Object.is(got[i][j], want[i][j])) continue;
      assert.fail(`${what}: item ${i} element ${j}: ${got[i][j]} vs ${want[i][j]} (seed ${seed})`);
    }
  }
}

test("resident K/V: identical outputs to the host path over prefill, refresh, cancel/resume, truncate, question and decode; only new rows travel", async () => {
  const s = script();
  const reference = await engineWith(new JsAttentionBackend());
  assert.equal(reference.kvPath, "host");
  const want = await runScript(reference, s);
  assert.deepEqual({ ...reference.residentStats }, { writtenRows: 0, catchUpRows: 0, uploads: 0, residentCalls: 0, regrown: 0 }, "the host path uploads nothing");

  const fake = new FakeResidentBackend(config.numLayers);
  const engine = await engineWith(fake);
  assert.equal(engine.kvPath, "resident");
  const marks = new Map<string, number>();
  const got = await runScript(engine, s, (name) => marks.set(name, fake.writes.length));
  assertSameTrace(got.trace, want.trace, "logits and mass, resident vs host");
  assertSameTrace(cacheRows(got.cache), cacheRows(want.cache), "host cache rows");
  assert.equal(fake.hostCalls, 0, "every attention call ran on the device copy");
  assert.equal(engine.residentStats.residentCalls, fake.residentCalls);

  const L = config.numLayers;
  const between = (a: string, b?: string) => fake.writes.slice(marks.get(a)!, b ? marks.get(b)! : undefined);
  const perLayer = (ranges: Array<[number, number]>): Write[] => ranges.flatMap(([start, count]) => Array.from({ length: L }, (_, layer) => ({ layer, start, count })));
  const chunks = (from: number, to: number, size: number): Array<[number, number]> => {
    const out: Array<[number, number]> = [];
    for (let p = from; p < to; p += size) out.push([p, Math.min(size, to - p)]);
    return out;
  };
  // A prefill from empty uploads each chunk's rows once, per layer, in order: nothing else.
  assert.deepEqual(between("prefill", "refresh"), perLayer(chunks(0, s.T, CHUNK)));
  // A refresh uploads exactly the rewritten rows.
  assert.deepEqual(between("refresh", "cancelled"), perLayer([[2 * B, 2 * B]]));
  // The cancelled append uploaded its one finished chunk; the resumed one only its own rows.
  assert.deepEqual(between("cancelled", "resumed"), perLayer([[s.T, B]]));
  assert.deepEqual(between("resumed", "truncated"), perLayer(chunks(s.T + B, s.T + 3 * B, CHUNK)));
  assert.deepEqual(between("truncated", "question"), perLayer([[s.T + B, B]]));
  assert.deepEqual(between("question", "decode"), perLayer([[s.T + 2 * B, s.question.length]]));
  // Decode: one row per step, except once the host cache grew: then the device copy is made again at the new
  // capacity and the rows before the step are caught up (once per layer).
  const decode = between("decode");
  const regrowAt = decode.findIndex((w) => w.count > 1);
  assert.ok(regrowAt >= 0, "the decode grew the cache");
  assert.equal(engine.residentStats.regrown, 1);
  for (const [i, w] of decode.entries()) {
    const isCatchUp = i >= regrowAt && i < regrowAt + 2 * L && (i - regrowAt) % 2 === 0;
    if (isCatchUp) assert.equal(w.start, 0, "catch-up after growth starts at row 0");
    else assert.equal(w.count, 1, `decode write ${i} uploads one row`);
  }
  const catchUps = decode.filter((w) => w.count > 1);
  assert.equal(catchUps.length, L);
  assert.equal(engine.residentStats.catchUpRows, catchUps.reduce((a, w) => a + w.count, 0), "no catch-up other than after growth");
  // Only the current generation of device caches is alive; dispose frees it.
  assert.equal(fake.live.length, L);
  assert.ok(fake.live.every((c) => c.capacity === got.cache.capacity));
  engine.dispose();
  assert.equal(fake.live.length, 0, "dispose frees the device copies");
});

test("resident K/V: a cache loaded from disk or filled with values is caught up before use; outputs stay identical", async () => {
  const s = script();
  const reference = await engineWith(new JsAttentionBackend());
  const fake = new FakeResidentBackend(config.numLayers);
  const engine = await engineWith(fake);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lv-resident-"));
  try {
    const key = { modelHash: "cd".repeat(32), layoutVersion: "v1" };
    const file = path.join(dir, "c.lvkv");
    const saved = reference.newCache(s.T + 64);
    await reference.prefill(saved, s.repo, s.layout);
    await saveKvCache(file, saved, s.repo, key);
    const a = (await loadKvCache(file, config, key, s.T + 64)).cache;
    const b = (await loadKvCache(file, config, key, s.T + 64)).cache;
    assert.equal(engine.syncResident(b), s.T, "a loaded cache uploads its rows once");
    assert.equal(engine.syncResident(b), 0, "and only once");
    const want = await reference.prefill(a, s.question, s.layout);
    const got = await engine.prefill(b, s.question, s.layout);
    assertSameTrace([got], [want], "question over a loaded cache");
    // Values written outside the engine (a benchmark's fill) must be announced; then they are uploaded.
    for (const c of [a, b]) {
      for (const t of [...c.k, ...c.v]) t.fill(0.25, 0, c.numKvHeads * c.capacity * c.headDim);
      c.rowsChanged(0);
    }
    const before = engine.residentStats.catchUpRows;
    assertSameTrace([await engine.step(b, 3, s.layout)], [await reference.step(a, 3, s.layout)], "step after a fill");
    assert.equal(engine.residentStats.catchUpRows - before, config.numLayers * (s.T + s.question.length), "the filled rows were caught up");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    engine.dispose();
  }
});

test("resident K/V: a device failure falls back to the CPU with a notice, re-runs the call from the host cache, and frees the device copies", async () => {
  const s = script();
  const reference = await engineWith(new JsAttentionBackend());
  const want = await runScript(reference, s);
  const fake = new FakeResidentBackend(config.numLayers);
  fake.failOnCall = 2 * config.numLayers + 1; // layer 1 of the first prefill's third chunk
  const notices: string[] = [];
  const cpuLoads: number[] = [];
  const wrapped = new FallbackAttention(
    fake,
    {
      cuda: () => Promise.reject(new Error("unused")),
      webgpu: () => Promise.reject(new Error("unused")),
      cpu: async () => (cpuLoads.push(1), new JsAttentionBackend()),
    },
    notices,
    () => {},
  );
  const logs: string[] = [];
  const engine = await engineWith(wrapped, (m) => logs.push(m));
  assert.equal(engine.kvPath, "resident");
  const got = await runScript(engine, s);
  assertSameTrace(got.trace, want.trace, "logits after a device failure");
  assert.match(notices.join("\n"), /fake-gpu attention failed \(device lost \(fake\)\); continuing on the CPU/);
  assert.match(engine.notices.join("\n"), /K\/V on the GPU failed/);
  assert.ok(logs.some((m) => /K\/V on the GPU failed/.test(m)), "the engine logs the switch");
  assert.equal(engine.kvPath, "host");
  assert.equal(fake.live.length, 0, "the device copies were freed");
  assert.equal(fake.residentCalls, fake.failOnCall + 1, "the GPU is not tried again");
  assert.equal(fake.hostCalls, 0, "the host path ran on the CPU fallback, not on the failed GPU");
  assert.equal(cpuLoads.length, 1);
  assert.match(wrapped.name, /after fake-gpu failed/);
  engine.dispose();
});

test("resident K/V: at most two caches hold device memory; the least recently used is released and caught up again when used", async () => {
  const s = script();
  const fake = new FakeResidentBackend(config.numLayers);
  const engine = await engineWith(fake);
  const reference = await engineWith(new JsAttentionBackend());
  const caches = [engine.newCache(s.T + 64), engine.newCache(s.T + 64), engine.newCache(s.T + 64)];
  for (const c of caches) await engine.prefill(c, s.repo, s.layout);
  assert.equal(fake.live.length, 2 * config.numLayers, "two caches' device copies");
  const before = engine.residentStats.catchUpRows;
  const ref = reference.newCache(s.T + 64);
  await reference.prefill(ref, s.repo, s.layout);
  assertSameTrace([await engine.step(caches[0], 5, s.layout)], [await reference.step(ref, 5, s.layout)], "a released cache used again");
  assert.equal(engine.residentStats.catchUpRows - before, config.numLayers * s.T, "its rows were uploaded again");
  engine.releaseResident(caches[0]);
  assert.equal(fake.live.length, config.numLayers);
  engine.dispose();
  assert.equal(fake.live.length, 0);
});

test("the benchmark's timing wrapper keeps the resident path and counts its calls (bench/engine-gpu/timed-attention.ts)", async () => {
  const s = script();
  const fake = new FakeResidentBackend(config.numLayers);
  const timed = new TimedAttention(fake);
  const engine = await engineWith(timed);
  assert.equal(engine.kvPath, "resident");
  const cache = engine.newCache(s.T);
  await engine.prefill(cache, s.repo, s.layout);
  const t = timed.take();
  assert.equal(t.calls, fake.residentCalls);
  assert.equal(fake.hostCalls, 0);
  assert.ok(t.calls > 0 && t.ms > 0);
  assert.equal(engine.residentStats.writtenRows, config.numLayers * s.T);
  engine.dispose();
  assert.equal(fake.live.length, 0);
  assert.equal(new TimedAttention(new JsAttentionBackend()).resident(), undefined, "a backend without resident K/V stays without");
});
