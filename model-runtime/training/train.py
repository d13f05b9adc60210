"""Train Longview's default model on the packed samples, resumably, within a fixed time budget.

A device command runs at most 10 minutes, so training is a series of calls on one warm machine: each call
resumes from the checkpoint on the machine's disk (--ckpt), trains until its own deadline (--seconds), saves,
and exports the int8 model so that every call leaves usable weights behind. The learning-rate schedule runs on
TRAINING TIME (--total-seconds), not steps, so it ends where the planned budget ends however fast the steps are.

Attention is FlexAttention (compiled) with the runtime's exact block layout: each sample's CSR from the Python
port of the pattern library with the model's head specs (data.kv_blocks). Samples are padded to a length bucket
(--buckets, 8k … 128k tokens) so the compiled kernels see one shape per bucket; padding sits after the sample, so with causal
attention it changes nothing before it. Loss: next-token cross-entropy on tokens with a loss class ≠ 0; answer
classes (2–6) weigh --answer-weight times a code token (they are ~4% of the tokens and the point of the model).

  python3 model-runtime/training/train.py --pack .train-data/*.lvpack.xz --ckpt /root/lv-ckpt \
      --seconds 480 --total-seconds 1000 --export $OUT
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data as D  # noqa: E402
from export import export_int8, read_int8_state, write_reference  # noqa: E402
from model import Config, LongviewLM, allow_64_token_blocks_in_flex_backward, causal, dense_attend, dense_mask, flex_attend  # noqa: E402

LOSS_CLASSES = ["none", "code", "whereDefined", "whatCalls", "whoUses", "needle", "explain"]


def parse_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--pack", nargs="+", required=True)
    p.add_argument("--ckpt", required=True, help="checkpoint folder on the machine's disk")
    p.add_argument("--export", help="folder for the int8 model parts, logs and the reference logits")
    p.add_argument("--seconds", type=float, required=True, help="training seconds in THIS call")
    p.add_argument("--total-seconds", type=float, required=True, help="training seconds of the whole schedule")
    p.add_argument("--buckets", default="8192,16384,32768")
    p.add_argument("--batch-tokens", type=int, default=65536)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr-ratio", type=float, default=0.1)
    p.add_argument("--warmup-seconds", type=float, default=30)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--answer-weight", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=12)
    p.add_argument("--config", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "default-config.json"))
    p.add_argument("--init", nargs="+", help="start from exported int8 safetensors parts (fine-tuning: fresh optimizer)")
    p.add_argument("--tiny", action="store_true", help="tiny model + CPU-friendly settings (a local smoke test)")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--stretch-to", type=int, default=0, help="train some samples with RoPE positions stretched up to this many (0: off)")
    p.add_argument("--stretch-prob", type=float, default=0.5, help="share of samples whose positions are stretched")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------------ batches


def plan_batches(samples, buckets, batch_tokens, rng):
    """One epoch: samples shuffled within their length bucket, cut into batches of batch_tokens, batches shuffled.
    Each batch carries its own seed (for its stretched positions), so a resumed epoch rebuilds the same batches."""
    by = {b: [] for b in buckets}
    for i, s in enumerate(samples):
        by[D.bucket_of(len(s.tokens), buckets)].append(i)
    out = []
    for b, idx in by.items():
        rng.shuffle(idx)
        per = max(1, batch_tokens // b)
        out += [(b, idx[k : k + per], rng.randrange(2**31)) for k in range(0, len(idx) - per + 1, per)]
    rng.shuffle(out)
    return out


_WORKER = {}


def _init_worker(packs, head_specs, num_heads, block, stretch_to=0, stretch_prob=0.0):
    _WORKER["samples"] = [s for p in packs for s in D.read_pack(p)[1]]
    _WORKER.update(head_specs=head_specs, num_heads=num_heads, block=block, stretch_to=stretch_to, stretch_prob=stretch_prob)


def stretched_positions(L: int, repo_blocks: int, block: int, stretch_to: int, rng: random.Random) -> np.ndarray:
    """RoPE positions 0..L-1 with 1–3 forward jumps at block boundaries inside the repository region (PoSE, Zhu et
    al. 2023): the attention mask is unchanged, but the distances between a question and the anchors, strided links
    and sinks it attends to become those of a repository up to `stretch_to` tokens — lengths no sample has. The jump
    total is log-uniform, so every scale of distance is seen."""
    pos = np.arange(L, dtype=np.int64)
    room = stretch_to - L
    if room <= L or repo_blocks < 2:
        return pos
    total = int(math.exp(rng.uniform(math.log(L), math.log(room))))
    cuts = sorted(rng.sample(range(1, repo_blocks), min(rng.randint(1, 3), repo_blocks - 1)))
    shares = [rng.random() for _ in cuts]
    for cut, share in zip(cuts, shares):
        pos[cut * block :] += int(total * share / sum(shares))
    return pos


def make_batch(plan):
    """Host arrays of one batch: ids, loss classes of each position's TARGET, RoPE positions and the FlexAttention
    block lists."""
    L, idx, seed = plan
    W = _WORKER
    rng = random.Random(seed)
    B, R = len(idx), L // W["block"]
    ids = np.zeros((B, L), np.int64)
    cls = np.zeros((B, L), np.uint8)
    pos = np.tile(np.arange(L, dtype=np.int64), (B, 1))
    masks = []
    for j, i in enumerate(idx):
        s = W["samples"][i]
        T = len(s.tokens)
        ids[j, :T] = s.tokens
        cls[j, : T - 1] = s.loss_classes()[1:]  # position t predicts token t+1
        if W["stretch_to"] and rng.random() < W["stretch_prob"]:
            pos[j] = stretched_positions(L, s.question_start // W["block"], W["block"], W["stretch_to"], rng)
        masks.append(D.kv_blocks(D.head_rows(s, W["head_specs"], W["num_heads"]), R))
    pn, pi, fn, fi = (np.stack(m) for m in zip(*masks))
    # Only the first `num` entries of each index row count: cut the rows to the longest (a row keeps ~100–300 of
    # R blocks) so that a 128k-token batch crosses the process boundary in 10 MB, not 200; the GPU pads them back.
    return ids, cls, pos, (pn, pi[..., : max(1, int(pn.max()))], fn, fi[..., : max(1, int(fn.max()))])


# ------------------------------------------------------------------------------------------------ training


def lr_at(args, t):
    if t < args.warmup_seconds:
        return args.lr * max(t, 1.0) / args.warmup_seconds
    frac = min(1.0, (t - args.warmup_seconds) / max(1.0, args.total_seconds - args.warmup_seconds))
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def dense_attend_batch(full_num, full_idx, L, cfg):
    """Dense boolean-mask attention with the meaning of the block lists (CPU smoke tests only)."""
    B, H, R = full_num.shape
    rows = lambda b: [[[*full_idx[b, h, r, : full_num[b, h, r]], r] for r in range(R)] for h in range(H)]  # noqa: E731
    return dense_attend(torch.stack([dense_mask(rows(b), L, cfg.block_size, "cpu") for b in range(B)]), cfg.num_heads, cfg.num_kv_heads)


def main(argv=None):
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = Config.from_longview_json(args.config)
    if args.tiny:
        cfg = Config(d_model=64, num_layers=2, num_heads=6, num_kv_heads=2, head_dim=16, ffn_dim=128)
    head_specs = D.load_head_specs()
    buckets = [int(x) for x in args.buckets.split(",")]
    packs = sorted({p for pat in args.pack for p in glob.glob(pat)})
    t_load = time.time()
    samples = [s for p in packs for s in D.read_pack(p)[1]]
    samples = [s for s in samples if len(s.tokens) <= buckets[-1]]
    print(f"{len(samples)} samples, {sum(len(s.tokens) for s in samples) / 1e6:.1f} M tokens from {len(packs)} pack(s) in {time.time() - t_load:.1f} s", flush=True)

    from torch.nn.attention.flex_attention import BlockMask, flex_attention

    allow_64_token_blocks_in_flex_backward()
    flex = flex_attention if (args.no_compile or dev == "cpu") else torch.compile(flex_attention, dynamic=False)
    model = LongviewLM(cfg).to(dev)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=dev == "cuda")
    state = {"trained_seconds": 0.0, "step": 0, "epoch": 0, "batch": 0, "tokens": 0, "log": []}
    os.makedirs(args.ckpt, exist_ok=True)
    ck = os.path.join(args.ckpt, "ckpt.pt")
    if os.path.exists(ck):
        saved = torch.load(ck, map_location=dev, weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
        print(f"resumed at step {state['step']} after {state['trained_seconds']:.0f} s of training", flush=True)
    elif args.init:
        model.load_state_dict(read_int8_state(args.init))
        print(f"initialized from {len(args.init)} int8 part(s)", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f} M parameters, device {dev}", flush=True)

    def save():
        tmp = ck + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state, "config": cfg.__dict__}, tmp)
        os.replace(tmp, ck)

    if dev == "cuda" and state["step"] == 0:
        # Before spending the budget: the sparse FlexAttention path must agree with a dense float32 mask of the same
        # meaning on a real sample (a wrong BlockMask would train a model the engine cannot reproduce).
        probe = next((s for s in samples if 105 <= s.num_blocks <= 128), samples[0])
        check = write_reference(model, probe, head_specs, os.path.join(args.ckpt, "probe.json"), flex)
        print("mask check:", json.dumps(check), flush=True)
        if check["flex_bf16_vs_dense_f32_argmax_agree"] < 0.8 or check["flex_bf16_vs_dense_f32_max_abs"] > 0.25:
            raise SystemExit("FlexAttention disagrees with the dense reference mask: not training")

    class_w = torch.tensor([0.0, 1.0] + [args.answer_weight] * 5, device=dev)
    pool = ProcessPoolExecutor(args.workers, initializer=_init_worker, initargs=(packs, head_specs, cfg.num_heads, cfg.block_size, args.stretch_to, args.stretch_prob))
    deadline = time.time() + args.seconds
    sums = torch.zeros(len(LOSS_CLASSES), device=dev)
    counts = torch.zeros(len(LOSS_CLASSES), device=dev)
    t_log, tok_log = time.time(), 0
    try:
        while state["trained_seconds"] < args.total_seconds and time.time() < deadline:
            rng = random.Random(args.seed * 1000 + state["epoch"])
            plans = plan_batches(samples, buckets, args.batch_tokens, rng)
            futures = [pool.submit(make_batch, p) for p in plans[state["batch"] : state["batch"] + 2 * args.workers]]
            nxt = state["batch"] + len(futures)
            while futures and time.time() < deadline and state["trained_seconds"] < args.total_seconds:
                t0 = time.time()
                ids_np, cls_np, pos_np, (pn, pi, fn, fi) = futures.pop(0).result()
                if nxt < len(plans):
                    futures.append(pool.submit(make_batch, plans[nxt]))
                    nxt += 1
                ids = torch.from_numpy(ids_np).to(dev, non_blocking=True)
                cls = torch.from_numpy(cls_np).to(dev).long()
                positions = torch.from_numpy(pos_np).to(dev) if args.stretch_to else None
                R = ids.shape[1] // cfg.block_size
                pn, pi, fn, fi = (torch.from_numpy(a).to(dev) for a in (pn, pi, fn, fi))
                pi, fi = (F.pad(t, (0, R - t.shape[-1])) for t in (pi, fi))
                bm = BlockMask.from_kv_blocks(pn, pi, fn, fi, BLOCK_SIZE=cfg.block_size, mask_mod=causal)
                lr = lr_at(args, state["trained_seconds"])
                for g in opt.param_groups:
                    g["lr"] = lr
                # FlexAttention has no backward on the CPU: a local smoke test uses the same mask, dense.
                attend = flex_attend(bm, flex) if dev == "cuda" else dense_attend_batch(fn.cpu().numpy(), fi.cpu().numpy(), ids.shape[1], cfg)
                with torch.autocast(dev, dtype=torch.bfloat16, enabled=dev == "cuda"):
                    h = model.hidden(ids, attend, positions)
                sel = cls.view(-1) != 0
                hs = h.reshape(-1, h.shape[-1])[sel]
                tgt = ids.view(-1)[1:]  # target of position t is token t+1
                tgt = torch.cat([tgt, tgt.new_zeros(1)])[sel]
                c = cls.view(-1)[sel]
                loss_tok = []
                for k in range(0, hs.shape[0], 16384):
                    with torch.autocast(dev, dtype=torch.bfloat16, enabled=dev == "cuda"):
                        lg = model.logits(hs[k : k + 16384])
                    loss_tok.append(F.cross_entropy(lg.float(), tgt[k : k + 16384], reduction="none"))
                loss_tok = torch.cat(loss_tok)
                w = class_w[c]
                loss = (loss_tok * w).sum() / w.sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                with torch.no_grad():
                    sums.index_add_(0, c, loss_tok.detach())
                    counts.index_add_(0, c, torch.ones_like(loss_tok))
                if dev == "cuda":
                    torch.cuda.synchronize()
                state["trained_seconds"] += time.time() - t0
                state["step"] += 1
                state["batch"] += 1
                state["tokens"] += int(ids_np.size)
                tok_log += int(ids_np.size)
                if state["step"] % 25 == 0 or state["step"] <= 3:
                    per = (sums / counts.clamp(min=1)).tolist()
                    rec = {"step": state["step"], "seconds": round(state["trained_seconds"], 1), "tokens": state["tokens"], "lr": lr, "tok_per_s": round(tok_log / (time.time() - t_log)), **{LOSS_CLASSES[i]: round(per[i], 4) for i in range(1, len(per)) if counts[i] > 0}}
                    state["log"].append(rec)
                    print(json.dumps(rec), flush=True)
                    sums.zero_(), counts.zero_()
                    t_log, tok_log = time.time(), 0
            if state["batch"] >= len(plans):
                state["epoch"] += 1
                state["batch"] = 0
    finally:
        pool.shutdown(cancel_futures=True)
    save()
    print(f"saved step {state['step']}, {state['trained_seconds']:.0f} s, {state['tokens'] / 1e6:.0f} M tokens", flush=True)
    if args.export:
        os.makedirs(args.export, exist_ok=True)
        json.dump(state["log"], open(os.path.join(args.export, "train-log.json"), "w"))
        model.float().eval()
        parts = export_int8(model, args.export)
        print("exported", parts, flush=True)
        ref = next((s for s in samples if 105 <= s.num_blocks <= 128), samples[0])
        report = write_reference(model, ref, head_specs, os.path.join(args.export, "reference.json"), flex)
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
