/**
 * Keys and values kept on the GPU between attention calls, for a backend that offers it (kernels/api.ts
 * ResidentKvSupport; the CUDA backend does). Without it every call would copy the whole cache to the device (about
 * 1 GB per call at 1M tokens); with it a prefill chunk or a decode step uploads only the rows it just wrote.
 *
 * The host KvCache stays the source of truth (kv-store.ts saves and loads it, attention mass reads it): the engine
 * writes each layer's new rows to the host cache (the dense ops) and then mirrors exactly those rows here, so nothing
 * is ever read back from the device. Per layer, `valid` counts the leading rows known to equal the host's:
 * - rows the engine rewrites in the middle (a refresh of changed blocks) are uploaded like any new rows;
 * - rows changed any other way (a cache loaded from disk, values filled in, a truncation) lower `valid` through
 *   KvCache.rowsChanged, and the next call uploads the rows between `valid` and its first query row ("catch-up");
 * - when the host cache grows (a new allocation, ×1.5), the device copies are freed and made again at the new
 *   capacity, and the rows are caught up from the host: exact, and rare (the session sizes the cache up front).
 */
import type { ResidentKvCache, ResidentKvSupport } from "../../../kernels/api";
import type { KvCache, KvCacheMirror } from "./kv-cache";

/** What the device copies cost in uploads, for benchmarks and tests (rows summed over layers). */
export interface ResidentKvStats {
  /** Rows uploaded because the engine had just written them (chunks, decode steps, refreshed blocks). */
  writtenRows: number;
  /** Rows uploaded to bring a device copy up to the host (after a load, a fill, growth, or a released copy). */
  catchUpRows: number;
  /** write() calls made. */
  uploads: number;
  /** Attention calls served from a device copy. */
  residentCalls: number;
  /** Device copies made again at a larger capacity because the host cache grew. */
  regrown: number;
}

export function emptyResidentStats(): ResidentKvStats {
  return { writtenRows: 0, catchUpRows: 0, uploads: 0, residentCalls: 0, regrown: 0 };
}

/** The device copy of one host KvCache: one ResidentKvCache per layer, made on first use. */
export class ResidentKvMirror implements KvCacheMirror {
  private layers: Array<ResidentKvCache | undefined>;
  /** Per layer: device rows [0, valid[l]) equal the host's. */
  private readonly valid: Int32Array;
  /** Capacity of the device copies (the host cache's when they were made); 0 while none is allocated. */
  capacity = 0;

  constructor(
    private readonly numLayers: number,
    private readonly stats: ResidentKvStats,
  ) {
    this.layers = new Array(numLayers).fill(undefined);
    this.valid = new Int32Array(numLayers);
  }

  get allocated(): boolean {
    return this.layers.some((d) => d !== undefined);
  }

  invalidateFrom(row: number): void {
    for (let l = 0; l < this.numLayers; l++) this.valid[l] = Math.min(this.valid[l], Math.max(0, row));
  }

  /**
   * Makes device rows [0, pos0 + count) of layer `l` equal to the host cache's: uploads rows [pos0, pos0 + count)
   * (just written by the engine) and any rows below pos0 the device copy lacks. Throws on a device failure.
   */
  sync(support: ResidentKvSupport, cache: KvCache, l: number, pos0: number, count: number): ResidentKvCache {
    if (this.capacity !== cache.capacity) {
      if (this.allocated) this.stats.regrown++;
      this.release();
      this.capacity = cache.capacity;
    }
    let device = this.layers[l];
    if (!device) {
      device = support.createCache(cache.numKvHeads, this.capacity, cache.headDim);
      this.layers[l] = device;
      this.valid[l] = 0;
    }
    const from = this.valid[l];
    if (from < pos0) {
      this.upload(device, cache, l, from, pos0 - from);
      this.stats.catchUpRows += pos0 - from;
      this.valid[l] = pos0;
    }
    if (count > 0) {
      this.upload(device, cache, l, pos0, count);
      this.stats.writtenRows += count;
      this.valid[l] = Math.max(this.valid[l], pos0 + count);
    }
    return device;
  }

  private upload(device: ResidentKvCache, cache: KvCache, l: number, start: number, count: number): void {
    device.write(cache.k[l], cache.v[l], cache.capacity, start, count);
    this.stats.uploads++;
  }

  /** Frees the device copies (a later sync makes them again and catches up from the host). */
  release(): void {
    const held = this.layers;
    this.layers = new Array(this.numLayers).fill(undefined);
    this.valid.fill(0);
    this.capacity = 0;
    for (const d of held) {
      try {
        d?.dispose();
      } catch {
        // a failed device may not free cleanly; its memory goes with its context
      }
    }
  }
}

/**
 * The engine's device copies, one per host cache in use: at most `maxCaches` hold device memory at once (the least
 * recently used is released first), and a cache that is garbage-collected releases its copy.
 */
export class ResidentKvPool {
  readonly stats = emptyResidentStats();
  private readonly byCache = new WeakMap<KvCache, ResidentKvMirror>();
  /** Mirrors that may hold device memory, least recently used first. */
  private readonly recent: ResidentKvMirror[] = [];
  private readonly finalizer = new FinalizationRegistry<ResidentKvMirror>((m) => this.drop(m));

  constructor(
    private readonly numLayers: number,
    private readonly maxCaches = 2,
  ) {}

  /** The mirror of `cache` (attached to it on first use), marked most recently used; older ones past the limit are released. */
  mirrorFor(cache: KvCache): ResidentKvMirror {
    let m = this.byCache.get(cache);
    if (!m) {
      m = new ResidentKvMirror(this.numLayers, this.stats);
      this.byCache.set(cache, m);
      cache.attachMirror(m);
      this.finalizer.register(cache, m);
    }
    const i = this.recent.indexOf(m);
    if (i >= 0) this.recent.splice(i, 1);
    this.recent.push(m);
    while (this.recent.length > this.maxCaches) this.recent.shift()!.release();
    return m;
  }

  /** The mirror of `cache` if one exists (no device memory is allocated by asking). */
  existing(cache: KvCache): ResidentKvMirror | undefined {
    return this.byCache.get(cache);
  }

  /** Frees the device copy of `cache` (it is made again if the cache is used on the GPU later). */
  release(cache: KvCache): void {
    const m = this.byCache.get(cache);
    if (m) this.drop(m);
  }

  /** Frees every device copy. */
  releaseAll(): void {
    for (const m of this.recent.splice(0)) m.release();
  }

  get holdsDeviceMemory(): boolean {
    return this.recent.some((m) => m.allocated);
  }

  private drop(m: ResidentKvMirror): void {
    const i = this.recent.indexOf(m);
    if (i >= 0) this.recent.splice(i, 1);
    m.release();
  }
}
