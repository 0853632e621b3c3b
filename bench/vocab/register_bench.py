"""Times vocabulary registration from Python, as a model server does it at start-up: decoding a
tokenizer.json, then RegisterVocabulary over a warm channel, for Llama 3 and for 256,000 random
tokens. The figures in docs/benchmarks.md ("Vocabularies and stop strings") come from:

    ./tally serve --listen unix:/tmp/t.sock &
    node bench/vocab/llama3-tokenizer-json.mjs /tmp/llama3 /tmp/llama3-tokenizer.json
    PYTHONPATH=clients/python python3 bench/vocab/register_bench.py unix:/tmp/t.sock /tmp/llama3-tokenizer.json
"""

import random
import sys
import time

from tally_client import Client, decode_tokenizer_json


def main(target: str, tokenizer: str) -> None:
    t = time.perf_counter()
    decoded = decode_tokenizer_json(tokenizer)
    print(f"decode_tokenizer_json: {1000 * (time.perf_counter() - t):.0f} ms,"
          f" {len(decoded.tokens)} tokens")
    rng = random.Random(1)
    big = [bytes(rng.randrange(256) for _ in range(1 + rng.randrange(16))) for _ in range(256_000)]
    with Client(target) as client:
        client.server_info()  # a warm channel: the model server's view
        for label, tokens, special in [("llama-3", decoded.tokens, decoded.special_token_ids),
                                       ("random-256k", big, [])]:
            for i in range(5):  # two new registrations, then idempotent ones
                t = time.perf_counter()
                v = client.register_vocabulary(f"{label}-{i % 2}", tokens=tokens,
                                               special_token_ids=special)
                print(f"register_vocabulary {label}: {1000 * (time.perf_counter() - t):.1f} ms"
                      f" ({v.size} tokens, {v.memory_bytes} bytes held)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
