/**
 * KV cache files: a repository's keys and values on disk, so a restart answers without re-reading the repository.
 *
 *   "LVKV" u32 format-version | u32 header bytes | header JSON | zero padding to 64 | payload
 *   payload = token ids (int32 × length) | per layer: K [kvHeads][length][headDim] f32, V likewise (little-endian)
 *
 * The header names what the cache is valid for: the model (hash of config + weights), the caller's layout version
 * (layout format, block size, tokenizer …: anything that would change positions), the shape, and the SHA-256 of
 * the payload, checked on load. The token ids are stored too: a caller compares them with today's layout to find
 * the blocks that changed (see RepoSession.restore). Writes are atomic (temp file + rename).
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ModelConfig } from "../model/config";
import { KvCache } from "./kv-cache";

const MAGIC = "LVKV";
const FORMAT_VERSION = 1;
/** Bytes per read/write call (bounded so huge caches stream). */
const IO_CHUNK = 16 << 20;

export interface KvCacheKey {
  modelHash: string;
  layoutVersion: string;
}

export interface KvFileHeader extends KvCacheKey {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  length: number;
  dtype: "f32";
  sha256: string;
  createdAt: string;
}

export class KvCacheFileError extends Error {
  readonly code: "LONGVIEW_KV_CORRUPT" | "LONGVIEW_KV_STALE";
  constructor(message: string, readonly kind: "corrupt" | "stale") {
    super(message);
    this.name = "KvCacheFileError";
    this.code = kind === "corrupt" ? "LONGVIEW_KV_CORRUPT" : "LONGVIEW_KV_STALE";
  }
}

/** A stable file name for a key: <model>-<layout version>.lvkv. */
export function kvCacheFileName(key: KvCacheKey): string {
  const v = crypto.createHash("sha256").update(key.layoutVersion).digest("hex").slice(0, 16);
  return `${key.modelHash.slice(0, 16)}-${v}.lvkv`;
}

/** Bytes of the file saveKvCache would write for these positions (header included): known before writing it. */
export function kvCacheFileBytes(cache: Pick<KvCache, "numLayers" | "numKvHeads" | "headDim" | "length">, key: KvCacheKey): number {
  // The header's variable parts have fixed lengths (SHA-256 hex, ISO time): a placeholder header sizes the real one.
  const header = encodeHeader({ ...key, numLayers: cache.numLayers, numKvHeads: cache.numKvHeads, headDim: cache.headDim, length: cache.length, dtype: "f32", sha256: "0".repeat(64), createdAt: new Date(0).toISOString() });
  return header.length + cache.length * 4 * (1 + 2 * cache.numLayers * cache.numKvHeads * cache.headDim);
}

/** Marks a cache file as just used (its mtime), so the least recently used files are the ones evicted. */
export function touchKvCacheFile(file: string): void {
  const now = new Date();
  fs.utimesSync(file, now, now);
}

/**
 * Deletes the least recently used (oldest mtime) other `.lvkv` files in `keep`'s folder until the folder's cache files
 * total at most `capBytes`. `keep` (the file just written) is never deleted, even if it alone exceeds the cap.
 * Returns the deleted paths. Temp files of writes in progress are neither counted nor touched.
 */
export function evictKvCacheFiles(keep: string, capBytes: number): string[] {
  const dir = path.dirname(keep);
  const files: Array<{ file: string; bytes: number; mtimeMs: number }> = [];
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(".lvkv")) continue;
    const file = path.join(dir, name);
    try {
      const st = fs.statSync(file);
      if (st.isFile()) files.push({ file, bytes: st.size, mtimeMs: st.mtimeMs });
    } catch {
      // removed meanwhile (another window)
    }
  }
  let total = files.reduce((a, f) => a + f.bytes, 0);
  const evicted: string[] = [];
  const keepResolved = path.resolve(keep);
  for (const f of files.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
    if (total <= capBytes) break;
    if (path.resolve(f.file) === keepResolved) continue;
    try {
      fs.rmSync(f.file, { force: true });
      evicted.push(f.file);
      total -= f.bytes;
    } catch {
      // not ours to delete (permissions): the next older file goes instead
    }
  }
  return evicted;
}

/** Views of the payload in file order (no copies). */
function* payloadViews(cache: KvCache, tokens: Int32Array): Generator<Uint8Array> {
  yield new Uint8Array(tokens.buffer, tokens.byteOffset, cache.length * 4);
  const D = cache.headDim;
  for (let l = 0; l < cache.numLayers; l++)
    for (const t of [cache.k[l], cache.v[l]])
      for (let h = 0; h < cache.numKvHeads; h++) {
        const view = t.subarray(h * cache.capacity * D, (h * cache.capacity + cache.length) * D);
        yield new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      }
}

function* chunks(view: Uint8Array): Generator<Uint8Array> {
  for (let o = 0; o < view.length; o += IO_CHUNK) yield view.subarray(o, Math.min(view.length, o + IO_CHUNK));
}

function encodeHeader(h: KvFileHeader): Buffer {
  const json = Buffer.from(JSON.stringify(h), "utf8");
  const fixed = Buffer.alloc(12);
  fixed.write(MAGIC, 0, "latin1");
  fixed.writeUInt32LE(FORMAT_VERSION, 4);
  fixed.writeUInt32LE(json.length, 8);
  const pad = (64 - ((12 + json.length) % 64)) % 64;
  return Buffer.concat([fixed, json, Buffer.alloc(pad)]);
}

/**
 * Writes positions [0, cache.length) and their token ids. Yields to the event loop between chunks; `signal`
 * abandons the write (the previous file, if any, stays).
 */
export async function saveKvCache(file: string, cache: KvCache, tokens: Int32Array, key: KvCacheKey, signal?: AbortSignal): Promise<KvFileHeader> {
  if (tokens.length < cache.length) throw new RangeError(`saveKvCache: ${tokens.length} token ids for ${cache.length} cached positions`);
  const hash = crypto.createHash("sha256");
  for (const v of payloadViews(cache, tokens)) for (const c of chunks(v)) hash.update(c);
  const header: KvFileHeader = {
    ...key,
    numLayers: cache.numLayers,
    numKvHeads: cache.numKvHeads,
    headDim: cache.headDim,
    length: cache.length,
    dtype: "f32",
    sha256: hash.digest("hex"),
    createdAt: new Date().toISOString(),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fh = await fs.promises.open(tmp, "w");
  try {
    await fh.write(encodeHeader(header));
    for (const v of payloadViews(cache, tokens))
      for (const c of chunks(v)) {
        if (signal?.aborted) throw new Error("KV cache save cancelled");
        await fh.write(c);
      }
    await fh.close();
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => {});
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  return header;
}

export async function readKvHeader(file: string): Promise<{ header: KvFileHeader; payloadOffset: number }> {
  const fh = await fs.promises.open(file, "r");
  try {
    const fixed = Buffer.alloc(12);
    const { bytesRead } = await fh.read(fixed, 0, 12, 0);
    if (bytesRead < 12 || fixed.toString("latin1", 0, 4) !== MAGIC) throw new KvCacheFileError(`${file}: not a Longview KV cache file`, "corrupt");
    const version = fixed.readUInt32LE(4);
    if (version !== FORMAT_VERSION) throw new KvCacheFileError(`${file}: KV cache format ${version}, this build reads ${FORMAT_VERSION}`, "stale");
    const n = fixed.readUInt32LE(8);
    const size = (await fh.stat()).size;
    if (n > 1 << 20 || 12 + n > size) throw new KvCacheFileError(`${file}: header length ${n} is implausible (truncated or corrupt)`, "corrupt");
    const json = Buffer.alloc(n);
    await fh.read(json, 0, n, 12);
    let header: KvFileHeader;
    try {
      header = JSON.parse(json.toString("utf8"));
    } catch {
      throw new KvCacheFileError(`${file}: header is not valid JSON`, "corrupt");
    }
    const payloadOffset = 12 + n + ((64 - ((12 + n) % 64)) % 64);
    const ints = [header.numLayers, header.numKvHeads, header.headDim, header.length];
    if (!ints.every((v) => Number.isInteger(v) && v >= 0) || header.dtype !== "f32" || typeof header.sha256 !== "string") throw new KvCacheFileError(`${file}: header fields are missing or malformed`, "corrupt");
    const expected = payloadOffset + header.length * 4 * (1 + 2 * header.numLayers * header.numKvHeads * header.headDim);
    if (size !== expected) throw new KvCacheFileError(`${file}: ${size} bytes, the header implies ${expected} (truncated or corrupt)`, "corrupt");
    return { header, payloadOffset };
  } finally {
    await fh.close();
  }
}

export interface LoadedKvCache {
  cache: KvCache;
  /** Token ids of positions [0, cache.length) when the cache was saved. */
  tokens: Int32Array;
  header: KvFileHeader;
}

/**
 * Reads a cache saved for `key` and this model shape into a fresh KvCache of at least `capacity` positions.
 * Throws KvCacheFileError: kind "stale" for another model, layout version or shape; "corrupt" for a damaged file
 * (bad magic, size, or a payload whose SHA-256 differs).
 */
export async function loadKvCache(file: string, config: Pick<ModelConfig, "numLayers" | "numKvHeads" | "headDim">, key: KvCacheKey, capacity = 0, signal?: AbortSignal): Promise<LoadedKvCache> {
  const { header, payloadOffset } = await readKvHeader(file);
  if (header.modelHash !== key.modelHash) throw new KvCacheFileError(`${file}: saved for another model`, "stale");
  if (header.layoutVersion !== key.layoutVersion) throw new KvCacheFileError(`${file}: saved for layout version ${JSON.stringify(header.layoutVersion)}, now ${JSON.stringify(key.layoutVersion)}`, "stale");
  if (header.numLayers !== config.numLayers || header.numKvHeads !== config.numKvHeads || header.headDim !== config.headDim) throw new KvCacheFileError(`${file}: cache shape differs from the model's`, "stale");
  const cache = new KvCache(config, Math.max(1, capacity, header.length));
  cache.length = header.length;
  const tokens = new Int32Array(header.length);
  const hash = crypto.createHash("sha256");
  const fh = await fs.promises.open(file, "r");
  try {
    let at = payloadOffset;
    for (const v of payloadViews(cache, tokens))
      for (const c of chunks(v)) {
        if (signal?.aborted) throw new Error("KV cache load cancelled");
        const { bytesRead } = await fh.read(c, 0, c.length, at);
        if (bytesRead !== c.length) throw new KvCacheFileError(`${file}: truncated`, "corrupt");
        hash.update(c);
        at += c.length;
      }
  } finally {
    await fh.close();
  }
  if (hash.digest("hex") !== header.sha256) throw new KvCacheFileError(`${file}: payload checksum mismatch (corrupt file)`, "corrupt");
  return { cache, tokens, header };
}
