/**
 * Validation and normal form of head specs: defaults filled in, parameters checked, and a canonical key so
 * that heads with the same spec share one layout.
 */
import type { HeadPatternSpec, PatternPrimitive } from "./types";

/** A primitive with every default filled in (Infinity = no cap). */
export type NormalPrimitive =
  | { kind: "local"; window: number; withinSegment: boolean }
  | { kind: "strided"; stride: number; offset: number; maxCount: number }
  | { kind: "dilated"; base: number; first: number; maxHops: number }
  | { kind: "anchors"; minTier: number; maxTier: number; maxCount: number }
  | { kind: "sinks"; count: number }
  | { kind: "segmentHead"; count: number };

export interface NormalSpec {
  primitives: NormalPrimitive[];
  budget: number;
  anchorRowBudget: number;
}

function positiveInt(what: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`pattern spec: ${what} must be a positive integer, got ${v}`);
  return v;
}

function capOrInfinity(what: string, v: number | undefined): number {
  return v === undefined || v === Infinity ? Infinity : positiveInt(what, v);
}

/** `sinkBlocks` resolves `sinks` primitives that name no count. */
export function normalizeSpec(spec: HeadPatternSpec, sinkBlocks: number): NormalSpec {
  if (!spec || !Array.isArray(spec.primitives)) throw new Error("pattern spec: `primitives` must be an array");
  const primitives = spec.primitives.map((p: PatternPrimitive, i): NormalPrimitive => {
    const at = `primitives[${i}] (${p?.kind})`;
    switch (p?.kind) {
      case "local":
        return { kind: "local", window: positiveInt(`${at}.window`, p.window), withinSegment: !!p.withinSegment };
      case "strided": {
        const offset = p.offset ?? 0;
        if (!Number.isInteger(offset)) throw new Error(`pattern spec: ${at}.offset must be an integer, got ${offset}`);
        const stride = positiveInt(`${at}.stride`, p.stride);
        return { kind: "strided", stride, offset: ((offset % stride) + stride) % stride, maxCount: capOrInfinity(`${at}.maxCount`, p.maxCount) };
      }
      case "dilated": {
        const base = p.base ?? 2;
        if (!Number.isInteger(base) || base < 2) throw new Error(`pattern spec: ${at}.base must be an integer >= 2, got ${base}`);
        return { kind: "dilated", base, first: positiveInt(`${at}.first`, p.first ?? 1), maxHops: capOrInfinity(`${at}.maxHops`, p.maxHops) };
      }
      case "anchors": {
        const minTier = p.minTier ?? 0;
        if (!Number.isInteger(minTier) || minTier < 0 || minTier > 255) throw new Error(`pattern spec: ${at}.minTier must be an integer in [0, 255], got ${minTier}`);
        const maxTier = p.maxTier ?? 255;
        if (!Number.isInteger(maxTier) || maxTier < minTier || maxTier > 255) throw new Error(`pattern spec: ${at}.maxTier must be an integer in [minTier, 255], got ${maxTier}`);
        return { kind: "anchors", minTier, maxTier, maxCount: capOrInfinity(`${at}.maxCount`, p.maxCount) };
      }
      case "sinks": {
        const count = p.count ?? sinkBlocks;
        if (!Number.isInteger(count) || count < 0) throw new Error(`pattern spec: ${at}.count must be a non-negative integer, got ${count}`);
        return { kind: "sinks", count };
      }
      case "segmentHead":
        return { kind: "segmentHead", count: positiveInt(`${at}.count`, p.count) };
      default:
        throw new Error(`pattern spec: primitives[${i}] has unknown kind ${JSON.stringify((p as { kind?: unknown })?.kind)}`);
    }
  });
  const budget = capOrInfinity("budget", spec.budget);
  const anchorRowBudget = spec.anchorRowBudget === undefined ? budget : capOrInfinity("anchorRowBudget", spec.anchorRowBudget);
  return { primitives, budget, anchorRowBudget };
}

/** Equal keys ⇔ equal layouts for the same facts. */
export function specKey(spec: NormalSpec): string {
  return JSON.stringify(spec, (_k, v) => (v === Infinity ? "inf" : v));
}
