"""Block-sparse CSR layouts (the contract of kernels/api.ts), mirroring kernels/testing/layouts.ts, plus the
conversions the checks and the benchmark need (dense block matrix, FlexAttention BlockMask, FLOP/byte counts)."""
import random

import torch


def build(block, rows, num_layouts, row_cols, pad_nnz=0):
    per = []
    max_nnz = 0
    for l in range(num_layouts):
        lr = []
        for r in range(rows):
            s = {r}
            for c in row_cols(l, r):
                if 0 <= c <= r:
                    s.add(c)
            lr.append(sorted(s))
        per.append(lr)
        max_nnz = max(max_nnz, sum(len(x) for x in lr))
    max_nnz += pad_nnz
    row_ptr = torch.zeros(num_layouts, rows + 1, dtype=torch.int32)
    col_idx = torch.full((num_layouts, max(max_nnz, 1)), -1, dtype=torch.int32)
    for l in range(num_layouts):
        p = 0
        for r in range(rows):
            row_ptr[l, r] = p
            cols = per[l][r]
            col_idx[l, p:p + len(cols)] = torch.tensor(cols, dtype=torch.int32)
            p += len(cols)
        row_ptr[l, rows] = p
    return {"blockSize": block, "numLayouts": num_layouts, "numBlockRows": rows, "maxNnz": max(max_nnz, 1),
            "rowPtr": row_ptr, "colIdx": col_idx}


def build_fast(block, rows, row_cols_vec):
    """One layout from a vectorised rule: row_cols_vec(r) -> LongTensor of columns (may be unsorted/out of range)."""
    ptr = [0]
    chunks = []
    for r in range(rows):
        c = row_cols_vec(r)
        c = c[(c >= 0) & (c <= r)]
        c = torch.unique(torch.cat([c, torch.tensor([r])]))
        chunks.append(c)
        ptr.append(ptr[-1] + len(c))
    col = torch.cat(chunks).to(torch.int32)
    return {"blockSize": block, "numLayouts": 1, "numBlockRows": rows, "maxNnz": len(col),
            "rowPtr": torch.tensor(ptr, dtype=torch.int32)[None], "colIdx": col[None]}


def random_pattern(rng, kind, block, rows, num_layouts):
    pad = rng.randint(0, 3)
    if kind == "local":
        w = [rng.randint(1, max(1, (rows + 1) // 2)) for _ in range(num_layouts)]
        return build(block, rows, num_layouts, lambda l, r: range(r - w[l] + 1, r + 1), pad)
    if kind == "strided":
        local, stride = rng.randint(1, 3), rng.randint(2, 4)
        return build(block, rows, num_layouts, lambda l, r: list(range(r - local + 1, r + 1)) + [c for c in range(r + 1) if (c + 1 + l) % stride == 0], pad)
    if kind == "dilated":
        count, dil = rng.randint(2, 4), rng.randint(2, 3)
        return build(block, rows, num_layouts, lambda l, r: [r - k * (dil + l % 2) for k in range(count)], pad)
    if kind == "global":
        local = rng.randint(1, 2)
        anchors = [{0} | {rng.randint(0, rows - 1) for _ in range(rng.randint(0, 2))} for _ in range(num_layouts)]
        return build(block, rows, num_layouts, lambda l, r: list(range(r - local + 1, r + 1)) + list(anchors[l]), pad)
    if kind == "random":
        d = rng.choice([0.1, 0.3, 0.6])
        return build(block, rows, num_layouts, lambda l, r: [c for c in range(r) if rng.random() < d], pad)
    if kind == "dense":
        return build(block, rows, num_layouts, lambda l, r: range(r + 1), pad)
    raise ValueError(kind)


def to_device(layout, device="cuda"):
    out = dict(layout)
    out["rowPtr"] = layout["rowPtr"].contiguous().to(device)
    out["colIdx"] = layout["colIdx"].contiguous().to(device)
    return out


def dense_blocks(layout, l, device="cuda"):
    """[rows][rows] bool block matrix of layout l."""
    rows = layout["numBlockRows"]
    rp = layout["rowPtr"][l].long().cpu()
    ci = layout["colIdx"][l].long().cpu()
    counts = rp[1:] - rp[:-1]
    r_idx = torch.repeat_interleave(torch.arange(rows), counts)
    m = torch.zeros(rows, rows, dtype=torch.bool)
    m[r_idx, ci[: int(rp[-1])]] = True
    return m.to(device)


def kept_stats(layout, l, q_start, q_end, head_dim):
    """(kept blocks, causal-exact FLOPs of one head over query rows [q_start, q_end), density vs causal triangle)."""
    B = layout["blockSize"]
    rp = layout["rowPtr"][l].long().cpu()
    ci = layout["colIdx"][l].long().cpu()
    r0, r1 = q_start // B, (q_end - 1) // B
    kept = 0
    pairs = 0  # (query, key) pairs actually attended
    for r in range(r0, r1 + 1):
        cols = ci[rp[r]:rp[r + 1]]
        lo, hi = max(q_start, r * B), min(q_end, (r + 1) * B)
        nq = hi - lo
        off = int((cols < r).sum())
        kept += len(cols)
        pairs += off * B * nq
        if (cols == r).any():
            # causal inside the diagonal block: row at position p sees p - r*B + 1 keys
            pairs += sum(p - r * B + 1 for p in range(lo, hi))
    tri = (r1 + 1) * (r1 + 2) // 2 - r0 * (r0 + 1) // 2
    return kept, 4.0 * pairs * head_dim, kept / tri
