/**
 * Kernel dispatch: one interface (kernels/api.ts SparseAttentionBackend), the backend chosen by setting or
 * detected — CUDA if a device is there, else a hardware WebGPU adapter, else the native CPU addon, else the
 * TypeScript fallback — with a clear notice for every backend that was wanted but could not be used. A GPU
 * backend that fails at run time is replaced by the CPU path for the rest of the session, and the failed call
 * is re-run there: an answer is never lost to a GPU problem, and nothing here throws past the engine.
 */
import fs from "node:fs";
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout, ResidentKvCache, ResidentKvSupport, SparseAttentionBackend } from "../../../kernels/api";
import { JsAttentionBackend } from "../../../kernels/js";

export type BackendPreference = "auto" | "cpu" | "webgpu" | "cuda";
export type BackendKind = "cuda" | "webgpu" | "cpu" | "js";

export interface DispatchOptions {
  /** false in restricted (untrusted) workspaces: no native addon or GPU driver is loaded, only TypeScript runs. */
  allowNative?: boolean;
  /** WebGPU: accept a software adapter (lavapipe) in auto mode? Default false: the native CPU path is faster. */
  allowSoftwareGpu?: boolean;
  log?: (message: string) => void;
}

export interface DispatchResult {
  backend: SparseAttentionBackend;
  kind: BackendKind;
  /** Why a preferred backend was not used (shown to the user once). Empty when the preference was met. */
  notices: string[];
}

type Loader = () => Promise<SparseAttentionBackend>;

/** The backends, each loaded lazily so a missing driver or addon costs nothing until asked for. */
export interface BackendLoaders {
  cuda: Loader;
  webgpu: (allowSoftware: boolean) => Promise<SparseAttentionBackend>;
  cpu: Loader;
}

export const DEFAULT_LOADERS: BackendLoaders = {
  async cuda() {
    const { CudaAttentionBackend, cudaDeviceInfo } = await import("../../../kernels/cuda");
    const info = cudaDeviceInfo();
    if (!info.available) throw new Error(info.reason ?? "no CUDA device");
    return new CudaAttentionBackend();
  },
  async webgpu(allowSoftware) {
    // Asking Dawn for an adapter on a GPU-less Linux machine finds lavapipe, which auto mode refuses anyway, and
    // Dawn prints two limit warnings on stderr while it looks (they led `longview ask`'s output).
    if (!allowSoftware && !mayHaveHardwareGpu()) throw new Error("no GPU device node (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg)");
    const { sharedWebGpuAttention } = await import("../../../kernels/webgpu");
    const backend = await sharedWebGpuAttention();
    const info = backend.info;
    if (info.software && !allowSoftware) throw new Error(`only a software adapter (${info.description}) is available`);
    return backend;
  },
  async cpu() {
    const { createCpuBackend } = await import("../../../kernels/cpu");
    return createCpuBackend();
  },
};

/**
 * False only where a hardware GPU surely cannot be used: Linux with none of the device nodes a Vulkan driver opens
 * (DRM render nodes for AMD/Intel/…, NVIDIA's, WSL's /dev/dxg). Elsewhere (macOS, Windows) the adapter is asked.
 */
export function mayHaveHardwareGpu(platform: string = process.platform, listDir: (dir: string) => string[] = safeReadDir): boolean {
  if (platform !== "linux") return true;
  return listDir("/dev/dri").some((n) => n.startsWith("renderD")) || listDir("/dev").some((n) => /^nvidia\d+$|^dxg$/.test(n));
}

function safeReadDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Pick and load a backend. Never throws: the TypeScript backend is the last resort. */
export async function openAttentionBackend(
  preference: BackendPreference,
  options: DispatchOptions = {},
  loaders: BackendLoaders = DEFAULT_LOADERS,
): Promise<DispatchResult> {
  const notices: string[] = [];
  const log = options.log ?? (() => {});
  const js = (): DispatchResult => ({ backend: new JsAttentionBackend(), kind: "js", notices });
  if (options.allowNative === false) {
    if (preference !== "auto") notices.push(`the ${preference} backend is not loaded in a restricted workspace; using the TypeScript kernels`);
    return js();
  }
  const order: Array<"cuda" | "webgpu" | "cpu"> = preference === "auto" ? ["cuda", "webgpu", "cpu"] : [preference, ...(preference === "cpu" ? [] : ["cpu" as const])];
  for (const kind of order) {
    try {
      const backend = kind === "webgpu" ? await loaders.webgpu(preference === "webgpu" || !!options.allowSoftwareGpu) : await loaders[kind]();
      log(`attention backend: ${backend.name}`);
      const result: DispatchResult = { backend: kind === "cpu" ? backend : new FallbackAttention(backend, loaders, notices, log), kind, notices };
      return result;
    } catch (e) {
      // In auto mode an absent GPU is normal, not news; an explicit choice that fails is.
      if (preference !== "auto" || kind === "cpu") notices.push(`${kind} backend unavailable: ${message(e)}`);
      log(`${kind} backend unavailable: ${message(e)}`);
    }
  }
  notices.push("using the TypeScript attention kernels (slow): the native CPU addon could not be loaded");
  return js();
}

/**
 * Wraps a GPU backend: if a call fails, log it, switch to the CPU path (native, else TypeScript) for good, and
 * re-run the call there. Its device-resident K/V (resident()) is offered while the GPU works and withdrawn after a
 * failure; a failing resident call switches the same way and rethrows, for the engine to re-run on the host K/V.
 */
export class FallbackAttention implements SparseAttentionBackend {
  /** Set (synchronously) by the first failure; resolves to the CPU backend. */
  private failed: Promise<SparseAttentionBackend> | undefined;
  private fallback: SparseAttentionBackend | undefined;
  private residentView: ResidentKvSupport | undefined;
  private readonly unwrap = new WeakMap<ResidentKvCache, ResidentKvCache>();

  constructor(
    private readonly primary: SparseAttentionBackend,
    private readonly loaders: BackendLoaders,
    readonly notices: string[],
    private readonly log: (message: string) => void,
  ) {}

  get name(): string {
    if (this.fallback) return `${this.fallback.name} (after ${this.primary.name} failed)`;
    return this.failed ? `${this.primary.name} (failed; switching to the CPU)` : this.primary.name;
  }

  async attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> {
    if (!this.failed) {
      try {
        await this.primary.attention(shape, layout, inputs, outputs);
        return;
      } catch (e) {
        this.failOver(e);
      }
    }
    const cpu = await this.failed!;
    await cpu.attention(shape, layout, inputs, outputs);
  }

  /** The primary's device-resident K/V while it works; undefined once it has failed or when it has none. */
  resident(): ResidentKvSupport | undefined {
    if (this.failed) return undefined;
    const inner = this.primary.resident?.();
    if (!inner) return undefined;
    const guard = <T>(call: () => T): T => {
      try {
        const r = call();
        return r instanceof Promise ? (r.catch((e: unknown) => this.failAndRethrow(e)) as T) : r;
      } catch (e) {
        return this.failAndRethrow(e);
      }
    };
    this.residentView ??= {
      createCache: (numKvHeads, capacity, headDim) => {
        const cache = guard(() => inner.createCache(numKvHeads, capacity, headDim));
        const wrapped: ResidentKvCache = {
          numKvHeads: cache.numKvHeads,
          capacity: cache.capacity,
          headDim: cache.headDim,
          write: (k, v, hostCapacity, start, count) => guard(() => cache.write(k, v, hostCapacity, start, count)),
          dispose: () => cache.dispose(),
        };
        this.unwrap.set(wrapped, cache);
        return wrapped;
      },
      attention: (shape, layout, q, cache, outputs) => guard(() => inner.attention(shape, layout, q, this.unwrap.get(cache) ?? cache, outputs)),
    };
    return this.residentView;
  }

  private failAndRethrow(e: unknown): never {
    this.failOver(e);
    throw e;
  }

  /** Records why the GPU failed and starts the switch to the CPU path (native, else TypeScript), for good. */
  private failOver(e: unknown): void {
    if (this.failed) return;
    const note = `${this.primary.name} attention failed (${message(e)}); continuing on the CPU`;
    this.notices.push(note);
    this.log(note);
    this.residentView = undefined;
    this.failed = this.loaders.cpu().then(
      (b) => b,
      () => new JsAttentionBackend(),
    );
    void this.failed.then((b) => (this.fallback = b));
    try {
      this.primary.dispose?.();
    } catch {
      // a broken device may not dispose cleanly; the CPU path does not need it
    }
  }

  dispose(): void {
    this.primary.dispose?.();
    this.fallback?.dispose?.();
  }
}
