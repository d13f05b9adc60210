import assert from "node:assert/strict";
import { test } from "node:test";
import type { SparseAttentionBackend } from "../../kernels/api";
import { JsAttentionBackend } from "../../kernels/js";
import { referenceAttention } from "../../kernels/reference/attention";
import { Rng, randomPatternLayout } from "../../kernels/testing";
import { type BackendLoaders, openAttentionBackend } from "../../model-runtime/src/engine/attention-backend";

const failing = (why: string) => async (): Promise<SparseAttentionBackend> => {
  throw new Error(why);
};

function loaders(over: Partial<BackendLoaders>): BackendLoaders {
  return { cuda: failing("no CUDA device"), webgpu: failing("no adapter"), cpu: async () => new JsAttentionBackend(), ...over };
}

test("auto picks the first backend that loads, quietly skipping absent GPUs", async () => {
  const r = await openAttentionBackend("auto", {}, loaders({}));
  assert.equal(r.kind, "cpu");
  assert.deepEqual(r.notices, []);
  const gpu = { name: "fake-webgpu", attention() {} };
  const r2 = await openAttentionBackend("auto", {}, loaders({ webgpu: async () => gpu }));
  assert.equal(r2.kind, "webgpu");
});

test("an explicit GPU choice that cannot load falls back to the CPU with a notice saying why", async () => {
  const r = await openAttentionBackend("cuda", {}, loaders({}));
  assert.equal(r.kind, "cpu");
  assert.match(r.notices.join("\n"), /cuda backend unavailable: no CUDA device/);
});

test("restricted workspaces load no native code; a missing CPU addon ends on the TypeScript kernels", async () => {
  let nativeTouched = false;
  const touch = async (): Promise<SparseAttentionBackend> => {
    nativeTouched = true;
    throw new Error("should not be called");
  };
  const r = await openAttentionBackend("auto", { allowNative: false }, { cuda: touch, webgpu: touch, cpu: touch });
  assert.equal(r.kind, "js");
  assert.equal(nativeTouched, false);
  const r2 = await openAttentionBackend("auto", {}, loaders({ cpu: failing("addon not built") }));
  assert.equal(r2.kind, "js");
  assert.match(r2.notices.join("\n"), /addon not built/);
});

test("a GPU backend that fails mid-run is replaced by the CPU path and the call still returns the right answer", async () => {
  const rng = new Rng(Date.now() >>> 0);
  const layout = randomPatternLayout(rng, "local", 16, 5, 1);
  const shape = { numHeads: 2, numKvHeads: 1, headDim: 16, queryStart: 0, queryLength: 70, kvLength: 70, kvCapacity: 70, scale: 0.25 };
  const q = Float32Array.from({ length: 2 * 70 * 16 }, () => rng.next() * 2 - 1);
  const k = Float32Array.from({ length: 70 * 16 }, () => rng.next() * 2 - 1);
  const v = Float32Array.from({ length: 70 * 16 }, () => rng.next() * 2 - 1);
  let gpuCalls = 0;
  const flaky: SparseAttentionBackend = {
    name: "flaky-gpu",
    attention() {
      gpuCalls++;
      throw new Error("device lost");
    },
  };
  const logs: string[] = [];
  const r = await openAttentionBackend("webgpu", { log: (m) => logs.push(m) }, loaders({ webgpu: async () => flaky }));
  assert.equal(r.kind, "webgpu");
  const out = new Float32Array(2 * 70 * 16).fill(Number.NaN);
  await r.backend.attention(shape, layout, { q, k, v }, { out });
  const ref = referenceAttention(shape, layout, { q, k, v });
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - ref.out[i]) < 1e-5, `element ${i}`);
  assert.match(r.notices.join("\n"), /flaky-gpu attention failed \(device lost\)/);
  await r.backend.attention(shape, layout, { q, k, v }, { out });
  assert.equal(gpuCalls, 1, "after a failure the GPU is not tried again");
  assert.match(r.backend.name, /after flaky-gpu failed/);
});

test("on this machine, auto dispatch loads a real backend that computes attention", async () => {
  const r = await openAttentionBackend("auto");
  assert.ok(["cuda", "webgpu", "cpu"].includes(r.kind), `got ${r.kind}: ${r.notices.join("; ")}`);
  const rng = new Rng(Date.now() >>> 0);
  const layout = randomPatternLayout(rng, "strided", 64, 4, 2);
  const shape = { numHeads: 4, numKvHeads: 2, headDim: 64, queryStart: 0, queryLength: 200, kvLength: 200, kvCapacity: 200, scale: 0.125 };
  const q = Float32Array.from({ length: 4 * 200 * 64 }, () => rng.next() * 2 - 1);
  const k = Float32Array.from({ length: 2 * 200 * 64 }, () => rng.next() * 2 - 1);
  const v = Float32Array.from({ length: 2 * 200 * 64 }, () => rng.next() * 2 - 1);
  const out = new Float32Array(q.length).fill(Number.NaN);
  await r.backend.attention(shape, layout, { q, k, v }, { out });
  const ref = referenceAttention(shape, layout, { q, k, v });
  let worst = 0;
  for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - ref.out[i]));
  assert.ok(worst < 1e-4, `${r.backend.name}: max error ${worst}`);
  r.backend.dispose?.();
});

test("a hardware GPU is ruled out only on Linux without a render, NVIDIA or WSL device node", async () => {
  const { mayHaveHardwareGpu } = await import("../../model-runtime/src/engine/attention-backend");
  const dirs = (entries: Record<string, string[]>) => (dir: string) => entries[dir] ?? [];
  assert.equal(mayHaveHardwareGpu("linux", dirs({ "/dev": ["null", "tty0", "nvidiactl"], "/dev/dri": [] })), false);
  assert.equal(mayHaveHardwareGpu("linux", dirs({ "/dev/dri": ["card0", "renderD128"] })), true);
  assert.equal(mayHaveHardwareGpu("linux", dirs({ "/dev": ["nvidia0", "nvidiactl"] })), true);
  assert.equal(mayHaveHardwareGpu("linux", dirs({ "/dev": ["dxg"] })), true);
  assert.equal(mayHaveHardwareGpu("darwin", dirs({})), true);
});
