// The native CPU backend: the shared kernel suite on every kernel build this CPU runs (sync and async
// entries), argument checking, the missing-addon error, and that the async entry leaves the event loop free.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import type { AttentionInputs, AttentionShape, SparseAttentionBackend } from "../../kernels/api";
import { CpuBackendUnavailableError, type CpuSparseAttentionBackend, createCpuBackend, isCpuBackendAvailable } from "../../kernels/cpu/index";
import { Rng, globalLayout, localLayout, runSeed, runSharedSuite } from "../../kernels/testing";

const root = path.resolve(__dirname, "../..");

/** Builds the addon when it is missing. A machine without a C++ compiler skips (loudly); a failed build fails. */
function ensureAddon(): { skip?: string; buildError?: string } {
  if (isCpuBackendAvailable()) return {};
  const compiler = ["c++", "g++", "clang++"].find((cc) => spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0);
  if (!compiler) {
    const msg = "NO C++ COMPILER: the CPU attention addon cannot be built here, so its tests are SKIPPED";
    console.error(`\n${"!".repeat(msg.length)}\n${msg}\n${"!".repeat(msg.length)}\n`);
    return { skip: msg };
  }
  console.error("kernels-cpu: addon missing, building it (npm run build:native) ...");
  const r = spawnSync(process.execPath, [path.join(root, "kernels/cpu/build-addon.mjs")], { cwd: root, encoding: "utf8" });
  if (r.status !== 0 || !isCpuBackendAvailable()) return { buildError: `build:native failed (status ${r.status}):\n${r.stdout}\n${r.stderr}` };
  return {};
}

const setup = ensureAddon();
const opts = { skip: setup.skip };
const seed = runSeed();
console.log(`kernels-cpu seed=${seed} (replay with LONGVIEW_KERNEL_SEED=${seed})`);

if (setup.buildError) {
  test("the CPU addon builds", () => assert.fail(setup.buildError));
}

function backend(options: Parameters<typeof createCpuBackend>[0] = {}): CpuSparseAttentionBackend {
  return createCpuBackend({ isa: "best", threads: undefined, ...options });
}

function asyncView(b: CpuSparseAttentionBackend): SparseAttentionBackend {
  return { name: `${b.name}-async`, attention: (s, l, i, o) => b.attentionAsync(s, l, i, o) };
}

test("shared suite (full) on the best kernels, sync entry", opts, async () => {
  const b = backend();
  const info = b.info();
  assert.equal(info.isa, info.supportedIsas[0], "the best supported kernels are picked by default");
  const report = await runSharedSuite(b, { seed });
  assert.ok(report.results.length >= 90);
  console.log(`kernels-cpu: full suite on ${b.name} (${info.threads} threads): ${report.results.length} cases in ${(report.ms / 1000).toFixed(1)} s`);
});

test("shared suite (quick) on every other kernel build this CPU runs", opts, async () => {
  const isas = backend().info().supportedIsas;
  assert.ok(isas.includes("generic"));
  try {
    for (const isa of isas.slice(1)) {
      const b = backend({ isa });
      assert.equal(b.info().isa, isa);
      await runSharedSuite(b, { quick: true, seed });
    }
  } finally {
    backend({ isa: "best" });
  }
});

test("shared suite (quick) through the async entry", opts, async () => {
  await runSharedSuite(asyncView(backend()), { quick: true, seed });
});

function bigProblem(rng: Rng, tokens: number) {
  const shape: AttentionShape = { numHeads: 8, numKvHeads: 8, headDim: 64, queryStart: 0, queryLength: tokens, kvLength: tokens, kvCapacity: tokens, scale: 1 / 8 };
  const layout = globalLayout(64, Math.ceil(tokens / 64), 8, [0, 1]);
  const n = 8 * tokens * 64;
  const inputs: AttentionInputs = { q: rng.fillNormal(new Float32Array(n)), k: rng.fillNormal(new Float32Array(n)), v: rng.fillNormal(new Float32Array(n)) };
  return { shape, layout, inputs, n };
}

test("the async entry leaves the event loop free and matches the sync result bit for bit", opts, async () => {
  const rng = new Rng(seed);
  const b = backend();
  const { shape, layout, inputs, n } = bigProblem(rng, 16_000);
  const syncOut = new Float32Array(n);
  const syncLse = new Float32Array(8 * 16_000);
  b.attention(shape, layout, inputs, { out: syncOut, lse: syncLse });
  const out = new Float32Array(n);
  const lse = new Float32Array(8 * 16_000);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const t0 = performance.now();
  await b.attentionAsync(shape, layout, inputs, { out, lse });
  const ms = performance.now() - t0;
  clearInterval(timer);
  console.log(`kernels-cpu: async 16k prefill took ${ms.toFixed(0)} ms; the event loop ran ${ticks} timer ticks meanwhile`);
  assert.ok(ticks >= 2, `event loop starved: ${ticks} ticks in ${ms.toFixed(0)} ms`);
  assert.deepEqual(out, syncOut);
  assert.deepEqual(lse, syncLse);
});

test("concurrent async calls are serialised and each gets its own answer", opts, async () => {
  const rng = new Rng(seed + 1);
  const b = backend();
  const problems = [1500, 2100, 900].map((t) => bigProblem(rng, t));
  const expected = problems.map((p) => {
    const out = new Float32Array(p.n);
    b.attention(p.shape, p.layout, p.inputs, { out });
    return out;
  });
  const outs = problems.map((p) => new Float32Array(p.n));
  await Promise.all(problems.map((p, i) => b.attentionAsync(p.shape, p.layout, p.inputs, { out: outs[i] })));
  outs.forEach((o, i) => assert.deepEqual(o, expected[i]));
});

test("results do not depend on the thread count beyond rounding", opts, async () => {
  const rng = new Rng(seed + 2);
  const { shape, layout, inputs, n } = bigProblem(rng, 3000);
  const decode: AttentionShape = { ...shape, numKvHeads: 1, queryStart: 2999, queryLength: 1, kvCapacity: 3000 };
  const decodeInputs = { q: inputs.q.subarray(0, 8 * 64), k: inputs.k.subarray(0, 3000 * 64), v: inputs.v.subarray(0, 3000 * 64) };
  try {
    const results = [1, 2, 5].map((threads) => {
      const b = backend({ threads });
      assert.equal(b.info().threads, threads);
      const out = new Float32Array(n);
      b.attention(shape, layout, inputs, { out });
      const dec = new Float32Array(8 * 64);
      b.attention(decode, layout, decodeInputs, { out: dec });
      return { out, dec };
    });
    for (const r of results.slice(1)) {
      // Prefill tiles are computed the same way whatever the thread count; decode may split keys differently.
      assert.deepEqual(r.out, results[0].out);
      for (let i = 0; i < r.dec.length; i++) assert.ok(Math.abs(r.dec[i] - results[0].dec[i]) < 1e-5, `decode[${i}]`);
    }
  } finally {
    backend({ threads: Number(process.env.LONGVIEW_CPU_THREADS) || undefined });
  }
});

test("lse is optional", opts, () => {
  const rng = new Rng(seed + 3);
  const b = backend();
  const { shape, layout, inputs, n } = bigProblem(rng, 700);
  const a = new Float32Array(n);
  const c = new Float32Array(n);
  b.attention(shape, layout, inputs, { out: a, lse: new Float32Array(8 * 700) });
  b.attention(shape, layout, inputs, { out: c });
  assert.deepEqual(a, c);
});

test("bad arguments get clear errors, never a crash", opts, async () => {
  const b = backend();
  const rng = new Rng(seed + 4);
  const { shape, layout, inputs, n } = bigProblem(rng, 300);
  const out = new Float32Array(n);
  assert.throws(() => b.attention(shape, layout, { ...inputs, q: inputs.q.subarray(1) }, { out }), /q has \d+ elements; the shape needs/);
  assert.throws(() => b.attention(shape, layout, { ...inputs, k: new Float64Array(n) as unknown as Float32Array }, { out }), /k must be a Float32Array/);
  assert.throws(() => b.attention(shape, layout, inputs, { out, lse: new Float32Array(10) }), /lse has 10 elements/);
  assert.throws(() => b.attention({ ...shape, kvLength: 299 }, layout, inputs, { out }), /kvLength must equal/);
  assert.throws(() => b.attention({ ...shape, numKvHeads: 3 }, layout, inputs, { out }), /multiple of numKvHeads/);
  assert.throws(() => b.attention({ ...shape, kvCapacity: 200 }, layout, inputs, { out }), /kvCapacity/);
  assert.throws(() => b.attention(shape, localLayout(64, 2, 1), inputs, { out }), /block rows/);
  const broken = localLayout(64, 5, 2);
  broken.colIdx[broken.rowPtr[3] + 1] = 1; // row 3 keeps [2, 1]
  assert.throws(() => b.attention(shape, broken, inputs, { out }), /diagonal|ascending/);
  const future = localLayout(64, 5, 2);
  future.colIdx[future.rowPtr[2]] = 4; // a block beyond the row
  assert.throws(() => b.attention(shape, future, inputs, { out }), /diagonal|ascending/);
  await assert.rejects(b.attentionAsync({ ...shape, headDim: 0 }, layout, inputs, { out }), RangeError);
});

test("a missing addon is a CpuBackendUnavailableError that dispatch can catch", () => {
  const missing = path.join(root, "kernels/cpu/build/Release/does-not-exist.node");
  assert.equal(isCpuBackendAvailable(missing), false);
  assert.throws(
    () => createCpuBackend({ addonPath: missing }),
    (err: unknown) => err instanceof CpuBackendUnavailableError && err.code === "LONGVIEW_CPU_ADDON_UNAVAILABLE" && /npm run build:native/.test(err.message) && err.tried[0] === missing,
  );
});
