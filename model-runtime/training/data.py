"""Training samples for the default model: read, pack for the device, lay out attention masks.

The samples come from `npm run data:build` (shards, docs/training-data.md §3). Two steps happen here:

* `pack`: the shards store each sample's tokens deflated on their own (0.77 byte/token); one LZMA stream over
  all samples' raw tokens is 4x smaller (0.19 byte/token: the same repositories appear in many samples), which
  is what lets the whole set travel to the GPU machine within its 64 MiB carry limit.
* `SampleSet`: the packed samples with the model's OWN head patterns (head_specs.json, the exact list that
  `modelHeadSpecs(DEFAULT_MODEL_CONFIG)` builds at run time) instead of the data set's: the anchor blocks are
  dealt round-robin into one tier per head (RepoLayout.blockFacts(numHeads)), then `build_csr` (the Python port
  of model-runtime/src/patterns, checked by `longview_shards.py verify`) gives each head's kept blocks.
"""
from __future__ import annotations

import json
import lzma
import os
import struct
import sys
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "training"))
import longview_shards as shards  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHOR_TIER = 2  # RepoLayout's ANCHOR_TIER: map blocks get tiers ANCHOR_TIER + group
PACK_MAGIC = b"LVPK1\n"


def load_head_specs(path: str = os.path.join(HERE, "head_specs.json")) -> list:
    return json.load(open(path))


# ------------------------------------------------------------------------------------------------------ pack


def pack(data_dir: str, out_file: str) -> None:
    """All samples of `data_dir` (manifest.json + shards) → one .lvpack.xz file."""
    manifest = json.load(open(os.path.join(data_dir, "manifest.json")))
    with lzma.open(out_file, "wb", preset=6) as f:
        f.write(PACK_MAGIC)
        head = json.dumps({"tokenizer": manifest["tokenizer"], "blockSize": manifest["blockSize"], "lossClasses": manifest["lossClasses"]}).encode()
        f.write(struct.pack("<I", len(head)) + head)
        n = 0
        for _, _, s in shards.iter_samples(data_dir):
            meta = json.dumps({
                "spans": s.spans, "numBlocks": s.num_blocks, "blockSize": s.block_size, "anchorBlocks": s.anchor_blocks,
                "segmentStarts": s.segment_starts, "sinkBlocks": s.sink_blocks, "questionStart": s.question_start,
                "repo": s.repo_index,
            }).encode()
            f.write(struct.pack("<II", len(meta), len(s.tokens)) + meta + s.tokens.tobytes())
            n += 1
    print(f"packed {n} samples into {out_file} ({os.path.getsize(out_file) / 2**20:.1f} MiB)")


@dataclass
class PackedSample:
    tokens: np.ndarray  # uint16 [T]
    spans: list
    num_blocks: int
    block_size: int
    anchor_blocks: list
    segment_starts: list
    sink_blocks: int
    question_start: int
    repo: int

    def loss_classes(self) -> np.ndarray:
        out = np.zeros(len(self.tokens), np.uint8)
        for start, end, cls in self.spans:
            out[start:end] = cls
        return out

    def as_shard_sample(self, anchor_groups: int) -> shards.Sample:
        """The shards module's Sample (what build_csr reads), anchors dealt into `anchor_groups` tiers."""
        tiers = [ANCHOR_TIER + (i % anchor_groups) for i in range(len(self.anchor_blocks))]
        return shards.Sample(None, self.spans, self.num_blocks, self.block_size, self.anchor_blocks, tiers, self.segment_starts, self.sink_blocks, self.question_start, self.repo, 0)


def read_pack(path: str) -> tuple[dict, list[PackedSample]]:
    with lzma.open(path, "rb") as f:
        buf = f.read()
    if not buf.startswith(PACK_MAGIC):
        raise ValueError(f"{path}: not a Longview pack")
    o = len(PACK_MAGIC)
    (hl,) = struct.unpack_from("<I", buf, o)
    header = json.loads(buf[o + 4 : o + 4 + hl])
    o += 4 + hl
    out = []
    while o < len(buf):
        ml, t = struct.unpack_from("<II", buf, o)
        o += 8
        m = json.loads(buf[o : o + ml])
        o += ml
        toks = np.frombuffer(buf, "<u2", t, o).copy()
        o += 2 * t
        out.append(PackedSample(toks, [tuple(s) for s in m["spans"]], m["numBlocks"], m["blockSize"], m["anchorBlocks"], m["segmentStarts"], m["sinkBlocks"], m["questionStart"], m["repo"]))
    return header, out


# ------------------------------------------------------------------------------------------- attention masks


def head_rows(sample: PackedSample, head_specs: list, num_heads: int) -> list[list[list[int]]]:
    """Kept column blocks of every row, per query head (head h uses layout h % num_layouts), ascending: the
    runtime's CSR (build_csr, the Python port of the pattern library) as lists."""
    csr = shards.build_csr(sample.as_shard_sample(num_heads), head_specs)
    rows = []
    for h in range(num_heads):
        layout = h % csr["num_layouts"]
        ptr, cols = csr["row_ptr"][layout], csr["col_idx"][layout]
        rows.append([cols[ptr[r] : ptr[r + 1]] for r in range(sample.num_blocks)])
    return rows


def kv_blocks(rows: list[list[list[int]]], padded_blocks: int) -> tuple[np.ndarray, ...]:
    """FlexAttention block lists from head_rows, padded to `padded_blocks` rows.

    Query token i sees key j iff block(j) is kept in row block(i) and j <= i (kernels/api.ts): the diagonal block
    is the only partial one (causal mask_mod), every other kept block is full. Padding rows see only themselves.
    Returns (partial_num [H,R], partial_idx [H,R,R], full_num [H,R], full_idx [H,R,R]) as int32.
    """
    H, R = len(rows), padded_blocks
    pn = np.ones((H, R), np.int32)
    pi = np.zeros((H, R, R), np.int32)
    pi[:, :, 0] = np.arange(R)
    fn = np.zeros((H, R), np.int32)
    fi = np.zeros((H, R, R), np.int32)
    for h, head in enumerate(rows):
        for r, row in enumerate(head):
            assert row[-1] == r, "the diagonal block is the last kept column"
            full = row[:-1]
            fn[h, r] = len(full)
            fi[h, r, : len(full)] = full
    return pn, pi, fn, fi


def bucket_of(num_tokens: int, buckets: list[int]) -> int:
    for b in buckets:
        if num_tokens <= b:
            return b
    raise ValueError(f"sample of {num_tokens} tokens is longer than the largest bucket {buckets[-1]}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "pack":
        pack(sys.argv[2], sys.argv[3])
    else:
        print("usage: python3 model-runtime/training/data.py pack DATA_DIR OUT.lvpack.xz")
        sys.exit(2)
