"""`derive_seed`: the seed Tally draws the i-th of n samples with (docs/decode-modes.md)."""

from __future__ import annotations

_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MASK = 0xFFFFFFFF


def _philox(c0: int, c1: int, c2: int, c3: int, k0: int, k1: int) -> tuple[int, int, int, int]:
    """Philox4x32-10 (Salmon et al., SC'11) on a counter block under a key, as the server runs
    it: a second, independent implementation, so that the published vectors check both."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & _MASK, (p0 >> 32) ^ c3 ^ k1, p0 & _MASK)
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def derive_seed(seed: int, index: int) -> int:
    """The seed of the `index`-th sample under `seed` (`sample_index`, `Session.fork`): output
    words 0 and 1 of Philox4x32-10 keyed by the seed on the counter block (index low, index high,
    0, 1). What `TokenChoice.seed` echoes for such a row; unlike `seed + index`, child 1 of seed s
    is unrelated to child 0 of seed s + 1."""
    seed &= (1 << 64) - 1
    index &= (1 << 64) - 1
    w0, w1, _, _ = _philox(index & _MASK, index >> 32, 0, 1, seed & _MASK, seed >> 32)
    return w0 | (w1 << 32)
