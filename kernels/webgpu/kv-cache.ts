/// <reference types="@webgpu/types" />
/**
 * A device-resident K/V cache for one attention layer: K and V as [numKvHeads][capacity][headDim] float32, the
 * layout of kernels/api.ts with kvCapacity = capacity. New tokens are written in place after `length`; when the
 * capacity runs out the buffers are reallocated (doubling) and the old rows copied on the GPU, never through
 * the host.
 */
import { BufferUsage } from "./dawn";
import { WebGpuUnsupportedError } from "./plan";

export class GpuKvCache {
  private kBuf: GPUBuffer;
  private vBuf: GPUBuffer;
  private cap: number;
  private len = 0;
  private disposed = false;

  constructor(
    private readonly device: GPUDevice,
    readonly numKvHeads: number,
    readonly headDim: number,
    initialCapacity: number,
  ) {
    if (!(numKvHeads > 0 && headDim > 0 && initialCapacity > 0)) throw new Error("GpuKvCache: sizes must be positive");
    this.cap = initialCapacity;
    this.kBuf = this.allocate(initialCapacity);
    this.vBuf = this.allocate(initialCapacity);
  }

  get length(): number {
    return this.len;
  }
  get capacity(): number {
    return this.cap;
  }
  /** Current buffers; they change when the cache grows, so read them at each use. */
  get k(): GPUBuffer {
    return this.live().kBuf;
  }
  get v(): GPUBuffer {
    return this.live().vBuf;
  }

  /** Appends `count` tokens; k and v are [numKvHeads][count][headDim]. */
  append(k: Float32Array, v: Float32Array, count: number): void {
    this.live();
    const D = this.headDim;
    const n = this.numKvHeads * count * D;
    if (k.length < n || v.length < n) throw new Error(`GpuKvCache.append: expected ${n} floats for ${count} tokens, got k ${k.length}, v ${v.length}`);
    this.reserve(this.len + count);
    for (let h = 0; h < this.numKvHeads; h++) {
      const dst = ((h * this.cap + this.len) * D) * 4;
      this.device.queue.writeBuffer(this.kBuf, dst, k, h * count * D, count * D);
      this.device.queue.writeBuffer(this.vBuf, dst, v, h * count * D, count * D);
    }
    this.len += count;
  }

  /** Forgets tokens from `length` on (e.g. a rejected draft or a shared prefix being reused). */
  truncate(length: number): void {
    if (!(length >= 0 && length <= this.len)) throw new Error(`GpuKvCache.truncate: ${length} outside [0, ${this.len}]`);
    this.len = length;
  }

  /** Grows the capacity to at least `minCapacity` tokens (doubling), keeping the cached rows. */
  reserve(minCapacity: number): void {
    this.live();
    if (minCapacity <= this.cap) return;
    let cap = this.cap;
    while (cap < minCapacity) cap *= 2;
    // Doubling may overshoot the binding limit where the requested size would still fit.
    const maxCap = Math.floor(this.device.limits.maxStorageBufferBindingSize / (this.numKvHeads * this.headDim * 4));
    if (cap > maxCap && maxCap >= minCapacity) cap = maxCap;
    const k = this.allocate(cap);
    const v = this.allocate(cap);
    if (this.len > 0) {
      const encoder = this.device.createCommandEncoder();
      const rowBytes = this.headDim * 4;
      for (let h = 0; h < this.numKvHeads; h++) {
        encoder.copyBufferToBuffer(this.kBuf, h * this.cap * rowBytes, k, h * cap * rowBytes, this.len * rowBytes);
        encoder.copyBufferToBuffer(this.vBuf, h * this.cap * rowBytes, v, h * cap * rowBytes, this.len * rowBytes);
      }
      this.device.queue.submit([encoder.finish()]);
    }
    // destroy() waits for the submitted copies (WebGPU defers it until the queue no longer uses the buffer).
    this.kBuf.destroy();
    this.vBuf.destroy();
    this.kBuf = k;
    this.vBuf = v;
    this.cap = cap;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.kBuf.destroy();
    this.vBuf.destroy();
  }

  private live(): this {
    if (this.disposed) throw new Error("GpuKvCache used after dispose()");
    return this;
  }

  private allocate(capacity: number): GPUBuffer {
    const size = this.numKvHeads * capacity * this.headDim * 4;
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (size > max) {
      throw new WebGpuUnsupportedError(`GpuKvCache: ${size} bytes per K or V buffer exceed this adapter's storage binding limit of ${max}`);
    }
    return this.device.createBuffer({ size, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC });
  }
}
