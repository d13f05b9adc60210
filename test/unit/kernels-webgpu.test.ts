/**
 * WebGPU attention kernels against the float64 reference, on whatever adapter Dawn finds (lavapipe in CI).
 * Without an adapter the tests skip loudly, or FAIL when LONGVIEW_REQUIRE_WEBGPU=1 (CI sets it).
 * Seeds are logged; replay with LONGVIEW_KERNEL_SEED=<seed>.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { after, test, type TestContext } from "node:test";
import type { AttentionShape, BlockSparseLayout } from "../../kernels/api";
import { referenceAttention } from "../../kernels/reference/attention";
import { PATTERN_KINDS, Rng, buildLayout, randomPatternLayout, runSeed, runSharedSuite } from "../../kernels/testing";
import {
  BufferUsage,
  GpuKvCache,
  WebGpuAttention,
  WebGpuUnavailableError,
  WebGpuUnsupportedError,
  sharedWebGpuAttention,
} from "../../kernels/webgpu/index";

const REQUIRE = process.env.LONGVIEW_REQUIRE_WEBGPU === "1";
const root = path.resolve(__dirname, "../..");

let backendPromise: Promise<WebGpuAttention | string> | undefined;
function backend(): Promise<WebGpuAttention | string> {
  backendPromise ??= WebGpuAttention.create().then(
    (b) => {
      console.log(`[webgpu] adapter: ${b.info.description}; subgroup kernels: ${b.info.subgroups}; shader-f16: ${b.info.shaderF16}`);
      return b;
    },
    (err: unknown) => {
      if (err instanceof WebGpuUnavailableError) return err.message;
      throw err;
    },
  );
  return backendPromise;
}

let warned = false;

/** The backend, or undefined after skipping the test (or throwing when WebGPU is required). */
async function gpuOrSkip(t: TestContext): Promise<WebGpuAttention | undefined> {
  const b = await backend();
  if (typeof b !== "string") return b;
  if (REQUIRE) throw new Error(`LONGVIEW_REQUIRE_WEBGPU=1 but WebGPU is unavailable: ${b}`);
  if (!warned) console.warn(`\n!!! [webgpu] SKIPPING the WebGPU kernel tests: ${b}\n!!! set LONGVIEW_REQUIRE_WEBGPU=1 to make this a failure\n`);
  warned = true;
  t.skip(`no WebGPU adapter: ${b}`);
  return undefined;
}

after(async () => {
  const b = await backendPromise;
  if (b && typeof b !== "string") b.dispose();
});

/** Max |a - ref| over rows, relative to max |ref| (the suite's normwise bound). */
function relError(got: Float32Array, ref: Float64Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i])) continue;
    scale = Math.max(scale, Math.abs(ref[i]));
    const d = Math.abs(got[i] - ref[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
  }
  return diff / Math.max(scale, 1e-30);
}

function lseError(got: Float32Array, ref: Float64Array): number {
  let e = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]) / Math.max(1, Math.abs(ref[i]));
    e = Number.isNaN(d) ? Infinity : Math.max(e, d);
  }
  return e;
}

test("shared kernel suite: quad (subgroup) kernels where available", { timeout: 240_000 }, async (t) => {
  const gpu = await gpuOrSkip(t);
  if (!gpu) return;
  const report = await runSharedSuite(gpu);
  assert.equal(report.failures.length, 0);
  assert.ok(report.results.length >= 90, `only ${report.results.length} cases ran`);
});

test("shared kernel suite (quick): keys split over workgroups and merged by logsumexp", { timeout: 120_000 }, async (t) => {
  const gpu = await gpuOrSkip(t);
  if (!gpu) return;
  const saved = gpu.tuning;
  gpu.tuning = { ...saved, targetInvocations: 1 << 20, minSplitKeys: 16 };
  try {
    // The plan really splits: a decode row over ~2k kept keys gets many splits.
    const layout = buildLayout(64, 40, 1, (_l, r) => Array.from({ length: r }, (_, c) => c));
    const plan = gpu.plan({ numHeads: 8, numKvHeads: 2, headDim: 64, queryStart: 2000, queryLength: 1, kvLength: 2001, kvCapacity: 2100, scale: 0.125 }, layout);
    assert.ok(plan.splits > 4, `expected a split plan, got ${plan.splits} split(s)`);
    const report = await runSharedSuite(gpu, { quick: true });
    assert.equal(report.failures.length, 0);
  } finally {
    gpu.tuning = saved;
  }
});

test("shared kernel suite (quick): unrolled kernels, the form GPUs run", { timeout: 180_000 }, async (t) => {
  const gpu = await gpuOrSkip(t);
  if (!gpu) return;
  const saved = gpu.tuning;
  gpu.tuning = { ...saved, unroll: true };
  try {
    const layout = buildLayout(64, 4, 1, () => []);
    assert.equal(gpu.plan({ numHeads: 4, numKvHeads: 4, headDim: 64, queryStart: 0, queryLength: 100, kvLength: 100, kvCapacity: 100, scale: 0.125 }, layout).kernel.unroll, true);
    const report = await runSharedSuite(gpu, { quick: true });
    assert.equal(report.failures.length, 0);
  } finally {
    gpu.tuning = saved;
  }
});

test("shared kernel suite (quick): fallback kernels without subgroups", { timeout: 180_000 }, async (t) => {
  const gpu = await gpuOrSkip(t);
  if (!gpu) return;
  const saved = gpu.tuning;
  gpu.tuning = { ...saved, subgroups: false };
  try {
    const layout = buildLayout(64, 4, 1, () => []);
    assert.equal(gpu.plan({ numHeads: 4, numKvHeads: 4, headDim: 64, queryStart: 0, queryLength: 100, kvLength: 100, kvCapacity: 100, scale: 0.125 }, layout).kernel.lanesPerRow, 1);
    const report = await runSharedSuite(gpu, { quick: true });
    assert.equal(report.failures.length, 0);
  } finally {
    gpu.tuning = saved;
  }
});

test("device-resident KV cache: chunked prefill then decode, growing in place", { timeout: 120_000 }, async (t) => {
  const gpu = await gpuOrSkip(t);
  if (!gpu) return;
  const seed = runSeed();
  console.log(`[webgpu kv-cache] seed=${seed} (replay with LONGVIEW_KERNEL_SEED=${seed})`);
  const rng = new Rng(seed);
  for (const D of [64, 128]) {
    const numKvHeads = rng.pick([1, 2]);
    const numHeads = numKvHeads * rng.pick([1, 4]);
    const B = rng.pick([16, 64]);
    const total = rng.int(260, 420);
    const steps = 5;
    const maxLen = total + steps;
    const layout = randomPatternLayout(rng, rng.pick(PATTERN_KINDS), B, Math.ceil(maxLen / B), rng.pick([1, 2]));
    const cache: GpuKvCache = gpu.createKvCache(numKvHeads, D, 48); // small: forces several reallocations
    const gpuLayout = gpu.uploadLayout(layout);
    // Host mirror with its own stride, for the reference.
    const k = new Float32Array(numKvHeads * maxLen * D);
    const v = new Float32Array(numKvHeads * maxLen * D);
    const scale = 1 / Math.sqrt(D);
    try {
      const check = async (queryStart: number, queryLength: number, tag: string, useGpuLayout: boolean): Promise<void> => {
        const q = rng.fillNormal(new Float32Array(numHeads * queryLength * D));
        const out = new Float32Array(numHeads * queryLength * D).fill(Number.NaN);
        const lse = new Float32Array(numHeads * queryLength).fill(Number.NaN);
        await gpu.attendCached({ numHeads, queryStart, queryLength, scale }, useGpuLayout ? gpuLayout : layout, q, cache, { out, lse });
        const shape: AttentionShape = { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvLength: queryStart + queryLength, kvCapacity: maxLen, scale };
        const ref = referenceAttention(shape, layout, { q, k, v });
        const where = `seed ${seed} D${D} H${numHeads}/${numKvHeads} B${B} ${tag} q${queryStart}+${queryLength} capacity ${cache.capacity}`;
        assert.ok(relError(out, ref.out) < 1e-5, `${where}: out error ${relError(out, ref.out)}`);
        assert.ok(lseError(lse, ref.lse) < 1e-5, `${where}: lse error ${lseError(lse, ref.lse)}`);
      };
      const append = (from: number, to: number): void => {
        const n = to - from;
        const kNew = rng.fillNormal(new Float32Array(numKvHeads * n * D));
        const vNew = rng.fillNormal(new Float32Array(numKvHeads * n * D));
        for (let h = 0; h < numKvHeads; h++) {
          k.set(kNew.subarray(h * n * D, (h + 1) * n * D), (h * maxLen + from) * D);
          v.set(vNew.subarray(h * n * D, (h + 1) * n * D), (h * maxLen + from) * D);
        }
        cache.append(kNew, vNew, n);
      };
      // Prefill in three chunks; chunk boundaries fall anywhere in a block.
      const cuts = [0, rng.int(1, Math.floor(total / 3)), rng.int(Math.floor(total / 3) + 1, total - 1), total];
      for (let i = 0; i + 1 < cuts.length; i++) {
        append(cuts[i], cuts[i + 1]);
        await check(cuts[i], cuts[i + 1] - cuts[i], `chunk ${i}`, i % 2 === 0);
      }
      assert.ok(cache.capacity >= total && cache.capacity > 48, "the cache grew");
      // A rejected draft: drop 7 tokens and write different ones in their place.
      cache.truncate(total - 7);
      append(total - 7, total);
      await check(total - 7, 7, "after truncate", true);
      for (let s = 0; s < steps; s++) {
        append(total + s, total + s + 1);
        await check(total + s, 1, `decode ${s}`, s % 2 === 1);
      }
      assert.equal(cache.length, maxLen);
    } finally {
      cache.dispose();
      gpuLayout.dispose();
    }
  }
});

test("encodeAttention: two calls recorded into one encoder, all tensors on the GPU", { timeout: 60_000 }, async (t) => {
  const gpu = await gpuOrSkip(t);
  if (!gpu) return;
  const seed = runSeed();
  console.log(`[webgpu encode] seed=${seed}`);
  const rng = new Rng(seed);
  const device = gpu.gpuDevice;
  const usage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
  const saved = gpu.tuning;
  gpu.tuning = { ...saved, targetInvocations: 1 << 16, minSplitKeys: 32 }; // both calls share the split scratch
  try {
    const calls = [0, 1].map(() => {
      const D = rng.pick([64, 128]);
      const numHeads = 4;
      const numKvHeads = rng.pick([1, 2, 4]);
      const kvLength = rng.int(150, 300);
      const queryStart = rng.pick([0, kvLength - 1, rng.int(1, kvLength - 1)]);
      const queryLength = kvLength - queryStart;
      const kvCapacity = kvLength + rng.int(0, 20);
      const layout: BlockSparseLayout = randomPatternLayout(rng, rng.pick(PATTERN_KINDS), 16, Math.ceil(kvCapacity / 16), 2);
      const shape: AttentionShape = { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvLength, kvCapacity, scale: 1 / Math.sqrt(D) };
      const host = {
        q: rng.fillNormal(new Float32Array(numHeads * queryLength * D)),
        k: rng.fillNormal(new Float32Array(numKvHeads * kvCapacity * D)),
        v: rng.fillNormal(new Float32Array(numKvHeads * kvCapacity * D)),
      };
      const buf = (a: Float32Array): GPUBuffer => {
        const b = device.createBuffer({ size: a.byteLength, usage });
        device.queue.writeBuffer(b, 0, a);
        return b;
      };
      const tensors = {
        q: buf(host.q),
        k: buf(host.k),
        v: buf(host.v),
        out: device.createBuffer({ size: numHeads * queryLength * D * 4, usage }),
        lse: device.createBuffer({ size: Math.max(16, numHeads * queryLength * 4), usage }),
      };
      return { shape, layout, gpuLayout: gpu.uploadLayout(layout), host, tensors };
    });
    const encoder = device.createCommandEncoder();
    for (const c of calls) await gpu.encodeAttention(encoder, c.shape, c.gpuLayout, c.tensors);
    const readbacks = calls.map((c) => {
      const n = c.shape.numHeads * c.shape.queryLength;
      const rb = device.createBuffer({ size: n * (c.shape.headDim + 1) * 4, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
      encoder.copyBufferToBuffer(c.tensors.out, 0, rb, 0, n * c.shape.headDim * 4);
      encoder.copyBufferToBuffer(c.tensors.lse, 0, rb, n * c.shape.headDim * 4, n * 4);
      return rb;
    });
    device.queue.submit([encoder.finish()]);
    for (const [i, c] of calls.entries()) {
      await readbacks[i].mapAsync(0x1);
      const data = new Float32Array(readbacks[i].getMappedRange().slice(0));
      readbacks[i].unmap();
      const n = c.shape.numHeads * c.shape.queryLength;
      const ref = referenceAttention(c.shape, c.layout, c.host);
      const where = `seed ${seed} call ${i} D${c.shape.headDim} q${c.shape.queryStart}+${c.shape.queryLength}`;
      assert.ok(relError(data.subarray(0, n * c.shape.headDim), ref.out) < 1e-5, `${where}: out`);
      assert.ok(lseError(data.subarray(n * c.shape.headDim), ref.lse) < 1e-5, `${where}: lse`);
      for (const b of Object.values(c.tensors)) b.destroy();
      c.gpuLayout.dispose();
    }
  } finally {
    gpu.tuning = saved;
  }
});

test("bad input gets a clear error and the backend stays usable", async (t) => {
  const gpu = await gpuOrSkip(t);
  if (!gpu) return;
  const rng = new Rng(runSeed());
  const D = 64;
  const shape: AttentionShape = { numHeads: 2, numKvHeads: 2, headDim: D, queryStart: 0, queryLength: 40, kvLength: 40, kvCapacity: 40, scale: 0.125 };
  const inputs = { q: rng.fillNormal(new Float32Array(2 * 40 * D)), k: rng.fillNormal(new Float32Array(2 * 40 * D)), v: rng.fillNormal(new Float32Array(2 * 40 * D)) };
  const outputs = { out: new Float32Array(2 * 40 * D), lse: new Float32Array(2 * 40) };
  const good = buildLayout(16, 3, 1, (_l, r) => [0, r - 1]);
  const noDiagonal: BlockSparseLayout = { ...good, colIdx: good.colIdx.map((c, i) => (i === good.rowPtr[2] - 1 ? 0 : c)) };
  await assert.rejects(gpu.attention(shape, noDiagonal, inputs, outputs), /diagonal/);
  await assert.rejects(gpu.attention({ ...shape, headDim: 72 }, good, inputs, outputs), WebGpuUnsupportedError);
  await assert.rejects(gpu.attention({ ...shape, numKvHeads: 3 }, good, inputs, outputs), /not a multiple/);
  await assert.rejects(gpu.attention(shape, good, { ...inputs, q: inputs.q.subarray(0, 10) }, outputs), /q has 10 floats/);
  const cache = gpu.createKvCache(2, D, 16);
  await assert.rejects(gpu.attendCached({ numHeads: 2, queryStart: 0, queryLength: 1, scale: 0.125 }, good, inputs.q, cache, outputs), /cache holds 0/);
  cache.dispose();
  // Still usable, and right.
  await gpu.attention(shape, good, inputs, outputs);
  const ref = referenceAttention(shape, good, inputs);
  assert.ok(relError(outputs.out, ref.out) < 1e-5);
});

test("sharedWebGpuAttention: one backend per process, a new one after the old is gone", async (t) => {
  if (!(await gpuOrSkip(t))) return;
  const first = await sharedWebGpuAttention();
  assert.equal(await sharedWebGpuAttention(), first);
  first.dispose();
  assert.ok(first.lost);
  await assert.rejects(first.attention({ numHeads: 1, numKvHeads: 1, headDim: 64, queryStart: 0, queryLength: 1, kvLength: 1, kvCapacity: 1, scale: 1 },
    buildLayout(16, 1, 1, () => []), { q: new Float32Array(64), k: new Float32Array(64), v: new Float32Array(64) }, { out: new Float32Array(64) }), /after dispose/);
  const second = await sharedWebGpuAttention();
  assert.notEqual(second, first);
  assert.equal(second.lost, false);
  second.dispose();
});

test("no adapter or no Dawn: WebGpuUnavailableError, not a crash", { timeout: 60_000 }, async (t) => {
  // A child process, because the GPU instance is process-wide. It must exit normally with our error.
  const script = [
    `const { WebGpuAttention, WebGpuUnavailableError } = require(${JSON.stringify(path.join(root, "kernels/webgpu/index.ts"))});`,
    `WebGpuAttention.create().then((b) => { console.log("ADAPTER " + b.info.description); b.dispose(); },`,
    `  (e) => console.log((e instanceof WebGpuUnavailableError ? "UNAVAILABLE " : "OTHER ") + e.message));`,
  ].join("\n");
  const runChild = (env: Record<string, string>): string =>
    execFileSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: root, env: { ...process.env, ...env }, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const noDriver = runChild({ VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" });
  assert.match(noDriver, /^UNAVAILABLE no WebGPU adapter/m);
  const noDawn = runChild({ LONGVIEW_WEBGPU_DIR: "/nonexistent/webgpu" });
  assert.match(noDawn, /^UNAVAILABLE cannot load Dawn/m);
  t.diagnostic(`${noDriver.trim()} | ${noDawn.trim().split("\n")[0]}`);
});
