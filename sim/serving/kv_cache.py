"""A replica's KV cache as vLLM's block manager sees it: fixed-size blocks, taken and given back.

The cache holds ``total`` blocks of ``block_size`` token slots. Blocks are taken when a request
is admitted (its whole prompt, or with ``static`` batching its whole final context) and given
back when it completes, is preempted, or is handed off; admission keeps a watermark of 1 % of
the blocks free (vLLM's ``watermark=0.01``), so running decoders can grow without an immediate
preemption.

Decoders are never visited per iteration. A decoder's blocks follow from its context length
(``ceil(context / block_size)``); the cache keeps, for each of the ``block_size`` phases, how
many decoders cross a block boundary at that phase (:attr:`KVCache.residues`), so the new blocks
the batch needs at iteration ``dc`` are ``residues[dc % block_size]``, and over a run of ``m``
iterations :meth:`KVCache.period` / :func:`run_needs`.

Prefix caching pins the whole blocks of a class's shared prefix after its first prefill on the
replica (counted in ``used``); later requests of the class read them instead of owning them.

>>> kv = KVCache(total=100, block_size=16)
>>> kv.blocks_for(33), kv.watermark, kv.fits(99), kv.fits(100)
(3, 1, True, False)
>>> kv.take(3)                            # a 33-token prompt admitted
>>> kv.residues[(0 - 33) % 16] += 1       # prefilled at dc 0, it joins the decode batch
>>> kv.needs_at(dc=14), kv.needs_at(dc=15)  # its context 48 grows to 49 at dc 15: a 4th block
(0, 1)
"""
from __future__ import annotations

from sim.perf.memory import ADMISSION_WATERMARK


class KVCache:
    """Block accounting of one replica. ``used`` counts every block taken (pinned prefixes and
    blocks in transfer included); ``whole`` (static batching) reserves a request's whole final
    context on admission, so decoders take no blocks as they grow."""

    __slots__ = ("block_size", "total", "watermark", "used", "residues", "whole",
                 "prefix_caching", "cached_prefix", "pinned", "in_transfer")

    def __init__(self, total: int, block_size: int, whole: bool = False, prefix_caching: bool = False) -> None:
        self.block_size = block_size
        self.total = total
        self.watermark = int(ADMISSION_WATERMARK * total)
        self.used = 0
        self.residues = [0] * block_size       # decoders by (join_dc - join_len) % block_size
        self.whole = whole
        self.prefix_caching = prefix_caching
        self.cached_prefix: dict[int, int] = {}  # class -> blocks of its shared prefix held in the cache
        self.pinned = 0                           # blocks held by cached prefixes (part of ``used``)
        self.in_transfer = 0                      # prefill role: blocks held by outgoing KV transfers

    # ------------------------------------------------------------------ taking and giving back
    @property
    def free(self) -> int:
        return self.total - self.used

    def blocks_for(self, tokens: int) -> int:
        """Blocks that hold ``tokens`` token slots."""
        return -(-tokens // self.block_size)

    def fits(self, blocks: int, reserved: int = 0) -> bool:
        """``blocks`` more (beyond ``reserved`` promised this iteration) keep the watermark free."""
        return self.used + reserved + blocks <= self.total - self.watermark

    def take(self, blocks: int) -> None:
        self.used += blocks

    def give_back(self, blocks: int) -> None:
        self.used -= blocks

    # ------------------------------------------------------------------ decoders
    # A decoder joins the batch in ``Iterations._join_decode``: ``residues[(join_dc - join_len) %
    # block_size] += 1`` and, unless ``whole``, its blocks become ``blocks_for(context)`` (less any
    # pinned prefix it reads); ``_leave_decode`` gives them back. (Written there, not as methods
    # here: a call per request measured ~3 % of the reference workload.)
    def needs_at(self, dc: int) -> int:
        """New blocks the decode iteration numbered ``dc`` takes (one per decoder crossing a block)."""
        return self.residues[dc % self.block_size] if not self.whole else 0

    def period(self, dc: int, n_dec: int) -> tuple[list[int], int]:
        """``(rot, per)``: new blocks of the coming decode iterations repeat with period
        ``block_size``; ``rot[i]`` is iteration ``dc + i``'s, ``per`` one period's (every decoder once)."""
        if self.whole:
            return [], 0
        i = dc % self.block_size
        res = self.residues
        return res[i:] + res[:i], n_dec

    def iterations_that_fit(self, k: int, dc: int, n_dec: int) -> int:
        """Of the next ``k`` decode iterations, how many run before one needs a block that is not
        free (it would preempt)."""
        if self.whole:
            return k
        free = self.total - self.used
        bs = self.block_size
        if free >= (k // bs + 1) * n_dec:
            return k  # k iterations need at most that many new blocks
        period, per = self.period(dc, n_dec)
        q, rem = divmod(free, per)
        cum = 0
        for i in range(bs):
            cum += period[i]
            if cum > rem:
                return min(k, max(q * bs + i, 0))  # iteration q*bs+i would need a preemption: stop before it
        return k

    # ------------------------------------------------------------------ prefix caching
    def prefix_hit(self, cls: int, target: int) -> int:
        """Prompt tokens of a class-``cls`` request of ``target`` tokens already cached (whole
        blocks, never the last token: vLLM always computes at least one token)."""
        if not self.prefix_caching:
            return 0
        pb = self.cached_prefix.get(cls, 0)
        if not pb:
            return 0
        return min(pb, (target - 1) // self.block_size) * self.block_size

    def pin_prefix(self, cls: int, prefix_tokens: int, target: int) -> int:
        """After a prefill of ``target`` tokens of class ``cls`` whose first ``prefix_tokens`` are
        shared: pin the prefix's whole blocks (taken from the request); returns how many (0: none)."""
        if not prefix_tokens or cls in self.cached_prefix:
            return 0
        pb = min(prefix_tokens, target - 1) // self.block_size
        if pb <= 0:
            return 0
        self.cached_prefix[cls] = pb
        self.pinned += pb
        return pb

    def forget_prefixes(self) -> None:
        """The replica failed: its prefix cache is gone."""
        self.used -= self.pinned
        self.pinned = 0
        self.cached_prefix.clear()


def run_needs(rot: list[int], per: int, m: int) -> int:
    """New blocks the first ``m`` iterations of a run take, from its :meth:`KVCache.period`.

    >>> run_needs([1, 0, 2, 0], 3, 6)   # one period (3) and the first two phases again (1 + 0)
    4
    """
    if not per or m <= 0:
        return 0
    q, r = divmod(m, len(rot))
    return q * per + sum(rot[:r])
