/**
 * ONNX Runtime's `com.microsoft.SparseAttention` (CPU EP) driven through our AttentionShape / layout types,
 * so the benchmark and the tests can run it on exactly our inputs.
 *
 * Quirks handled here (see shared/notes/device.md): the op needs past_key/past_value and
 * present_key/present_value to be the SAME buffers (the present tensors are passed back as pre-allocated
 * outputs); its tensors are token-major ([1, S, heads*dim]), ours head-major, so q, the new k/v rows and the
 * output are transposed outside the timed call; num_heads must be a multiple of the layout count.
 */
import type * as Ort from "onnxruntime-node";
import type { AttentionInputs, AttentionOutputs, AttentionShape, BlockSparseLayout } from "../../kernels/api";
import { buildSparseAttentionModel } from "./sparse-attention-model";

type OrtModule = typeof Ort;

export interface OrtPeerOptions {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  scale?: number;
  /** ORT intra-op threads (default: ORT's own choice). */
  threads?: number;
}

export class OrtSparseAttentionPeer {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    readonly options: OrtPeerOptions,
  ) {}

  static async create(options: OrtPeerOptions): Promise<OrtSparseAttentionPeer> {
    // require, not import(): the package is CommonJS and stays external to the esbuild bundles.
    const ort = require("onnxruntime-node") as OrtModule;
    const model = buildSparseAttentionModel(options);
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["cpu"],
      intraOpNumThreads: options.threads,
      graphOptimizationLevel: "all",
    });
    return new OrtSparseAttentionPeer(ort, session, options);
  }

  /**
   * ORT's own copy of a K/V cache (it writes each call's new rows into it at queryStart, so it must not be
   * ours). Calls that extend the same sequence (prefill chunks, decode steps) can share one.
   */
  cache(shape: AttentionShape, inputs: AttentionInputs): OrtKvCache {
    const { Tensor } = this.ort;
    const { numKvHeads: Hkv, headDim: D, kvCapacity } = shape;
    return {
      key: new Tensor("float32", inputs.k.slice(0, Hkv * kvCapacity * D), [1, Hkv, kvCapacity, D]),
      value: new Tensor("float32", inputs.v.slice(0, Hkv * kvCapacity * D), [1, Hkv, kvCapacity, D]),
    };
  }

  /** Feeds for one call (transposed to ORT's token-major layout); `cache` defaults to a fresh copy. */
  prepare(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, cache: OrtKvCache = this.cache(shape, inputs)): PreparedOrtCall {
    const { Tensor } = this.ort;
    const { numHeads: H, numKvHeads: Hkv, headDim: D, queryStart, queryLength: S, kvLength, kvCapacity } = shape;
    if (H !== this.options.numHeads || Hkv !== this.options.numKvHeads || D !== this.options.headDim || layout.blockSize !== this.options.blockSize)
      throw new Error("shape does not match the ORT session");
    if (H % layout.numLayouts !== 0) throw new Error(`ORT needs numHeads (${H}) to be a multiple of numLayouts (${layout.numLayouts})`);
    const query = new Float32Array(S * H * D);
    for (let h = 0; h < H; h++)
      for (let s = 0; s < S; s++) query.set(inputs.q.subarray((h * S + s) * D, (h * S + s + 1) * D), (s * H + h) * D);
    const key = new Float32Array(S * Hkv * D);
    const value = new Float32Array(S * Hkv * D);
    for (let h = 0; h < Hkv; h++)
      for (let s = 0; s < S; s++) {
        const src = (h * kvCapacity + queryStart + s) * D;
        key.set(inputs.k.subarray(src, src + D), (s * Hkv + h) * D);
        value.set(inputs.v.subarray(src, src + D), (s * Hkv + h) * D);
      }
    if (cache.key.dims[2] !== kvCapacity) throw new Error("cache capacity does not match the shape");
    const pastKey = cache.key;
    const pastValue = cache.value;
    const feeds = {
      query: new Tensor("float32", query, [1, S, H * D]),
      key: new Tensor("float32", key, [1, S, Hkv * D]),
      value: new Tensor("float32", value, [1, S, Hkv * D]),
      past_key: pastKey,
      past_value: pastValue,
      block_row_indices: new Tensor("int32", layout.rowPtr, [layout.numLayouts, layout.numBlockRows + 1]),
      block_col_indices: new Tensor("int32", layout.colIdx.subarray(0, layout.numLayouts * layout.maxNnz), [layout.numLayouts, layout.maxNnz]),
      total_sequence_length: new Tensor("int32", Int32Array.of(kvLength), [1]),
      key_total_sequence_lengths: new Tensor("int32", Int32Array.of(kvLength), [1]),
    };
    return { shape, feeds, fetches: { output: null, present_key: pastKey, present_value: pastValue } };
  }

  /** The timed part: one session.run. */
  async run(call: PreparedOrtCall): Promise<Float32Array> {
    const result = await this.session.run(call.feeds, call.fetches);
    return result.output.data as Float32Array;
  }

  /** Output back to our head-major layout. */
  static unpack(shape: AttentionShape, data: Float32Array, outputs: AttentionOutputs): void {
    const { numHeads: H, headDim: D, queryLength: S } = shape;
    for (let h = 0; h < H; h++)
      for (let s = 0; s < S; s++) outputs.out.set(data.subarray((s * H + h) * D, (s * H + h + 1) * D), (h * S + s) * D);
  }

  /** prepare + run + unpack (ORT has no logsumexp output; `lse` is left as it is). */
  async attention(shape: AttentionShape, layout: BlockSparseLayout, inputs: AttentionInputs, outputs: AttentionOutputs): Promise<void> {
    const data = await this.run(this.prepare(shape, layout, inputs));
    OrtSparseAttentionPeer.unpack(shape, data, outputs);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export interface OrtKvCache {
  key: Ort.Tensor;
  value: Ort.Tensor;
}

export interface PreparedOrtCall {
  shape: AttentionShape;
  feeds: Record<string, Ort.Tensor>;
  fetches: Record<string, Ort.Tensor | null>;
}
