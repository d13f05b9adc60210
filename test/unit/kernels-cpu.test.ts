// The native CPU backend: the shared kernel suite on every kernel build this CPU runs (sync and async
// entries), argument checking, the missing-addon error, and that the async entry leaves the event loop free.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import type { AttentionInputs, AttentionShape, SparseAttentionBackend } from "../../kernels/api";
import { CpuBackendUnavailableError, type CpuSparseAttentionBackend, createCpuBackend, isCpuBackendAvailable } from "../../kernels/cpu/index";
import { Rng, type SuiteCase, formatResult, globalLayout, localLayout, runCase, runSeed, runSharedSuite } from "../../kernels/testing";

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
  assert.equal(info.precision, "fp32", "float32 unless bf16 is asked for");
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

// Head dims that are not a multiple of the vector width or of the bf16 pair (the suite uses 64 and 128): the
// transposes' and conversions' tails. Prefill and chunked, block 64 (full tiles) and 16, GQA.
const ODD_HEAD_DIM_CASES: SuiteCase[] = [40, 33, 72].flatMap((headDim, i): SuiteCase[] => [
  { name: `odd-d/prefill/d${headDim}`, mode: "prefill", numHeads: 4, numKvHeads: 2, headDim, blockSize: i === 1 ? 16 : 64, pattern: "global", length: [150, 420] },
  { name: `odd-d/chunked/d${headDim}`, mode: "chunked", numHeads: 4, numKvHeads: 4, headDim, blockSize: 64, pattern: "local", length: [200, 500] },
]);

async function runOddHeadDims(b: CpuSparseAttentionBackend, precision: "fp32" | "bf16"): Promise<void> {
  for (const c of ODD_HEAD_DIM_CASES) {
    const r = await runCase(b, c, seed, precision);
    assert.ok(r.ok, `${b.name}: ${formatResult(r)}`);
  }
}

test("head dims off the vector width, on every kernel build this CPU runs", opts, async () => {
  try {
    for (const isa of backend().info().supportedIsas) await runOddHeadDims(backend({ isa }), "fp32");
  } finally {
    backend({ isa: "best" });
  }
});

const bf16Skip = setup.skip ?? setup.buildError ?? (backend().info().supportedPrecisions.includes("bf16") ? undefined : "this CPU has no AVX512-BF16");

test("bf16 is opt-in and refused where the CPU lacks it", opts, () => {
  const info = backend().info();
  assert.equal(info.precision, "fp32");
  if (!info.supportedPrecisions.includes("bf16")) {
    assert.throws(() => backend({ precision: "bf16" }), /AVX512-BF16/);
    return;
  }
  try {
    const b = backend({ precision: "bf16" });
    assert.equal(b.name, `cpu-${info.isa}-bf16`);
    assert.equal(backend().info().precision, "fp32", "a backend created without asking for bf16 goes back to float32");
    assert.throws(() => backend({ isa: "generic", precision: "bf16" }), /no bf16 'generic' kernels/);
  } finally {
    backend();
  }
});

test("bf16: the shared suite (full) within the bf16 bounds, and head dims off the vector width", { skip: bf16Skip }, async () => {
  try {
    const b = backend({ precision: "bf16" });
    const report = await runSharedSuite(b, { seed, precision: "bf16" });
    assert.ok(report.results.length >= 90);
    await runOddHeadDims(b, "bf16");
  } finally {
    backend();
  }
});

test("bf16 without the per-call block cache (blocks converted per use): quick suite, same result bit for bit", { skip: bf16Skip }, async () => {
  const rng = new Rng(seed + 6);
  const { shape, layout, inputs, n } = bigProblem(rng, 1500);
  const saved = process.env.LONGVIEW_CPU_BLOCK_CACHE_MB;
  try {
    const b = backend({ precision: "bf16" });
    const cached = new Float32Array(n);
    b.attention(shape, layout, inputs, { out: cached });
    process.env.LONGVIEW_CPU_BLOCK_CACHE_MB = "0";
    const uncached = new Float32Array(n);
    b.attention(shape, layout, inputs, { out: uncached });
    assert.deepEqual(uncached, cached);
    await runSharedSuite(b, { quick: true, seed, precision: "bf16" });
  } finally {
    if (saved === undefined) delete process.env.LONGVIEW_CPU_BLOCK_CACHE_MB;
    else process.env.LONGVIEW_CPU_BLOCK_CACHE_MB = saved;
    backend();
  }
});

test("bf16 rounds the prefill products (differs from fp32 by more than float rounding) and leaves decode in fp32", { skip: bf16Skip }, () => {
  try {
    const rng = new Rng(seed + 5);
    const { shape, layout, inputs, n } = bigProblem(rng, 700);
    const fp32 = backend();
    const want = new Float32Array(n);
    fp32.attention(shape, layout, inputs, { out: want });
    const decode: AttentionShape = { ...shape, queryStart: 699, queryLength: 1 };
    const decodeInputs = { ...inputs, q: inputs.q.subarray(0, 8 * 64) };
    const decodeWant = new Float32Array(8 * 64);
    fp32.attention(decode, layout, decodeInputs, { out: decodeWant });

    const bf16 = backend({ precision: "bf16" });
    const got = new Float32Array(n);
    bf16.attention(shape, layout, inputs, { out: got });
    let maxRef = 0;
    let maxDiff = 0;
    for (let i = 0; i < n; i++) {
      maxRef = Math.max(maxRef, Math.abs(want[i]));
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
    }
    const rel = maxDiff / maxRef;
    console.log(`kernels-cpu: bf16 vs fp32 prefill (700 tokens, unrounded inputs): max |diff| / max |out| = ${rel.toExponential(2)}`);
    assert.ok(rel > 1e-4, `bf16 output is as close to fp32 as float rounding (${rel}): the bf16 kernels did not run`);
    assert.ok(rel < 1e-2, `bf16 output is off by ${rel}`);
    const decodeGot = new Float32Array(8 * 64);
    bf16.attention(decode, layout, decodeInputs, { out: decodeGot });
    assert.deepEqual(decodeGot, decodeWant);
  } finally {
    backend();
  }
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
