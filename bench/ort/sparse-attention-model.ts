/**
 * An ONNX model with a single `com.microsoft.SparseAttention` node, so ONNX Runtime can run the very layout
 * our kernels run (the peer in bench/bench-kernels-cpu.ts and test/unit/kernels-ort-peer.test.ts).
 * Written with onnx-proto (protobufjs over onnx.proto); IR version 8, which ORT 1.30 loads.
 */
import { onnx } from "onnx-proto";

export interface SparseAttentionModelConfig {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  /** Softmax scale; ORT's default is 1/sqrt(headDim). */
  scale?: number;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT32 = onnx.TensorProto.DataType.INT32;

function tensorInfo(name: string, elemType: number, dims: Array<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Serialized model. Sequence, cache and layout sizes are symbolic, so one session serves every call. */
export function buildSparseAttentionModel(c: SparseAttentionModelConfig): Uint8Array {
  const hidden = c.numHeads * c.headDim;
  const kvHidden = c.numKvHeads * c.headDim;
  const attributes: onnx.IAttributeProto[] = [
    { name: "num_heads", type: onnx.AttributeProto.AttributeType.INT, i: c.numHeads },
    { name: "kv_num_heads", type: onnx.AttributeProto.AttributeType.INT, i: c.numKvHeads },
    { name: "sparse_block_size", type: onnx.AttributeProto.AttributeType.INT, i: c.blockSize },
  ];
  if (c.scale !== undefined) attributes.push({ name: "scale", type: onnx.AttributeProto.AttributeType.FLOAT, f: c.scale });
  const inputs = ["query", "key", "value", "past_key", "past_value", "block_row_indices", "block_col_indices", "total_sequence_length", "key_total_sequence_lengths"];
  const outputs = ["output", "present_key", "present_value"];
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: "longview-bench",
    opsetImport: [
      { domain: "", version: 17 },
      { domain: "com.microsoft", version: 1 },
    ],
    graph: {
      name: "sparse_attention",
      node: [{ opType: "SparseAttention", domain: "com.microsoft", name: "sparse_attention", input: inputs, output: outputs, attribute: attributes }],
      input: [
        tensorInfo("query", FLOAT, [1, "S", hidden]),
        tensorInfo("key", FLOAT, [1, "S", kvHidden]),
        tensorInfo("value", FLOAT, [1, "S", kvHidden]),
        tensorInfo("past_key", FLOAT, [1, c.numKvHeads, "C", c.headDim]),
        tensorInfo("past_value", FLOAT, [1, c.numKvHeads, "C", c.headDim]),
        tensorInfo("block_row_indices", INT32, ["L", "R"]),
        tensorInfo("block_col_indices", INT32, ["L", "N"]),
        tensorInfo("total_sequence_length", INT32, [1]),
        tensorInfo("key_total_sequence_lengths", INT32, [1]),
      ],
      output: [
        tensorInfo("output", FLOAT, [1, "S", hidden]),
        tensorInfo("present_key", FLOAT, [1, c.numKvHeads, "C", c.headDim]),
        tensorInfo("present_value", FLOAT, [1, c.numKvHeads, "C", c.headDim]),
      ],
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
