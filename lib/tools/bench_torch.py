#!/usr/bin/env python3
"""The PyTorch side of `deno task bench`, and an interoperability check of our checkpoints.

The ADaFuSE fusion head is written here from the equations of docs/method.md ("The head"; not
copied from any repository) as an `nn.Module` whose `state_dict` keys are the reference's:
`text_projection_layer`, `image_projection_layer`, `dynamic_scalar` (Linear, GELU, Dropout,
Linear, Sigmoid), `logit_scale`, `experts.{k}` (Linear, GELU, Dropout; K separate Linears as
the reference has them), `moe_router` (Linear, GELU, Linear) and `output_layer`.

Bench mode (default) prints one JSON object: training step time at each batch size (forward,
symmetric InfoNCE, backward, clip at 3.0, AdamW lr 5e-5 wd 0.05), fused-query inference
queries/s (eval mode, batches of 4,096), ranking queries/s (queries [chunk, d] x corpus
[N, d]^T, then the rank of each target with ties by corpus index), and the peak RSS. Medians of
several runs after warm-up. With `--products JSON` it also times single matrix products
(GFLOP/s), the output allocated by torch.

    python3 lib/tools/bench_torch.py --threads 2 --batches 128,256

Check mode loads a safetensors checkpoint written by lib/model/checkpoint.ts (with
`safetensors.torch` when installed, else by parsing the header with numpy), fuses the inputs
`[2, n, d]` (t then g, float32 .npy) in eval mode and prints the fused queries as JSON; with
`--expected Q.npy` it also prints the largest absolute difference from them.

    python3 lib/tools/bench_torch.py --check-checkpoint head.safetensors --inputs tg.npy
"""

import argparse
import json
import math
import resource
import statistics
import struct
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


class FusionHead(nn.Module):
    """ADaFuSE fusion head (docs/method.md, the head) with the reference state_dict layout."""

    def __init__(self, dim=256, proj=512, hidden=2048, experts=4, dropout=0.2,
                 logit_scale=1 / 0.07, learnable_scale=False):
        super().__init__()
        self.text_projection_layer = nn.Linear(dim, proj)
        self.image_projection_layer = nn.Linear(dim, proj)
        self.dynamic_scalar = nn.Sequential(
            nn.Linear(2 * proj, hidden), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(hidden, 1), nn.Sigmoid())
        self.logit_scale = nn.Parameter(torch.tensor(math.log(logit_scale)),
                                        requires_grad=learnable_scale)
        self.experts = nn.ModuleList([
            nn.Sequential(nn.Linear(2 * proj, hidden), nn.GELU(), nn.Dropout(dropout))
            for _ in range(experts)])
        self.moe_router = nn.Sequential(
            nn.Linear(2 * proj, hidden // 4), nn.GELU(), nn.Linear(hidden // 4, experts))
        self.output_layer = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, t, g):
        h_t = self.drop(F.gelu(self.text_projection_layer(t)))
        h_d = self.drop(F.gelu(self.image_projection_layer(g)))
        h = torch.cat([h_t, h_d], dim=1)
        w = self.dynamic_scalar(h)  # weight of the text, [B, 1]
        p = torch.softmax(self.moe_router(h), dim=1)  # [B, K]
        e = torch.stack([ex(h) for ex in self.experts], dim=1)  # [B, K, H]
        mixed = (p.unsqueeze(2) * e).sum(dim=1)
        r = self.drop(self.output_layer(mixed))
        return F.normalize(w * t + (1 - w) * g + r, dim=1)


def info_nce(q, y, scale):
    """Symmetric InfoNCE: 0.5 [CE(s Q Y^T, I) + CE(s Y Q^T, I)]."""
    logits = scale * q @ y.t()
    labels = torch.arange(q.shape[0])
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


def _unit(n, d, gen):
    x = torch.randn(n, d, generator=gen)
    return x / x.norm(dim=1, keepdim=True)


def _median_time(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def _peak_rss_mb():
    # VmHWM, this process image's own peak. ru_maxrss is not: Linux carries it over exec from
    # the parent that spawned us (Deno, with its bundle and workers), so it reported that peak.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    d = args.dim
    model = FusionHead(d, args.proj, args.hidden, args.experts)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                            lr=5e-5, weight_decay=0.05)
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__,
           "blas": _blas_name(), "train": {}, "infer": None, "rank": None}
    model.train()
    for b in args.batches:
        t, g, y = _unit(b, d, gen), _unit(b, d, gen), _unit(b, d, gen)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = info_nce(model(t, g), y, model.logit_scale.exp())
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
            opt.step()

        med, times = _median_time(step, args.warmup, args.runs)
        out["train"][str(b)] = {"stepSec": med, "samplesPerSec": b / med, "times": times}
    out["trainPeakRssMB"] = _peak_rss_mb()
    model.eval()
    n = args.infer_rows
    t, g = _unit(n, d, gen), _unit(n, d, gen)

    def infer():
        with torch.no_grad():
            model(t, g)

    med, times = _median_time(infer, 1, args.runs)
    out["infer"] = {"rows": n, "sec": med, "queriesPerSec": n / med, "times": times}
    corpus = _unit(args.corpus, d, gen)
    nq = args.rank_queries
    queries = _unit(nq, d, gen)
    targets = torch.randint(0, args.corpus, (nq,), generator=gen)
    idx = torch.arange(args.corpus)

    def rank():
        ranks = []
        with torch.no_grad():
            for s in range(0, nq, args.chunk):
                sc = queries[s:s + args.chunk] @ corpus.t()
                tg = targets[s:s + args.chunk]
                st = sc.gather(1, tg.unsqueeze(1))
                ahead = (sc > st) | ((sc == st) & (idx.unsqueeze(0) < tg.unsqueeze(1)))
                ranks.append(ahead.sum(dim=1))
        return torch.cat(ranks)

    med, times = _median_time(rank, 1, args.runs)
    out["rank"] = {"queries": nq, "corpus": args.corpus, "sec": med,
                   "queriesPerSec": nq / med, "times": times}
    out["peakRssMB"] = _peak_rss_mb()
    if args.products:
        out["products"] = bench_products(json.loads(args.products), args.warmup, args.runs)
    print(json.dumps(out))


def bench_products(shapes, warmup, runs):
    """GFLOP/s of `op(A) @ op(B)` per product; the output is allocated by torch, as users run it.

    Each shape is {name, m, n, k, transA, transB}; a transposed operand is stored transposed and
    used through `.t()` (a view), like the transpose flags of our kernels.
    """
    gen = torch.Generator().manual_seed(1)
    res = []
    for p in shapes:
        m, n, k = p["m"], p["n"], p["k"]
        a = torch.randn(*((k, m) if p["transA"] else (m, k)), generator=gen)
        b = torch.randn(*((n, k) if p["transB"] else (k, n)), generator=gen)
        opa = a.t() if p["transA"] else a
        opb = b.t() if p["transB"] else b

        def mm():
            with torch.no_grad():
                return opa @ opb

        med, times = _median_time(mm, max(1, warmup), max(3, runs))
        res.append({"name": p["name"], "sec": med, "gflops": 2 * m * n * k / med / 1e9,
                    "times": times})
    return res


def _blas_name():
    """The BLAS library actually mapped (Debian's torch uses the libblas.so.3 alternative)."""
    try:
        torch.ones(64, 64) @ torch.ones(64, 64)
        with open("/proc/self/maps") as f:
            libs = {ln.split("/")[-1].strip() for ln in f if "blas" in ln.lower()}
        if libs:
            return ", ".join(sorted(libs))
    except OSError:
        pass
    try:
        cfg = torch.__config__.show()
        for line in cfg.splitlines():
            if "BLAS_INFO=" in line:
                return line.split("BLAS_INFO=")[1].split(",")[0].strip()
        for name in ("OpenBLAS", "MKL", "BLIS"):
            if name.lower() in cfg.lower():
                return name
    except Exception:  # noqa: BLE001 - informational only
        pass
    return "unknown"


_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path):
    """A dict name -> float32 torch tensor, via safetensors.torch or a numpy header parse."""
    try:
        from safetensors.torch import load_file  # type: ignore
        return {k: v.float() for k, v in load_file(path).items()}
    except ImportError:
        pass
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        begin, end = info["data_offsets"]
        if dt == "BF16":
            u = np.frombuffer(raw[base + begin:base + end], dtype="<u2").astype(np.uint32)
            arr = (u << 16).view(np.float32)
        elif dt in _DTYPES:
            arr = np.frombuffer(raw[base + begin:base + end], dtype=np.dtype(_DTYPES[dt]).newbyteorder("<"))
        else:
            raise SystemExit(f"{path}: tensor {name} has dtype {dt}; expected F32, F16 or BF16")
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(info["shape"]).copy())
    return out


def check(args):
    sd = read_safetensors(args.check_checkpoint)
    hidden, two_p = sd["dynamic_scalar.0.weight"].shape
    proj, dim = sd["text_projection_layer.weight"].shape
    experts = sum(1 for k in sd if k.startswith("experts.") and k.endswith(".0.weight"))
    model = FusionHead(dim, proj, hidden, experts)
    model.load_state_dict(sd, strict=True)
    model.eval()
    tg = np.load(args.inputs).astype(np.float32)
    if tg.ndim != 3 or tg.shape[0] != 2 or tg.shape[2] != dim:
        raise SystemExit(f"{args.inputs}: expected [2, n, {dim}] (t then g), got {list(tg.shape)}")
    with torch.no_grad():
        q = model(torch.from_numpy(tg[0]), torch.from_numpy(tg[1])).numpy()
    res = {"config": {"dim": dim, "proj": proj, "hidden": hidden, "experts": experts},
           "q": q.tolist()}
    if args.expected:
        exp = np.load(args.expected).astype(np.float32)
        res["maxAbsDiff"] = float(np.max(np.abs(exp.reshape(q.shape) - q)))
    print(json.dumps(res))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="128,256")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--proj", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--infer-rows", type=int, default=4096)
    ap.add_argument("--corpus", type=int, default=50000)
    ap.add_argument("--rank-queries", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--products", default=None,
                    help="JSON list of {name, m, n, k, transA, transB}: time op(A) @ op(B) too")
    ap.add_argument("--products-only", action="store_true",
                    help="time only the --products (printed as {products: [...]})")
    ap.add_argument("--check-checkpoint", default=None)
    ap.add_argument("--inputs", default=None)
    ap.add_argument("--expected", default=None)
    args = ap.parse_args(argv)
    args.batches = [int(b) for b in args.batches.split(",") if b]
    if args.check_checkpoint:
        if not args.inputs:
            raise SystemExit("--check-checkpoint needs --inputs FILE.npy ([2, n, d]: t then g)")
        torch.set_num_threads(args.threads)
        check(args)
    elif args.products_only:
        torch.set_num_threads(args.threads)
        res = bench_products(json.loads(args.products or "[]"), args.warmup, args.runs)
        print(json.dumps({"threads": torch.get_num_threads(), "torch": torch.__version__,
                          "blas": _blas_name(), "products": res}))
    else:
        bench(args)


if __name__ == "__main__":
    sys.exit(main())
