/**
 * Which rows an edit can change, for incremental updates, and the check that facts only changed inside
 * the declared edit.
 */
import { type PreparedFacts, countAtMost, countBelow } from "./facts";
import type { SpecState } from "./sparse-patterns";
import type { BlockEdit } from "./types";

/**
 * Rows of spec `s` to rebuild after a same-count edit of [start, end): the edit's rows, later rows whose
 * segment start changed, and later rows whose consumed anchor candidates may include a changed anchor.
 *
 * A row's anchor candidates come tier by tier (highest first), nearest first. If the highest changed tier
 * is t*, the first changed candidate of row r sits at position (anchors of tiers above t* at or before r)
 * + (tier-t* anchors in [end, r]); both counts are the same before and after the edit. A row that stopped
 * early after consuming no more than that many candidates is unchanged. Consumption is below 2 × capacity
 * (kept blocks plus duplicates of blocks other primitives already kept), and the position only grows with
 * r, so the scan ends once every position passes that bound.
 */
export function affectedRows(old: PreparedFacts, pf: PreparedFacts, s: SpecState, start: number, end: number): Int32Array {
  const R = pf.numBlocks;
  const np = s.spec.primitives.length;
  const out: number[] = [];
  for (let r = start; r < end; r++) out.push(r);
  const probes: { p: number; higher: Int32Array[]; tierArr: Int32Array; belowEnd: number }[] = [];
  s.spec.primitives.forEach((prim, p) => {
    if (prim.kind !== "anchors") return;
    const tStar = highestChangedTier(old, pf, start, end, prim.minTier, prim.maxTier);
    if (tStar < 0) return;
    const higher: Int32Array[] = [];
    for (let t = 0; t < pf.tiers.length && pf.tiers[t] > tStar; t++) if (pf.tiers[t] <= prim.maxTier) higher.push(pf.anchorsByTier[t]);
    const ti = indexOfTier(pf, tStar);
    const tierArr = ti >= 0 ? pf.anchorsByTier[ti] : old.anchorsByTier[indexOfTier(old, tStar)];
    probes.push({ p, higher, tierArr, belowEnd: countBelow(tierArr, end) });
  });
  const bound = 2 * s.capacity;
  let probing = probes.length > 0;
  let lastSegmentChange = -1;
  for (let r = R - 1; r >= end; r--) {
    if (old.segmentStart[r] !== pf.segmentStart[r]) {
      lastSegmentChange = r;
      break;
    }
  }
  for (let row = end; row < R; row++) {
    if (!probing && row > lastSegmentChange) break;
    let rebuild = old.segmentStart[row] !== pf.segmentStart[row];
    if (!rebuild && probing) {
      let allPast = true;
      for (const probe of probes) {
        const tr = s.trace[row * np + probe.p];
        const stopped = tr < 0;
        const consumed = stopped ? -tr - 1 : tr;
        let firstChanged = countAtMost(probe.tierArr, row) - probe.belowEnd;
        for (const arr of probe.higher) firstChanged += countAtMost(arr, row);
        if (!stopped || consumed > firstChanged) rebuild = true;
        if (firstChanged < bound) allPast = false;
      }
      if (allPast) probing = false;
    }
    if (rebuild) out.push(row);
  }
  return Int32Array.from(out);
}

function indexOfTier(pf: PreparedFacts, tier: number): number {
  for (let t = 0; t < pf.tiers.length; t++) if (pf.tiers[t] === tier) return t;
  return -1;
}

/** Highest tier in [minTier, maxTier] whose anchors in [start, end) differ between old and new facts; -1 if none. */
function highestChangedTier(old: PreparedFacts, pf: PreparedFacts, start: number, end: number, minTier: number, maxTier: number): number {
  const a = anchorsIn(old, start, end, minTier, maxTier);
  const b = anchorsIn(pf, start, end, minTier, maxTier);
  let best = -1;
  for (const t of new Set<number>([...a.keys(), ...b.keys()])) {
    const x = a.get(t) ?? [];
    const y = b.get(t) ?? [];
    if (x.length !== y.length || x.some((v, i) => v !== y[i])) best = Math.max(best, t);
  }
  return best;
}

function anchorsIn(pf: PreparedFacts, start: number, end: number, minTier: number, maxTier: number): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (let t = 0; t < pf.tiers.length; t++) {
    if (pf.tiers[t] < minTier) break;
    if (pf.tiers[t] > maxTier) continue;
    const arr = pf.anchorsByTier[t];
    const list: number[] = [];
    for (let i = countBelow(arr, start); i < arr.length && arr[i] < end; i++) list.push(arr[i]);
    if (list.length) out.set(pf.tiers[t], list);
  }
  return out;
}

/** Throws when facts differ outside the declared edit (the caller's edit range would be wrong). */
export function checkOutsideEdit(old: PreparedFacts, pf: PreparedFacts, edit: BlockEdit): void {
  const { start, oldEnd, newEnd } = edit;
  const delta = newEnd - oldEnd;
  const oa = old.facts.anchorBlocks;
  const na = pf.facts.anchorBlocks;
  const ot = old.facts.anchorTier;
  const nt = pf.facts.anchorTier;
  const oBefore = countBelow(oa, start);
  const nBefore = countBelow(na, start);
  const oAfter = countBelow(oa, oldEnd);
  const nAfter = countBelow(na, newEnd);
  const fail = (what: string): never => {
    throw new Error(`SparsePatterns.update: ${what} outside the edit ${JSON.stringify(edit)}; widen the edit range`);
  };
  if (oBefore !== nBefore || oa.length - oAfter !== na.length - nAfter) fail("the number of anchors changed");
  for (let i = 0; i < oBefore; i++) {
    if (oa[i] !== na[i] || (ot ? ot[i] : 0) !== (nt ? nt[i] : 0)) fail(`anchor ${oa[i]} changed`);
  }
  for (let i = oAfter, j = nAfter; i < oa.length; i++, j++) {
    if (oa[i] + delta !== na[j] || (ot ? ot[i] : 0) !== (nt ? nt[j] : 0)) fail(`anchor ${oa[i]} changed`);
  }
  for (let b = 0; b < start; b++) if (old.segmentStart[b] !== pf.segmentStart[b]) fail(`segmentStart[${b}] changed`);
}
