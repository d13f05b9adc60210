/**
 * Loading a native Node-API addon from the first of several candidate paths (next to a bundle, in a build folder
 * of a checkout, from an environment override), once per path, with every path tried and why it failed kept for
 * the error message. Shared by the CPU attention addon and the engine's dense addon.
 */
import fs from "node:fs";

export interface AddonLoadFailure {
  tried: string[];
  reasons: string[];
}

const loaded = new Map<string, unknown>();

/** Candidate paths: the non-empty ones, deduplicated, in order. */
export function uniquePaths(list: Array<string | undefined>): string[] {
  return [...new Set(list.filter((p): p is string => typeof p === "string" && p.length > 0))];
}

/** The first candidate that loads, or the failure (never throws for a missing or broken file). */
export function loadAddonFrom<T>(candidates: string[]): { addon: T } | AddonLoadFailure {
  const tried: string[] = [];
  const reasons: string[] = [];
  for (const file of candidates) {
    tried.push(file);
    const cached = loaded.get(file);
    if (cached) return { addon: cached as T };
    if (!fs.existsSync(file)) {
      reasons.push(`${file}: not found`);
      continue;
    }
    try {
      const mod = { exports: {} as T };
      process.dlopen(mod, file);
      loaded.set(file, mod.exports);
      return { addon: mod.exports };
    } catch (err) {
      reasons.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { tried, reasons };
}
