/**
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }, then the
 * raw little-endian tensor bytes (offsets relative to the end of the header). Small enough to read and write
 * here; every malformed detail is reported as a SafetensorsError naming the file and the tensor.
 */
import fs from "node:fs";

export type SafeDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const DTYPE_BYTES: Record<SafeDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

export interface SafeTensor {
  name: string;
  dtype: SafeDtype;
  shape: number[];
  /** The tensor's bytes (a view into the file's buffer). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, SafeTensor>;
}

/** Headers larger than this are refused (the format's own readers use 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function parseSafetensors(buf: Uint8Array, origin = "safetensors"): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${origin}: ${msg}`);
  };
  if (buf.length < 8) fail(`file is ${buf.length} bytes, too short for a safetensors header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} is implausible (corrupt or not a safetensors file)`);
  if (8 + headerLen > buf.length) fail(`header length ${headerLen} exceeds the file size ${buf.length} (truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString("utf8"));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not a JSON object");
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null) fail("__metadata__ must be an object");
      metadata = Object.fromEntries(Object.entries(entry as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) fail(`tensor ${name}: entry is not an object`);
    const dtype = e.dtype as SafeDtype;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) fail(`tensor ${name}: dtype ${JSON.stringify(e.dtype)} is not supported`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) fail(`tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) fail(`tensor ${name}: bad data_offsets ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    if (end < begin || end > dataLen) fail(`tensor ${name}: data [${begin}, ${end}) lies outside the ${dataLen}-byte data section (truncated?)`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (elements * DTYPE_BYTES[dtype] !== end - begin) fail(`tensor ${name}: ${end - begin} bytes for shape [${(shape as number[]).join(", ")}] of ${dtype}`);
    spans.push([begin, end, name]);
    tensors.set(name, { name, dtype, shape: shape as number[], bytes: buf.subarray(dataStart + begin, dataStart + end) });
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) fail(`tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  return { metadata, tensors };
}

export function readSafetensors(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new SafetensorsError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseSafetensors(buf, file);
}

// ---------------------------------------------------------------------------------------------- conversions

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 → IEEE half, round to nearest even. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** A float tensor (F32, F16, BF16, F64) as a fresh Float32Array. */
export function tensorToFloat32(t: SafeTensor): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  switch (t.dtype) {
    case "F32":
      new Uint8Array(out.buffer).set(t.bytes);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(2 * i, true));
      break;
    case "BF16": {
      const o = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) o[i] = dv.getUint16(2 * i, true) << 16;
      break;
    }
    default:
      throw new SafetensorsError(`tensor ${t.name}: expected a float tensor, found ${t.dtype}`);
  }
  return out;
}

export function tensorToInt8(t: SafeTensor): Int8Array {
  if (t.dtype !== "I8") throw new SafetensorsError(`tensor ${t.name}: expected I8, found ${t.dtype}`);
  // A copy: Buffer views share (and may pool) memory, and typed arrays need their own aligned buffer.
  const out = new Int8Array(t.bytes.byteLength);
  out.set(new Int8Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength));
  return out;
}

// ---------------------------------------------------------------------------------------------- writing

export interface TensorToWrite {
  name: string;
  dtype: "F32" | "F16" | "BF16" | "I8";
  shape: number[];
  /** F32/F16/BF16: float values (converted here); I8: the int8 values. */
  data: Float32Array | Int8Array;
}

function encodeTensor(t: TensorToWrite): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new SafetensorsError(`tensor ${t.name}: ${t.data.length} values for shape [${t.shape.join(", ")}]`);
  if (t.dtype === "I8") {
    if (!(t.data instanceof Int8Array)) throw new SafetensorsError(`tensor ${t.name}: I8 needs an Int8Array`);
    return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  if (!(t.data instanceof Float32Array)) throw new SafetensorsError(`tensor ${t.name}: ${t.dtype} needs a Float32Array`);
  if (t.dtype === "F32") return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(2 * n);
  const dv = new DataView(out.buffer);
  const src = new Uint32Array(t.data.buffer, t.data.byteOffset, n);
  for (let i = 0; i < n; i++) {
    if (t.dtype === "F16") dv.setUint16(2 * i, floatToHalf(t.data[i]), true);
    else {
      // bf16: round to nearest even on the dropped 16 bits (NaN stays NaN).
      const x = src[i];
      const rounded = Number.isNaN(t.data[i]) ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      dv.setUint16(2 * i, rounded & 0xffff, true);
    }
  }
  return out;
}

/** The bytes of a safetensors file (header padded with spaces to an 8-byte boundary, as the reference writer does). */
export function encodeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const bytes = encodeTensor(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  return Buffer.concat([head, Buffer.from(json, "utf8"), ...parts]);
}

/** Writes atomically (temp file + rename). */
export function writeSafetensors(file: string, tensors: TensorToWrite[], metadata: Record<string, string> = {}): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, encodeSafetensors(tensors, metadata));
  fs.renameSync(tmp, file);
}
