/**
 * Binary shards of training samples (`*.lvds`), read by the PyTorch trainer (scripts/training/longview_shards.py).
 * The byte layout is specified in docs/training-data.md; in short, little-endian throughout:
 *
 *   shard:  "LVDS" u32 version u32 numSamples u32 headerBytes | header JSON | pad to 8 | u64 offsets[numSamples + 1] | samples
 *   sample: 14 × u32 fixed fields | spans (3 × u32 each) | anchor blocks (u32) | anchor tiers (u8, pad to 4)
 *           | segment starts (u32) | tokens (u16, zlib-deflated) | pad to 8
 *
 * Tokens are stored as uint16 (the vocabulary has 16,384 ids) and deflated: the block padding and repeated code
 * compress well. Loss classes are spans, not one byte per token.
 */
import fs from "node:fs";
import zlib from "node:zlib";
import type { Sample, SampleFacts } from "./sample";

export const SHARD_MAGIC = "LVDS";
export const SAMPLE_MAGIC = "LVSM";
export const SHARD_VERSION = 1;
const SAMPLE_FIXED_BYTES = 56;

export const TOKEN_ENCODING = { raw: 0, zlib: 1 } as const;

export interface StoredSample {
  ids: Uint16Array;
  spans: Sample["spans"];
  facts: SampleFacts;
  questionStart: number;
  repoIndex: number;
  taskBits: number;
}

export interface ShardHeader {
  [key: string]: unknown;
}

function pad(n: number, to: number): number {
  return (to - (n % to)) % to;
}

/** Bit c set when some span has loss class c. */
export function taskBitsOf(spans: Sample["spans"]): number {
  let bits = 0;
  for (const s of spans) if (s.end > s.start) bits |= 1 << s.lossClass;
  return bits;
}

export function encodeSample(sample: Sample, repoIndex: number, level = 9): Buffer {
  const T = sample.ids.length;
  const u16 = new Uint16Array(T);
  for (let i = 0; i < T; i++) {
    const id = sample.ids[i];
    if (id < 0 || id > 0xffff) throw new Error(`token id ${id} does not fit in uint16`);
    u16[i] = id;
  }
  const raw = Buffer.from(u16.buffer, u16.byteOffset, u16.byteLength);
  const deflated = zlib.deflateSync(raw, { level });
  const useZlib = deflated.length < raw.length;
  const tokenBytes = useZlib ? deflated : raw;
  const { spans, facts } = sample;
  const A = facts.anchorBlocks.length;
  const G = facts.segmentStarts.length;
  const size = SAMPLE_FIXED_BYTES + spans.length * 12 + A * 4 + A + pad(A, 4) + G * 4 + tokenBytes.length;
  const buf = Buffer.alloc(size + pad(size, 8));
  let o = 0;
  const u32 = (v: number) => {
    buf.writeUInt32LE(v >>> 0, o);
    o += 4;
  };
  buf.write(SAMPLE_MAGIC, 0, "ascii");
  o = 4;
  u32(T);
  u32(facts.blockSize);
  u32(repoIndex);
  u32(sample.questionStart);
  u32(taskBitsOf(spans));
  u32(spans.length);
  u32(A);
  u32(G);
  u32(facts.sinkBlocks);
  u32(useZlib ? TOKEN_ENCODING.zlib : TOKEN_ENCODING.raw);
  u32(tokenBytes.length);
  u32(zlib.crc32(raw));
  u32(facts.numBlocks);
  for (const s of spans) {
    u32(s.start);
    u32(s.end);
    u32(s.lossClass);
  }
  for (const b of facts.anchorBlocks) u32(b);
  for (let i = 0; i < A; i++) buf[o++] = facts.anchorTier[i];
  o += pad(A, 4);
  for (const s of facts.segmentStarts) u32(s);
  tokenBytes.copy(buf, o);
  return buf;
}

export function decodeSample(buf: Buffer): StoredSample {
  if (buf.toString("ascii", 0, 4) !== SAMPLE_MAGIC) throw new Error("not a Longview sample record (bad magic)");
  let o = 4;
  const u32 = () => {
    const v = buf.readUInt32LE(o);
    o += 4;
    return v;
  };
  const T = u32();
  const blockSize = u32();
  const repoIndex = u32();
  const questionStart = u32();
  const taskBits = u32();
  const S = u32();
  const A = u32();
  const G = u32();
  const sinkBlocks = u32();
  const encoding = u32();
  const C = u32();
  const crc = u32();
  const numBlocks = u32();
  const spans: Sample["spans"] = [];
  for (let i = 0; i < S; i++) spans.push({ start: u32(), end: u32(), lossClass: u32() });
  const anchorBlocks = new Int32Array(A);
  for (let i = 0; i < A; i++) anchorBlocks[i] = u32();
  const anchorTier = Uint8Array.from(buf.subarray(o, o + A));
  o += A + pad(A, 4);
  const segmentStarts = new Int32Array(G);
  for (let i = 0; i < G; i++) segmentStarts[i] = u32();
  const stored = buf.subarray(o, o + C);
  const raw = encoding === TOKEN_ENCODING.zlib ? zlib.inflateSync(stored) : stored;
  if (raw.length !== 2 * T) throw new Error(`sample tokens: expected ${2 * T} bytes, got ${raw.length}`);
  if (zlib.crc32(raw) !== crc) throw new Error("sample tokens: CRC mismatch (corrupt shard)");
  const ids = new Uint16Array(T);
  for (let i = 0; i < T; i++) ids[i] = raw.readUInt16LE(2 * i);
  return { ids, spans, facts: { numBlocks, blockSize, anchorBlocks, anchorTier, segmentStarts, sinkBlocks }, questionStart, repoIndex, taskBits };
}

/** Collects encoded samples and writes them as one shard file. */
export class ShardWriter {
  private readonly samples: Buffer[] = [];
  private bytes = 0;

  add(encoded: Buffer): void {
    this.samples.push(encoded);
    this.bytes += encoded.length;
  }

  get count(): number {
    return this.samples.length;
  }

  get size(): number {
    return this.bytes;
  }

  /** Writes the shard (atomically: temp file + rename) and empties the writer; returns the file's size. */
  write(file: string, header: ShardHeader): number {
    const json = Buffer.from(JSON.stringify(header), "utf8");
    const head = Buffer.alloc(16);
    head.write(SHARD_MAGIC, 0, "ascii");
    head.writeUInt32LE(SHARD_VERSION, 4);
    head.writeUInt32LE(this.samples.length, 8);
    head.writeUInt32LE(json.length, 12);
    const headerEnd = 16 + json.length;
    const tableAt = headerEnd + pad(headerEnd, 8);
    const table = Buffer.alloc(8 * (this.samples.length + 1));
    let at = tableAt + table.length;
    this.samples.forEach((s, i) => {
      table.writeBigUInt64LE(BigInt(at), 8 * i);
      at += s.length;
    });
    table.writeBigUInt64LE(BigInt(at), 8 * this.samples.length);
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, "w");
    try {
      fs.writeSync(fd, head);
      fs.writeSync(fd, json);
      fs.writeSync(fd, Buffer.alloc(tableAt - headerEnd));
      fs.writeSync(fd, table);
      for (const s of this.samples) fs.writeSync(fd, s);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    this.samples.length = 0;
    this.bytes = 0;
    return at;
  }
}

export interface ShardContents {
  version: number;
  header: ShardHeader;
  samples: StoredSample[];
}

/** Reads a whole shard, checking magic numbers, offsets and every sample's CRC. */
export function readShard(file: string): ShardContents {
  const buf = fs.readFileSync(file);
  if (buf.length < 16 || buf.toString("ascii", 0, 4) !== SHARD_MAGIC) throw new Error(`${file}: not a Longview shard (bad magic)`);
  const version = buf.readUInt32LE(4);
  if (version !== SHARD_VERSION) throw new Error(`${file}: shard version ${version}, this reader knows ${SHARD_VERSION}`);
  const n = buf.readUInt32LE(8);
  const J = buf.readUInt32LE(12);
  const header = JSON.parse(buf.toString("utf8", 16, 16 + J)) as ShardHeader;
  const tableAt = 16 + J + pad(16 + J, 8);
  const offsets: number[] = [];
  for (let i = 0; i <= n; i++) offsets.push(Number(buf.readBigUInt64LE(tableAt + 8 * i)));
  if (offsets[n] !== buf.length) throw new Error(`${file}: truncated (${buf.length} bytes, the index says ${offsets[n]})`);
  const samples = offsets.slice(0, n).map((start, i) => decodeSample(buf.subarray(start, offsets[i + 1])));
  return { version, header, samples };
}
