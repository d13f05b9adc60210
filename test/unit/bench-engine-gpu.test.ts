// The engine GPU benchmark's planning (bench/engine-gpu/projection.ts) and its attention timer
// (bench/engine-gpu/timed-attention.ts): a projection that is wrong sends a device call over its time limit, and a
// timer that hides attentionAsync would change which entry the engine calls.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttentionShape, SparseAttentionBackend } from "../../kernels/api";
import { type ChunkTime, chooseMode, estimateContext, fitPrefill, projectPrefillMs, scaleUp } from "../../bench/engine-gpu/projection";
import { TimedAttention } from "../../bench/engine-gpu/timed-attention";

const CHUNK = 2048;

function chunksOf(tokens: number, cost: (rows: number, kvEnd: number) => number): ChunkTime[] {
  const out: ChunkTime[] = [];
  for (let s = 0; s < tokens; s += CHUNK) {
    const e = Math.min(tokens, s + CHUNK);
    out.push({ kvEnd: e, rows: e - s, ms: cost(e - s, e) });
  }
  return out;
}

test("fitPrefill recovers a per-chunk and a per-cached-token cost and projects a larger prefill", () => {
  const cost = (rows: number, kvEnd: number) => 40 * (rows / CHUNK) + 2e-4 * kvEnd;
  const fit = fitPrefill(chunksOf(65536 + 1000, cost), CHUNK)!;
  assert.ok(Math.abs(fit.msPerChunk - 40) < 1e-6, `per chunk ${fit.msPerChunk}`);
  assert.ok(Math.abs(fit.msPerKvToken - 2e-4) < 1e-12, `per kv token ${fit.msPerKvToken}`);
  const exact = chunksOf(1 << 20, cost).reduce((s, c) => s + c.ms, 0);
  assert.ok(Math.abs(projectPrefillMs(fit, 1 << 20) - exact) < 1e-6 * exact);
  // The cache-length term makes 1M cost more than 16x 64k; a per-row model alone would not.
  assert.ok(projectPrefillMs(fit, 1 << 20) > 16 * projectPrefillMs(fit, 65536));
});

test("fitPrefill never returns a negative term and handles a single chunk", () => {
  const flat = fitPrefill(chunksOf(32768, () => 50), CHUNK)!;
  assert.ok(flat.msPerKvToken >= 0 && flat.msPerChunk >= 0);
  assert.ok(Math.abs(projectPrefillMs(flat, 32768) - 16 * 50) < 1, `flat projection ${projectPrefillMs(flat, 32768)}`);
  // Falling cost (warm-up noise) must not extrapolate to a negative time.
  const falling = fitPrefill(chunksOf(32768, (_, kv) => 100 - kv / 1000), CHUNK)!;
  assert.ok(falling.msPerChunk >= 0 && falling.msPerKvToken >= 0);
  assert.ok(projectPrefillMs(falling, 1 << 20) > 0);
  const one = fitPrefill([{ kvEnd: 2048, rows: 2048, ms: 30 }], CHUNK)!;
  assert.equal(one.msPerKvToken, 0);
  assert.equal(one.msPerChunk, 30);
  assert.equal(fitPrefill([], CHUNK), undefined);
});

test("chooseMode runs in full what fits, probes what does not, skips what cannot even be probed", () => {
  assert.equal(chooseMode({ remainingMs: 100_000, fullMs: undefined, probeMs: 1 }), "full");
  assert.equal(chooseMode({ remainingMs: 100_000, fullMs: 80_000, probeMs: 1 }), "full");
  assert.equal(chooseMode({ remainingMs: 100_000, fullMs: 95_000, probeMs: 20_000 }), "probe");
  assert.equal(chooseMode({ remainingMs: 10_000, fullMs: 95_000, probeMs: 20_000 }), "skip");
  // A slow warm-up may leave nothing: even a first context, with nothing projected, is skipped then.
  assert.equal(chooseMode({ remainingMs: -11_000, fullMs: undefined, probeMs: 100 }), "skip");
  assert.equal(chooseMode({ remainingMs: 50, fullMs: undefined, probeMs: 100 }), "skip");
  assert.equal(scaleUp(10, 1000, 4000), 40);
  assert.equal(scaleUp(10, 4000, 1000), 10);
});

test("estimateContext scales the last context's costs up and keeps a probe cheaper than a full run", () => {
  const fit = fitPrefill(chunksOf(262144, (rows, kv) => 300 * (rows / CHUNK) + 1e-4 * kv), CHUNK)!;
  const prev = { tokens: 262144, layoutMs: 100, ttftMs: 400, decodeMsPerToken: 300 };
  const e = estimateContext({ tokens: 1 << 20, cacheTokens: (1 << 20) + 4096, kvBytesPerToken: 6144, prev, fit, decodeSteps: 32, decodeBoxMs: 10_000 });
  const memMs = (6144 * ((1 << 20) + 4096)) / 1e6;
  assert.ok(Math.abs(e.setupMs - (400 + memMs)) < 1e-6, `setup ${e.setupMs}`);
  // TTFT x4, decode capped by its box (32 steps of 1.2 s would be 38 s) plus two steps of overrun.
  assert.ok(Math.abs(e.askMs - (1600 + 10_000 + 2400)) < 1e-6, `ask ${e.askMs}`);
  assert.ok(Math.abs(e.probeMs - (e.setupMs + memMs + e.askMs)) < 1e-6);
  assert.equal(e.prefillMs, projectPrefillMs(fit, 1 << 20));
  assert.ok(e.fullMs! > e.probeMs);
  // Nothing measured yet: only the memory is known, and no full-run projection exists.
  const first = estimateContext({ tokens: 16384, cacheTokens: 20480, kvBytesPerToken: 6144, decodeSteps: 32, decodeBoxMs: 10_000 });
  assert.equal(first.fullMs, undefined);
  assert.equal(first.askMs, 0);
});

const shape: AttentionShape = { numHeads: 1, numKvHeads: 1, headDim: 2, queryStart: 0, queryLength: 1, kvLength: 1, kvCapacity: 1, scale: 1 };
const layout = { blockSize: 1, numLayouts: 1, numBlockRows: 1, rowPtr: Int32Array.of(0, 1), colIdx: Int32Array.of(0), maxNnz: 1 };
const io = { q: new Float32Array(2), k: new Float32Array(2), v: new Float32Array(2) };
const out = { out: new Float32Array(2) };
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("TimedAttention keeps the backend's entries and adds up the time spent in them", async () => {
  const calls: string[] = [];
  const withAsync = {
    name: "cpu-test",
    attention: () => void calls.push("sync"),
    attentionAsync: async () => {
      calls.push("async");
      await wait(20);
    },
  };
  const timed = new TimedAttention(withAsync);
  assert.equal(typeof timed.attentionAsync, "function");
  assert.equal(timed.name, "cpu-test");
  await timed.attentionAsync!(shape, layout, io, out);
  await timed.attention(shape, layout, io, out);
  assert.deepEqual(calls, ["async", "sync"]);
  const t = timed.take();
  assert.equal(t.calls, 2);
  assert.ok(t.ms >= 15, `timed ${t.ms} ms`);
  assert.deepEqual(timed.take(), { ms: 0, calls: 0 });

  const gpuLike: SparseAttentionBackend = { name: "cuda:test", attention: () => wait(1).then(() => undefined) };
  assert.equal(new TimedAttention(gpuLike).attentionAsync, undefined);
  // A failing call is still counted and its error reaches the engine (which falls back on it).
  const failing = new TimedAttention({ name: "broken", attention: () => Promise.reject(new Error("device lost")) });
  await assert.rejects(failing.attention(shape, layout, io, out), /device lost/);
  assert.equal(failing.take().calls, 1);
});
