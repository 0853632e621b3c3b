#!/usr/bin/env python3
"""The same sampling work as Tally's JMH benchmarks, done the HF-transformers way in PyTorch (CPU).

One float32 row of 3*N(0,1) logits, one thread. Each configuration includes what Tally's
includes: the chain, a seeded draw, the raw logprob of the chosen token, its rank and the top-5
raw logprobs. Prints one JSON object per line: {"chain", "vocab", "us_per_row" (median)}.

Usage: /usr/bin/python3 bench/peers/torch_peer.py [--repeat N]
"""
import argparse
import json
import statistics
import time

import torch


def warp_default(logits, history):
    # llama.cpp's default chain in HF warper terms: repetition penalty, top-k 40, top-p 0.95,
    # min-p 0.05, temperature 0.8 (temperature last, as llama.cpp does it).
    scores = logits.clone()
    seen = torch.unique(history)
    picked = scores[seen]
    scores[seen] = torch.where(picked > 0, picked / 1.1, picked * 1.1)
    top = torch.topk(scores, 40)
    keep_scores, keep_ids = top.values, top.indices
    probs = torch.softmax(keep_scores, dim=-1)
    cum = torch.cumsum(probs, dim=-1)
    cut = int(torch.searchsorted(cum, torch.tensor([0.95])).item()) + 1
    keep_scores, keep_ids = keep_scores[:cut], keep_ids[:cut]
    probs = torch.softmax(keep_scores, dim=-1)
    mask = probs >= 0.05 * probs.max()
    keep_scores, keep_ids = keep_scores[mask], keep_ids[mask]
    return keep_scores / 0.8, keep_ids


def warp_top_p(logits, history):
    # HF TopPLogitsWarper: a full sort, as HF does it.
    sorted_scores, sorted_ids = torch.sort(logits, descending=False)
    cum = torch.softmax(sorted_scores, dim=-1).cumsum(dim=-1)
    remove = cum <= (1 - 0.9)
    remove[-1:] = False
    return sorted_scores[~remove], sorted_ids[~remove]


def run(chain, logits, history, generator):
    raw = torch.log_softmax(logits, dim=-1)  # full-vocabulary raw logprobs
    if chain == "greedy":
        token = int(torch.argmax(logits))
    else:
        scores, ids = (warp_default if chain == "default" else warp_top_p)(logits, history)
        probs = torch.softmax(scores, dim=-1)
        token = int(ids[torch.multinomial(probs, 1, generator=generator)])
    chosen = raw[token]
    rank = int((raw >= chosen).sum())
    top5 = torch.topk(raw, 5)
    return token, float(chosen), rank, top5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(1)
    for vocab in (32000, 128256, 256000):
        logits = torch.randn(vocab, generator=generator) * 3
        history = torch.randint(0, vocab, (64,), generator=generator)
        for chain in ("default", "top_p", "greedy"):
            times = []
            for i in range(args.repeat + 20):
                t0 = time.perf_counter()
                run(chain, logits, history, generator)
                if i >= 20:  # warm-up
                    times.append((time.perf_counter() - t0) * 1e6)
            print(json.dumps({"chain": chain, "vocab": vocab,
                              "us_per_row": round(statistics.median(times), 1)}), flush=True)


if __name__ == "__main__":
    main()
