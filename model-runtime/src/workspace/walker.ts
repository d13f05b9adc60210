/**
 * Walk a workspace folder and list the files worth indexing, honouring .gitignore files (nested ones too, and
 * .git/info/exclude), exclude globs (files.exclude + longview.exclude) and include globs. Symlinks are followed
 * once: a directory whose real path was already visited is a loop and is skipped. Nothing here reads file
 * contents; that happens in the parse workers.
 */
import fs from "node:fs";
import path from "node:path";
import type { IndexRoot, SkippedFile } from "../index/types";
import { ALWAYS_SKIPPED_DIRS, compileGlobs, ignoredByGit, type IgnoreLevel, rootIgnoreLevels, withGitignoreOf } from "./ignore-rules";

export interface WalkOptions {
  exclude: string[];
  include: string[];
  useGitignore: boolean;
  /** Stop listing after this many files (a runaway guard for giant trees); the excess is reported once. */
  maxFiles?: number;
  signal?: AbortSignal;
}

export interface FileCandidate {
  root: string;
  /** Path relative to the root, forward slashes. */
  path: string;
  absPath: string;
  size: number;
  mtimeMs: number;
}

export interface WalkResult {
  files: FileCandidate[];
  skipped: SkippedFile[];
}

export async function walkRoot(root: IndexRoot, options: WalkOptions): Promise<WalkResult> {
  const excluded = compileGlobs(options.exclude);
  const included = options.include.length > 0 ? compileGlobs(options.include) : () => true;
  const files: FileCandidate[] = [];
  const skipped: SkippedFile[] = [];
  const visitedRealDirs = new Set<string>();
  const maxFiles = options.maxFiles ?? Number.POSITIVE_INFINITY;
  let capReported = false;

  const rootLevels: IgnoreLevel[] = options.useGitignore ? rootIgnoreLevels(root.path) : [];

  const skip = (rel: string, reason: SkippedFile["reason"], detail: string) =>
    skipped.push({ root: root.name, path: rel, reason, detail });

  async function visitDir(absDir: string, relDir: string, parentLevels: IgnoreLevel[]): Promise<void> {
    if (options.signal?.aborted) throw new DOMException("indexing cancelled", "AbortError");
    let real: string;
    try {
      real = await fs.promises.realpath(absDir);
    } catch (e) {
      skip(relDir, "unreadable", (e as Error).message);
      return;
    }
    if (visitedRealDirs.has(real)) {
      skip(relDir, "not-a-file", `symlink loop or repeated directory (real path ${real})`);
      return;
    }
    visitedRealDirs.add(real);

    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(absDir, { withFileTypes: true });
    } catch (e) {
      skip(relDir || ".", "unreadable", (e as Error).message);
      return;
    }
    const hasGitignore = options.useGitignore && entries.some((e) => e.name === ".gitignore");
    const levels = hasGitignore ? withGitignoreOf(parentLevels, absDir, relDir) : parentLevels;
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    const subdirs: [string, string][] = [];
    const fileStats: Promise<void>[] = [];
    for (const entry of entries) {
      const rel = relDir === "" ? entry.name : `${relDir}/${entry.name}`;
      const abs = path.join(absDir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        try {
          const st = await fs.promises.stat(abs);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch (e) {
          skip(rel, "unreadable", `broken symlink: ${(e as Error).message}`);
          continue;
        }
      }
      if (isDir) {
        if (ALWAYS_SKIPPED_DIRS.has(entry.name)) continue;
        if (excluded(rel) || ignoredByGit(levels, rel, true)) continue;
        subdirs.push([abs, rel]);
      } else if (isFile) {
        if (excluded(rel) || ignoredByGit(levels, rel, false) || !included(rel)) continue;
        if (files.length >= maxFiles) {
          if (!capReported) skip(rel, "excluded", `file limit of ${maxFiles} reached; remaining files are not indexed`);
          capReported = true;
          continue;
        }
        fileStats.push(
          fs.promises.stat(abs).then(
            (st) => {
              files.push({ root: root.name, path: rel, absPath: abs, size: st.size, mtimeMs: st.mtimeMs });
            },
            (e: Error) => {
              skip(rel, "unreadable", e.message);
            },
          ),
        );
      } else {
        if (!excluded(rel) && !ignoredByGit(levels, rel, false)) skip(rel, "not-a-file", "socket, FIFO or device");
      }
    }
    await Promise.all(fileStats);
    for (const [abs, rel] of subdirs) await visitDir(abs, rel, levels);
  }

  await visitDir(root.path, "", rootLevels);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, skipped };
}
