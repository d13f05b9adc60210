/** Precisions a backend may compute in, the error each is allowed against the float64 reference, and
 * rounding of test inputs to that precision (so the reference sees exactly the values the backend sees and
 * the bound measures the kernel's arithmetic, not the input conversion). */
export type Precision = "fp32" | "fp16" | "bf16";

/**
 * Bounds, normwise: `out` error = max |out - ref| / max |ref| over the checked rows of a case; `lse` error =
 * max |lse - ref| / max(1, |ref|). Inputs with a larger score range (the "spiky" cases) multiply the bound by
 * their score scale, since fp32 rounding of q·k grows with |q||k|.
 */
export const TOLERANCE: Record<Precision, { out: number; lse: number }> = {
  fp32: { out: 1e-5, lse: 1e-5 },
  fp16: { out: 1e-2, lse: 1e-2 },
  bf16: { out: 1e-2, lse: 1e-2 },
};

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round to the nearest bfloat16 (ties to even), returned as a float32 value. */
export function roundBf16(x: number): number {
  if (!Number.isFinite(x)) return x;
  f32[0] = x;
  const u = u32[0];
  u32[0] = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
  return f32[0];
}

/** Round to the nearest IEEE half (ties away from zero is close enough for test data), as a float32 value. */
export function roundFp16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  const e = Math.max(Math.floor(Math.log2(a)), -14);
  const quantum = 2 ** (e - 10);
  return Math.sign(x) * Math.round(a / quantum) * quantum;
}

/** Rounds finite entries of `data` in place to `precision` (fp32 leaves them as they are). */
export function roundInPlace(data: Float32Array, precision: Precision): void {
  if (precision === "fp32") return;
  const round = precision === "bf16" ? roundBf16 : roundFp16;
  for (let i = 0; i < data.length; i++) data[i] = round(data[i]);
}
