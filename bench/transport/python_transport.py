#!/usr/bin/env python3
"""End-to-end step latency from a Python client (Debian's grpcio), three ways in one run:

  floor    a trivial grpcio server (another process) that answers each 7.8 MiB SessionRequest
           with a small message and parses nothing: the inline bare-gRPC floor;
  inline   Tally, logits inline in the Session request;
  shm      Tally, logits written once into a shared-memory region, the request names them.

All over Unix sockets, one Session stream, one step in flight, [rows × vocab] bf16, the default
chain of `tally bench` (llama.cpp's: repetition penalty 1.1 over the last 64, top-k 40, top-p 0.95,
min-p 0.05, T 0.8 last, top-5 raw logprobs).
Also the small-call fixed cost: a 1-row V = 32000 float32 Sample against the same payload on the
trivial server.

Usage: bench/transport/python_transport.py --tally unix:/path/tally.sock [--seconds 15]
Prints a table and writes --json FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent import futures

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "clients", "python"))

import grpc  # noqa: E402
from tally_client import Client, sampler_pb2 as pb  # noqa: E402

# tally bench's "default" chain: llama.cpp's default order and settings, top-5 raw logprobs.
PARAMS = dict(repetition_penalty=1.1, penalty_last_n=64, top_k=40, top_p=0.95, min_p=0.05,
              temperature=0.8, order="temperature_last", top_logprobs=5)
OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def serve_floor(socket_path: str) -> None:
    """The trivial server: answers every message of a stream, and every unary call, at once."""
    answer = pb.SessionResponse(step_id=1, choices=[pb.TokenChoice(token_id=1)] * 32)
    small = answer.SerializeToString()

    def stream(requests, context):
        for _ in requests:
            yield small

    def unary(request, context):
        return small

    handler = grpc.method_handlers_generic_handler("bench.Floor", {
        "Session": grpc.stream_stream_rpc_method_handler(stream),
        "Sample": grpc.unary_unary_rpc_method_handler(unary),
    })
    server = grpc.server(futures.ThreadPoolExecutor(4), options=OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"unix:{socket_path}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def percentiles(samples: list[float]) -> dict:
    a = np.array(samples) * 1e3
    return dict(steps=len(a), p50_ms=float(np.percentile(a, 50)),
                p99_ms=float(np.percentile(a, 99)), mean_ms=float(a.mean()))


def bf16(rows: int, vocab: int, seed: int) -> np.ndarray:
    x = (3 * np.random.default_rng(seed).standard_normal((rows, vocab))).astype(np.float32)
    return (x.view(np.uint32) >> 16).astype(np.uint16)


def time_loop(seconds: float, warmup: float, step) -> list[float]:
    end_warm = time.monotonic() + warmup
    while time.monotonic() < end_warm:
        step()
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def run_floor(target: str, request: pb.SessionRequest, seconds: float, warmup: float):
    channel = grpc.insecure_channel(target, options=OPTIONS)
    call_q: list = []
    import queue
    q: "queue.SimpleQueue" = queue.SimpleQueue()
    stream = channel.stream_stream("/bench.Floor/Session",
                                   request_serializer=pb.SessionRequest.SerializeToString,
                                   response_deserializer=pb.SessionResponse.FromString)
    responses = stream(iter(q.get, None))

    def step():
        q.put(request)
        next(responses)

    samples = time_loop(seconds, warmup, step)
    q.put(None)
    channel.close()
    return samples


def run_tally(target: str, logits: np.ndarray, shared_memory: bool, seconds: float,
              warmup: float):
    import torch
    rows = logits.shape[0]
    tensor = torch.from_numpy(logits.view(np.int16)).view(torch.bfloat16)
    with Client(target, timeout=60) as client:
        with client.session(shared_memory=shared_memory) as s:
            for i in range(rows):
                s.add(i + 1, seed=i, **PARAMS)
            ids = list(range(1, rows + 1))

            def step():
                result = s.step(ids, tensor)
                # What a decode loop reads of every step: the tokens, and which sequences ended.
                return result.token_ids, result.finish_reasons

            samples = time_loop(seconds, warmup, step)
    return samples


def run_small(tally: str, floor: str, seconds: float, warmup: float):
    logits = (3 * np.random.default_rng(1).standard_normal((1, 32000))).astype(np.float32)
    with Client(tally, timeout=60) as client:
        tally_samples = time_loop(seconds, warmup, lambda: client.sample(logits, seed=1, **PARAMS))
    request = pb.SampleRequest(params=[pb.SamplingParams(seed=1)],
                               logits=pb.Logits(dtype=pb.DTYPE_FLOAT32, rows=1, vocab_size=32000,
                                                data=logits.tobytes()))
    channel = grpc.insecure_channel(floor, options=OPTIONS)
    unary = channel.unary_unary("/bench.Floor/Sample",
                                request_serializer=pb.SampleRequest.SerializeToString,
                                response_deserializer=pb.SessionResponse.FromString)
    floor_samples = time_loop(seconds, warmup, lambda: unary(request))
    channel.close()
    return tally_samples, floor_samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tally", required=True, help="the Tally server, e.g. unix:/tmp/tally.sock")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--vocab", type=int, default=128256)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--json")
    ap.add_argument("--serve-floor", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return
    tmp = tempfile.mkdtemp(prefix="tally-floor-")
    sock = os.path.join(tmp, "floor.sock")
    floor = subprocess.Popen([sys.executable, __file__, "--tally", args.tally,
                              "--serve-floor", sock], stdout=subprocess.PIPE, text=True)
    try:
        assert floor.stdout.readline().strip() == "ready"
        logits = bf16(args.rows, args.vocab, 7)
        inline_request = pb.SessionRequest(
            step_id=1, row_sequence_ids=list(range(1, args.rows + 1)),
            logits=pb.Logits(dtype=pb.DTYPE_BFLOAT16, rows=args.rows, vocab_size=args.vocab,
                             data=logits.tobytes()))
        results = {}
        results["floor"] = percentiles(run_floor(f"unix:{sock}", inline_request, args.seconds,
                                                 args.warmup))
        results["inline"] = percentiles(run_tally(args.tally, logits, False, args.seconds,
                                                  args.warmup))
        results["shm"] = percentiles(run_tally(args.tally, logits, True, args.seconds,
                                               args.warmup))
        small_tally, small_floor = run_small(args.tally, f"unix:{sock}", args.seconds / 3,
                                             args.warmup / 3)
        results["small_tally"] = percentiles(small_tally)
        results["small_floor"] = percentiles(small_floor)
    finally:
        floor.kill()
        floor.wait()
    f = results["floor"]["p50_ms"]
    print(f"[{args.rows} x {args.vocab}] bf16, default chain, top-5, one Session over UDS, "
          f"{args.seconds:.0f} s each")
    print(f"{'path':<14}{'steps':>7}{'p50 ms':>9}{'p99 ms':>9}{'p50/floor':>11}")
    for name in ("floor", "inline", "shm"):
        r = results[name]
        print(f"{name:<14}{r['steps']:>7}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['p50_ms'] / f:>11.2f}")
    st, sf = results["small_tally"], results["small_floor"]
    print(f"1-row V=32000 Sample: Tally p50 {st['p50_ms']:.3f} ms, trivial server "
          f"{sf['p50_ms']:.3f} ms, ratio {st['p50_ms'] / sf['p50_ms']:.2f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(dict(rows=args.rows, vocab=args.vocab, seconds=args.seconds,
                           results=results), out, indent=2)


if __name__ == "__main__":
    main()
