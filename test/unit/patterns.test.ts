/**
 * Property tests of the sparse pattern library on fresh random facts each run. The seed is logged; replay a
 * failure with LONGVIEW_PATTERNS_SEED=<seed>.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PNG } from "pngjs";
import { type BlockSparseLayout, layoutNnz, rowColumns } from "../../kernels/api";
import { referenceAttention } from "../../kernels/reference/attention";
import { Rng, randomLayout, validateLayout } from "../../kernels/testing";
import {
  type BlockEdit,
  type BlockFacts,
  type HeadPatternSpec,
  type KeyBlockSummaries,
  type PatternPrimitive,
  SparsePatterns,
  adaptiveLayout,
  layoutTokenMask,
  longviewHeadSpecs,
  patternStats,
  primitiveCandidates,
  referenceRowColumns,
  referenceTokenMask,
  renderMaskPng,
  selectTopBlocks,
  summarizeKeyBlocks,
} from "../../model-runtime/src/patterns";
import { patchRowsInPlace } from "../../model-runtime/src/patterns/csr-patch";

const SEED = (() => {
  const env = process.env.LONGVIEW_PATTERNS_SEED;
  return env ? Number(env) >>> 0 : (Math.random() * 4294967296) >>> 0;
})();
console.log(`patterns tests: seed ${SEED} (replay with LONGVIEW_PATTERNS_SEED=${SEED})`);
const root = new Rng(SEED);

// ---------------------------------------------------------------------------------------------------------
// Random facts and specs

function randomSegments(rng: Rng, n: number, pNew: number): Int32Array {
  const seg = new Int32Array(n);
  let s = 0;
  for (let b = 0; b < n; b++) {
    if (b > 0 && rng.next() < pNew) s = b;
    seg[b] = s;
  }
  return seg;
}

function randomAnchors(rng: Rng, n: number, density: number, tiers: number): { blocks: Int32Array; tier: Uint8Array } {
  const blocks: number[] = [];
  for (let b = 0; b < n; b++) if (rng.next() < density) blocks.push(b);
  return { blocks: Int32Array.from(blocks), tier: Uint8Array.from(blocks, () => rng.int(0, tiers - 1)) };
}

function randomFacts(rng: Rng, n: number): BlockFacts {
  const a = randomAnchors(rng, n, rng.pick([0, 0.05, 0.2, 0.5]), rng.int(1, 3));
  return {
    numBlocks: n,
    blockSize: rng.pick([1, 2, 4, 8]),
    anchorBlocks: a.blocks,
    anchorTier: rng.next() < 0.7 ? a.tier : undefined,
    segmentStart: rng.next() < 0.8 ? randomSegments(rng, n, rng.pick([0.05, 0.2, 0.5])) : undefined,
    sinkBlocks: rng.int(0, 3),
  };
}

function randomPrimitive(rng: Rng): PatternPrimitive {
  switch (rng.int(0, 5)) {
    case 0:
      return { kind: "local", window: rng.int(1, 8), withinSegment: rng.next() < 0.5 };
    case 1:
      return { kind: "strided", stride: rng.int(1, 7), offset: rng.int(-4, 9), maxCount: rng.next() < 0.5 ? undefined : rng.int(1, 6) };
    case 2:
      return { kind: "dilated", base: rng.int(2, 3), first: rng.int(1, 3), maxHops: rng.next() < 0.5 ? undefined : rng.int(1, 4) };
    case 3:
    {
      const minTier = rng.next() < 0.6 ? undefined : rng.int(0, 2);
      // Sometimes a single tier (an anchor group, as longviewHeadSpecs' anchorGroups uses), sometimes a range.
      const maxTier = rng.next() < 0.6 ? undefined : (minTier ?? 0) + rng.int(0, 1);
      return { kind: "anchors", minTier, maxTier, maxCount: rng.next() < 0.6 ? undefined : rng.int(1, 8) };
    }
    case 4:
      return { kind: "sinks", count: rng.next() < 0.5 ? undefined : rng.int(0, 4) };
    default:
      return { kind: "segmentHead", count: rng.int(1, 4) };
  }
}

function randomSpec(rng: Rng): HeadPatternSpec {
  const primitives = Array.from({ length: rng.int(1, 5) }, () => randomPrimitive(rng));
  return {
    primitives,
    budget: rng.next() < 0.25 ? undefined : rng.int(1, 24),
    anchorRowBudget: rng.next() < 0.6 ? undefined : rng.int(1, 40),
  };
}

/** Head lists that are periodic (few layouts) or not (one per head), to exercise the head → layout map. */
function randomHeads(rng: Rng): HeadPatternSpec[] {
  const distinct = Array.from({ length: rng.int(1, 3) }, () => randomSpec(rng));
  const numHeads = rng.int(1, 6);
  return rng.next() < 0.5
    ? Array.from({ length: numHeads }, (_, h) => distinct[h % distinct.length])
    : Array.from({ length: numHeads }, () => rng.pick(distinct));
}

function isAnchor(facts: BlockFacts, b: number): boolean {
  return facts.anchorBlocks.includes(b);
}

function rowBudget(facts: BlockFacts, spec: HeadPatternSpec, row: number): number {
  return (isAnchor(facts, row) ? spec.anchorRowBudget ?? spec.budget : spec.budget) ?? Infinity;
}

function layoutOfHead(layout: BlockSparseLayout, h: number): number {
  return h % layout.numLayouts;
}

function sameLayout(a: BlockSparseLayout, b: BlockSparseLayout, what: string): void {
  assert.equal(a.numLayouts, b.numLayouts, `${what}: numLayouts`);
  assert.equal(a.numBlockRows, b.numBlockRows, `${what}: numBlockRows`);
  assert.deepEqual(a.rowPtr, b.rowPtr, `${what}: rowPtr`);
  for (let l = 0; l < a.numLayouts; l++) {
    const n = layoutNnz(a, l);
    assert.deepEqual(a.colIdx.subarray(l * a.maxNnz, l * a.maxNnz + n), b.colIdx.subarray(l * b.maxNnz, l * b.maxNnz + n), `${what}: colIdx of layout ${l}`);
  }
}

// ---------------------------------------------------------------------------------------------------------

test("CSR rows equal the naive reference semantics, and token masks agree", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 150; trial++) {
    const facts = randomFacts(rng, rng.int(1, 48));
    const heads = randomHeads(rng);
    const ctx = `trial ${trial}: facts ${JSON.stringify({ ...facts, anchorBlocks: [...facts.anchorBlocks], anchorTier: facts.anchorTier && [...facts.anchorTier], segmentStart: facts.segmentStart && [...facts.segmentStart] })} heads ${JSON.stringify(heads)}`;
    const { layout } = SparsePatterns.build(facts, heads);
    for (let h = 0; h < heads.length; h++) {
      const l = layoutOfHead(layout, h);
      for (let r = 0; r < facts.numBlocks; r++) {
        assert.deepEqual([...rowColumns(layout, l, r)], referenceRowColumns(facts, heads[h], r), `${ctx}: head ${h} row ${r}`);
      }
      if (facts.numBlocks * facts.blockSize <= 160) {
        assert.deepEqual(layoutTokenMask(layout, l), referenceTokenMask(facts, heads[h]), `${ctx}: token mask of head ${h}`);
      }
    }
  }
});

test("layouts keep the CSR contract: causal, diagonal kept, no empty row, columns sorted and unique", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 100; trial++) {
    const facts = randomFacts(rng, rng.int(1, 200));
    const { layout } = SparsePatterns.build(facts, randomHeads(rng));
    validateLayout(layout); // kernels/testing's independent checker
    assert.equal(layout.blockSize, facts.blockSize);
    assert.equal(layout.numBlockRows, facts.numBlocks);
    if (facts.numBlocks * facts.blockSize <= 128) {
      const T = facts.numBlocks * facts.blockSize;
      for (let l = 0; l < layout.numLayouts; l++) {
        const m = layoutTokenMask(layout, l);
        for (let i = 0; i < T; i++) {
          assert.equal(m[i * T + i], 1, `token ${i} must see itself`);
          for (let j = i + 1; j < T; j++) assert.equal(m[i * T + j], 0, `token ${i} must not see later token ${j}`);
        }
      }
    }
  }
});

test("the per-row budget holds, and rows within budget keep every candidate", () => {
  const rng = root.fork();
  let truncated = 0;
  let whole = 0;
  for (let trial = 0; trial < 80; trial++) {
    const facts = randomFacts(rng, rng.int(1, 120));
    const spec = randomSpec(rng);
    const { layout } = SparsePatterns.build(facts, [spec]);
    for (let r = 0; r < facts.numBlocks; r++) {
      const cols = rowColumns(layout, 0, r);
      const budget = rowBudget(facts, spec, r);
      assert.ok(cols.length <= budget, `row ${r}: ${cols.length} blocks > budget ${budget}`);
      const all = new Set<number>([r]);
      for (const p of spec.primitives) for (const c of primitiveCandidates(facts, p, r)) all.add(c);
      if (all.size <= budget) {
        whole++;
        assert.deepEqual([...cols], [...all].sort((a, b) => a - b), `row ${r} is within budget but dropped candidates`);
      } else {
        truncated++;
        assert.equal(cols.length, budget, `row ${r} has more candidates than budget but does not fill it`);
        for (const c of cols) assert.ok(all.has(c), `row ${r} keeps ${c}, which no primitive offered`);
      }
    }
  }
  assert.ok(truncated > 0 && whole > 0, "both cases must occur");
});

test("every token reaches every earlier anchor block in one hop when the budget allows; otherwise the top tiers and nearest are kept", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 60; trial++) {
    const n = rng.int(2, 60);
    const facts = randomFacts(rng, n);
    const budget = rng.int(2, 30);
    const spec: HeadPatternSpec = { primitives: [{ kind: "anchors" }, { kind: "local", window: rng.int(1, 6) }, { kind: "strided", stride: 3 }], budget };
    const sp = SparsePatterns.build(facts, [spec]);
    const T = n * facts.blockSize;
    const mask = T <= 200 ? layoutTokenMask(sp.layout, 0) : undefined;
    const tierOf = (i: number): number => (facts.anchorTier ? facts.anchorTier[i] : 0);
    let dropped = 0;
    for (let r = 0; r < n; r++) {
      const earlier = [...facts.anchorBlocks.keys()].filter((i) => facts.anchorBlocks[i] <= r);
      const cols = new Set(rowColumns(sp.layout, 0, r));
      // The diagonal always takes one slot; the other anchors compete for the rest, top tier then nearest.
      const others = earlier.filter((i) => facts.anchorBlocks[i] !== r);
      const expected = others
        .sort((i, j) => tierOf(j) - tierOf(i) || facts.anchorBlocks[j] - facts.anchorBlocks[i])
        .slice(0, budget - 1)
        .map((i) => facts.anchorBlocks[i]);
      if (isAnchor(facts, r)) expected.push(r);
      const keptAnchors = [...cols].filter((c) => isAnchor(facts, c)).sort((a, b) => a - b);
      assert.deepEqual(keptAnchors, expected.sort((a, b) => a - b), `row ${r}: kept anchors`);
      dropped += earlier.length - keptAnchors.length;
      if (others.length <= budget - 1 && mask) {
        for (let i = r * facts.blockSize; i < (r + 1) * facts.blockSize; i++) {
          for (const ai of earlier) {
            const a = facts.anchorBlocks[ai];
            for (let j = a * facts.blockSize; j < (a + 1) * facts.blockSize && j <= i; j++) assert.equal(mask[i * T + j], 1, `token ${i} cannot reach anchor token ${j}`);
          }
        }
      }
    }
    assert.equal(patternStats(sp).layouts[0].anchorCoverage.droppedAnchorRefs, dropped, "stats report the dropped anchors");
  }
});

test("head specs map onto layouts as head h → h % numLayouts; repeated specs share a layout", () => {
  const rng = root.fork();
  const a = randomSpec(rng);
  let b = randomSpec(rng);
  while (JSON.stringify(b) === JSON.stringify(a)) b = randomSpec(rng);
  const facts = randomFacts(rng, 40);
  assert.equal(SparsePatterns.build(facts, [a, b, a, b]).layout.numLayouts, 2);
  assert.equal(SparsePatterns.build(facts, [a, a, a]).layout.numLayouts, 1);
  const { layout } = SparsePatterns.build(facts, [a, a, b, b]);
  assert.equal(layout.numLayouts, 4);
  for (let h = 0; h < 4; h++) {
    const spec = h < 2 ? a : b;
    for (let r = 0; r < 40; r++) assert.deepEqual([...rowColumns(layout, h, r)], referenceRowColumns(facts, spec, r));
  }
});

test("stats: kept blocks, densities and per-row counts agree with the CSR", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 30; trial++) {
    const facts = randomFacts(rng, rng.int(1, 150));
    const heads = randomHeads(rng);
    const sp = SparsePatterns.build(facts, heads);
    const st = patternStats(sp);
    const R = facts.numBlocks;
    assert.equal(st.numLayouts, sp.layout.numLayouts);
    for (let l = 0; l < sp.layout.numLayouts; l++) {
      const lens = Array.from({ length: R }, (_, r) => rowColumns(sp.layout, l, r).length);
      const kept = lens.reduce((x, y) => x + y, 0);
      const ls = st.layouts[l];
      assert.equal(ls.keptBlocks, layoutNnz(sp.layout, l));
      assert.equal(ls.keptBlocks, kept);
      assert.ok(Math.abs(ls.density - kept / ((R * (R + 1)) / 2)) < 1e-12);
      assert.equal(ls.rowBlocks.min, Math.min(...lens));
      assert.equal(ls.rowBlocks.max, Math.max(...lens));
      assert.equal(ls.perPrimitive.reduce((s, p) => s + p.keptBlocks, 0), kept, "attribution covers every kept block once");
      assert.equal(ls.perPrimitive[0].keptBlocks, R, "one diagonal per row");
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// Incremental updates

/** Facts after replacing blocks [start, oldEnd) by `newLen` fresh blocks (a file's blocks replaced). */
function editFacts(rng: Rng, facts: BlockFacts, start: number, oldEnd: number, newLen: number, keepSegmentsAfter: boolean): { facts: BlockFacts; edit: BlockEdit } {
  const n = facts.numBlocks;
  const newEnd = start + newLen;
  const delta = newEnd - oldEnd;
  const n2 = n + delta;
  const tiers = facts.anchorTier;
  const blocks: number[] = [];
  const tierList: number[] = [];
  facts.anchorBlocks.forEach((b, i) => {
    if (b < start) {
      blocks.push(b);
      tierList.push(tiers ? tiers[i] : 0);
    }
  });
  for (let b = start; b < newEnd; b++) {
    if (rng.next() < 0.3) {
      blocks.push(b);
      tierList.push(tiers ? rng.int(0, 2) : 0);
    }
  }
  facts.anchorBlocks.forEach((b, i) => {
    if (b >= oldEnd) {
      blocks.push(b + delta);
      tierList.push(tiers ? tiers[i] : 0);
    }
  });
  let segmentStart: Int32Array | undefined;
  if (facts.segmentStart) {
    const old = facts.segmentStart;
    segmentStart = new Int32Array(n2);
    for (let b = 0; b < start; b++) segmentStart[b] = old[b];
    // Inside the edit: the first block either continues the previous segment or starts one; more may start.
    let s = start > 0 && rng.next() < 0.5 ? old[start - 1] : start;
    for (let b = start; b < newEnd; b++) {
      if (b > start && rng.next() < 0.2) s = b;
      segmentStart[b] = s;
    }
    // After it: later segments shift; a segment that ran through the edit either goes on or restarts at newEnd.
    const carried = keepSegmentsAfter && newEnd > 0 ? segmentStart[newEnd - 1] : newEnd;
    for (let b = newEnd; b < n2; b++) {
      const o = old[b - delta];
      segmentStart[b] = o >= oldEnd ? o + delta : o < start && newEnd === start && keepSegmentsAfter ? o : carried;
    }
  }
  return {
    facts: { ...facts, numBlocks: n2, anchorBlocks: Int32Array.from(blocks), anchorTier: tiers ? Uint8Array.from(tierList) : undefined, segmentStart },
    edit: { start, oldEnd, newEnd },
  };
}

test("incremental update equals a full rebuild on random edits (same and different block counts)", () => {
  const rng = root.fork();
  let partial = 0;
  for (let trial = 0; trial < 160; trial++) {
    let facts = randomFacts(rng, trial % 2 ? rng.int(1, 150) : rng.int(150, 400));
    const heads = randomHeads(rng);
    const sp = SparsePatterns.build(facts, heads);
    for (let step = 0; step < 3; step++) {
      const n = facts.numBlocks;
      const start = rng.int(0, n - 1);
      const oldEnd = rng.int(start, Math.min(n, start + 10));
      const sameCount = rng.next() < 0.6;
      const newLen = sameCount ? oldEnd - start : rng.int(oldEnd === start ? 1 : 0, 10);
      if (n + newLen - (oldEnd - start) < 1) continue;
      const next = editFacts(rng, facts, start, oldEnd, newLen, rng.next() < 0.5);
      if (rng.next() < 0.05) next.facts.sinkBlocks = rng.int(0, 3);
      const before = snapshot(sp.layout);
      const report = sp.update(next.facts, next.edit);
      if (!report.full) partial++;
      const what = `trial ${trial} step ${step} edit ${JSON.stringify(next.edit)}`;
      sameLayout(sp.layout, SparsePatterns.build(next.facts, heads).layout, what);
      checkDirtyRange(before, sp.layout, report.dirtyFrom, next.edit.newEnd === next.edit.oldEnd ? report.dirtyTo : Infinity, what);
      facts = next.facts;
    }
  }
  assert.ok(partial > 0, "some updates must be partial");
});

/** Rows of every layout as arrays (the layout's buffers may be rewritten in place by an update). */
function snapshot(layout: BlockSparseLayout): number[][][] {
  return Array.from({ length: layout.numLayouts }, (_, l) => Array.from({ length: layout.numBlockRows }, (_, r) => [layout.rowPtr[l * (layout.numBlockRows + 1) + r], ...rowColumns(layout, l, r)]));
}

/** Rows before `from` (and, when the block count is unchanged, from `to` on) must be exactly as before. */
function checkDirtyRange(before: number[][][], after: BlockSparseLayout, from: number, to: number, what: string): void {
  const now = snapshot(after);
  for (let l = 0; l < now.length; l++) {
    for (let r = 0; r < Math.min(from, now[l].length); r++) assert.deepEqual(now[l][r], before[l][r], `${what}: layout ${l} row ${r} changed before the dirty range`);
    for (let r = Math.max(0, to); r < now[l].length; r++) assert.deepEqual(now[l][r], before[l][r], `${what}: layout ${l} row ${r} changed after the dirty range`);
  }
}

test("patching rows in place (lengths growing and shrinking between untouched runs) equals rebuilding the CSR", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 300; trial++) {
    const R = rng.int(1, 60);
    const numLayouts = rng.int(1, 3);
    const src = randomLayout(rng, rng.int(1, 4), R, rng.pick([0.05, 0.3, 0.8]), numLayouts);
    const home = rng.int(0, numLayouts - 1);
    const rows = [...Array(R).keys()].filter(() => rng.next() < rng.pick([0.05, 0.2, 0.6])).sort((a, b) => a - b);
    const capacity = R;
    const cols = new Int32Array(Math.max(1, rows.length * capacity));
    const len = new Int32Array(rows.length);
    const expected = Array.from({ length: R }, (_, r) => [...rowColumns(src, home, r)]);
    rows.forEach((r, i) => {
      const set = [...Array(r).keys()].filter(() => rng.next() < rng.pick([0.1, 0.5, 0.9]));
      set.push(r);
      cols.set(set, i * capacity);
      len[i] = set.length;
      expected[r] = set;
    });
    const total = expected.reduce((s, x) => s + x.length, 0);
    // Room for the new rows in every layout, with the other layouts' contents kept.
    const maxNnz = Math.max(src.maxNnz, total) + rng.int(0, 5);
    const layout: BlockSparseLayout = { ...src, maxNnz, rowPtr: src.rowPtr.slice(), colIdx: new Int32Array(numLayouts * maxNnz).fill(-7) };
    for (let l = 0; l < numLayouts; l++) layout.colIdx.set(src.colIdx.subarray(l * src.maxNnz, l * src.maxNnz + layoutNnz(src, l)), l * maxNnz);
    const [from, to] = patchRowsInPlace(layout, home, { rows: Int32Array.from(rows), cols, len, capacity });
    for (let l = 0; l < numLayouts; l++) {
      for (let r = 0; r < R; r++) {
        const want = l === home ? expected[r] : [...rowColumns(src, l, r)];
        assert.deepEqual([...rowColumns(layout, l, r)], want, `trial ${trial} layout ${l} row ${r}`);
      }
    }
    if (rows.length > 0) assert.ok(from <= rows[0] && to >= rows[rows.length - 1] + 1);
  }
});

test("updates that outgrow the layout's headroom re-allocate, and still equal a full rebuild", () => {
  const rng = root.fork();
  const n = rng.int(250, 350);
  const facts: BlockFacts = { numBlocks: n, blockSize: 16, anchorBlocks: randomAnchors(rng, n, 0.02, 1).blocks };
  const heads: HeadPatternSpec[] = [{ primitives: [{ kind: "local", window: 2 }, { kind: "anchors" }] }, { primitives: [{ kind: "anchors" }, { kind: "dilated" }] }];
  const sp = SparsePatterns.build(facts, heads);
  // Every block of [start, start + 80) becomes an anchor: each later row gains ~80 columns.
  const start = rng.int(20, 60);
  const dense = [...new Set([...facts.anchorBlocks, ...Array.from({ length: 80 }, (_, i) => start + i)])].sort((a, b) => a - b);
  const grown: BlockFacts = { ...facts, anchorBlocks: Int32Array.from(dense) };
  const same = sp.update(grown, { start, oldEnd: start + 80, newEnd: start + 80 });
  assert.equal(same.reallocated, true);
  sameLayout(sp.layout, SparsePatterns.build(grown, heads).layout, "same-count growth");
  // And once more with a block count change: 40 new anchor blocks inserted.
  const ins = Int32Array.from([...grown.anchorBlocks].flatMap((a) => (a < start ? [a] : [a + 40])).concat(Array.from({ length: 40 }, (_, i) => start + i)).sort((a, b) => a - b));
  const inserted: BlockFacts = { ...grown, numBlocks: n + 40, anchorBlocks: ins };
  const shifted = sp.update(inserted, { start, oldEnd: start, newEnd: start + 40 });
  assert.equal(shifted.reallocated, true);
  sameLayout(sp.layout, SparsePatterns.build(inserted, heads).layout, "shifted growth");
});

test("an edit in a long, anchor-dense sequence rebuilds only nearby rows and still equals a full rebuild", () => {
  const rng = root.fork();
  const n = 3000;
  const a = randomAnchors(rng, n, 0.2, 3);
  const facts: BlockFacts = { numBlocks: n, blockSize: 64, anchorBlocks: a.blocks, anchorTier: a.tier, segmentStart: randomSegments(rng, n, 0.03), sinkBlocks: 1 };
  const heads: HeadPatternSpec[] = [
    { primitives: [{ kind: "sinks" }, { kind: "local", window: 8 }, { kind: "anchors" }], budget: 32 },
    { primitives: [{ kind: "dilated" }, { kind: "anchors", maxCount: 16 }, { kind: "strided", stride: 5, offset: 2 }], budget: 32 },
  ];
  const sp = SparsePatterns.build(facts, heads);
  const start = rng.int(1000, 1900);
  const next = editFacts(rng, facts, start, start + 20, 20, true);
  const report = sp.update(next.facts, next.edit);
  sameLayout(sp.layout, SparsePatterns.build(next.facts, heads).layout, "anchor-dense edit");
  for (const rows of report.rebuiltRows) assert.ok(rows < (n - start) / 2, `rebuilt ${rows} rows of the ${n - start} after the edit`);
});

test("update rejects an edit range that does not cover the change, and facts that contradict it", () => {
  const rng = root.fork();
  const facts: BlockFacts = { numBlocks: 50, blockSize: 4, anchorBlocks: Int32Array.from([3, 10, 30]) };
  const sp = SparsePatterns.build(facts, [{ primitives: [{ kind: "anchors" }], budget: 8 }]);
  const moved = { ...facts, anchorBlocks: Int32Array.from([3, 11, 30]) };
  assert.throws(() => sp.update(moved, { start: 20, oldEnd: 25, newEnd: 25 }), /outside the edit/);
  assert.throws(() => sp.update(moved, { start: 10, oldEnd: 12, newEnd: 13 }), /implies 51 blocks/);
  const extra = rng.int(12, 29);
  const ok = { ...facts, anchorBlocks: Int32Array.from([3, 10, extra, 30]) };
  sp.update(ok, { start: extra, oldEnd: extra + 1, newEnd: extra + 1 });
  sameLayout(sp.layout, SparsePatterns.build(ok, [{ primitives: [{ kind: "anchors" }], budget: 8 }]).layout, "after a valid update");
});

test("bad facts and specs fail with clear messages", () => {
  const base: BlockFacts = { numBlocks: 10, blockSize: 4, anchorBlocks: new Int32Array(0) };
  const spec: HeadPatternSpec = { primitives: [{ kind: "local", window: 2 }] };
  assert.throws(() => SparsePatterns.build({ ...base, anchorBlocks: Int32Array.from([5, 2]) }, [spec]), /sorted and unique/);
  assert.throws(() => SparsePatterns.build({ ...base, anchorBlocks: Int32Array.from([10]) }, [spec]), /outside/);
  assert.throws(() => SparsePatterns.build({ ...base, segmentStart: Int32Array.from([0, 0, 3, 3, 3, 3, 3, 3, 3, 3]) }, [spec]), /segmentStart/);
  assert.throws(() => SparsePatterns.build(base, [{ primitives: [{ kind: "local", window: 0 }] }]), /window must be a positive integer/);
  assert.throws(() => SparsePatterns.build(base, [{ primitives: [{ kind: "local", window: 2 }], budget: 0 }]), /budget/);
  assert.throws(() => SparsePatterns.build({ ...base, numBlocks: 30000 }, [{ primitives: [{ kind: "strided", stride: 1 }] }]), /give the head spec a budget/);
  assert.equal(SparsePatterns.build({ ...base, numBlocks: 30000 }, [spec]).layout.numBlockRows, 30000, "a small unbudgeted pattern is fine");
  assert.throws(() => SparsePatterns.build(base, []), /at least one head/);
});

// ---------------------------------------------------------------------------------------------------------
// Meaning, checked with the float64 reference attention

test("the float64 reference attention only puts weight where the pattern's definition allows", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 6; trial++) {
    const B = rng.pick([2, 4]);
    const n = rng.int(4, 10);
    const T = n * B;
    const anchors = randomAnchors(rng, n, 0.3, 1).blocks;
    const w = rng.int(1, 3);
    const s = rng.int(2, 4);
    const facts: BlockFacts = { numBlocks: n, blockSize: B, anchorBlocks: anchors };
    // Head 0: local window + anchors. Head 1: strided (Phi-3 style offset 1) + first block as a sink.
    const heads: HeadPatternSpec[] = [
      { primitives: [{ kind: "local", window: w }, { kind: "anchors" }] },
      { primitives: [{ kind: "strided", stride: s, offset: 1 }, { kind: "sinks", count: 1 }] },
    ];
    const allowed = (h: number, i: number, j: number): boolean => {
      const bi = Math.floor(i / B);
      const bj = Math.floor(j / B);
      if (j > i) return false;
      if (bj === bi) return true;
      if (h === 0) return bi - bj < w || anchors.includes(bj);
      return (bj + 2) % s === 0 || bj === 0;
    };
    const { layout } = SparsePatterns.build(facts, heads);
    // V is the identity (headDim = T), so out[h][i][j] is exactly the softmax weight query i gives key j.
    const D = T;
    const q = new Float32Array(2 * T * D);
    rng.fillNormal(q);
    const k = new Float32Array(T * D);
    rng.fillNormal(k);
    const v = new Float32Array(T * D);
    for (let j = 0; j < T; j++) v[j * D + j] = 1;
    const shape = { numHeads: 2, numKvHeads: 1, headDim: D, queryStart: 0, queryLength: T, kvLength: T, kvCapacity: T, scale: 1 / Math.sqrt(D) };
    const { out } = referenceAttention(shape, layout, { q, k, v });
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < T; i++) {
        let sum = 0;
        for (let j = 0; j < T; j++) {
          const p = out[(h * T + i) * D + j];
          sum += p;
          assert.equal(p > 0, allowed(h, i, j), `head ${h}: query ${i} key ${j} weight ${p}`);
        }
        assert.ok(Math.abs(sum - 1) < 1e-9, `weights of query ${i} sum to ${sum}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// Adaptive selection

function randomKv(rng: Rng, numKvHeads: number, cap: number, D: number): Float32Array {
  const k = new Float32Array(numKvHeads * cap * D);
  rng.fillNormal(k);
  // Some blocks stand out so that selection is not a coin toss.
  for (let i = 0; i < k.length; i += D * rng.int(3, 9)) k[i] += 3;
  return k;
}

/** NaN in every cache row at or after kvLength: a summary that reads them turns NaN. */
function poisonTail(k: Float32Array, numKvHeads: number, cap: number, D: number, kvLength: number): void {
  for (let h = 0; h < numKvHeads; h++) k.fill(Number.NaN, (h * cap + kvLength) * D, (h + 1) * cap * D);
}

test("key block summaries: mean and min/max match their definitions; appends equal a fresh summary; min/max bounds q·k", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 10; trial++) {
    const D = rng.int(1, 16);
    const B = rng.pick([2, 4, 8]);
    const kvh = rng.int(1, 2);
    const cap = rng.int(8, 80);
    const len = rng.int(1, cap);
    const k = randomKv(rng, kvh, cap, D);
    poisonTail(k, kvh, cap, D, len);
    for (const kind of ["mean", "minmax"] as const) {
      const opts = { kind, numKvHeads: kvh, headDim: D, kvCapacity: cap, kvLength: len, blockSize: B };
      const s = summarizeKeyBlocks(k, opts);
      const half = summarizeKeyBlocks(k, { ...opts, kvLength: rng.int(1, len) });
      const appended = summarizeKeyBlocks(k, opts, half);
      assert.deepEqual(appended.data, s.data, "append must equal a fresh summary");
      const used = Math.ceil(len / B) * (kind === "mean" ? D : 2 * D);
      for (let h = 0; h < kvh; h++) {
        const o = h * s.capacityBlocks * (kind === "mean" ? D : 2 * D);
        assert.ok(s.data.subarray(o, o + used).every(Number.isFinite), "summaries must not read past kvLength");
      }
      const qv = new Float32Array(D);
      rng.fillNormal(qv);
      for (let h = 0; h < kvh; h++) {
        for (let b = 0; b < Math.ceil(len / B); b++) {
          const toks = Array.from({ length: Math.min(B, len - b * B) }, (_, i) => b * B + i);
          const key = (t: number, d: number): number => k[(h * cap + t) * D + d];
          if (kind === "mean") {
            let score = 0;
            for (let d = 0; d < D; d++) score += (qv[d] * toks.reduce((acc, t) => acc + key(t, d), 0)) / toks.length;
            const got = adaptiveScore(s, h, b, qv);
            assert.ok(Math.abs(got - score) < 1e-4 * (1 + Math.abs(score)), `mean score ${got} vs ${score}`);
          } else {
            let bound = 0;
            for (let d = 0; d < D; d++) {
              const lo = Math.min(...toks.map((t) => key(t, d)));
              const hi = Math.max(...toks.map((t) => key(t, d)));
              bound += Math.max(qv[d] * lo, qv[d] * hi);
            }
            const got = adaptiveScore(s, h, b, qv);
            assert.ok(Math.abs(got - bound) < 1e-4 * (1 + Math.abs(bound)), `minmax score ${got} vs ${bound}`);
            for (const t of toks) {
              let dot = 0;
              for (let d = 0; d < D; d++) dot += qv[d] * key(t, d);
              assert.ok(dot <= got + 1e-4, `q·k ${dot} above the block bound ${got}`);
            }
          }
        }
      }
    }
  }
});

function adaptiveScore(s: KeyBlockSummaries, h: number, b: number, q: Float32Array): number {
  // Score via a one-row adaptive call would hide bugs in both; read the summary by its documented layout.
  const D = s.headDim;
  const width = s.kind === "mean" ? D : 2 * D;
  const o = (h * s.capacityBlocks + b) * width;
  let acc = 0;
  for (let d = 0; d < D; d++) acc += s.kind === "mean" ? q[d] * s.data[o + d] : Math.max(q[d] * s.data[o + d], q[d] * s.data[o + D + d]);
  return acc;
}

test("selectTopBlocks picks the true top-k (ties to the nearer block) and skips excluded ones", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 200; trial++) {
    const count = rng.int(0, 60);
    const scores = Float64Array.from({ length: count }, () => (rng.next() < 0.3 ? rng.int(0, 3) : rng.normal()));
    if (count > 0 && rng.next() < 0.2) scores[rng.int(0, count - 1)] = Number.NaN;
    const excluded = Uint8Array.from({ length: count }, () => (rng.next() < 0.2 ? 1 : 0));
    const k = rng.int(0, 20);
    const out = new Int32Array(Math.max(1, k));
    const got = [...out.subarray(0, selectTopBlocks(scores, count, k, excluded, out))];
    const key = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
    const expected = [...Array(count).keys()]
      .filter((i) => !excluded[i])
      .sort((i, j) => (key(i) === key(j) ? j - i : key(j) - key(i)))
      .slice(0, k);
    assert.deepEqual(got, expected);
  }
});

test("adaptive layout: each query row keeps base ∪ diagonal ∪ the true top-k blocks by score", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 12; trial++) {
    const numKvHeads = rng.int(1, 2);
    const numHeads = numKvHeads * rng.int(1, 2);
    const D = rng.int(2, 12);
    const B = rng.pick([2, 4]);
    const kvLength = rng.int(B * 3, 90);
    const queryLength = rng.pick([1, rng.int(1, 2 * B)]);
    const queryStart = kvLength - queryLength;
    const kind = rng.pick(["mean", "minmax"] as const);
    const k = randomKv(rng, numKvHeads, kvLength, D);
    const q = new Float32Array(numHeads * queryLength * D);
    rng.fillNormal(q);
    const summaries = summarizeKeyBlocks(k, { kind, numKvHeads, headDim: D, kvCapacity: kvLength, kvLength, blockSize: B });
    const numBlocks = Math.ceil(kvLength / B);
    const facts: BlockFacts = { numBlocks, blockSize: B, anchorBlocks: randomAnchors(rng, numBlocks, 0.15, 1).blocks, sinkBlocks: 1 };
    const base = rng.next() < 0.7 ? SparsePatterns.build(facts, [{ primitives: [{ kind: "sinks" }, { kind: "local", window: 2 }, { kind: "anchors" }] }]).layout : undefined;
    const topK = rng.int(0, 6);
    const shareAcrossGroup = rng.next() < 0.4;
    const { layout, firstRow, endRow } = adaptiveLayout({ shape: { numHeads, numKvHeads, headDim: D, queryStart, queryLength, kvLength }, queries: q, summaries, topK, base, shareAcrossGroup });
    validateLayout(layout);
    assert.equal(layout.numLayouts, numHeads);
    const group = numHeads / numKvHeads;
    for (let h = 0; h < numHeads; h++) {
      const kvh = Math.floor(h / group);
      // The query heads whose scores decide this head's blocks.
      const deciders = shareAcrossGroup ? Array.from({ length: group }, (_, i) => kvh * group + i) : [h];
      for (let R = firstRow; R < endRow; R++) {
        const mandatory = new Set<number>(base ? rowColumns(base, 0, R) : []);
        mandatory.add(R);
        const score = (c: number): number => {
          let best = -Infinity;
          for (const g of deciders) {
            for (let t = Math.max(queryStart, R * B); t < Math.min(kvLength, (R + 1) * B); t++) {
              const qv = q.subarray((g * queryLength + t - queryStart) * D, (g * queryLength + t - queryStart + 1) * D);
              best = Math.max(best, adaptiveScore(summaries, kvh, c, qv));
            }
          }
          return best;
        };
        const candidates = [...Array(R).keys()].filter((c) => !mandatory.has(c));
        const cols = new Set(rowColumns(layout, h, R));
        for (const c of mandatory) assert.ok(cols.has(c), `head ${h} row ${R}: base block ${c} missing`);
        const picked = candidates.filter((c) => cols.has(c));
        assert.equal(picked.length, Math.min(topK, candidates.length), `head ${h} row ${R}: ${picked.length} picked`);
        assert.equal(cols.size, mandatory.size + picked.length, "nothing else is kept");
        const worstPicked = Math.min(...picked.map(score));
        for (const c of candidates) if (!cols.has(c)) assert.ok(score(c) <= worstPicked + 1e-5, `head ${h} row ${R}: block ${c} (${score(c)}) beats a picked one (${worstPicked})`);
      }
      for (let r = 0; r < layout.numBlockRows; r++) if (r < firstRow || r >= endRow) assert.deepEqual([...rowColumns(layout, h, r)], [r]);
      if (shareAcrossGroup) for (let r = 0; r < layout.numBlockRows; r++) assert.deepEqual([...rowColumns(layout, h, r)], [...rowColumns(layout, kvh * group, r)], "a group shares its rows");
    }
  }
});

// ---------------------------------------------------------------------------------------------------------
// Rendering

test("renderMaskPng draws kept blocks, anchor columns and the causal triangle; downsampling keeps every kept block visible", () => {
  const rng = root.fork();
  for (const n of [rng.int(5, 60), rng.int(700, 1400)]) {
    const facts: BlockFacts = { numBlocks: n, blockSize: 16, anchorBlocks: randomAnchors(rng, n, 0.05, 1).blocks, segmentStart: randomSegments(rng, n, 0.05), sinkBlocks: 1 };
    const sp = SparsePatterns.build(facts, [{ primitives: [{ kind: "sinks" }, { kind: "local", window: 3 }, { kind: "anchors" }, { kind: "dilated" }], budget: 40 }]);
    const maxSize = 400;
    const png = PNG.sync.read(renderMaskPng(sp.layout, 0, { anchorBlocks: facts.anchorBlocks, segmentStart: facts.segmentStart, maxSize }));
    assert.equal(png.width, png.height);
    assert.ok(png.width <= Math.max(maxSize, 512), `image ${png.width}px`);
    const down = Math.max(1, Math.ceil(n / maxSize));
    const cells = Math.ceil(n / down);
    const scale = png.width / cells;
    assert.ok(Number.isInteger(scale) && scale >= 1);
    const pixel = (cx: number, cy: number): string => {
      // Bottom-right pixel of a cell: never on a boundary line.
      const o = (((cy + 1) * scale - 1) * png.width + (cx + 1) * scale - 1) * 4;
      return `${png.data[o]},${png.data[o + 1]},${png.data[o + 2]}`;
    };
    const keptCell = new Map<number, boolean>();
    for (let r = 0; r < n; r++) {
      for (const c of rowColumns(sp.layout, 0, r)) {
        const key = Math.floor(r / down) * cells + Math.floor(c / down);
        keptCell.set(key, (keptCell.get(key) ?? false) || facts.anchorBlocks.includes(c));
      }
    }
    const KEPT = "31,78,156";
    const ANCHOR = "232,113,26";
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        const k = keptCell.get(y * cells + x);
        const got = pixel(x, y);
        if (k === undefined) assert.ok(got !== KEPT && got !== ANCHOR, `cell ${x},${y} is drawn kept but no block in it is`);
        else assert.equal(got, k ? ANCHOR : KEPT, `cell ${x},${y}`);
        if (x > y) assert.equal(got, "255,255,255", "above the diagonal is blank");
      }
    }
  }
});

test("anchor groups: each head reads one tier, the heads together reach every anchor in one hop", () => {
  const rng = root.fork();
  for (let trial = 0; trial < 5; trial++) {
    const n = rng.int(40, 160);
    const groups = rng.int(2, 4);
    const blocks = Int32Array.from(new Set(Array.from({ length: rng.int(4, 30) }, () => rng.int(0, n - 1)))).sort();
    const tier = Uint8Array.from(blocks, (_, i) => 2 + (i % groups));
    const facts: BlockFacts = { numBlocks: n, blockSize: 16, anchorBlocks: blocks, anchorTier: tier, sinkBlocks: 1 };
    const heads = longviewHeadSpecs({ numHeads: 2 * groups, budget: 24, localBlocks: 4, anchorGroups: groups, firstAnchorTier: 2 });
    const sp = SparsePatterns.build(facts, heads);
    for (let h = 0; h < heads.length; h++) {
      const want = 2 + (h % groups);
      for (let r = 0; r < n; r++) {
        for (const c of rowColumns(sp.layout, h % sp.layout.numLayouts, r)) {
          const i = blocks.indexOf(c);
          // A kept anchor of another group can only come from another primitive (local window, sink, stride…).
          if (i >= 0 && tier[i] !== want) assert.ok(referenceRowColumns(facts, { ...heads[h], primitives: heads[h].primitives.filter((p) => p.kind !== "anchors") }, r).includes(c));
        }
      }
    }
    assert.equal(patternStats(sp).overall.rowsMissingAnchorsInAnyHead, 0, "union over heads covers every earlier anchor");
  }
});

