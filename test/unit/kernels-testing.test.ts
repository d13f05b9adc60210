// The shared kernel suite checks itself: its layouts obey the CSR contract, the float64 reference passes it,
// and backends with one realistic bug each are caught.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type AttentionInputs, type AttentionOutputs, type AttentionShape, type BlockSparseLayout, type SparseAttentionBackend, rowColumns } from "../../kernels/api";
import { allowedKeys } from "../../kernels/reference/attention";
import {
  PATTERN_KINDS,
  Rng,
  buildLayout,
  denseLayout,
  dilatedLayout,
  globalLayout,
  layoutDensity,
  localLayout,
  randomLayout,
  randomPatternLayout,
  referenceBackend,
  roundBf16,
  roundFp16,
  runSeed,
  runSharedSuite,
  sharedSuiteCases,
  stridedLayout,
  validateLayout,
} from "../../kernels/testing";

const seed = runSeed();
console.log(`kernels-testing seed=${seed} (replay with LONGVIEW_KERNEL_SEED=${seed})`);

test("every generator yields valid CSR with the diagonal kept", () => {
  const rng = new Rng(seed);
  for (let trial = 0; trial < 40; trial++) {
    const B = rng.pick([16, 64, 128]);
    const rows = rng.int(1, 40);
    const layouts = rng.int(1, 4);
    const all: BlockSparseLayout[] = [
      localLayout(B, rows, rng.int(1, 6), layouts),
      stridedLayout(B, rows, rng.int(1, 4), rng.int(2, 5), layouts),
      dilatedLayout(B, rows, rng.int(1, 4), rng.int(1, 3), layouts),
      globalLayout(B, rows, rng.int(1, 3), [0, rng.int(0, rows - 1)], layouts),
      randomLayout(rng, B, rows, rng.next(), layouts),
      denseLayout(B, rows, layouts),
      ...PATTERN_KINDS.map((k) => randomPatternLayout(rng, k, B, rows, layouts)),
    ];
    for (const layout of all) {
      validateLayout(layout);
      const d = layoutDensity(layout);
      assert.ok(d > 0 && d <= 1, `density ${d}`);
    }
  }
});

test("patterns keep the blocks their definitions say", () => {
  const local = localLayout(64, 10, 3);
  assert.deepEqual([...rowColumns(local, 0, 9)], [7, 8, 9]);
  assert.deepEqual([...rowColumns(local, 0, 1)], [0, 1]);
  const global = globalLayout(64, 10, 1, [0, 4]);
  assert.deepEqual([...rowColumns(global, 0, 9)], [0, 4, 9]);
  assert.deepEqual([...rowColumns(global, 0, 3)], [0, 3]); // anchor 4 lies in the future of row 3
  const strided = stridedLayout(16, 12, 2, 4, 2);
  assert.deepEqual([...rowColumns(strided, 0, 11)], [3, 7, 10, 11]);
  assert.deepEqual([...rowColumns(strided, 1, 11)], [2, 6, 10, 11]);
  const dilated = dilatedLayout(16, 12, 3, 2);
  assert.deepEqual([...rowColumns(dilated, 0, 11)], [7, 9, 11]);
  assert.equal(layoutDensity(denseLayout(16, 7)), 1);
});

test("validateLayout rejects each broken property", () => {
  const good = () => localLayout(16, 6, 2);
  const noDiagonal = good();
  noDiagonal.colIdx[noDiagonal.rowPtr[3] + 1] = 1; // row 3 keeps [2, 1]: unsorted and no diagonal
  assert.throws(() => validateLayout(noDiagonal), /diagonal|sorted/);
  const future = buildLayout(16, 4, 1, (_l, r) => [r]);
  future.colIdx[future.rowPtr[1]] = 3;
  assert.throws(() => validateLayout(future), /diagonal|outside/);
  const badPtr = good();
  badPtr.rowPtr[0] = 1;
  assert.throws(() => validateLayout(badPtr), /rowPtr/);
});

test("bf16 and fp16 rounding land on representable neighbours", () => {
  const rng = new Rng(seed ^ 1);
  const view = new Float32Array(1);
  const bits = new Uint32Array(view.buffer);
  for (let i = 0; i < 2000; i++) {
    const x = rng.normal() * 10 ** rng.int(-3, 3);
    const b = roundBf16(x);
    view[0] = b;
    assert.equal(bits[0] & 0xffff, 0, `bf16(${x}) keeps low bits`);
    assert.ok(Math.abs(b - x) <= Math.abs(x) * 2 ** -8, `bf16(${x}) = ${b}`);
    const h = roundFp16(x);
    assert.ok(Math.abs(h - x) <= Math.max(Math.abs(x) * 2 ** -11, 2 ** -25), `fp16(${x}) = ${h}`);
    assert.equal(roundFp16(h), h);
  }
});

test("the case list covers every mode, pattern, block size, head dim and GQA ratio", () => {
  for (const quick of [true, false]) {
    const cases = sharedSuiteCases({ quick });
    for (const mode of ["prefill", "chunked", "decode"]) assert.ok(cases.some((c) => c.mode === mode), mode);
    for (const p of PATTERN_KINDS) assert.ok(cases.some((c) => c.pattern === p), p);
    for (const b of [16, 64, 128]) assert.ok(cases.some((c) => c.blockSize === b), `block ${b}`);
    for (const d of [64, 128]) assert.ok(cases.some((c) => c.headDim === d), `dim ${d}`);
    for (const g of [1, 4, 8]) assert.ok(cases.some((c) => c.numHeads / c.numKvHeads === g), `gqa ${g}`);
    for (const c of cases) assert.ok(c.length[0] % c.blockSize !== 0 || c.length[0] < c.blockSize || c.mode === "decode", c.name);
  }
});

// Cases cheap enough for a float64 JavaScript backend over every row.
const CHEAP = /^(edge|decode)\//;

test("the float64 reference passes the suite (positive control)", async () => {
  const report = await runSharedSuite(referenceBackend, { quick: true, only: CHEAP, seed, log: () => {} });
  assert.ok(report.results.length >= 8);
  assert.equal(report.failures.length, 0);
});

interface Bugs {
  noCausalMask?: boolean;
  gqaModulo?: boolean;
  firstLayoutOnly?: boolean;
  skipLastLse?: boolean;
  writePastOut?: boolean;
  scribbleOnQ?: boolean;
  lseInLog2?: boolean;
}

/** A float64 attention with one deliberate bug, to prove the suite notices it. */
function buggyBackend(bugs: Bugs): SparseAttentionBackend {
  return {
    name: `buggy-${Object.keys(bugs).join("+")}`,
    attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs) {
      const { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvCapacity, scale } = shape;
      const group = numHeads / numKvHeads;
      for (let h = 0; h < numHeads; h++) {
        const kvh = bugs.gqaModulo ? h % numKvHeads : Math.floor(h / group);
        const layoutHead = bugs.firstLayoutOnly ? 0 : h;
        for (let r = 0; r < queryLength; r++) {
          const pos = queryStart + r;
          let keys = allowedKeys(layout, layoutHead, pos);
          if (bugs.noCausalMask) {
            const B = layout.blockSize;
            keys = [];
            for (const c of rowColumns(layout, layoutHead % layout.numLayouts, Math.floor(pos / B)))
              for (let j = c * B; j < Math.min((c + 1) * B, kvCapacity); j++) keys.push(j);
          }
          const s = keys.map((j) => {
            let acc = 0;
            for (let d = 0; d < D; d++) acc += inputs.q[(h * queryLength + r) * D + d] * inputs.k[(kvh * kvCapacity + j) * D + d];
            return acc * scale;
          });
          const max = Math.max(...s);
          const p = s.map((x) => Math.exp(x - max));
          const sum = p.reduce((a, b) => a + b, 0);
          for (let d = 0; d < D; d++) {
            let o = 0;
            for (let i = 0; i < keys.length; i++) o += p[i] * inputs.v[(kvh * kvCapacity + keys[i]) * D + d];
            outputs.out[(h * queryLength + r) * D + d] = o / sum;
          }
          const lse = max + Math.log(sum);
          const last = h === numHeads - 1 && r === queryLength - 1;
          if (outputs.lse && !(bugs.skipLastLse && last)) outputs.lse[h * queryLength + r] = bugs.lseInLog2 ? lse / Math.LN2 : lse;
        }
      }
      if (bugs.writePastOut) new Float32Array(outputs.out.buffer, outputs.out.byteOffset, outputs.out.length + 1)[outputs.out.length] = 0;
      if (bugs.scribbleOnQ) inputs.q[0] += 1;
    },
  };
}

const BUGS: Array<[string, Bugs, RegExp]> = [
  ["reads keys past the query (no causal mask in the diagonal block)", { noCausalMask: true }, /not written|error|modified/],
  ["maps query heads to key/value heads by modulo", { gqaModulo: true }, /out error/],
  ["uses layout 0 for every head", { firstLayoutOnly: true }, /out error/],
  ["forgets the last lse", { skipLastLse: true }, /lse\[\d+\] not written/],
  ["writes one element past out", { writePastOut: true }, /outside/],
  ["modifies its inputs", { scribbleOnQ: true }, /modified its inputs/],
  ["returns lse in log2", { lseInLog2: true }, /lse error/],
];

for (const [what, bugs, expected] of BUGS) {
  test(`the suite catches a backend that ${what}`, async () => {
    const only = bugs.firstLayoutOnly ? /^edge\/layout-per-head/ : bugs.gqaModulo ? /^decode\/.*gqa4/ : CHEAP;
    const report = await runSharedSuite(buggyBackend(bugs), { quick: true, only, seed, log: () => {}, throwOnFailure: false });
    assert.ok(report.results.length > 0);
    const problems = report.failures.flatMap((f) => f.problems).join("\n");
    assert.ok(report.failures.length > 0, `no case failed for a backend that ${what}`);
    assert.match(problems, expected);
  });
}
