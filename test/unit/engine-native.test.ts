// The engine's native dense ops on every kernel build this CPU runs: GEMMs on odd shapes against a float64
// product (float weights; int8 weights with the activation quantization they imply), accumulate mode, and argument
// checks that throw instead of reading out of bounds.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { type DenseIsa, isDenseAddonAvailable, loadDenseAddon } from "../../model-runtime/src/engine/native";
import { SeededRandom } from "../../model-runtime/src/model/random-init";
import { quantizeMatrix } from "../../model-runtime/src/model/weights";

const root = path.resolve(__dirname, "../..");
const seed = Number(process.env.LONGVIEW_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`engine-native seed=${seed} (replay with LONGVIEW_TEST_SEED=${seed})`);
const rng = new SeededRandom(seed);

function build(): string | undefined {
  if (isDenseAddonAvailable()) return undefined;
  if (!["c++", "g++", "clang++"].some((cc) => spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0)) {
    const msg = "NO C++ COMPILER: the dense-op addon cannot be built, its tests are SKIPPED";
    console.error(`\n${msg}\n`);
    return msg;
  }
  const r = spawnSync(process.execPath, [path.join(root, "model-runtime/src/engine/native/build.mjs"), "--if-missing"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0 || !isDenseAddonAvailable()) throw new Error(`build:native-engine failed:\n${r.stdout}\n${r.stderr}`);
  return undefined;
}
const skip = build();

/** Reference with the int8 path's activation quantization (per row, groups of 64, round half to even). */
function quantizeActivations(x: Float32Array, M: number, K: number): Float64Array {
  const out = new Float64Array(M * K);
  for (let m = 0; m < M; m++)
    for (let g = 0; g < K; g += 64) {
      let amax = 0;
      for (let k = g; k < Math.min(K, g + 64); k++) amax = Math.max(amax, Math.abs(x[m * K + k]));
      const s = Math.fround(amax / 127);
      const inv = amax > 0 ? Math.fround(127 / amax) : 0;
      for (let k = g; k < Math.min(K, g + 64); k++) {
        const v = Math.fround(x[m * K + k] * inv);
        let r = Math.round(v);
        if (r - v === 0.5 && r % 2 !== 0) r -= 1;
        out[m * K + k] = r * s;
      }
    }
  return out;
}

test("GEMMs on every kernel build match a float64 product on odd shapes (float and int8 weights, accumulate)", { skip }, () => {
  const addon = loadDenseAddon();
  const isas = addon.isa("best").supportedIsas;
  assert.ok(isas.includes("generic"));
  try {
    for (const isa of isas as DenseIsa[]) {
      addon.isa(isa);
      for (const [M, K, N] of [
        [1, 64, 16],
        [5, 100, 77],
        [37, 200, 130],
        [64 + rng.int(40), 64 * (1 + rng.int(4)) + rng.int(64), 1 + rng.int(300)],
      ]) {
        const w = Float32Array.from({ length: N * K }, () => rng.normal() * 0.1);
        const x = Float32Array.from({ length: M * K }, () => rng.normal());
        const q = quantizeMatrix({ kind: "f32", n: N, k: K, data: w });
        if (q.kind !== "int8") throw new Error("unreachable");
        for (const int8 of [false, true]) {
          const lin = new addon.Linear(int8 ? { n: N, k: K, data: q.data, scale: q.scale } : { n: N, k: K, data: w }, 2);
          const base = Float32Array.from({ length: M * N }, () => rng.normal());
          const out = base.slice();
          lin.run(x, M, out, true, true);
          // int8 weights run as int8 only where the kernels have an int8 path (VNNI); elsewhere they are expanded.
          const actQuant = int8 && isa === "avx512vnni";
          const xa = actQuant ? quantizeActivations(x, M, K) : Float64Array.from(x);
          let err = 0;
          let mag = 0;
          for (let m = 0; m < M; m++)
            for (let n = 0; n < N; n++) {
              let s = 0;
              for (let k = 0; k < K; k++) s += xa[m * K + k] * (int8 ? q.data[n * K + k] * q.scale[n] : w[n * K + k]);
              err = Math.max(err, Math.abs(out[m * N + n] - base[m * N + n] - s));
              mag = Math.max(mag, Math.abs(s));
            }
          // float32 accumulation over K terms; the int8 path's integer sums are exact, then scaled in float32.
          assert.ok(err <= 2e-5 * Math.max(1, mag), `${isa} ${int8 ? "int8" : "f32"} M=${M} K=${K} N=${N}: error ${err} (max |y| ${mag})`);
        }
      }
    }
  } finally {
    addon.isa("best");
  }
});

/** The next float32 after v toward +∞ or −∞. */
function nextFloat(v: number, dir: 1 | -1): number {
  const f = new Float32Array([v]);
  const bits = new Int32Array(f.buffer);
  bits[0] += (v >= 0) === (dir > 0) ? 1 : -1;
  return f[0];
}

// x · inv rounds (in float32) to exactly n + ½ while the exact product lies just off it: rounding the float product
// breaks the tie to even; a kernel whose multiply and rounding add fused into an FMA rounds the exact product instead
// (CI caught this once in ~40 runs of the random test above).
test("int8 activations round the float32 product: products one ulp from a tie go to even (VNNI)", { skip }, () => {
  const addon = loadDenseAddon();
  if (!addon.isa("best").supportedIsas.includes("avx512vnni")) return;
  try {
    addon.isa("avx512vnni");
    const K = 64;
    const M = 4;
    const x = new Float32Array(M * K);
    let ties = 0;
    for (let m = 0; m < M; m++) {
      const amax = Math.fround(2 + rng.next() * 2);
      x[m * K] = amax;
      const inv = Math.fround(127 / amax);
      for (let k = 1; k < K; k++) {
        const target = (rng.int(120) + 0.5) * (rng.next() < 0.5 ? -1 : 1);
        let v = Math.fround(target / inv);
        // Walk to a float whose float32 product is the tie but whose exact product is not.
        for (let step = 0; step < 8 && !(Math.fround(v * inv) === target && v * inv !== target); step++) v = nextFloat(v, step % 2 ? 1 : -1);
        if (Math.fround(v * inv) === target && v * inv !== target) ties++;
        x[m * K + k] = Math.abs(v) < amax ? v : 0;
      }
    }
    assert.ok(ties > M * K * 0.25, `only ${ties} near-ties were built`);
    // Identity weights (int8 127, scale 1/127) make each output one quantized activation: round(x · inv) · s.
    const w = new Float32Array(K * K);
    for (let k = 0; k < K; k++) w[k * K + k] = 1;
    const q = quantizeMatrix({ kind: "f32", n: K, k: K, data: w });
    if (q.kind !== "int8") throw new Error("unreachable");
    const out = new Float32Array(M * K);
    new addon.Linear({ n: K, k: K, data: q.data, scale: q.scale }, 2).run(x, M, out, false, true);
    const expected = quantizeActivations(x, M, K);
    let wrong = 0;
    for (let i = 0; i < M * K; i++) if (Math.abs(out[i] - expected[i] * 127 * q.scale[i % K]) > 1e-5) wrong++;
    assert.equal(wrong, 0, `${wrong} of ${ties} near-tie activations rounded away from even`);
  } finally {
    addon.isa("best");
  }
});

test("native entry points check their arguments", { skip }, async () => {
  const addon = loadDenseAddon();
  assert.throws(() => new addon.Linear({ n: 4, k: 8, data: new Float32Array(31) }), /matrix\.data .*has 31 elements; 32 needed/);
  assert.throws(() => new addon.Linear({ n: 4, k: 8, data: new Int8Array(32) }), /matrix\.scale must be a Float32Array/);
  const lin = new addon.Linear({ n: 4, k: 8, data: new Float32Array(32) });
  assert.throws(() => lin.run(new Float32Array(15), 2, new Float32Array(8), false), /x has 15 elements; 16 needed/);
  const m = new addon.Model({ dModel: 8, numHeads: 2, numKvHeads: 1, headDim: 4, ffnDim: 8, vocabSize: 5, numLayers: 1, normEps: 1e-5, invFreq: new Float64Array(2) });
  assert.throws(() => m.embed(Int32Array.of(0), new Float32Array(8)), /weights are not all set/);
  const mat = (n: number, k: number) => ({ n, k, data: new Float32Array(n * k) });
  assert.throws(() => m.setLayer(0, { attnNorm: new Float32Array(8), mlpNorm: new Float32Array(8), qkv: mat(12, 8), o: mat(8, 8), gateUp: mat(16, 8), down: mat(8, 8) }), /qkv: expected 16×8, got 12×8/);
  m.setLayer(0, { attnNorm: new Float32Array(8), mlpNorm: new Float32Array(8), qkv: mat(16, 8), o: mat(8, 8), gateUp: mat(16, 8), down: mat(8, 8) });
  m.setHead({ embedding: mat(5, 8), finalNorm: new Float32Array(8) });
  assert.throws(() => m.embed(Int32Array.of(7), new Float32Array(8)), /token id 7 outside the vocabulary/);
  assert.throws(() => m.preAttention(0, new Float32Array(8), 1, 10, new Float32Array(8), new Float32Array(40), new Float32Array(40), 10), /pos0 \+ M exceeds kvCapacity/);
  await assert.rejects(Promise.resolve().then(() => m.logits(new Float32Array(8), 1, Int32Array.of(1), new Float32Array(5))), /rows\[0\] = 1 outside \[0, M\)/);
});
