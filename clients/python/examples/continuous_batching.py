#!/usr/bin/env python3
"""A tiny model server on Tally: continuous batching through one Session.

The model is a small character-level network in PyTorch (CPU) that reads the last 12
characters. It downloads nothing: it is trained for a few seconds at start-up on four of
Shakespeare's sonnets (public domain, below). Then it serves six requests that arrive at
different steps, at most --max-batch at a time. Each step the model runs one batched forward pass
over every active sequence and sends the logits to Tally as one [rows x vocab] tensor; Tally
picks each row's token with that request's own sampling parameters. A request
leaves the batch when Tally says it chose its EOS token (a newline) or when it reaches its
max_tokens; the next waiting request takes its place.

    ./tally serve --listen unix:/tmp/tally.sock &
    python3 clients/python/examples/continuous_batching.py --target unix:/tmp/tally.sock

Options: --dtype bfloat16 sends the logits as bfloat16 (their raw bits, as a bf16 model would);
--max-batch, --train-steps, --seed.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from tally_client import Client

TEXT = """\
Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.
Let me not to the marriage of true minds
Admit impediments. Love is not love
Which alters when it alteration finds,
Or bends with the remover to remove:
O no! it is an ever-fixed mark
That looks on tempests and is never shaken;
It is the star to every wandering bark,
Whose worth's unknown, although his height be taken.
Love's not Time's fool, though rosy lips and cheeks
Within his bending sickle's compass come;
Love alters not with his brief hours and weeks,
But bears it out even to the edge of doom.
If this be error and upon me proved,
I never writ, nor no man ever loved.
My mistress' eyes are nothing like the sun;
Coral is far more red than her lips' red;
If snow be white, why then her breasts are dun;
If hairs be wires, black wires grow on her head.
I have seen roses damask'd, red and white,
But no such roses see I in her cheeks;
And in some perfumes is there more delight
Than in the breath that from my mistress reeks.
I love to hear her speak, yet well I know
That music hath a far more pleasing sound;
I grant I never saw a goddess go;
My mistress, when she walks, treads on the ground:
And yet, by heaven, I think my love as rare
As any she belied with false compare.
That time of year thou mayst in me behold
When yellow leaves, or none, or few, do hang
Upon those boughs which shake against the cold,
Bare ruin'd choirs, where late the sweet birds sang.
In me thou see'st the twilight of such day
As after sunset fadeth in the west,
Which by and by black night doth take away,
Death's second self, that seals up all in rest.
In me thou see'st the glowing of such fire
That on the ashes of his youth doth lie,
As the death-bed whereon it must expire,
Consumed with that which it was nourish'd by.
This thou perceivest, which makes thy love more strong,
To love that well which thou must leave ere long.
"""

VOCAB = sorted(set(TEXT))
STOI = {c: i for i, c in enumerate(VOCAB)}
EOS = STOI["\n"]


def encode(s: str) -> list[int]:
    return [STOI[c] for c in s if c in STOI]


def decode(ids) -> str:
    return "".join(VOCAB[i] for i in ids)


CONTEXT = 12  # characters the model sees


class CharMLP(nn.Module):
    """Next-character model over the last CONTEXT characters (Bengio et al. 2003, in small)."""

    def __init__(self, vocab: int, embed: int = 16, hidden: int = 128):
        super().__init__()
        self.embed = nn.Embedding(vocab + 1, embed)   # id `vocab` pads short contexts
        self.net = nn.Sequential(nn.Linear(CONTEXT * embed, hidden), nn.Tanh(),
                                 nn.Linear(hidden, vocab))

    def forward(self, contexts: torch.Tensor) -> torch.Tensor:
        """contexts [batch, CONTEXT] -> next-token logits [batch, vocab] (float32)."""
        return self.net(self.embed(contexts).flatten(1))


def context(ids: list[int]) -> list[int]:
    ids = ids[-CONTEXT:]
    return [len(VOCAB)] * (CONTEXT - len(ids)) + ids


def train(steps: int, seed: int) -> CharMLP:
    torch.manual_seed(seed)
    data = encode(TEXT)
    x = torch.tensor([context(data[:i]) for i in range(1, len(data))])
    y = torch.tensor(data[1:])
    model = CharMLP(len(VOCAB))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        batch = torch.randint(0, len(y), (128,))
        loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"trained a {sum(p.numel() for p in model.parameters()):,}-parameter character model "
          f"for {steps} steps: loss {loss.item():.2f}")
    return model.eval()


@dataclass
class Request:
    id: int
    prompt: str
    arrives: int          # the step at which the request reaches the server
    max_tokens: int
    sampling: dict
    output: list = field(default_factory=list)
    finish: str = ""


def requests(seed: int) -> list[Request]:
    eos = dict(eos_token_ids=[EOS], min_tokens=8)
    return [
        Request(1, "Shall I compare thee", 0, 60, dict(temperature=0, **eos)),
        Request(2, "Love is not love\n", 0, 45, dict(temperature=0.8, top_p=0.9, seed=seed, **eos)),
        Request(3, "My mistress' eyes", 2, 25, dict(temperature=0.7, top_k=5, seed=seed + 1)),
        Request(4, "That time of year", 5, 60,
                dict(temperature=1.0, min_p=0.1, repetition_penalty=1.15, seed=seed + 2, **eos)),
        Request(5, "And summer", 9, 40, dict(temperature=0.6, seed=seed + 3, top_logprobs=3, **eos)),
        Request(6, "O no! it is", 14, 50,
                dict(temperature=0.9, presence_penalty=0.5, seed=seed + 4, **eos)),
    ]


@torch.no_grad()
def serve(client: Client, model: CharMLP, waiting: list[Request], max_batch: int,
          dtype: torch.dtype) -> list[Request]:
    active: list[Request] = []
    done: list[Request] = []
    step = 0
    with client.session() as session:
        while waiting or active:
            # Admit requests that have arrived, while there is room in the batch.
            joined = []
            while waiting and waiting[0].arrives <= step and len(active) < max_batch:
                r = waiting.pop(0)
                session.add(r.id, prompt_token_ids=encode(r.prompt), **r.sampling)
                active.append(r)
                joined.append(r)
                print(f"step {step:3d}  + #{r.id} joins   {r.prompt!r}  {r.sampling}")
            if not active:           # nothing to run until the next request arrives
                step += 1
                continue

            # One forward pass over every active sequence (newcomers and running ones alike),
            # then one [rows x vocab] logits tensor for Tally, in the model's dtype.
            contexts = torch.tensor([context(encode(r.prompt) + r.output) for r in active])
            logits = model(contexts).to(dtype)
            rows = list(active)

            result = session.step([r.id for r in rows], logits)   # Tally samples every row

            for r, token, finish, error in zip(rows, result.token_ids, result.finish_reasons,
                                               result.errors):
                if error is not None:
                    raise error
                r.output.append(int(token))
                if finish or len(r.output) >= r.max_tokens:
                    r.finish = finish or "length"
                    session.remove(r.id)         # travels with the next step
                    active.remove(r)
                    done.append(r)
                    print(f"step {step:3d}  - #{r.id} done    ({r.finish}, {len(r.output)} tokens, "
                          f"{len(active)} still running)")
            step += 1
    print(f"{step} steps, {sum(len(r.output) for r in done)} tokens")
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=os.environ.get("TALLY_TARGET", "127.0.0.1:50051"),
                    help="Tally's address: unix:/path or host:port (default: $TALLY_TARGET "
                         "or 127.0.0.1:50051)")
    ap.add_argument("--max-batch", type=int, default=3, help="most sequences per step")
    ap.add_argument("--train-steps", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1, help="seed of the training and the draws")
    ap.add_argument("--dtype", choices=["float32", "float16", "bfloat16"], default="float32",
                    help="dtype of the logits sent to Tally")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

    start = time.perf_counter()
    model = train(args.train_steps, args.seed)
    print(f"({time.perf_counter() - start:.1f} s)\n")
    with Client(args.target) as client:
        client.wait_ready(timeout=30)
        done = serve(client, model, requests(args.seed), args.max_batch, getattr(torch, args.dtype))
    print()
    for r in sorted(done, key=lambda r: r.id):
        text = decode(r.output).rstrip("\n").replace("\n", " / ")
        print(f"#{r.id} [{r.finish}] {r.prompt!r} -> {text!r}")


if __name__ == "__main__":
    main()
