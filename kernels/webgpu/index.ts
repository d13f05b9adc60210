/// <reference types="@webgpu/types" />
/**
 * WebGPU backend of block-sparse attention (WGSL through Dawn). Three ways in:
 * - `attention()` on host arrays (the SparseAttentionBackend contract the shared test suite drives);
 * - `attendCached()` against a device-resident, growable K/V cache (`createKvCache()`), Q and outputs on the host;
 * - `encodeAttention()` into a caller's command encoder with every tensor already on the GPU.
 * Pipelines are compiled once per device and cached; `sharedWebGpuAttention()` gives one backend per process.
 * Failures to find a device are WebGpuUnavailableError, shapes it does not run are WebGpuUnsupportedError:
 * a dispatcher catches both and falls back to the CPU backend.
 */
import { type AttentionInputs, type AttentionOutputs, type AttentionShape, type BlockSparseLayout, type SparseAttentionBackend } from "../api";
import { BufferUsage, MapMode, type OpenDevice, type OpenDeviceOptions, WebGpuUnavailableError, openDevice } from "./dawn";
import { GpuKvCache } from "./kv-cache";
import { type AttentionPlan, WebGpuUnsupportedError, checkLayoutRows, checkShape, planAttention } from "./plan";
import { type AttentionKernelConfig, attentionKernelKey, attentionWgsl, mergeWgsl, subgroupProbeWgsl } from "./shaders";

export { GpuKvCache } from "./kv-cache";
export { BufferUsage, WebGpuUnavailableError } from "./dawn";
export { WebGpuUnsupportedError } from "./plan";
export type { AttentionPlan } from "./plan";

/** Knobs of the dispatch plan; adjustable at any time through `backend.tuning` (benchmarks sweep them). */
export interface WebGpuTuning {
  /** Invocations a call should keep busy; below that, keys are split over more workgroups (split-K, merged
   * by logsumexp). Default 131072 on a GPU (~1000 per SM of an H100); 1 (never split) on a software adapter,
   * where splitting measured no faster (bench/bench-kernels-webgpu.ts --target-inv). */
  targetInvocations: number;
  /** Smallest window of keys one split gets (default 128). */
  minSplitKeys: number;
  /** Use the quad kernels (subgroup shuffles); false selects the fallback kernels. Only true where available. */
  subgroups: boolean;
  /** Unroll the head-dim loops in the WGSL (default on GPUs; off on software adapters, where LLVM takes
   * tens of seconds to minutes to compile the unrolled kernels). */
  unroll: boolean;
}

export interface WebGpuAttentionOptions extends OpenDeviceOptions, Partial<Omit<WebGpuTuning, "subgroups">> {}

export interface WebGpuInfo {
  description: string;
  software: boolean;
  /** The quad kernels (subgroup shuffles) are in use. */
  subgroups: boolean;
  shaderF16: boolean;
}

/** A layout uploaded once and validated once, for repeated calls (one per model, or per layer). */
export interface GpuLayout {
  readonly layout: BlockSparseLayout;
  readonly rowPtr: GPUBuffer;
  readonly colIdx: GPUBuffer;
  dispose(): void;
}

/** One call against a KV cache: K/V come from the cache; kvLength = queryStart + queryLength <= cache.length. */
export interface CachedQuery {
  numHeads: number;
  queryStart: number;
  queryLength: number;
  scale: number;
}

export interface DeviceTensors {
  /** [numHeads][queryLength][headDim] */
  q: GPUBuffer;
  /** [numKvHeads][kvCapacity][headDim] each */
  k: GPUBuffer;
  v: GPUBuffer;
  /** [numHeads][queryLength][headDim] and [numHeads][queryLength] */
  out: GPUBuffer;
  lse: GPUBuffer;
}

const STORAGE_RW = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const COMPUTE = 0x4; // GPUShaderStage.COMPUTE

export class WebGpuAttention implements SparseAttentionBackend {
  readonly name = "webgpu";
  private readonly device: GPUDevice;
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly scratch = new Map<string, GPUBuffer>();
  private readonly attnLayout: GPUBindGroupLayout;
  private readonly mergeLayout: GPUBindGroupLayout;
  private lostReason: string | undefined;
  private disposed = false;
  private tail: Promise<unknown> = Promise.resolve();
  private tune: WebGpuTuning;

  private constructor(
    private readonly dev: OpenDevice,
    private readonly subgroupsAvailable: boolean,
    options: WebGpuAttentionOptions,
  ) {
    this.device = dev.device;
    this.tune = {
      targetInvocations: options.targetInvocations ?? (dev.software ? 1 : 131072),
      minSplitKeys: options.minSplitKeys ?? 128,
      subgroups: subgroupsAvailable,
      unroll: options.unroll ?? !dev.software,
    };
    void this.device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
    this.device.onuncapturederror = (ev) => {
      // Calls check their own error scopes; anything else (e.g. a caller's encoder) surfaces as a warning.
      process.emitWarning(`webgpu: ${(ev as GPUUncapturedErrorEvent).error.message}`);
    };
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({ binding, visibility: COMPUTE, buffer: { type } });
    this.attnLayout = this.device.createBindGroupLayout({
      entries: [entry(0, "uniform"), ...[1, 2, 3, 4, 5].map((b) => entry(b, "read-only-storage")), entry(6, "storage"), entry(7, "storage")],
    });
    this.mergeLayout = this.device.createBindGroupLayout({
      entries: [entry(0, "uniform"), entry(1, "read-only-storage"), entry(2, "read-only-storage"), entry(3, "storage"), entry(4, "storage")],
    });
  }

  /** Opens a device and checks the subgroup lane order; throws WebGpuUnavailableError without an adapter. */
  static async create(options: WebGpuAttentionOptions = {}): Promise<WebGpuAttention> {
    const dev = await openDevice(options);
    const subgroups = dev.subgroups && (await probeSubgroupQuads(dev.device));
    return new WebGpuAttention(dev, subgroups, options);
  }

  get info(): WebGpuInfo {
    return { description: this.dev.description, software: this.dev.software, subgroups: this.tune.subgroups, shaderF16: this.dev.shaderF16 };
  }

  get tuning(): WebGpuTuning {
    return { ...this.tune };
  }

  set tuning(t: WebGpuTuning) {
    if (t.subgroups && !this.subgroupsAvailable) throw new Error("webgpu: this device cannot run the subgroup kernels");
    if (!(t.targetInvocations >= 1 && t.minSplitKeys >= 1)) throw new Error("webgpu: tuning values must be >= 1");
    this.tune = { ...t };
  }

  get gpuDevice(): GPUDevice {
    return this.device;
  }

  /** The device was lost (driver reset, GPU removed) or disposed; create a new backend to continue. */
  get lost(): boolean {
    return this.disposed || this.lostReason !== undefined;
  }

  /** Host-array attention (kernels/api.ts). K/V rows past kvLength are not uploaded. */
  attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> {
    return this.serial(async () => {
      checkShape(shape, layout);
      checkRowsTouched(shape, layout);
      checkHostSizes(shape, inputs, outputs);
      // Compact the K/V rows on the device: stride kvLength instead of the host's capacity.
      const deviceShape = { ...shape, kvCapacity: shape.kvLength };
      this.checkBindingSizes(deviceShape);
      const { numKvHeads, headDim: D, kvLength, kvCapacity } = shape;
      const kvBytes = numKvHeads * kvLength * D * 4;
      const k = this.scratchBuffer("k", kvBytes, STORAGE_RW);
      const v = this.scratchBuffer("v", kvBytes, STORAGE_RW);
      const queue = this.device.queue;
      if (kvCapacity === kvLength) {
        queue.writeBuffer(k, 0, inputs.k, 0, numKvHeads * kvLength * D);
        queue.writeBuffer(v, 0, inputs.v, 0, numKvHeads * kvLength * D);
      } else {
        for (let h = 0; h < numKvHeads; h++) {
          queue.writeBuffer(k, h * kvLength * D * 4, inputs.k, h * kvCapacity * D, kvLength * D);
          queue.writeBuffer(v, h * kvLength * D * 4, inputs.v, h * kvCapacity * D, kvLength * D);
        }
      }
      await this.runHost(deviceShape, this.layoutScratch(layout), inputs.q, k, v, outputs);
    });
  }

  createKvCache(numKvHeads: number, headDim: number, initialCapacity = 1024): GpuKvCache {
    this.live();
    return new GpuKvCache(this.device, numKvHeads, headDim, initialCapacity);
  }

  /** Uploads and fully validates a layout once, for many calls. */
  uploadLayout(layout: BlockSparseLayout): GpuLayout {
    this.live();
    checkLayoutRows(layout, 0, layout.numBlockRows - 1);
    const rowPtr = this.device.createBuffer({ size: bytes4(layout.numLayouts * (layout.numBlockRows + 1)), usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
    const colIdx = this.device.createBuffer({ size: bytes4(layout.numLayouts * layout.maxNnz), usage: BufferUsage.STORAGE | BufferUsage.COPY_DST });
    this.device.queue.writeBuffer(rowPtr, 0, layout.rowPtr, 0, layout.numLayouts * (layout.numBlockRows + 1));
    this.device.queue.writeBuffer(colIdx, 0, layout.colIdx, 0, layout.numLayouts * layout.maxNnz);
    const dispose = (): void => {
      rowPtr.destroy();
      colIdx.destroy();
    };
    return { layout, rowPtr, colIdx, dispose };
  }

  /** Attention of new query rows against a device-resident cache; Q in and out/lse back through the host. */
  attendCached(query: CachedQuery, layout: BlockSparseLayout | GpuLayout, q: Float32Array, cache: GpuKvCache, outputs: AttentionOutputs): Promise<void> {
    return this.serial(async () => {
      const shape = cachedShape(query, cache);
      const lay = isGpuLayout(layout) ? layout : undefined;
      const plain = lay ? lay.layout : (layout as BlockSparseLayout);
      checkShape(shape, plain);
      if (!lay) checkRowsTouched(shape, plain);
      checkHostSizes(shape, { q, k: new Float32Array(0), v: new Float32Array(0) }, outputs, false);
      this.checkBindingSizes(shape);
      await this.runHost(shape, lay ?? this.layoutScratch(plain), q, cache.k, cache.v, outputs);
    });
  }

  /**
   * Records one attention call into `encoder`; all tensors stay on the GPU (for an engine that keeps its
   * activations there). The layout must come from uploadLayout(). Returns the plan (splits, packing).
   */
  async encodeAttention(encoder: GPUCommandEncoder, shape: AttentionShape, layout: GpuLayout, tensors: DeviceTensors): Promise<AttentionPlan> {
    this.live();
    checkShape(shape, layout.layout);
    const plan = this.plan(shape, layout.layout);
    const pipeline = await this.pipeline(plan.kernel);
    const merge = plan.splits > 1 ? await this.mergePipeline() : undefined;
    this.encodePlanned(encoder, shape, plan, pipeline, merge, layout, tensors);
    return plan;
  }

  /** The plan a call would use (exposed for benchmarks and tests). */
  plan(shape: AttentionShape, layout: BlockSparseLayout): AttentionPlan {
    const lim = this.device.limits;
    return planAttention(shape, layout, {
      ...this.tune,
      maxWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
    });
  }

  /** Compiles the pipelines a shape needs (cold compiles take seconds on lavapipe; do it before timing). */
  async warmUp(shape: AttentionShape, layout: BlockSparseLayout): Promise<void> {
    const plan = this.plan(shape, layout);
    await this.pipeline(plan.kernel);
    if (plan.splits > 1) await this.mergePipeline();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of this.scratch.values()) b.destroy();
    this.scratch.clear();
    this.device.destroy();
  }

  // ---- internals ----

  private async runHost(shape: AttentionShape, lay: GpuLayout, qHost: Float32Array, k: GPUBuffer, v: GPUBuffer, outputs: AttentionOutputs): Promise<void> {
    const { numHeads, queryLength, headDim: D } = shape;
    const plan = this.plan(shape, lay.layout);
    const pipeline = await this.pipeline(plan.kernel);
    const merge = plan.splits > 1 ? await this.mergePipeline() : undefined;
    const outFloats = numHeads * queryLength * D;
    const rows = numHeads * queryLength;
    const q = this.scratchBuffer("q", outFloats * 4, STORAGE_RW);
    const out = this.scratchBuffer("out", outFloats * 4, STORAGE_RW);
    const lse = this.scratchBuffer("lse", rows * 4, STORAGE_RW);
    const readback = this.scratchBuffer("readback", (outFloats + rows) * 4, BufferUsage.MAP_READ | BufferUsage.COPY_DST);
    this.device.queue.writeBuffer(q, 0, qHost, 0, outFloats);

    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    let transient: GPUBuffer[] = [];
    let thrown: unknown;
    try {
      const encoder = this.device.createCommandEncoder();
      transient = this.encodePlanned(encoder, shape, plan, pipeline, merge, lay, { q, k, v, out, lse });
      encoder.copyBufferToBuffer(out, 0, readback, 0, outFloats * 4);
      encoder.copyBufferToBuffer(lse, 0, readback, outFloats * 4, rows * 4);
      this.device.queue.submit([encoder.finish()]);
    } catch (err) {
      thrown = err;
    }
    const validation = await this.device.popErrorScope();
    const oom = await this.device.popErrorScope();
    if (thrown) throw thrown;
    if (validation || oom) throw new Error(`webgpu attention: ${(validation ?? oom)!.message}`);
    try {
      await readback.mapAsync(MapMode.READ, 0, (outFloats + rows) * 4);
    } catch (err) {
      throw this.lostReason ? new WebGpuUnavailableError(`webgpu device lost (${this.lostReason})`, { cause: err }) : err;
    }
    const data = new Float32Array(readback.getMappedRange(0, (outFloats + rows) * 4));
    outputs.out.set(data.subarray(0, outFloats));
    outputs.lse?.set(data.subarray(outFloats, outFloats + rows));
    readback.unmap();
    for (const b of transient) b.destroy();
  }

  /** Records the attention pass (and the merge pass when keys are split); returns the per-call uniform buffers. */
  private encodePlanned(
    encoder: GPUCommandEncoder,
    shape: AttentionShape,
    plan: AttentionPlan,
    pipeline: GPUComputePipeline,
    merge: GPUComputePipeline | undefined,
    lay: GpuLayout,
    t: DeviceTensors,
  ): GPUBuffer[] {
    const { numHeads, queryLength, headDim: D } = shape;
    const rows = numHeads * queryLength;
    const layout = lay.layout;
    const kvBytes = shape.numKvHeads * shape.kvCapacity * D * 4;
    this.checkBindingSizes(shape, plan.splits);
    // One uniform buffer per call: several calls recorded into one encoder must not share parameters.
    const params = this.uniform(packAttentionParams(shape, layout, plan));
    const split = plan.splits > 1;
    const pOut = split ? this.scratchBuffer("partialOut", rows * D * 4 * plan.splits, STORAGE_RW) : t.out;
    const pLse = split ? this.scratchBuffer("partialLse", rows * 4 * plan.splits, STORAGE_RW) : t.lse;
    const bind = (b: GPUBuffer, size: number): GPUBufferBinding => ({ buffer: b, offset: 0, size: Math.max(4, Math.ceil(size / 4) * 4) });
    const group = this.device.createBindGroup({
      layout: this.attnLayout,
      entries: [
        { binding: 0, resource: { buffer: params } },
        { binding: 1, resource: bind(t.q, rows * D * 4) },
        { binding: 2, resource: bind(t.k, kvBytes) },
        { binding: 3, resource: bind(t.v, kvBytes) },
        { binding: 4, resource: bind(lay.rowPtr, layout.numLayouts * (layout.numBlockRows + 1) * 4) },
        { binding: 5, resource: bind(lay.colIdx, layout.numLayouts * layout.maxNnz * 4) },
        { binding: 6, resource: bind(pOut, rows * D * 4 * plan.splits) },
        { binding: 7, resource: bind(pLse, rows * 4 * plan.splits) },
      ],
    });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(plan.numTiles, plan.headGroups, plan.splits);
    pass.end();
    if (!split || !merge) return [params];

    const total = Math.ceil((rows * D) / 4 / 64);
    const wx = Math.min(total, this.device.limits.maxComputeWorkgroupsPerDimension);
    const mparams = this.uniform(new Uint32Array([rows, plan.splits, D / 4, wx]));
    const mgroup = this.device.createBindGroup({
      layout: this.mergeLayout,
      entries: [
        { binding: 0, resource: { buffer: mparams } },
        { binding: 1, resource: bind(pOut, rows * D * 4 * plan.splits) },
        { binding: 2, resource: bind(pLse, rows * 4 * plan.splits) },
        { binding: 3, resource: bind(t.out, rows * D * 4) },
        { binding: 4, resource: bind(t.lse, rows * 4) },
      ],
    });
    const mpass = encoder.beginComputePass();
    mpass.setPipeline(merge);
    mpass.setBindGroup(0, mgroup);
    mpass.dispatchWorkgroups(wx, Math.ceil(total / wx));
    mpass.end();
    return [params, mparams];
  }

  /** Shapes past the adapter's binding limit (128 MiB on lavapipe, 2 GiB on the H100) go to another backend. */
  private checkBindingSizes(shape: AttentionShape, splits = 1): void {
    const max = this.device.limits.maxStorageBufferBindingSize;
    const kvBytes = shape.numKvHeads * shape.kvCapacity * shape.headDim * 4;
    const outBytes = shape.numHeads * shape.queryLength * shape.headDim * 4 * splits;
    if (kvBytes > max || outBytes > max) {
      throw new WebGpuUnsupportedError(`webgpu attention: ${Math.max(kvBytes, outBytes)} bytes in one buffer exceed this adapter's storage binding limit of ${max}`);
    }
  }

  private uniform(data: Uint32Array): GPUBuffer {
    const buf = this.device.createBuffer({ size: data.byteLength, usage: BufferUsage.UNIFORM, mappedAtCreation: true });
    new Uint32Array(buf.getMappedRange()).set(data);
    buf.unmap();
    return buf;
  }

  private layoutScratch(layout: BlockSparseLayout): GpuLayout {
    const nRow = layout.numLayouts * (layout.numBlockRows + 1);
    const nCol = layout.numLayouts * layout.maxNnz;
    const rowPtr = this.scratchBuffer("rowPtr", nRow * 4, BufferUsage.STORAGE | BufferUsage.COPY_DST);
    const colIdx = this.scratchBuffer("colIdx", nCol * 4, BufferUsage.STORAGE | BufferUsage.COPY_DST);
    this.device.queue.writeBuffer(rowPtr, 0, layout.rowPtr, 0, nRow);
    this.device.queue.writeBuffer(colIdx, 0, layout.colIdx, 0, nCol);
    return { layout, rowPtr, colIdx, dispose: () => undefined };
  }

  /** Grow-only scratch buffers. A replaced buffer is not destroyed: commands already recorded may still use it;
   * it is freed once unreferenced. */
  private scratchBuffer(role: string, size: number, usage: number): GPUBuffer {
    const need = bytes4(Math.ceil(size / 4));
    const have = this.scratch.get(role);
    if (have && have.size >= need) return have;
    const grown = Math.max(need, have ? Math.ceil((have.size * 1.5) / 256) * 256 : 0);
    const buf = this.device.createBuffer({ size: grown, usage });
    this.scratch.set(role, buf);
    return buf;
  }

  private pipeline(config: AttentionKernelConfig): Promise<GPUComputePipeline> {
    return this.compiled(attentionKernelKey(config), () => attentionWgsl(config), this.attnLayout);
  }

  private mergePipeline(): Promise<GPUComputePipeline> {
    return this.compiled("merge", mergeWgsl, this.mergeLayout);
  }

  private compiled(key: string, source: () => string, layout: GPUBindGroupLayout): Promise<GPUComputePipeline> {
    let p = this.pipelines.get(key);
    if (!p) {
      p = compilePipeline(this.device, key, source(), layout);
      this.pipelines.set(key, p);
      p.catch(() => this.pipelines.delete(key));
    }
    return p;
  }

  /** Calls share scratch buffers, so they run one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      this.live();
      return fn();
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  private live(): void {
    if (this.disposed) throw new Error("WebGpuAttention used after dispose()");
    if (this.lostReason) throw new WebGpuUnavailableError(`webgpu device lost (${this.lostReason})`);
  }
}

let shared: Promise<WebGpuAttention> | undefined;

/** One backend (device, pipelines) per process, re-created after a device loss. A failure to find an adapter is
 * remembered: one will not appear later. `options` apply to the first creation. */
export async function sharedWebGpuAttention(options: WebGpuAttentionOptions = {}): Promise<WebGpuAttention> {
  if (shared) {
    const current = await shared.catch(() => undefined);
    if (current?.lost) shared = undefined;
  }
  shared ??= WebGpuAttention.create(options);
  return shared;
}

async function compilePipeline(device: GPUDevice, label: string, code: string, layout: GPUBindGroupLayout): Promise<GPUComputePipeline> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ label, code });
  void device.popErrorScope(); // a WGSL error is reported by the pipeline creation below, with its messages
  try {
    return await device.createComputePipelineAsync({
      label,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: "main" },
    });
  } catch (err) {
    const info = await module.getCompilationInfo();
    const msgs = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join("\n");
    throw new Error(`webgpu: pipeline ${label} failed: ${(err as Error).message}${msgs ? `\n${msgs}` : ""}`, { cause: err });
  }
}

/** Verifies that subgroup lanes follow local_invocation_index in groups of >= 4 (what the quad kernels assume). */
async function probeSubgroupQuads(device: GPUDevice): Promise<boolean> {
  const n = 256;
  try {
    const module = device.createShaderModule({ code: subgroupProbeWgsl(n) });
    const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
    const out = device.createBuffer({ size: n * 4, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: n * 4, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    encoder.copyBufferToBuffer(out, 0, read, 0, n * 4);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(MapMode.READ);
    const ok = new Uint32Array(read.getMappedRange()).every((x) => x === 1);
    read.unmap();
    out.destroy();
    read.destroy();
    return ok;
  } catch {
    return false;
  }
}

function packAttentionParams(shape: AttentionShape, layout: BlockSparseLayout, plan: AttentionPlan): Uint32Array {
  const u = new Uint32Array(16);
  const f = new Float32Array(u.buffer);
  u.set([
    shape.numHeads, shape.queryStart, shape.queryLength, shape.kvCapacity,
    layout.blockSize, layout.numLayouts, layout.numBlockRows, layout.maxNnz,
    shape.numHeads / shape.numKvHeads, plan.headsPerWorkgroup, plan.rowsPerHead, plan.firstTile,
  ]);
  f[12] = shape.scale * Math.LOG2E; // scores in base 2: the kernels use exp2/log2
  u[13] = plan.splitSlots;
  return u;
}

function cachedShape(query: CachedQuery, cache: GpuKvCache): AttentionShape {
  const kvLength = query.queryStart + query.queryLength;
  if (kvLength > cache.length) throw new Error(`attendCached: rows up to ${kvLength} requested, the cache holds ${cache.length}`);
  return {
    numHeads: query.numHeads,
    numKvHeads: cache.numKvHeads,
    headDim: cache.headDim,
    queryStart: query.queryStart,
    queryLength: query.queryLength,
    kvLength,
    kvCapacity: cache.capacity,
    scale: query.scale,
  };
}

function checkRowsTouched(shape: AttentionShape, layout: BlockSparseLayout): void {
  const B = layout.blockSize;
  checkLayoutRows(layout, Math.floor(shape.queryStart / B), Math.floor((shape.kvLength - 1) / B));
}

function checkHostSizes(shape: AttentionShape, inputs: AttentionInputs, outputs: AttentionOutputs, checkKv = true): void {
  const { numHeads, numKvHeads, headDim: D, queryLength, kvCapacity } = shape;
  const need = (name: string, have: number, want: number): void => {
    if (have < want) throw new Error(`webgpu attention: ${name} has ${have} floats, expected ${want}`);
  };
  need("q", inputs.q.length, numHeads * queryLength * D);
  if (checkKv) {
    need("k", inputs.k.length, numKvHeads * kvCapacity * D);
    need("v", inputs.v.length, numKvHeads * kvCapacity * D);
  }
  need("out", outputs.out.length, numHeads * queryLength * D);
  if (outputs.lse) need("lse", outputs.lse.length, numHeads * queryLength);
}

function isGpuLayout(x: BlockSparseLayout | GpuLayout): x is GpuLayout {
  return "layout" in x && "dispose" in x;
}

function bytes4(n: number): number {
  return Math.max(16, n * 4);
}
