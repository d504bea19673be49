#!/usr/bin/env python3
"""The PyTorch side of `deno task parity`: the fusion head trained with the reference's loop.

Written here from the published recipe (docs/method.md, as lib/train/config.ts records it; no code
copied): the head of bench_torch.py (the reference's state_dict layout), symmetric InfoNCE
at the frozen scale 1/temperature, AdamW whose weight decay falls on the weight matrices only
(biases and every 1-D tensor get 0), linear warm-up then cosine decay per optimizer step (the
learning rate of update k is the schedule at k, so the first is 0 when there is a warm-up),
gradients of `accumulate` micro-batches averaged into one update (an epoch's last incomplete
group still makes one), clipping at a global norm, one random round per dialogue per epoch, a
shuffle per epoch and the last incomplete micro-batch dropped.

Validation after every `evalEvery` epochs (and the last), as lib/train/validate.ts does it: the
first `maxValDialogues` val dialogues, every round, ranked against the val pool followed by the
train pool (ties by gallery index), cumulative Hits@valK per round and its mean over rounds;
plus the gate's image weight 1 - w on those pairs: mean, sd and slope against cos(t, g).

    /usr/bin/python3 lib/tools/parity_torch.py --data BUNDLE --config CONFIG.json --seed 0

CONFIG.json is a full training config (lib/train/config.ts's fields). Prints one JSON line per
validation: {"epoch", "step", "trainLoss", "valMetric", "valHits", "gate": {...}}.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import FusionHead, info_nce  # noqa: E402


def load_split(bundle, name):
    """text, gen [Q, R, d] float32, target [Q] int64, the split's own pool [P, d] or None."""
    with open(os.path.join(bundle, "manifest.json")) as f:
        manifest = json.load(f)
    files = manifest["splits"][name]

    def arr(key):
        return np.load(os.path.join(bundle, files[key]))

    images = arr("images").astype(np.float32) if "images" in files else None
    return (arr("text").astype(np.float32), arr("gen").astype(np.float32),
            arr("target").astype(np.int64), images)


def load_corpus(bundle):
    with open(os.path.join(bundle, "manifest.json")) as f:
        manifest = json.load(f)
    return np.load(os.path.join(bundle, manifest["corpus"])).astype(np.float32)


def val_gallery(bundle, train_pool, val_pool):
    """As lib/train/validate.ts's valGallery: the val pool followed by the train pool when both
    splits have pools, the val pool alone when only it has one, the corpus when it has none."""
    if val_pool is None:
        return load_corpus(bundle)
    if train_pool is None:
        return val_pool
    return np.concatenate([val_pool, train_pool])


def cosine_with_warmup(step, base, total, warmup):
    if step < warmup:
        return base * step / max(1, warmup)
    if step >= total:
        return 0.0
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * progress))


def validate(model, val, gallery, cfg):
    text, gen, target, _ = val
    n = text.shape[0] if cfg["maxValDialogues"] is None else min(text.shape[0],
                                                                 cfg["maxValDialogues"])
    rounds, d = text.shape[1], text.shape[2]
    t = torch.from_numpy(np.ascontiguousarray(text[:n].transpose(1, 0, 2))).reshape(-1, d)
    g = torch.from_numpy(np.ascontiguousarray(gen[:n].transpose(1, 0, 2))).reshape(-1, d)
    tgt = torch.from_numpy(np.tile(target[:n], rounds))
    model.eval()
    with torch.no_grad():
        q, w = model.fuse(t, g)
        gal = torch.from_numpy(gallery)
        ranks = torch.empty(q.shape[0], dtype=torch.int64)
        idx = torch.arange(gal.shape[0])
        for s in range(0, q.shape[0], 1024):
            scores = q[s:s + 1024] @ gal.t()
            mine = scores.gather(1, tgt[s:s + 1024, None])
            ahead = (scores > mine) | ((scores == mine) & (idx[None, :] < tgt[s:s + 1024, None]))
            ranks[s:s + 1024] = ahead.sum(1)
    model.train()
    hit = torch.zeros(n, dtype=torch.bool)
    hits = []
    for r in range(rounds):
        hit |= ranks[r * n:(r + 1) * n] < cfg["valK"]
        hits.append(hit.float().mean().item())
    img = (1 - w).double()
    cos = (t * g).sum(1).double()
    cx, cy = cos - cos.mean(), img - img.mean()
    vx = (cx * cx).mean().item()
    slope = (cx * cy).mean().item() / vx if vx > 0 else 0.0
    gate = {"mean": img.mean().item(), "sd": math.sqrt(max(0.0, (cy * cy).mean().item())),
            "slope": slope}
    return sum(hits) / rounds, hits, gate


def fuse(self, t, g):
    """Eval-mode fused queries and the text weight w (the head of bench_torch.py)."""
    h_t = F.gelu(self.text_projection_layer(t))
    h_d = F.gelu(self.image_projection_layer(g))
    h = torch.cat([h_t, h_d], dim=1)
    w = self.dynamic_scalar(h)
    p = torch.softmax(self.moe_router(h), dim=1)
    e = torch.stack([ex(h) for ex in self.experts], dim=1)
    r = self.output_layer((p.unsqueeze(2) * e).sum(dim=1))
    return F.normalize(w * t + (1 - w) * g + r, dim=1), w[:, 0]


FusionHead.fuse = fuse


def train(args):
    with open(args.config) as f:
        cfg = json.load(f)
    cfg = cfg.get("config", cfg)
    m = cfg["model"]
    if m.get("variant", "full") != "full":
        sys.exit("parity_torch.py: only the full head (variant 'full') is written here")
    if cfg["learnableScale"]:
        sys.exit("parity_torch.py: a learnable logit scale is not written here; set learnableScale=false")
    if cfg.get("negatives", "random") != "random":
        sys.exit("parity_torch.py: only shuffled micro-batches (negatives 'random') are written here")
    torch.manual_seed(args.seed)
    np_rng = np.random.default_rng(args.seed)
    torch.set_num_threads(args.threads)
    tr = load_split(args.data, cfg["trainSplit"])
    val = load_split(args.data, cfg["valSplit"])
    gallery = val_gallery(args.data, tr[3], val[3])
    text, gen, target, pool = tr
    if pool is None:  # targets are corpus rows
        pool = load_corpus(args.data)
    n_all = text.shape[0] if cfg["maxTrainDialogues"] is None else min(
        text.shape[0], cfg["maxTrainDialogues"])
    rounds, d = text.shape[1], text.shape[2]
    model = FusionHead(d, m["proj"], m["hidden"], m["experts"], m["dropout"],
                       1 / cfg["temperature"], cfg["learnableScale"])
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weightDecay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"])
    B, acc = cfg["batchSize"], cfg["accumulate"]
    n_batches = n_all // B
    steps_per_epoch = math.ceil(n_batches / acc)
    total = cfg["epochs"] * steps_per_epoch
    warmup = math.floor(cfg["warmupEpochs"] * steps_per_epoch + 0.5)  # JavaScript's Math.round
    step = 0
    scale = math.log(1 / cfg["temperature"])
    model.train()
    for epoch in range(cfg["epochs"]):
        rnd = np_rng.integers(0, rounds, n_all)
        perm = np_rng.permutation(n_all)
        epoch_loss, epoch_batches = 0.0, 0
        for b0 in range(0, n_batches, acc):
            n_micro = min(acc, n_batches - b0)
            opt.zero_grad(set_to_none=True)
            for mb in range(b0, b0 + n_micro):
                i = perm[mb * B:(mb + 1) * B]
                t = torch.from_numpy(text[i, rnd[i]])
                g = torch.from_numpy(gen[i, rnd[i]])
                y = torch.from_numpy(pool[target[i]])
                s = model.logit_scale.exp() if cfg["learnableScale"] else math.exp(scale)
                loss = info_nce(model(t, g), y, s)
                (loss / n_micro).backward()
                epoch_loss += loss.item()
                epoch_batches += 1
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clipNorm"])
            lr = cosine_with_warmup(step, cfg["lr"], total, warmup)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            step += 1
        if (epoch + 1) % cfg["evalEvery"] == 0 or epoch == cfg["epochs"] - 1:
            metric, hits, gate = validate(model, val, gallery, cfg)
            print(json.dumps({"epoch": epoch, "step": step,
                              "trainLoss": epoch_loss / epoch_batches,
                              "valMetric": metric, "valHits": hits, "gate": gate}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="bundle folder")
    ap.add_argument("--config", required=True, help="training config JSON (full)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    train(ap.parse_args())


if __name__ == "__main__":
    main()
