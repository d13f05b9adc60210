/**
 * What the index leaves out: .gitignore files (nested ones apply below their folder), .git/info/exclude,
 * exclude/include globs (files.exclude + longview.exclude, read the way VS Code reads them: relative to the
 * folder, a matching directory excludes everything below it) and version-control folders. Shared by the
 * full walk and the one-path check used for incremental updates, so both always agree.
 */
import fs from "node:fs";
import path from "node:path";
import ignore, { type Ignore } from "ignore";
import picomatch from "picomatch";
import type { IndexOptions, IndexRoot } from "../index/types";

/** Folders no user wants in a code index, whatever their ignore files say. */
export const ALWAYS_SKIPPED_DIRS = new Set([".git", ".hg", ".svn", "CVS"]);

export interface IgnoreLevel {
  /** Directory (relative to the root, "" for the root) whose ignore file produced `rules`. */
  base: string;
  rules: Ignore;
}

export function compileGlobs(globs: string[]): (relPath: string) => boolean {
  const cleaned = globs.map((g) => g.trim()).filter((g) => g.length > 0);
  if (cleaned.length === 0) return () => false;
  // Paths here always use forward slashes, on every OS; saying so also keeps picomatch from probing `navigator`.
  const isMatch = picomatch(cleaned, { dot: true, windows: false });
  return (relPath) => isMatch(relPath);
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** The rules .git/info/exclude contributes at the root (none if absent). */
export function rootIgnoreLevels(rootPath: string): IgnoreLevel[] {
  const text = readText(path.join(rootPath, ".git", "info", "exclude"));
  return text ? [{ base: "", rules: ignore().add(text) }] : [];
}

/** `parent` plus the .gitignore of `absDir`, if it has one. */
export function withGitignoreOf(parent: IgnoreLevel[], absDir: string, relDir: string): IgnoreLevel[] {
  const text = readText(path.join(absDir, ".gitignore"));
  return text ? [...parent, { base: relDir, rules: ignore().add(text) }] : parent;
}

export function ignoredByGit(levels: IgnoreLevel[], relPath: string, isDir: boolean): boolean {
  for (const level of levels) {
    const sub = level.base === "" ? relPath : relPath.slice(level.base.length + 1);
    if (level.rules.ignores(isDir ? `${sub}/` : sub)) return true;
  }
  return false;
}

/** Would a full walk index this file? (For watcher events: one path, no walk.) */
export function isPathIndexable(root: IndexRoot, rel: string, options: Pick<IndexOptions, "exclude" | "include" | "useGitignore">): boolean {
  const excluded = compileGlobs(options.exclude);
  const parts = rel.split("/");
  let levels = options.useGitignore ? rootIgnoreLevels(root.path) : [];
  for (let i = 0; i < parts.length - 1; i++) {
    const dirRel = parts.slice(0, i + 1).join("/");
    const parentRel = parts.slice(0, i).join("/");
    if (options.useGitignore) levels = withGitignoreOf(levels, path.join(root.path, parentRel), parentRel);
    if (ALWAYS_SKIPPED_DIRS.has(parts[i]) || excluded(dirRel) || ignoredByGit(levels, dirRel, true)) return false;
  }
  if (options.useGitignore && parts.length > 1) {
    const parentRel = parts.slice(0, -1).join("/");
    levels = withGitignoreOf(levels, path.join(root.path, parentRel), parentRel);
  } else if (options.useGitignore) {
    levels = withGitignoreOf(levels, root.path, "");
  }
  if (excluded(rel) || ignoredByGit(levels, rel, false)) return false;
  return options.include.length === 0 || compileGlobs(options.include)(rel);
}
