#!/usr/bin/env bash
# Tally's kernels and the PyTorch peer in the same run, on one core each, and the ratio.
# Needs Debian's python3-torch (apt-get install python3-torch). Writes bench/target/peers/.
# Usage: bench/peers/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/bench/target/peers"
mkdir -p "$out"
"$root/bench/run-jmh.sh" RowSamplerBenchmark -p dtype=FLOAT32 -p chain=DEFAULT,TOP_P,GREEDY \
  -wi 3 -w 2 -i 5 -r 2 -rf json -rff "$out/tally.json" >"$out/tally.log" 2>&1
/usr/bin/python3 "$root/bench/peers/torch_peer.py" >"$out/torch.jsonl"
/usr/bin/python3 - "$out/tally.json" "$out/torch.jsonl" <<'PY'
import json, sys
tally = {}
for b in json.load(open(sys.argv[1])):
    p = b["params"]
    tally[(p["chain"].lower(), int(p["vocab"]))] = b["primaryMetric"]["scorePercentiles"]["50.0"]
print(f"{'chain':<8} {'vocab':>7} {'Tally µs':>9} {'PyTorch µs':>11} {'Tally/PyTorch':>14}")
for line in open(sys.argv[2]):
    t = json.loads(line)
    mine = tally.get((t["chain"], t["vocab"]))
    if mine is not None:
        print(f"{t['chain']:<8} {t['vocab']:>7} {mine:>9.0f} {t['us_per_row']:>11.0f} {mine / t['us_per_row']:>14.3f}")
PY
