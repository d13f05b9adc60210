/**
 * The inference engine: a Llama-family decoder whose attention runs through our block-sparse kernels
 * (openAttentionBackend: CPU now; WebGPU/CUDA behind the same interface) and whose dense parts run through
 * DenseModel (native SIMD ops, or TypeScript).
 *
 * - prefill(cache, ids, layout): positions [start, start + ids.length) in chunks (2,048 tokens by default),
 *   K/V written into the cache in place; the event loop gets a turn between chunks; an AbortSignal is checked
 *   between chunks and between layers.
 * - step / generate: one token at a time at the end of the cache, sampled greedily or with temperature/top-k/top-p,
 *   streamed through an async iterator.
 * - attention mass: for chosen query rows, the softmax probability each key block received (see AttentionMass).
 *
 * - K/V on the GPU: when the attention backend offers device-resident K/V (SparseAttentionBackend.resident: CUDA),
 *   each layer's new rows are mirrored to a device copy right after the dense ops write them to the host cache, and
 *   attention reads the device copy (resident-kv.ts); the host cache stays the source of truth. A failure there
 *   drops the device copies for good and re-runs the call from the host cache (with a notice). Other backends run
 *   exactly as before, on the host arrays.
 *
 * The layout must cover every position the call touches (numBlockRows ≥ ⌈end / blockSize⌉), and its block size
 * must be the model's.
 */
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout, ResidentKvSupport, SparseAttentionBackend } from "../../../kernels/api";
import type { ModelConfig } from "../model/config";
import { type ModelWeights, quantizeWeights } from "../model/weights";
import { type BackendKind, type BackendPreference, type DispatchOptions, openAttentionBackend } from "./attention-backend";
import { type DenseModel, type DenseOptions, type DensePreference, SYNC_ROWS, createDenseModel } from "./dense";
import { KvCache } from "./kv-cache";
import { type ResidentKvStats, ResidentKvPool } from "./resident-kv";
import { type SampledToken, Sampler, type SamplingOptions } from "./sampling";

export class EngineCancelledError extends Error {
  readonly code = "LONGVIEW_CANCELLED";
  constructor(message = "cancelled") {
    super(message);
    this.name = "EngineCancelledError";
  }
}

export interface EngineOptions {
  /** Attention backend (default "auto": CUDA, WebGPU hardware adapter, native CPU, TypeScript). */
  backend?: BackendPreference;
  /** false in restricted workspaces: TypeScript attention and dense ops only. */
  allowNative?: boolean;
  dense?: DensePreference;
  threads?: number;
  /** Native GEMM kernels (tests). */
  denseIsa?: DenseOptions["isa"];
  /**
   * Quantize float matrices to int8 (per output row) at load: a float16/bfloat16 checkpoint someone brings then
   * takes a quarter of the memory and runs on the int8 kernels. Default false (weights run as stored).
   */
  quantize?: boolean;
  /** Prefill chunk in tokens (default 2,048, 256 on the TypeScript paths; rounded up to whole blocks). */
  chunkTokens?: number;
  log?: (message: string) => void;
  /** A ready attention backend (skips dispatch; benchmarks and tests). */
  attentionBackend?: SparseAttentionBackend;
}

/**
 * Per key block, the attention probability the counted rows put on it, summed over layers, heads and rows.
 * `normalized()` divides by that count: the average attention distribution over blocks (it sums to 1), i.e. what
 * share of the model's reading went to each block while it produced the answer.
 */
export class AttentionMass {
  readonly blocks: Float64Array;
  /** layers × heads × rows added so far. */
  count = 0;
  constructor(numBlocks: number) {
    this.blocks = new Float64Array(numBlocks);
  }
  normalized(): Float64Array {
    return this.count ? this.blocks.map((v) => v / this.count) : this.blocks.slice();
  }
}

export interface PrefillOptions {
  /** First position (default: the cache's length, i.e. append). */
  start?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Rows (offsets into ids) whose logits to return; default: the last. */
  logitsRows?: number[];
  /** Accumulate attention mass of rows at positions ≥ massFrom (default: all rows of this call). */
  mass?: AttentionMass;
  massFrom?: number;
  chunkTokens?: number;
  /**
   * Per-layer layout for this call's rows (query-adaptive selection: engine/question-selection.ts), given the
   * layer's rotated queries [numHeads][rows][headDim]; default: `layout` for every layer.
   */
  layerLayout?: LayerLayout;
}

export type LayerLayout = (layer: number, q: Float32Array, queryLength: number) => BlockSparseLayout;

export interface GenerateOptions {
  /** Logits of the last prefilled position (what prefill returned). */
  firstLogits: Float32Array;
  maxNewTokens: number;
  sampling?: SamplingOptions;
  /** Generation stops after emitting one of these (e.g. <|endanswer|>, <|eos|>). */
  stopTokens?: number[];
  signal?: AbortSignal;
  mass?: AttentionMass;
  layerLayout?: LayerLayout;
  /**
   * Picks each token instead of the sampler (constrained decoding: grounded citations). It may mask `logits` in
   * place and call `sample`, or return a forced token. Default: `sample(logits)`.
   */
  choose?: (logits: Float32Array, sample: (logits: Float32Array) => SampledToken) => SampledToken;
}

export interface GeneratedToken {
  id: number;
  logprob: number;
  /** 0-based index in the answer. */
  index: number;
  /** Position of this token in the sequence (once fed back). */
  position: number;
  /** True for a stop token or the last allowed token. */
  last: boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function checkSignal(signal?: AbortSignal): void {
  if (signal?.aborted) throw new EngineCancelledError(typeof signal.reason === "string" ? signal.reason : "cancelled");
}

type AsyncCapable = SparseAttentionBackend & { attentionAsync?: (s: AttentionShape, l: BlockSparseLayout, i: AttentionInputs, o: AttentionOutputs) => Promise<void> };

export class Engine {
  readonly config: ModelConfig;
  readonly attention: SparseAttentionBackend;
  readonly attentionKind: BackendKind | "given";
  readonly dense: DenseModel;
  /** Why a preferred backend or dense implementation was not used. */
  readonly notices: string[];
  readonly chunkTokens: number;
  private scratchRows = 0;
  private x = new Float32Array(0);
  private q = new Float32Array(0);
  private attn = new Float32Array(0);
  private lse = new Float32Array(0);
  /** Device copies of the KV caches, when the backend keeps K/V resident. */
  private readonly resident: ResidentKvPool;
  /** Set when a device copy failed: attention runs from the host cache from then on. */
  private residentFailed = false;

  private constructor(
    config: ModelConfig,
    attention: SparseAttentionBackend,
    kind: BackendKind | "given",
    dense: DenseModel,
    notices: string[],
    chunkTokens: number,
    private readonly log?: (message: string) => void,
  ) {
    this.config = config;
    this.attention = attention;
    this.attentionKind = kind;
    this.dense = dense;
    this.notices = notices;
    const B = config.blockSize;
    this.chunkTokens = Math.max(B, Math.ceil(chunkTokens / B) * B);
    this.resident = new ResidentKvPool(config.numLayers);
  }

  static async create(model: { config: ModelConfig; weights: ModelWeights }, options: EngineOptions = {}): Promise<Engine> {
    const notices: string[] = [];
    let attention = options.attentionBackend;
    let kind: BackendKind | "given" = "given";
    if (!attention) {
      const dispatch: DispatchOptions = { allowNative: options.allowNative, log: options.log };
      const r = await openAttentionBackend(options.backend ?? "auto", dispatch);
      attention = r.backend;
      kind = r.kind;
      notices.push(...r.notices);
    }
    const weights = options.quantize ? quantizeWeights(model.weights) : model.weights;
    const dense = createDenseModel(model.config, weights, {
      prefer: options.allowNative === false ? "typescript" : (options.dense ?? "auto"),
      threads: options.threads,
      isa: options.denseIsa,
    });
    notices.push(...dense.notices);
    for (const n of notices) options.log?.(n);
    // The TypeScript ops run on the event loop: smaller chunks give it a turn more often.
    const chunk = options.chunkTokens ?? (dense.dense.name === "typescript" || kind === "js" ? 256 : 2048);
    return new Engine(model.config, attention, kind, dense.dense, notices, chunk, options.log);
  }

  /** A KV cache for up to `capacity` positions (it grows if needed). */
  newCache(capacity: number): KvCache {
    return new KvCache(this.config, capacity);
  }

  dispose(): void {
    this.resident.releaseAll();
    this.dense.dispose();
  }

  /**
   * Where attention reads K/V from now: "resident" = device copies updated with each call's new rows (the backend
   * offers resident K/V), "host" = the host cache on every call (CPU backends, or a GPU backend without it / after
   * a failure: then a GPU backend copies what it needs on each call).
   */
  get kvPath(): "resident" | "host" {
    return this.residentSupport() ? "resident" : "host";
  }

  /** Uploads to the device copies so far (rows summed over layers). */
  get residentStats(): Readonly<ResidentKvStats> {
    return this.resident.stats;
  }

  /**
   * Brings the device copy of `cache` up to its `length` rows now (a cache loaded from disk or filled with values),
   * so the next question does not pay for the upload. Returns the rows uploaded per layer; 0 on the host path. A
   * device failure here switches to the host path (with a notice) and returns 0.
   */
  syncResident(cache: KvCache): number {
    const support = this.residentSupport();
    if (!support) return 0;
    const before = this.resident.stats.catchUpRows;
    const mirror = this.resident.mirrorFor(cache);
    try {
      for (let l = 0; l < this.config.numLayers; l++) mirror.sync(support, cache, l, cache.length, 0);
    } catch (e) {
      this.dropResident(e);
      return 0;
    }
    return (this.resident.stats.catchUpRows - before) / this.config.numLayers;
  }

  /** Frees the device copy of `cache` (made again if the cache is used later). */
  releaseResident(cache: KvCache): void {
    this.resident.release(cache);
  }

  private residentSupport(): ResidentKvSupport | undefined {
    if (this.residentFailed) return undefined;
    const support = this.attention.resident?.();
    // A backend that withdrew its support (its GPU failed elsewhere) no longer needs the device copies.
    if (!support && this.resident.holdsDeviceMemory) this.resident.releaseAll();
    return support;
  }

  private dropResident(e: unknown): void {
    this.residentFailed = true;
    this.resident.releaseAll();
    const note = `K/V on the GPU failed (${e instanceof Error ? e.message : String(e)}); attention runs from the host KV cache from now on`;
    this.notices.push(note);
    this.log?.(note);
  }

  private ensureScratch(rows: number): void {
    if (rows <= this.scratchRows) return;
    const c = this.config;
    this.scratchRows = rows;
    this.x = new Float32Array(rows * c.dModel);
    this.q = new Float32Array(rows * c.numHeads * c.headDim);
    this.attn = new Float32Array(rows * c.numHeads * c.headDim);
    this.lse = new Float32Array(rows * c.numHeads);
  }

  /** A backend with an async entry (the CPU addon) runs long calls off the event loop and short ones (decode) inline. */
  private runAttention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> | void {
    const b = this.attention as AsyncCapable;
    return typeof b.attentionAsync === "function" && shape.queryLength > SYNC_ROWS ? b.attentionAsync(shape, layout, inputs, outputs) : b.attention(shape, layout, inputs, outputs);
  }

  private checkLayout(layout: BlockSparseLayout, end: number): void {
    if (layout.blockSize !== this.config.blockSize) throw new RangeError(`layout block size ${layout.blockSize} differs from the model's ${this.config.blockSize}`);
    const need = Math.ceil(end / layout.blockSize);
    if (layout.numBlockRows < need) throw new RangeError(`layout covers ${layout.numBlockRows} block rows; positions up to ${end} need ${need}`);
  }

  /**
   * Runs positions [start, start + ids.length) through the model, writing their K/V into the cache (which must
   * hold every earlier position those rows attend to). Returns the logits of `logitsRows` (default: the last
   * row), concatenated [rows][vocab].
   */
  async prefill(cache: KvCache, ids: Int32Array, layout: BlockSparseLayout, opts: PrefillOptions = {}): Promise<Float32Array> {
    const c = this.config;
    const start = opts.start ?? cache.length;
    const total = ids.length;
    if (total === 0) throw new RangeError("prefill: no tokens");
    if (start < 0 || start > cache.length) throw new RangeError(`prefill: start ${start} leaves a gap after the cache's ${cache.length} positions`);
    const end = start + total;
    this.checkLayout(layout, end);
    cache.ensureCapacity(end);
    const chunk = Math.max(1, opts.chunkTokens ?? this.chunkTokens);
    const rows = opts.logitsRows ?? [total - 1];
    for (const r of rows) if (!Number.isInteger(r) || r < 0 || r >= total) throw new RangeError(`prefill: logits row ${r} outside [0, ${total})`);
    const logits = new Float32Array(rows.length * c.vocabSize);
    for (let s = start; s < end; s += chunk) {
      checkSignal(opts.signal);
      const e = Math.min(end, s + chunk);
      try {
        await this.forwardChunk(cache, ids.subarray(s - start, e - start), s, layout, opts);
      } catch (err) {
        // A chunk stopped between layers (cancelled) left rows past the cache's length written in some layers only:
        // the device copy forgets them, whatever happens to the host rows next.
        this.resident.existing(cache)?.invalidateFrom(cache.length);
        throw err;
      }
      cache.length = Math.max(cache.length, e);
      const wanted = rows.map((r, i) => [r + start - s, i]).filter(([r]) => r >= 0 && r < e - s);
      if (wanted.length) {
        const out = new Float32Array(wanted.length * c.vocabSize);
        await this.dense.logits(this.x, e - s, Int32Array.from(wanted.map(([r]) => r)), out);
        wanted.forEach(([, i], j) => logits.set(out.subarray(j * c.vocabSize, (j + 1) * c.vocabSize), i * c.vocabSize));
      }
      opts.onProgress?.(e - start, total);
      if (e < end) await yieldToEventLoop();
    }
    return logits;
  }

  /** One chunk, all layers; leaves the final hidden states in this.x. */
  private async forwardChunk(cache: KvCache, ids: Int32Array, pos0: number, chunkLayout: BlockSparseLayout, opts: PrefillOptions): Promise<void> {
    const c = this.config;
    const M = ids.length;
    this.ensureScratch(M);
    const x = this.x.subarray(0, M * c.dModel);
    const q = this.q.subarray(0, M * c.numHeads * c.headDim);
    const attn = this.attn.subarray(0, M * c.numHeads * c.headDim);
    const lse = this.lse.subarray(0, M * c.numHeads);
    const massFrom = Math.max(pos0, opts.massFrom ?? 0);
    const massRows = opts.mass ? pos0 + M - massFrom : 0;
    this.dense.embed(ids, x);
    const shape: AttentionShape = {
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      queryStart: pos0,
      queryLength: M,
      kvLength: pos0 + M,
      kvCapacity: cache.capacity,
      scale: 1 / Math.sqrt(c.headDim),
    };
    const resident = this.residentSupport();
    const mirror = resident && this.resident.mirrorFor(cache);
    for (let l = 0; l < c.numLayers; l++) {
      checkSignal(opts.signal);
      await this.dense.preAttention(l, x, M, pos0, q, cache.k[l], cache.v[l], cache.capacity);
      const layout = opts.layerLayout ? opts.layerLayout(l, q, M) : chunkLayout;
      if (opts.layerLayout) this.checkLayout(layout, pos0 + M);
      const outputs: AttentionOutputs = { out: attn, lse: massRows > 0 ? lse : undefined };
      let done = false;
      if (mirror && !this.residentFailed) {
        try {
          // Only this chunk's rows (and any rows the device copy lacks) travel; then attention reads the device copy.
          const device = mirror.sync(resident, cache, l, pos0, M);
          await resident.attention({ ...shape, kvCapacity: mirror.capacity }, layout, q, device, outputs);
          this.resident.stats.residentCalls++;
          done = true;
        } catch (e) {
          this.dropResident(e);
        }
      }
      // The host path; also the re-run of a call whose device copy failed (the host cache holds every row it needs).
      if (!done) await this.runAttention(shape, layout, { q, k: cache.k[l], v: cache.v[l] }, outputs);
      if (massRows > 0) this.addMass(opts.mass!, shape, layout, q, cache.k[l], lse, massFrom - pos0, massRows);
      await this.dense.postAttention(l, attn, x, M);
    }
  }

  private addMass(mass: AttentionMass, shape: AttentionShape, layout: BlockSparseLayout, q: Float32Array, k: Float32Array, lse: Float32Array, first: number, count: number): void {
    const c = this.config;
    const M = shape.queryLength;
    let qs = q;
    let ls = lse;
    if (first > 0 || count < M) {
      // Only rows [first, first + count) of each head count: gather them into [H][count][hd].
      const D = c.headDim;
      qs = new Float32Array(c.numHeads * count * D);
      ls = new Float32Array(c.numHeads * count);
      for (let h = 0; h < c.numHeads; h++) {
        qs.set(q.subarray((h * M + first) * D, (h * M + first + count) * D), h * count * D);
        ls.set(lse.subarray(h * M + first, h * M + first + count), h * count);
      }
    }
    if (mass.blocks.length < layout.numBlockRows) throw new RangeError(`attention mass has ${mass.blocks.length} blocks; the layout ${layout.numBlockRows}`);
    this.dense.blockMass({ ...shape, queryStart: shape.queryStart + first, queryLength: count }, layout, qs, k, ls, mass.blocks);
    mass.count += c.numHeads * count;
  }

  /** Feeds one token at the end of the cache; returns the next token's logits. */
  async step(cache: KvCache, token: number, layout: BlockSparseLayout, opts: { signal?: AbortSignal; mass?: AttentionMass; layerLayout?: LayerLayout } = {}): Promise<Float32Array> {
    return this.prefill(cache, Int32Array.of(token), layout, { signal: opts.signal, mass: opts.mass, layerLayout: opts.layerLayout });
  }

  /**
   * Samples up to maxNewTokens tokens, feeding each back (except the last) so the cache always holds the answer
   * so far. Stops after a stop token. Cancellation is checked before every step.
   */
  async *generate(cache: KvCache, layout: BlockSparseLayout, opts: GenerateOptions): AsyncGenerator<GeneratedToken, void, void> {
    const sampler = new Sampler(opts.sampling);
    const stops = new Set(opts.stopTokens ?? []);
    let logits = opts.firstLogits;
    const sample = (l: Float32Array) => sampler.sample(l);
    for (let i = 0; i < opts.maxNewTokens; i++) {
      checkSignal(opts.signal);
      const t = opts.choose ? opts.choose(logits, sample) : sample(logits);
      const last = stops.has(t.id) || i === opts.maxNewTokens - 1;
      yield { id: t.id, logprob: t.logprob, index: i, position: cache.length, last };
      if (last) return;
      logits = await this.step(cache, t.id, layout, { signal: opts.signal, mass: opts.mass, layerLayout: opts.layerLayout });
    }
  }
}
