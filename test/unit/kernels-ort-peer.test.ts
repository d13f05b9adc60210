// The benchmark's peer, ONNX Runtime's com.microsoft.SparseAttention, must compute the same math as our
// kernels before its times mean anything: check it against the float64 reference on the benchmark's kinds of
// calls (prefill, chunked prefill, decode into a grown cache, GQA, several layouts).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AttentionShape, BlockSparseLayout } from "../../kernels/api";
import { referenceAttention } from "../../kernels/reference/attention";
import { Rng, TOLERANCE, globalLayout, randomPatternLayout, runSeed, stridedLayout } from "../../kernels/testing";
import { OrtSparseAttentionPeer } from "../../bench/ort/sparse-attention-peer";

const seed = runSeed();
console.log(`kernels-ort-peer seed=${seed} (replay with LONGVIEW_KERNEL_SEED=${seed})`);

interface PeerCase {
  name: string;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  layout: (rng: Rng, rows: number) => BlockSparseLayout;
  /** [kvLength, queryStart, kvCapacity] from the drawn length. */
  shape: (rng: Rng, B: number) => [number, number, number];
}

const CASES: PeerCase[] = [
  { name: "prefill, global+local, 2 layouts", numHeads: 4, numKvHeads: 4, headDim: 64, blockSize: 16,
    layout: (_r, rows) => globalLayout(16, rows, 2, (l) => [0, 3 + l], 2), shape: (r) => { const n = r.int(130, 250); return [n, 0, n]; } },
  { name: "chunked prefill mid-block, GQA 4, strided", numHeads: 8, numKvHeads: 2, headDim: 64, blockSize: 16,
    layout: (_r, rows) => stridedLayout(16, rows, 2, 3, 2), shape: (r) => { const n = r.int(200, 300); return [n, r.int(20, n - 10), n + r.int(0, 40)]; } },
  { name: "decode into a grown cache, GQA 8, random", numHeads: 8, numKvHeads: 1, headDim: 128, blockSize: 64,
    layout: (r, rows) => randomPatternLayout(r, "random", 64, rows, 4), shape: (r) => { const n = r.int(300, 700); return [n, n - 1, n + r.int(1, 100)]; } },
];

for (const c of CASES) {
  test(`ORT SparseAttention matches the reference: ${c.name}`, async () => {
    const rng = new Rng(seed ^ c.name.length);
    const [kvLength, queryStart, kvCapacity] = c.shape(rng, c.blockSize);
    const layout = c.layout(rng, Math.ceil(kvCapacity / c.blockSize));
    const shape: AttentionShape = { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, queryStart, queryLength: kvLength - queryStart, kvLength, kvCapacity, scale: 1 / Math.sqrt(c.headDim) };
    const kv = c.numKvHeads * kvCapacity * c.headDim;
    const inputs = { q: rng.fillNormal(new Float32Array(c.numHeads * shape.queryLength * c.headDim)), k: rng.fillNormal(new Float32Array(kv)), v: rng.fillNormal(new Float32Array(kv)) };
    const peer = await OrtSparseAttentionPeer.create({ ...c, threads: 2 });
    try {
      const out = new Float32Array(inputs.q.length).fill(Number.NaN);
      await peer.attention(shape, layout, inputs, { out });
      const ref = referenceAttention(shape, layout, inputs);
      let maxRef = 0;
      let maxDiff = 0;
      for (let i = 0; i < out.length; i++) {
        maxRef = Math.max(maxRef, Math.abs(ref.out[i]));
        maxDiff = Math.max(maxDiff, Math.abs(out[i] - ref.out[i]));
      }
      assert.ok(!out.some(Number.isNaN), "every output element written");
      const err = maxDiff / maxRef;
      console.log(`  ${c.name}: q${queryStart}+${shape.queryLength} kv${kvLength}/${kvCapacity}: ORT error ${err.toExponential(2)}`);
      assert.ok(err < TOLERANCE.fp32.out, `ORT error ${err} vs reference`);
    } finally {
      await peer.dispose();
    }
  });
}
