"""Read Longview training shards (.lvds) and rebuild each sample's block-sparse attention layout in Python.

The byte layout is specified in docs/training-data.md; the shards are written by
model-runtime/src/training-data/shard-format.ts. The layout builder below is a port of the pattern semantics of
model-runtime/src/patterns (reference.ts spells them out): the TypeScript CSR is the ground truth, and
`python3 longview_shards.py verify DATA_DIR` checks this port against the reference layouts that `data:build`
writes (reference-csr.json). Standard library only, so it runs anywhere; the trainer wraps the arrays in tensors.

usage:
  python3 longview_shards.py verify DATA_DIR      # port vs reference CSR, shard checksums, per-sample sanity
  python3 longview_shards.py stats DATA_DIR       # samples, tokens, tokens per loss class
"""
from __future__ import annotations

import json
import os
import struct
import sys
import zlib
from array import array
from dataclasses import dataclass, field
from typing import Iterator

SHARD_MAGIC = b"LVDS"
SAMPLE_MAGIC = b"LVSM"
SHARD_VERSION = 1
TOKEN_RAW, TOKEN_ZLIB = 0, 1
LOSS_CLASSES = ["none", "code", "whereDefined", "whatCalls", "whoUses", "needle", "explain"]


def _pad(n: int, to: int) -> int:
    return (to - n % to) % to


@dataclass
class Sample:
    tokens: array  # 'H' (uint16), length = num_blocks * block_size
    spans: list  # [(start, end, loss_class)], sorted, disjoint; other tokens: class 0 (no loss)
    num_blocks: int
    block_size: int
    anchor_blocks: list
    anchor_tiers: list
    segment_starts: list  # ascending first blocks of the segments; segment_starts[0] == 0
    sink_blocks: int
    question_start: int
    repo_index: int
    task_bits: int

    def loss_classes(self) -> array:
        """Per-token loss class ('B'). Token t is a prediction TARGET: the logits at t-1 are scored against tokens[t]."""
        out = array("B", bytes(len(self.tokens)))
        for start, end, cls in self.spans:
            for t in range(start, end):
                out[t] = cls
        return out

    def segment_start(self) -> list:
        """Per block: the first block of its segment (BlockFacts.segmentStart)."""
        out, k = [], 0
        for b in range(self.num_blocks):
            while k + 1 < len(self.segment_starts) and self.segment_starts[k + 1] <= b:
                k += 1
            out.append(self.segment_starts[k])
        return out


def decode_sample(buf: bytes, at: int = 0) -> Sample:
    if buf[at : at + 4] != SAMPLE_MAGIC:
        raise ValueError("not a Longview sample record (bad magic)")
    (T, B, repo_index, question_start, task_bits, S, A, G, sinks, encoding, C, crc, num_blocks) = struct.unpack_from("<13I", buf, at + 4)
    o = at + 56
    spans = [struct.unpack_from("<3I", buf, o + 12 * i) for i in range(S)]
    o += 12 * S
    anchors = list(struct.unpack_from(f"<{A}I", buf, o))
    o += 4 * A
    tiers = list(buf[o : o + A])
    o += A + _pad(A, 4)
    segments = list(struct.unpack_from(f"<{G}I", buf, o))
    o += 4 * G
    stored = buf[o : o + C]
    raw = zlib.decompress(stored) if encoding == TOKEN_ZLIB else bytes(stored)
    if len(raw) != 2 * T:
        raise ValueError(f"sample tokens: expected {2 * T} bytes, got {len(raw)}")
    if zlib.crc32(raw) != crc:
        raise ValueError("sample tokens: CRC mismatch (corrupt shard)")
    tokens = array("H")
    tokens.frombytes(raw)
    if sys.byteorder != "little":
        tokens.byteswap()
    return Sample(tokens, [tuple(s) for s in spans], num_blocks, B, anchors, tiers, segments, sinks, question_start, repo_index, task_bits)


def read_shard(path: str) -> tuple[dict, list]:
    """(header JSON, [Sample]) of one shard; checks magic numbers, the offset table and every CRC."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != SHARD_MAGIC:
        raise ValueError(f"{path}: not a Longview shard")
    version, n, J = struct.unpack_from("<3I", buf, 4)
    if version != SHARD_VERSION:
        raise ValueError(f"{path}: shard version {version}, this reader knows {SHARD_VERSION}")
    header = json.loads(buf[16 : 16 + J].decode("utf-8"))
    table = 16 + J + _pad(16 + J, 8)
    offsets = struct.unpack_from(f"<{n + 1}Q", buf, table)
    if offsets[n] != len(buf):
        raise ValueError(f"{path}: truncated ({len(buf)} bytes, the index says {offsets[n]})")
    return header, [decode_sample(buf, offsets[i]) for i in range(n)]


def iter_samples(data_dir: str) -> Iterator[tuple[str, int, Sample]]:
    manifest = json.load(open(os.path.join(data_dir, "manifest.json")))
    for shard in manifest["shards"]:
        _, samples = read_shard(os.path.join(data_dir, shard["file"]))
        for i, s in enumerate(samples):
            yield shard["file"], i, s


# ----------------------------------------------------------------------------------------------- attention pattern
# Port of model-runtime/src/patterns: spec.ts (defaults), reference.ts (candidates, budget), sparse-patterns.ts
# (one layout per head of the smallest period of the head list; head h uses layout h % num_layouts).

INF = float("inf")


def normalize_spec(spec: dict, sink_blocks: int) -> dict:
    prims = []
    for p in spec["primitives"]:
        k = p["kind"]
        if k == "local":
            prims.append({"kind": k, "window": p["window"], "withinSegment": bool(p.get("withinSegment", False))})
        elif k == "strided":
            s = p["stride"]
            prims.append({"kind": k, "stride": s, "offset": p.get("offset", 0) % s, "maxCount": p.get("maxCount", INF) or INF})
        elif k == "dilated":
            prims.append({"kind": k, "base": p.get("base", 2), "first": p.get("first", 1), "maxHops": p.get("maxHops", INF) or INF})
        elif k == "anchors":
            prims.append({"kind": k, "minTier": p.get("minTier", 0), "maxTier": p.get("maxTier", 255), "maxCount": p.get("maxCount", INF) or INF})
        elif k == "sinks":
            prims.append({"kind": k, "count": p.get("count", sink_blocks)})
        elif k == "segmentHead":
            prims.append({"kind": k, "count": p["count"]})
        else:
            raise ValueError(f"unknown primitive {k}")
    budget = spec.get("budget", INF) or INF
    anchor_budget = spec.get("anchorRowBudget", budget) or budget
    return {"primitives": prims, "budget": budget, "anchorRowBudget": anchor_budget}


def _candidates(p: dict, row: int, seg: list, anchors: list) -> list:
    """A primitive's candidate columns for `row`, in its preference order (reference.ts primitiveCandidates)."""
    k = p["kind"]
    if k == "local":
        lo = max(0, row - p["window"] + 1)
        if p["withinSegment"]:
            lo = max(lo, seg[row])
        return list(range(row, lo - 1, -1))
    if k == "strided":
        s, off = p["stride"], p["offset"]
        c = row - ((row + 1 + off) % s)
        out = []
        while c >= 0 and len(out) < p["maxCount"]:
            out.append(c)
            c -= s
        return out
    if k == "dilated":
        out, d, hops = [], p["first"], 0
        while d <= row and hops < p["maxHops"]:
            out.append(row - d)
            d *= p["base"]
            hops += 1
        return out
    if k == "anchors":
        cands = [(t, c) for c, t in anchors if c <= row and p["minTier"] <= t <= p["maxTier"]]
        cands.sort(key=lambda x: (-x[0], -x[1]))
        cap = p["maxCount"]
        return [c for _, c in (cands if cap == INF else cands[: int(cap)])]
    if k == "sinks":
        return list(range(min(p["count"], row + 1)))
    if k == "segmentHead":
        s0 = seg[row]
        return list(range(s0, min(s0 + p["count"] - 1, row) + 1))
    raise ValueError(k)


def row_columns(spec: dict, row: int, seg: list, anchors: list, is_anchor: set) -> list:
    """Kept column blocks of `row`, ascending: the diagonal, then each primitive's candidates while the budget lasts."""
    budget = spec["anchorRowBudget"] if row in is_anchor else spec["budget"]
    kept = {row}
    for p in spec["primitives"]:
        for c in _candidates(p, row, seg, anchors):
            if len(kept) >= budget:
                break
            kept.add(c)
    return sorted(kept)


def _smallest_period(keys: list) -> int:
    for p in range(1, len(keys)):
        if all(keys[h] == keys[h % p] for h in range(p, len(keys))):
            return p
    return len(keys)


def build_csr(sample: Sample, head_specs: list) -> dict:
    """The sample's CSR block layout: {"num_layouts", "row_ptr": [[...]], "col_idx": [[...]]}, one list per layout."""
    specs = [normalize_spec(h, sample.sink_blocks) for h in head_specs]
    keys = [json.dumps(s, sort_keys=True, default=str) for s in specs]
    num_layouts = _smallest_period(keys)
    seg = sample.segment_start()
    anchors = list(zip(sample.anchor_blocks, sample.anchor_tiers))
    is_anchor = set(sample.anchor_blocks)
    row_ptr, col_idx = [], []
    for spec in specs[:num_layouts]:
        ptr, cols = [0], []
        for r in range(sample.num_blocks):
            cols.extend(row_columns(spec, r, seg, anchors, is_anchor))
            ptr.append(len(cols))
        row_ptr.append(ptr)
        col_idx.append(cols)
    return {"num_layouts": num_layouts, "row_ptr": row_ptr, "col_idx": col_idx}


def dense_block_mask(csr: dict, layout: int, num_blocks: int) -> list:
    """[num_blocks][num_blocks] 0/1 block mask of one layout (small samples / debugging). Inside a kept block the
    token mask is causal: query i sees key j iff block(j) is kept in row block(i) AND j <= i."""
    m = [[0] * num_blocks for _ in range(num_blocks)]
    ptr, cols = csr["row_ptr"][layout], csr["col_idx"][layout]
    for r in range(num_blocks):
        for c in cols[ptr[r] : ptr[r + 1]]:
            m[r][c] = 1
    return m


# ----------------------------------------------------------------------------------------------- command line


def _verify(data_dir: str) -> int:
    manifest = json.load(open(os.path.join(data_dir, "manifest.json")))
    ref = json.load(open(os.path.join(data_dir, "reference-csr.json")))
    vocab = manifest["tokenizer"]["vocabSize"]
    problems = 0
    shards = {}
    for shard in manifest["shards"]:
        _, samples = read_shard(os.path.join(data_dir, shard["file"]))
        shards[shard["file"]] = samples
        if len(samples) != shard["samples"] or sum(len(s.tokens) for s in samples) != shard["tokens"]:
            print(f"{shard['file']}: counts differ from the manifest")
            problems += 1
        for i, s in enumerate(samples):
            if len(s.tokens) != s.num_blocks * s.block_size or max(s.tokens) >= vocab:
                print(f"{shard['file']}[{i}]: bad length or token id")
                problems += 1
            last = 0
            for start, end, cls in s.spans:
                if start < last or end < start or end > len(s.tokens) or cls >= len(LOSS_CLASSES):
                    print(f"{shard['file']}[{i}]: bad span {(start, end, cls)}")
                    problems += 1
                last = end
    for r in ref["samples"]:
        sample = shards[r["shard"]][r["index"]]
        csr = build_csr(sample, ref["headSpecs"])
        same = csr["num_layouts"] == len(r["rowPtr"]) and csr["row_ptr"] == r["rowPtr"] and csr["col_idx"] == r["colIdx"]
        kept = sum(len(c) for c in csr["col_idx"])
        print(f"{r['shard']}[{r['index']}]: {sample.num_blocks} blocks, {csr['num_layouts']} layouts, {kept} kept blocks: {'identical' if same else 'DIFFERENT'} to the TypeScript CSR")
        problems += 0 if same else 1
    n = sum(len(v) for v in shards.values())
    print(f"{n} samples in {len(shards)} shards read; {len(ref['samples'])} reference layouts compared; {problems} problems")
    return 1 if problems else 0


def _stats(data_dir: str) -> int:
    counts = [0] * len(LOSS_CLASSES)
    n = tokens = 0
    for _, _, s in iter_samples(data_dir):
        n += 1
        tokens += len(s.tokens)
        covered = 0
        for start, end, cls in s.spans:
            counts[cls] += end - start
            covered += end - start
        counts[0] += len(s.tokens) - covered
    print(f"{n} samples, {tokens} tokens")
    for name, c in zip(LOSS_CLASSES, counts):
        print(f"  {name:13s} {c:12d}  {100 * c / max(1, tokens):5.1f}%")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("verify", "stats"):
        print(__doc__)
        sys.exit(2)
    sys.exit(_verify(sys.argv[2]) if sys.argv[1] == "verify" else _stats(sys.argv[2]))
