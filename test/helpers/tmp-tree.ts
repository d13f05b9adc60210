/** Small helpers for tests that need a real directory tree on disk. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Indexer } from "../../model-runtime/src/index/indexer";
import type { WorkspaceIndex } from "../../model-runtime/src/index/workspace-index";

/** Create a temporary directory holding `files` (path → content); returns its absolute path. */
export function makeTree(files: Record<string, string | Uint8Array>, prefix = "longview-test-"): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  for (const [rel, content] of Object.entries(files)) writeFile(dir, rel, content);
  return dir;
}

export function writeFile(dir: string, rel: string, content: string | Uint8Array): string {
  const abs = path.join(dir, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, content);
  return abs;
}

export function removeTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A seeded PRNG (mulberry32) so randomised tests can print their seed and be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function freshSeed(): number {
  const seed = process.env.TEST_SEED ? Number(process.env.TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  return seed;
}

/** Index a folder on the calling thread (no workers, no store) and return the finished index. */
export async function indexFolder(dir: string, root = "ws"): Promise<WorkspaceIndex> {
  const ix = new Indexer({ roots: [{ name: root, path: dir }], threads: 0 });
  await ix.build();
  await ix.dispose();
  return ix.index;
}
