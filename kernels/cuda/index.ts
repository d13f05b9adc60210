/**
 * CUDA backend of the block-sparse attention contract (kernels/api.ts), over the Node-API addon that
 * `npm run build:cuda` builds into kernels/cuda/build/Release/longview_cuda.node.
 *
 * Two ways in:
 * - `attention()` on host Float32Arrays (the SparseAttentionBackend form the shared test suite drives): the
 *   layout is uploaded once per layout object, K/V rows [0, kvLength) are copied into a temporary device
 *   cache, and inputs/outputs are converted to and from bf16/fp16 on the GPU.
 * - Device-resident handles: `uploadLayout()`, `createKvCache()` (a fixed-capacity cache; `write()` stores rows
 *   at any offset), and `attentionWithCache()`; `resident()` offers them to the engine through the backend contract
 *   (kernels/api.ts ResidentKvSupport), so a prefill chunk or a decode step uploads only its own K/V rows and Q.
 * Every failure to find the addon, a driver or a GPU is a CudaUnavailableError, so a caller can fall back.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout, ResidentKvCache, ResidentKvSupport, SparseAttentionBackend } from "../api";
import { bundledAddonPath } from "../native-addon";

/** No usable CUDA backend: the addon is not built, or there is no driver or GPU. */
export class CudaUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CudaUnavailableError";
  }
}

export interface CudaDeviceInfo {
  available: boolean;
  /** Why not, when `available` is false ("no CUDA device: ..."). */
  reason?: string;
  deviceCount: number;
  driverVersion: number;
  runtimeVersion: number;
  name?: string;
  computeCapability?: string;
  multiProcessors?: number;
  /** The Hopper (wgmma + TMA) prefill kernel can run here. */
  wgmma?: boolean;
}

export type CudaDtype = "bf16" | "fp16";
/** Prefill kernel choice. "wgmmaPipelined" and "wgmmaPingpong" are experiments not yet run on a GPU. */
export type CudaPath = "auto" | "mma" | "wgmma" | "wgmmaPipelined" | "wgmmaPingpong";

type Handle = object;
interface AddonContext {
  uploadLayout(layout: BlockSparseLayout): Handle;
  createKvCache(numKvHeads: number, capacity: number, headDim: number, dtype: CudaDtype): Handle;
  writeKv(cache: Handle, k: Float32Array, v: Float32Array, start: number, count: number): void;
  attention(shape: AttentionShape, layout: Handle, q: Float32Array, cache: Handle, out: Float32Array, lse: Float32Array | null, path: number): Promise<void>;
  release(handle: Handle, kind: "layout" | "kv"): void;
  dispose(): void;
}
interface Addon {
  deviceInfo(device?: number): CudaDeviceInfo;
  Context: new (device: number) => AddonContext;
  pathIds: Record<CudaPath, number>;
}

const ADDON_FILE = "longview_cuda.node";

/**
 * Where the addon is looked for: LONGVIEW_CUDA_ADDON, then the copy the VSIX carries (dist/native/<platform>-<arch>/,
 * beside the bundle), then the build folder, then beside the bundle.
 */
export function addonCandidates(): string[] {
  const list: string[] = [];
  if (process.env.LONGVIEW_CUDA_ADDON) list.push(process.env.LONGVIEW_CUDA_ADDON);
  if (typeof __dirname === "string") list.push(bundledAddonPath(__dirname, ADDON_FILE));
  list.push(path.join(process.cwd(), "kernels/cuda/build/Release", ADDON_FILE));
  if (typeof __dirname === "string") {
    list.push(path.join(__dirname, "build/Release", ADDON_FILE), path.join(__dirname, ADDON_FILE));
  }
  return list;
}

let cached: Addon | undefined;

/** Loads the addon once; throws CudaUnavailableError when it is not built or does not load. */
export function loadCudaAddon(): Addon {
  if (cached) return cached;
  const candidates = addonCandidates();
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new CudaUnavailableError(`the CUDA addon is not built (run \`npm run build:cuda\`, needs nvcc); looked in: ${candidates.join(", ")}`);
  const req = typeof require === "function" ? require : createRequire(path.join(process.cwd(), "index.js"));
  try {
    cached = req(file) as Addon;
  } catch (err) {
    throw new CudaUnavailableError(`the CUDA addon ${file} failed to load: ${(err as Error).message}`, { cause: err });
  }
  return cached;
}

/** Device state; never throws (a missing addon is reported as unavailable with the reason). */
export function cudaDeviceInfo(device = 0): CudaDeviceInfo {
  try {
    return loadCudaAddon().deviceInfo(device);
  } catch (err) {
    return { available: false, reason: (err as Error).message, deviceCount: 0, driverVersion: 0, runtimeVersion: 0 };
  }
}

/** A layout resident on the GPU. */
export class CudaLayout {
  constructor(
    private readonly ctx: AddonContext,
    readonly handle: Handle,
    readonly layout: BlockSparseLayout,
  ) {}
  dispose(): void {
    this.ctx.release(this.handle, "layout");
  }
}

/** A KV cache resident on the GPU: [numKvHeads][capacity][headDim] for K and for V, in bf16 or fp16. */
export class CudaKvCache {
  constructor(
    private readonly ctx: AddonContext,
    readonly handle: Handle,
    readonly numKvHeads: number,
    readonly capacity: number,
    readonly headDim: number,
    readonly dtype: CudaDtype,
  ) {}
  /** Writes rows [start, start + count) of every KV head from host arrays laid out [numKvHeads][count][headDim]. */
  write(k: Float32Array, v: Float32Array, start: number, count: number): void {
    this.ctx.writeKv(this.handle, k, v, start, count);
  }
  dispose(): void {
    this.ctx.release(this.handle, "kv");
  }
}

/** Floats per upload slice: bounds the host gather buffers and the addon's device staging buffer (16 MiB each). */
const UPLOAD_SLICE_FLOATS = 4 << 20;

/** Host buffers that gather strided rows for an upload; one pair per backend (the engine writes one layer at a time). */
export class GatherBuffers {
  k = new Float32Array(0);
  v = new Float32Array(0);
  take(floats: number): [Float32Array, Float32Array] {
    if (this.k.length < floats) {
      this.k = new Float32Array(floats);
      this.v = new Float32Array(floats);
    }
    return [this.k.subarray(0, floats), this.v.subarray(0, floats)];
  }
}

/**
 * A CudaKvCache behind the backend contract: `write` reads rows straight from the host cache's strided layout,
 * gathering each slice of rows into one [numKvHeads][rows][headDim] buffer (the addon's writeKv form).
 */
export class CudaResidentKv implements ResidentKvCache {
  private disposed = false;

  constructor(
    readonly device: CudaKvCache,
    private readonly gather = new GatherBuffers(),
    /** Floats per upload slice (tests make it small). */
    private readonly sliceFloats = UPLOAD_SLICE_FLOATS,
  ) {}

  get numKvHeads(): number {
    return this.device.numKvHeads;
  }
  get capacity(): number {
    return this.device.capacity;
  }
  get headDim(): number {
    return this.device.headDim;
  }

  write(k: Float32Array, v: Float32Array, hostCapacity: number, start: number, count: number): void {
    const { numKvHeads: H, headDim: D } = this.device;
    if (count <= 0) return;
    if (start < 0 || start + count > hostCapacity || start + count > this.capacity) throw new RangeError(`resident write of rows [${start}, ${start + count}) outside the host (${hostCapacity}) or device (${this.capacity}) capacity`);
    const sliceRows = Math.max(1, Math.floor(this.sliceFloats / (H * D)));
    for (let s = start; s < start + count; s += sliceRows) {
      const n = Math.min(sliceRows, start + count - s);
      const floats = H * n * D;
      if (H === 1) {
        // One head: the host rows are already contiguous.
        this.device.write(k.subarray(s * D, (s + n) * D), v.subarray(s * D, (s + n) * D), s, n);
        continue;
      }
      const [gk, gv] = this.gather.take(floats);
      for (let h = 0; h < H; h++) {
        const from = (h * hostCapacity + s) * D;
        gk.set(k.subarray(from, from + n * D), h * n * D);
        gv.set(v.subarray(from, from + n * D), h * n * D);
      }
      this.device.write(gk, gv, s, n);
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      this.device.dispose();
    } catch {
      // The context is already gone (the backend was disposed after a failure): the handle's finalizer frees it.
    }
  }
}

export interface CudaBackendOptions {
  device?: number;
  /** Storage and MMA input type on the GPU (accumulation is float32). Default bf16. */
  dtype?: CudaDtype;
  path?: CudaPath;
}

export class CudaAttentionBackend implements SparseAttentionBackend {
  readonly name: string;
  readonly info: CudaDeviceInfo;
  readonly dtype: CudaDtype;
  private readonly pathId: number;
  private readonly ctx: AddonContext;
  private readonly layouts = new WeakMap<BlockSparseLayout, CudaLayout>();

  /** Throws CudaUnavailableError when there is no addon, driver or GPU. */
  constructor(options: CudaBackendOptions = {}) {
    const addon = loadCudaAddon();
    const device = options.device ?? 0;
    this.info = addon.deviceInfo(device);
    if (!this.info.available) throw new CudaUnavailableError(this.info.reason ?? "no CUDA device");
    this.dtype = options.dtype ?? "bf16";
    this.pathId = addon.pathIds[options.path ?? "auto"];
    if (this.pathId === undefined) throw new Error(`unknown CUDA path ${options.path}`);
    try {
      this.ctx = new addon.Context(device);
    } catch (err) {
      throw new CudaUnavailableError((err as Error).message, { cause: err });
    }
    this.name = `cuda:${this.info.name} (${this.dtype}${this.info.wgmma ? ", wgmma" : ""})`;
  }

  uploadLayout(layout: BlockSparseLayout): CudaLayout {
    return new CudaLayout(this.ctx, this.ctx.uploadLayout(layout), layout);
  }

  createKvCache(numKvHeads: number, capacity: number, headDim: number): CudaKvCache {
    return new CudaKvCache(this.ctx, this.ctx.createKvCache(numKvHeads, capacity, headDim, this.dtype), numKvHeads, capacity, headDim, this.dtype);
  }

  /** One attention call with K/V already on the GPU; q/out/lse are host arrays (see kernels/api.ts for shapes). */
  attentionWithCache(shape: AttentionShape, layout: CudaLayout, q: Float32Array, cache: CudaKvCache, out: Float32Array, lse?: Float32Array): Promise<void> {
    return this.ctx.attention(shape, layout.handle, q, cache.handle, out, lse ?? null, this.pathId);
  }

  /** The device copy of a layout, uploaded once per layout object. */
  private deviceLayout(layout: BlockSparseLayout): CudaLayout {
    let device = this.layouts.get(layout);
    if (!device) {
      device = this.uploadLayout(layout);
      this.layouts.set(layout, device);
    }
    return device;
  }

  private residentSupport?: ResidentKvSupport;
  private readonly gather = new GatherBuffers();

  /** Device-resident K/V for the engine (kernels/api.ts ResidentKvSupport). */
  resident(): ResidentKvSupport {
    this.residentSupport ??= {
      createCache: (numKvHeads, capacity, headDim) => new CudaResidentKv(this.createKvCache(numKvHeads, capacity, headDim), this.gather),
      attention: (shape, layout, q, cache, outputs) => {
        if (!(cache instanceof CudaResidentKv)) throw new TypeError("the resident KV cache was not made by this CUDA backend");
        return this.attentionWithCache(shape, this.deviceLayout(layout), q, cache.device, outputs.out, outputs.lse);
      },
    };
    return this.residentSupport;
  }

  async attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> {
    const device = this.deviceLayout(layout);
    const { numKvHeads, kvLength, kvCapacity, headDim } = shape;
    // Only rows below kvLength travel: the rest of the host cache may hold anything.
    const rowFloats = kvLength * headDim;
    const k = new Float32Array(numKvHeads * rowFloats);
    const v = new Float32Array(numKvHeads * rowFloats);
    for (let h = 0; h < numKvHeads; h++) {
      const from = h * kvCapacity * headDim;
      k.set(inputs.k.subarray(from, from + rowFloats), h * rowFloats);
      v.set(inputs.v.subarray(from, from + rowFloats), h * rowFloats);
    }
    const cache = this.createKvCache(numKvHeads, kvCapacity, headDim);
    try {
      cache.write(k, v, 0, kvLength);
      await this.attentionWithCache(shape, device, inputs.q, cache, outputs.out, outputs.lse);
    } finally {
      cache.dispose();
    }
  }

  dispose(): void {
    this.ctx.dispose();
  }
}
