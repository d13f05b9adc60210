/**
 * Persistence of the index: a directory of shards (files spread by a hash of their path) so that saving after a
 * one-file edit rewrites 1/64th of the index, not all of it. Each shard carries a magic, a format version and a
 * SHA-256 of its payload; writes go to a temporary file renamed into place (atomic on POSIX and NTFS).
 * A corrupt or foreign shard is reported and ignored: its files are simply parsed again. Loading never throws.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import type { FileRecord, SkippedFile } from "./types";
import { fileKey } from "./workspace-index";

/** Bump when the on-disk shape or the extraction rules change: old indexes are then rebuilt, not misread. */
export const INDEX_FORMAT_VERSION = 14;
export const SHARD_COUNT = 64;
const MAGIC = Buffer.from("LVIX");
const HEADER_BYTES = 4 + 4 + 32;

interface Manifest {
  format: "longview-index";
  version: number;
  /** Settings that change what is indexed (exclude globs, limits): a change invalidates the stored index. */
  settingsKey: string;
  shards: number;
  savedAt: string;
}

interface ShardPayload {
  files: FileRecord[];
  skipped: SkippedFile[];
}

export interface LoadResult {
  files: FileRecord[];
  skipped: SkippedFile[];
  /** Why nothing (or not everything) was loaded, for the log. Empty when the whole index loaded. */
  problems: string[];
}

export function shardOf(root: string, filePath: string): number {
  // FNV-1a: stable across runs and platforms.
  let h = 0x811c9dc5;
  const key = fileKey(root, filePath);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SHARD_COUNT;
}

function shardFile(dir: string, shard: number): string {
  return path.join(dir, `shard-${String(shard).padStart(2, "0")}.bin`);
}

function writeAtomic(file: string, data: Uint8Array | string): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

export function encodeShard(payload: ShardPayload): Buffer {
  const body = v8.serialize(payload);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(INDEX_FORMAT_VERSION, 4);
  crypto.createHash("sha256").update(body).digest().copy(header, 8);
  return Buffer.concat([header, body]);
}

export function decodeShard(data: Buffer): ShardPayload {
  if (data.length < HEADER_BYTES || !data.subarray(0, 4).equals(MAGIC)) throw new Error("not a Longview index shard");
  const version = data.readUInt32LE(4);
  if (version !== INDEX_FORMAT_VERSION) throw new Error(`format version ${version}, expected ${INDEX_FORMAT_VERSION}`);
  const body = data.subarray(HEADER_BYTES);
  const digest = crypto.createHash("sha256").update(body).digest();
  if (!digest.equals(data.subarray(8, HEADER_BYTES))) throw new Error("checksum mismatch (corrupt or truncated)");
  const payload = v8.deserialize(body) as ShardPayload;
  if (!payload || !Array.isArray(payload.files) || !Array.isArray(payload.skipped)) throw new Error("unexpected payload");
  return payload;
}

export class IndexStore {
  constructor(
    readonly dir: string,
    private readonly settingsKey: string,
  ) {}

  load(): LoadResult {
    const result: LoadResult = { files: [], skipped: [], problems: [] };
    let manifest: Manifest;
    try {
      manifest = JSON.parse(fs.readFileSync(path.join(this.dir, "manifest.json"), "utf8")) as Manifest;
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === "ENOENT";
      result.problems.push(missing ? "no stored index" : `stored index manifest unreadable: ${(e as Error).message}`);
      return result;
    }
    if (manifest.format !== "longview-index" || manifest.version !== INDEX_FORMAT_VERSION || manifest.shards !== SHARD_COUNT) {
      result.problems.push(`stored index has format ${manifest.format}@${manifest.version}; rebuilding`);
      return result;
    }
    if (manifest.settingsKey !== this.settingsKey) {
      result.problems.push("index settings changed since the index was stored; rebuilding");
      return result;
    }
    for (let s = 0; s < SHARD_COUNT; s++) {
      let data: Buffer;
      try {
        data = fs.readFileSync(shardFile(this.dir, s));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") result.problems.push(`shard ${s}: ${(e as Error).message}`);
        continue;
      }
      try {
        const payload = decodeShard(data);
        result.files.push(...payload.files);
        result.skipped.push(...payload.skipped);
      } catch (e) {
        result.problems.push(`shard ${s} ignored (its files will be re-indexed): ${(e as Error).message}`);
      }
    }
    return result;
  }

  /** Write the given shards (all when `shards` is undefined) from the current records. */
  save(files: Iterable<FileRecord>, skipped: Iterable<SkippedFile>, shards?: Set<number>): void {
    fs.mkdirSync(this.dir, { recursive: true });
    const payloads: ShardPayload[] = Array.from({ length: SHARD_COUNT }, () => ({ files: [], skipped: [] }));
    for (const f of files) {
      const s = shardOf(f.root, f.path);
      if (!shards || shards.has(s)) payloads[s].files.push(f);
    }
    for (const k of skipped) {
      const s = shardOf(k.root, k.path);
      if (!shards || shards.has(s)) payloads[s].skipped.push(k);
    }
    for (let s = 0; s < SHARD_COUNT; s++) {
      if (shards && !shards.has(s)) continue;
      writeAtomic(shardFile(this.dir, s), encodeShard(payloads[s]));
    }
    const manifest: Manifest = {
      format: "longview-index",
      version: INDEX_FORMAT_VERSION,
      settingsKey: this.settingsKey,
      shards: SHARD_COUNT,
      savedAt: new Date().toISOString(),
    };
    writeAtomic(path.join(this.dir, "manifest.json"), JSON.stringify(manifest, null, 1));
  }

  clear(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
