/**
 * WGSL sources of the block-sparse attention kernels. The sparsity layout is never part of the code: it is read
 * from the rowPtr/colIdx storage buffers, so one pipeline serves every pattern. Only shape constants that size
 * registers and workgroup memory (head dim, rows per workgroup, lanes per row, key tile) are baked in, and each
 * distinct combination is one pipeline, compiled once per device.
 *
 * Algorithm (FlashAttention-2 style, over the KEPT blocks only): a workgroup owns up to `rows` query rows that
 * lie in ONE block row (so they share one CSR row), optionally spread over several query heads of a GQA group
 * that share a K/V head and a layout. The kept blocks of that row are walked as one flat list of key "slots"
 * (slot s = key colIdx[s / blockSize] * blockSize + s % blockSize), `keyTile` slots at a time; K and V tiles are
 * staged in workgroup memory and consumed by every row of the workgroup with an online softmax in base 2, four
 * keys per step.
 * Because every row lists its diagonal block last, the causal mask reduces to "slot < rowLimit".
 * A split index (workgroup_id.z) restricts a workgroup to a window of slots (split-K / flash-decoding); the
 * partial results are normalised and carry their logsumexp, and the merge kernel combines them.
 */

export interface AttentionKernelConfig {
  headDim: number;
  /** Query rows per workgroup. */
  rows: number;
  /** Invocations per query row: 4 splits the head dim over a quad and reduces dot products with subgroup
   * shuffles; 1 keeps a whole row per invocation (the fallback without the `subgroups` feature). */
  lanesPerRow: 1 | 4;
  /** Keys per K/V tile in workgroup memory (a multiple of 4). */
  keyTile: number;
  /** Unroll the head-dim loops in the generated WGSL (constant register indices on every GPU driver). Off for
   * lavapipe, whose LLVM JIT takes minutes on the unrolled code; the arithmetic is the same. */
  unroll: boolean;
}

export function attentionKernelKey(cfg: AttentionKernelConfig): string {
  return `attn-d${cfg.headDim}-r${cfg.rows}-l${cfg.lanesPerRow}-k${cfg.keyTile}${cfg.unroll ? "-u" : ""}`;
}

/** The attention kernel. Its uniform block `Params` is written by packAttentionParams (kernels/webgpu/index.ts). */
export function attentionWgsl(cfg: AttentionKernelConfig): string {
  const { headDim, rows, lanesPerRow: lanes, keyTile, unroll } = cfg;
  if (headDim % (4 * lanes) !== 0) throw new Error(`head dim ${headDim} is not a multiple of ${4 * lanes}`);
  const quad = lanes === 4;
  // The quad's partial dot products are summed with two butterfly shuffles; every lane ends with the full score.
  const reduce = quad ? "sv += subgroupShuffleXor(sv, 1u);\n      sv += subgroupShuffleXor(sv, 2u);" : "";
  if (keyTile % 4 !== 0) throw new Error(`key tile ${keyTile} is not a multiple of 4`);
  // Emits `body` once per vec4 column this lane owns: unrolled with literal indices, or as a WGSL loop.
  const perColumn = (indent: string, body: (c: string) => string): string =>
    unroll
      ? Array.from({ length: headDim / 4 / lanes }, (_, i) => indent + body(`${i}u`)).join("\n")
      : `${indent}for (var c = 0u; c < cpl; c++) {\n${indent}  ${body("c")}\n${indent}}`;
  return /* wgsl */ `${quad ? "enable subgroups;\n" : ""}
struct Params {
  numHeads: u32, queryStart: u32, queryLength: u32, kvCapacity: u32,
  blockSize: u32, numLayouts: u32, numBlockRows: u32, maxNnz: u32,
  groupSize: u32, headsPerWorkgroup: u32, rowsPerHead: u32, firstTile: u32,
  scaleLog2: f32, splitSlots: u32, pad0: u32, pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> Q: array<vec4f>;
@group(0) @binding(2) var<storage, read> K: array<vec4f>;
@group(0) @binding(3) var<storage, read> V: array<vec4f>;
@group(0) @binding(4) var<storage, read> rowPtr: array<u32>;
@group(0) @binding(5) var<storage, read> colIdx: array<u32>;
@group(0) @binding(6) var<storage, read_write> O: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> LSE: array<f32>;

const D4 = ${headDim / 4}u;
const LANES = ${lanes}u;
// Lane l of a row owns vec4 columns l, l + LANES, ...: the quad's four reads of one K row hit distinct banks.
const CPL = ${headDim / 4 / lanes}u;
const BC = ${keyTile}u;
const WG = ${rows * lanes}u;
const NEG = -3.0e38;                   // stands for -inf (WGSL has no infinite literals)
const LN2 = 0.6931471805599453;

var<workgroup> Ks: array<vec4f, ${keyTile * (headDim / 4)}>;
var<workgroup> Vs: array<vec4f, ${keyTile * (headDim / 4)}>;

@compute @workgroup_size(${rows * lanes})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = li / LANES;
  let lane = li % LANES;
  let B = p.blockSize;

  // Workgroup-uniform: which query tile, heads, K/V head, layout row, and window of slots.
  let tileStart = (p.firstTile + wg.x) * p.rowsPerHead;
  let h0 = wg.y * p.headsPerWorkgroup;
  let kvh = h0 / p.groupSize;
  let layoutIdx = h0 % p.numLayouts;
  let blockRow = tileStart / B;
  let rp = layoutIdx * (p.numBlockRows + 1u) + blockRow;
  let rowStart = rowPtr[rp];
  let nBlk = rowPtr[rp + 1u] - rowStart;
  let colBase = layoutIdx * p.maxNnz + rowStart;
  let qEnd = p.queryStart + p.queryLength;
  let tileLast = min(tileStart + p.rowsPerHead, qEnd) - 1u;
  let diagSlot = (nBlk - 1u) * B;                       // first slot of the diagonal block (listed last)
  let tileSlots = diagSlot + tileLast - blockRow * B + 1u; // slots past the tile's last row are never visible
  let sBegin = wg.z * p.splitSlots;
  let sEnd = min(tileSlots, sBegin + p.splitSlots);
  let kvBase = kvh * p.kvCapacity;

  // Per row: its head and position; inactive rows run along (barriers, shuffles) but see no key.
  let headSub = row / p.rowsPerHead;
  let pos = tileStart + row % p.rowsPerHead;
  let rowLive = headSub < p.headsPerWorkgroup && pos >= p.queryStart && pos < qEnd;
  let qRow = select(0u, (h0 + headSub) * p.queryLength + pos - p.queryStart, rowLive);
  let rowLimit = select(0u, min(sEnd, diagSlot + pos - blockRow * B + 1u), rowLive);

  // Loop form only: a bound the compiler cannot fold (it equals CPL), so LLVM does not unroll the column
  // loops; unrolled, the fallback kernel took lavapipe over a minute to compile.
  let cpl = select(CPL, 0u, p.numHeads == 0u);
  var q: array<vec4f, CPL>;
  var o: array<vec4f, CPL>;
${perColumn("  ", (c) => `q[${c}] = Q[qRow * D4 + ${c} * LANES + lane] * p.scaleLog2; o[${c}] = vec4f(0.0);`)}
  var m = NEG;
  var l = 0.0;

  for (var k0 = sBegin; k0 < sEnd; k0 += BC) {
    for (var e = li; e < BC * D4; e += WG) {
      let slot = k0 + e / D4;
      var kv = vec4f(0.0);
      var vv = vec4f(0.0);
      if (slot < sEnd) {
        let key = colIdx[colBase + slot / B] * B + slot % B;
        let src = (kvBase + key) * D4 + e % D4;
        kv = K[src];
        vv = V[src];
      }
      Ks[e] = kv;
      Vs[e] = vv;
    }
    workgroupBarrier();

    // Keys go four at a time (one vec4 of scores) with an online-softmax step per group, so no score array is
    // indexed by a loop variable and q, o stay in registers once the column loops are unrolled. (A whole tile
    // unrolled took lavapipe's LLVM 90 s to compile.)
    let lim = select(0u, rowLimit - k0, rowLimit > k0);   // keys j < lim of this tile are visible
    // A uniform, non-constant trip count: skips the empty end of the last tile, and keeps LLVM (lavapipe) from
    // unrolling the loop into code that takes it minutes to compile.
    let tileKeys = min(BC, sEnd - k0);
    for (var g = 0u; g < tileKeys; g += 4u) {
      let kb = g * D4 + lane;
      var sv = vec4f(0.0);
${perColumn("      ", (c) => `sv += vec4f(dot(q[${c}], Ks[kb + ${c} * LANES]), dot(q[${c}], Ks[kb + ${c} * LANES + D4]), dot(q[${c}], Ks[kb + ${c} * LANES + 2u * D4]), dot(q[${c}], Ks[kb + ${c} * LANES + 3u * D4]));`)}
      ${reduce}
      let visible = vec4u(g, g + 1u, g + 2u, g + 3u) < vec4u(lim);
      sv = select(vec4f(NEG), sv, visible);
      let mNew = max(m, max(max(sv.x, sv.y), max(sv.z, sv.w)));
      let corr = exp2(m - mNew);
      let pv = select(vec4f(0.0), exp2(sv - vec4f(mNew)), visible);
      l = l * corr + pv.x + pv.y + pv.z + pv.w;
${perColumn("      ", (c) => `o[${c}] = o[${c}] * corr + pv.x * Vs[kb + ${c} * LANES] + pv.y * Vs[kb + ${c} * LANES + D4] + pv.z * Vs[kb + ${c} * LANES + 2u * D4] + pv.w * Vs[kb + ${c} * LANES + 3u * D4];`)}
      m = mNew;
    }
    workgroupBarrier();
  }

  if (rowLive) {
    // Split-major: with one split this is the final [head][row] layout.
    let outRow = wg.z * p.numHeads * p.queryLength + qRow;
    let inv = select(0.0, 1.0 / l, l > 0.0);
${perColumn("    ", (c) => `O[outRow * D4 + ${c} * LANES + lane] = o[${c}] * inv;`)}
    if (lane == 0u) { LSE[outRow] = select(NEG, (m + log2(l)) * LN2, l > 0.0); }
  }
}
`;
}

/** Combines split-K partials: out = sum_s w_s o_s / sum_s w_s with w_s = exp(lse_s - max lse). */
export function mergeWgsl(): string {
  return /* wgsl */ `
struct Params { rows: u32, splits: u32, d4: u32, workgroupsX: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> PO: array<vec4f>;
@group(0) @binding(2) var<storage, read> PL: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> LSE: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) li: u32) {
  let idx = (wg.y * p.workgroupsX + wg.x) * 64u + li;
  if (idx >= p.rows * p.d4) { return; }
  let r = idx / p.d4;
  let c = idx % p.d4;
  var mx = -3.0e38;
  for (var s = 0u; s < p.splits; s++) { mx = max(mx, PL[s * p.rows + r]); }
  var wsum = 0.0;
  var acc = vec4f(0.0);
  for (var s = 0u; s < p.splits; s++) {
    let w = exp(PL[s * p.rows + r] - mx);
    wsum += w;
    acc += w * PO[(s * p.rows + r) * p.d4 + c];
  }
  O[r * p.d4 + c] = acc / wsum;
  if (c == 0u) { LSE[r] = mx + log(wsum); }
}
`;
}

/** Checks that subgroup lanes follow local_invocation_index (quads = 4 consecutive invocations), which the
 * quad reduction relies on; WGSL does not promise it, so the host verifies it once per device. */
export function subgroupProbeWgsl(workgroupSize: number): string {
  return /* wgsl */ `enable subgroups;
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(${workgroupSize})
fn main(@builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) sid: u32,
        @builtin(subgroup_size) ssz: u32) {
  let partner = subgroupShuffleXor(li, 3u);
  out[li] = select(0u, 1u, ssz >= 4u && sid == li % ssz && partner == (li ^ 3u));
}
`;
}
