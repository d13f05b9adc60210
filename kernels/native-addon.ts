/**
 * Loading a native Node-API addon from the first of several candidate paths (an environment override, the copy a
 * VSIX carries in dist/native/<platform>-<arch>/, a build folder of a checkout), once per path, with every path
 * tried and why it failed kept for the error message. Shared by the CPU attention, dense engine and CUDA addons.
 */
import fs from "node:fs";
import path from "node:path";

export interface AddonLoadFailure {
  tried: string[];
  reasons: string[];
}

const loaded = new Map<string, unknown>();

/**
 * The folder under dist/native/ that holds the addons built for one platform: "linux-x64", "darwin-arm64"… The
 * build (scripts/build.mjs) copies this machine's builds there, so a VSIX carries them; another platform's
 * folder is never looked at, so a VSIX built elsewhere falls back to the TypeScript kernels instead of failing.
 */
export function nativePlatformDir(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** Where a VSIX carries an addon, for a bundle in dist/ (its __dirname): dist/native/<platform>-<arch>/<file>. */
export function bundledAddonPath(bundleDir: string, file: string, platform?: string, arch?: string): string {
  return path.join(bundleDir, "native", nativePlatformDir(platform, arch), file);
}

/** The directory of the running module: dist/ in a bundle, the source folder under tsx. */
export function moduleDir(): string {
  return typeof __dirname === "string" ? __dirname : process.cwd();
}

/** Candidate paths: the non-empty ones, deduplicated, in order. */
export function uniquePaths(list: Array<string | undefined>): string[] {
  return [...new Set(list.filter((p): p is string => typeof p === "string" && p.length > 0))];
}

/**
 * The first candidate that loads (and its path), or the failure (never throws for a missing or broken file): a copy
 * that does not load here (another glibc, a missing CPU feature) is skipped with its reason, and the next is tried.
 */
export function loadAddonFrom<T>(candidates: string[]): { addon: T; file: string } | AddonLoadFailure {
  const tried: string[] = [];
  const reasons: string[] = [];
  for (const file of candidates) {
    tried.push(file);
    const cached = loaded.get(file);
    if (cached) return { addon: cached as T, file };
    if (!fs.existsSync(file)) {
      reasons.push(`${file}: not found`);
      continue;
    }
    try {
      const mod = { exports: {} as T };
      process.dlopen(mod, file);
      loaded.set(file, mod.exports);
      return { addon: mod.exports, file };
    } catch (err) {
      reasons.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { tried, reasons };
}
