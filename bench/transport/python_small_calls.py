#!/usr/bin/env python3
"""Where a small call's time goes: a 1-row V = 32,000 float32 `Sample` from Debian's grpcio,
with a prebuilt request sent by raw grpcio (no client-library work), one sampling setting at a
time. The spread between settings is the server's sampling of that row.

    PYTHONPATH=clients/python python3 bench/transport/python_small_calls.py --tally unix:/tmp/t.sock
"""

import argparse
import time

import grpc
import numpy as np

from tally_client import sampler_pb2 as pb

SETTINGS = [
    dict(temperature=0),
    dict(temperature=1.0),
    dict(temperature=0.8),
    dict(temperature=0.8, top_k=40),
    dict(temperature=0.8, top_p=0.95),
    dict(temperature=0.8, min_p=0.05),
]


def p50_ms(call, calls: int, warmup: int) -> float:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return float(np.percentile(np.array(samples) * 1e3, 50))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tally", required=True, help="e.g. unix:/tmp/tally.sock")
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=500)
    args = ap.parse_args()
    logits = (3 * np.random.default_rng(1).standard_normal((1, args.vocab))).astype(np.float32)
    tensor = pb.Logits(dtype=pb.DTYPE_FLOAT32, rows=1, vocab_size=args.vocab,
                       data=logits.tobytes())
    with grpc.insecure_channel(args.tally) as channel:
        sample = channel.unary_unary("/tally.v1.Sampler/Sample",
                                     request_serializer=pb.SampleRequest.SerializeToString,
                                     response_deserializer=pb.SampleResponse.FromString)
        print(f"1-row V={args.vocab} float32 Sample, p50 of {args.calls} calls")
        for setting in SETTINGS:
            request = pb.SampleRequest(params=[pb.SamplingParams(seed=1, **setting)],
                                       logits=tensor)
            ms = p50_ms(lambda: sample(request, timeout=30), args.calls, args.warmup)
            print(f"  {str(setting):45s} {ms:.3f} ms")


if __name__ == "__main__":
    main()
