#!/usr/bin/env bash
# Tally's kernels beside the bound (bench/bound: max + Σexp over the row, vectorised C) and the
# PyTorch peer, all in one run on one core each, with the ratios and #13's targets. Each chain is
# timed on one row rerun (sampleRow, the ratios) and on a step's 32 different rows (sampleStep ÷ 32,
# the "cold" column: what a server's sampler thread sees).
# Needs gcc and Debian's python3-torch. Writes bench/target/peers/.
# Usage: bench/peers/run.sh [JMH options, e.g. -p vocab=128256]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/bench/target/peers"
mkdir -p "$out"
gcc -O3 -march=native -mprefer-vector-width=512 -ffast-math -o "$out/bound" \
  "$root/bench/bound/bound.c" -lm
"$out/bound" 32000 128256 256000 >"$out/bound.jsonl"
"$root/bench/run-jmh.sh" 'RowSamplerBenchmark.sample(Row|Step)$' -p dtype=FLOAT32,BFLOAT16 \
  -p chain=DEFAULT,TOP_P,GREEDY -wi 3 -w 2 -i 5 -r 2 -rf json -rff "$out/tally.json" "$@" \
  >"$out/tally.log" 2>&1
/usr/bin/python3 "$root/bench/peers/torch_peer.py" >"$out/torch.jsonl"
/usr/bin/python3 - "$out/tally.json" "$out/bound.jsonl" "$out/torch.jsonl" <<'PY'
import json, sys
tally, cold = {}, {}
for b in json.load(open(sys.argv[1])):
    p = b["params"]
    key = (p["chain"].lower(), int(p["vocab"]), p["dtype"].lower())
    us = b["primaryMetric"]["scorePercentiles"]["50.0"]
    if b["benchmark"].endswith(".sampleStep"):
        cold[key] = us / 32  # RowSamplerBenchmark.STEP_ROWS
    else:
        tally[key] = us
bound, copy = {}, {}
for line in open(sys.argv[2]):
    k = json.loads(line)
    (bound if k["kernel"] == "max_sumexp" else copy)[k["vocab"]] = k["us_per_row"]
torch = {}
for line in open(sys.argv[3]):
    t = json.loads(line)
    torch[(t["chain"], t["vocab"])] = t["us_per_row"]
target = {"default": 2.0, "greedy": 1.5, "top_p": 3.0}
print(f"{'chain':<8} {'vocab':>7} {'dtype':<9} {'Tally µs':>9} {'bound µs':>9} {'ratio':>6} "
      f"{'target':>6} {'bf16/f32':>8} {'cold µs':>8} {'cold/hot':>8} {'PyTorch µs':>10} "
      f"{'Tally/PyTorch':>13}")
for (chain, vocab, dtype), us in sorted(tally.items()):
    b = bound.get(vocab)
    f32 = tally.get((chain, vocab, "float32"))
    t = torch.get((chain, vocab))
    print(f"{chain:<8} {vocab:>7} {dtype:<9} {us:>9.1f} {b:>9.1f} {us / b:>6.2f} "
          f"{target.get(chain, float('nan')):>6.1f} {us / f32:>8.2f} "
          f"{cold.get((chain, vocab, dtype), float('nan')):>8.1f} "
          f"{cold.get((chain, vocab, dtype), float('nan')) / us:>8.2f} "
          f"{t if t is not None else float('nan'):>10.0f} "
          f"{us / t if t else float('nan'):>13.3f}")
print("memcpy of a float32 row (µs): " + ", ".join(f"V={v} {u:.1f}" for v, u in sorted(copy.items())))
PY
