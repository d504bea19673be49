#!/usr/bin/env python3
"""The PyTorch CUDA side of `deno task gpu-check` (lib/bench/gpu.ts).

Times training steps of the fusion head of bench_torch.py (same sizes, forward, symmetric
InfoNCE, backward, clip at 3.0, AdamW lr 5e-5 wd 0.05) on the first CUDA device, the first step
as warm-up, each step synchronised; stops starting steps once --budget-s seconds are spent.
Prints one JSON line: {"ran", "device", "torch", "timing": {...}} with the fields of
lib/bench/gpu.ts's StepTiming, or {"ran": false, "note"} when torch sees no CUDA device.

    python3 lib/tools/gpu_torch.py --steps 200 --batch 128 --budget-s 120
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--budget-s", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--proj", type=int, default=512)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--experts", type=int, default=4)
    a = ap.parse_args(argv)
    try:
        import torch
        import torch.nn.functional as F
        from bench_torch import FusionHead
    except Exception as e:  # noqa: BLE001 - reported, not raised
        print(json.dumps({"ran": False, "note": f"cannot import torch (or numpy, for bench_torch.py): {e}"}))
        return 0
    if not torch.cuda.is_available():
        print(json.dumps({"ran": False, "note": f"torch {torch.__version__}: no CUDA device"}))
        return 0
    dev = torch.device("cuda")
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    def unit(n, d):
        x = torch.randn(n, d, generator=gen)
        return (x / x.norm(dim=1, keepdim=True)).to(dev)

    model = FusionHead(a.dim, a.proj, a.hidden, a.experts).to(dev).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                            lr=5e-5, weight_decay=0.05)
    t, g, y = unit(a.batch, a.dim), unit(a.batch, a.dim), unit(a.batch, a.dim)
    labels = torch.arange(a.batch, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model.logit_scale.exp() * model(t, g) @ y.t()
        loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()
        return float(loss.item())  # .item() synchronises

    times, loss, hit = [], float("nan"), False
    t0 = time.perf_counter()
    for i in range(a.steps):
        if i > 0 and time.perf_counter() - t0 >= a.budget_s:
            hit = True
            break
        s = time.perf_counter()
        loss = step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - s)
    timed = times[1:] if len(times) > 1 else times
    sec = sum(timed)
    print(json.dumps({
        "ran": True,
        "device": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "timing": {
            "stepsRequested": a.steps,
            "steps": len(times),
            "stepsTimed": len(timed) if len(times) > 1 else 0,
            "warmupSec": times[0] if times else 0.0,
            "sec": sec,
            "stepSecMedian": statistics.median(timed) if timed else 0.0,
            "samplesPerSec": a.batch * len(timed) / sec if sec > 0 else 0.0,
            "budgetHit": hit,
            "lastLoss": loss,
        },
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
