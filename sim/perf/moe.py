"""Expert parallelism: where a batch's routed tokens land, and what the busiest expert rank does.

With ``ep`` expert-parallel ranks (``ep`` divides the stage's ``tp`` GPUs and the ``E`` routed
experts) each rank holds ``E/ep`` whole experts, each split ``tp/ep`` ways over the rank's GPUs
(TensorRT-LLM's ``moe_tp_size x moe_ep_size = tp_size``; ``ep = tp``: whole experts per GPU, as
SGLang and vLLM's expert parallelism place them). Every MoE layer ends in a barrier (the combine
all-to-all or the reduce), so the layer takes as long as its **busiest rank**: the one whose
local experts the batch hits most (weights read) and that receives the most token-expert rows
(grouped-GEMM FLOPs).

Routing is taken as uniform (every token picks ``k`` of the ``E`` experts; DeepSeek's profiles and
the SGLang EP runs are measured with balanced or EPLB-balanced routing, the best case). For ``T``
tokens in the layer:

- an expert is hit with probability ``q = 1 - (1 - k/E)**T``, so a rank's distinct experts hit is
  ``X ~ Binomial(E/ep, q)`` (mean ``E/ep * q``: the ``experts_hit`` of the tensor-parallel case over
  ``ep``), and an expert receives ``n_e ~ Binomial(T, k/E)`` of the tokens;
- the busiest rank's expectation, with ranks treated as independent (the balls-into-bins
  approximation; ``tests/test_moe.py`` checks it against simulated routing), is
  ``E[max] = sum_{x >= 0} (1 - F(x)**ep)`` with ``F`` the CDF of one rank's count.

At one decoding token DeepSeek-V3 (E = 256, k = 8) over EP8 reads on average one expert per rank
but its busiest rank reads 2.5: expert-parallel decode at small batch is set by that rank, not by
the average. From a few hundred tokens every local expert is hit and the weights read are the
same on every rank; the rows then differ by their statistical spread only (a few %).

**Grouped-GEMM tiles.** A grouped GEMM runs each expert's rows in tiles of ``GEMM_TILE_M`` rows,
so an expert routed ``n`` rows costs ``ceil(n/64) * 64`` rows of FLOPs (weight bytes do not change).
A rank's tiles are the sum over its ``E/ep`` experts of ``ceil(n_e/64)``, ``n_e ~ Binomial(T, k/E)``;
its distribution is the ``E/ep``-fold convolution of one expert's, and the busiest rank's expected
tiles follow from it as above. At 32 tokens per expert (DeepSeek-R1, 1,024 decodes on EP8) the
tiles double the expert FLOPs; those GEMMs stay weight-bound there.

    >>> ep = ExpertLoad(n_experts=256, experts_per_token=8, ep=8)
    >>> round(ep.mean_experts(1), 3), round(ep.busiest_experts(1), 1)
    (1.0, 2.5)
    >>> round(ep.busiest_experts(4096), 1)      # every local expert hit
    32.0
"""
from __future__ import annotations

import math

import numpy as np

GEMM_TILE_M = 64
"""Rows per tile of a grouped GEMM: the smallest M of Hopper's ``wgmma`` (m64nNk) and of
Blackwell's single-CTA ``tcgen05.mma`` (M = 64 or 128), the BLOCK_M that DeepGEMM's grouped
kernels start from (github.com/deepseek-ai/DeepGEMM; NVIDIA PTX ISA, warpgroup MMA shapes)."""


def experts_hit(n_experts: int, experts_per_token: int, n_tokens: float) -> float:
    """Expected distinct experts routed at least one of ``n_tokens`` tokens, each picking ``experts_per_token``
    of the ``n_experts`` uniformly: ``E (1 - (1 - k/E)**T)``, held within ``[k, E]``.

    >>> experts_hit(256, 8, 1), round(experts_hit(256, 8, 128), 1), experts_hit(256, 8, 10_000)
    (8.0, 251.6, 256.0)
    """
    e, k = n_experts, experts_per_token
    return min(float(e), max(float(k), e * (1.0 - (1.0 - k / e) ** n_tokens)))


def binomial_pmf(n: int, p: float) -> tuple[int, np.ndarray]:
    """``Binomial(n, p)`` probabilities over ``mean +- 12 sd`` (clipped to ``[0, n]``; outside it every
    probability is below 1e-30), as ``(first value, probabilities from it on)``: the first by
    log-gamma, the rest by the ratio of successive terms, so that step-time models need no scipy
    (``fleetsim run`` does not import it).

    >>> binomial_pmf(2, 0.5)
    (0, array([0.25, 0.5 , 0.25]))
    """
    if p <= 0.0 or n <= 0:
        return 0, np.array([1.0])
    if p >= 1.0:
        return n, np.array([1.0])
    mean, sd = n * p, math.sqrt(n * p * (1.0 - p))
    lo, hi = max(0, int(mean - 12.0 * sd) - 1), min(n, int(mean + 12.0 * sd) + 2)
    # log P(lo), then P(x+1)/P(x) = (n-x)/(x+1) * p/(1-p) summed up the window
    first = math.lgamma(n + 1.0) - math.lgamma(lo + 1.0) - math.lgamma(n - lo + 1.0) \
        + lo * math.log(p) + (n - lo) * math.log1p(-p)
    x = np.arange(lo, hi, dtype=float)
    steps = np.log((n - x) / (x + 1.0)) + (math.log(p) - math.log1p(-p))
    return lo, np.exp(first + np.concatenate(([0.0], np.cumsum(steps))))


def expected_max_binomial(n: int, p: float, ranks: int) -> float:
    """``E[max]`` of ``ranks`` independent ``Binomial(n, p)`` counts: ``sum_{x=0}^{n-1} (1 - F(x)**ranks)``
    (terms below the probable window are 1, above it 0).

    >>> expected_max_binomial(10, 0.5, 1)
    5.0
    >>> expected_max_binomial(4, 1.0, 3)
    4.0
    """
    if n <= 0 or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return float(n)
    if ranks == 1:
        return float(n * p)
    lo, pmf = binomial_pmf(n, p)
    cdf = np.minimum(np.cumsum(pmf), 1.0)
    return float(lo + math.fsum((1.0 - cdf[:-1] ** ranks).tolist()))


def tile_count_pmf(n: int, p: float, tile: int) -> tuple[int, np.ndarray]:
    """Distribution of ``ceil(Y / tile)`` for ``Y ~ Binomial(n, p)``: the tiles a grouped GEMM runs for
    one expert routed ``Y`` of ``n`` tokens, as ``(first value, probabilities from it on)``, the
    negligible (< 1e-16) tails cut off.

    >>> tile_count_pmf(1, 0.5, 64)
    (0, array([0.5, 0.5]))
    """
    lo, pmf = binomial_pmf(n, p)
    tiles = -(-np.arange(lo, lo + len(pmf)) // tile)
    t_lo = int(tiles[0])
    return _trim(t_lo, np.bincount(tiles - t_lo, weights=pmf))


def _trim(lo: int, pmf: np.ndarray) -> tuple[int, np.ndarray]:
    keep = np.nonzero(pmf > 1e-16)[0]
    return lo + int(keep[0]), pmf[keep[0]:keep[-1] + 1]


def expected_max_of_sums(lo: int, pmf: np.ndarray, terms: int, ranks: int) -> float:
    """``E[max]`` over ``ranks`` independent sums of ``terms`` independent draws of the integer
    distribution ``(lo, pmf)`` (the sum's distribution by repeated squaring of the convolution).

    >>> expected_max_of_sums(0, np.array([0.5, 0.5]), 1, 2)   # the larger of two fair coins
    0.75
    """
    s_lo, s = 0, np.array([1.0])
    b_lo, b = lo, pmf
    while terms:
        if terms & 1:
            s_lo, s = _trim(s_lo + b_lo, np.convolve(s, b))
        terms >>= 1
        if terms:
            b_lo, b = _trim(2 * b_lo, np.convolve(b, b))
    cdf = np.minimum(np.cumsum(s), 1.0)
    return float(s_lo + math.fsum((1.0 - cdf[:-1] ** ranks).tolist()))


class ExpertLoad:
    """Expected expert load of the busiest of ``ep`` ranks for a layer of ``T`` tokens (see module
    docstring).

    Computed at ``T`` rounded to three significant figures (every token count up to 999; 5,623 as
    5,620) with the rows scaled back to ``T``, and cached: a replica with chunked prefill sees
    thousands of distinct token counts, and the load changes by far less than the rounding there.
    """

    __slots__ = ("e", "k", "ep", "local", "_cache")

    def __init__(self, n_experts: int, experts_per_token: int, ep: int) -> None:
        if ep < 1 or n_experts % ep:
            raise ValueError(f"ep must divide n_experts={n_experts} (got {ep})")
        self.e, self.k, self.ep = n_experts, experts_per_token, ep
        self.local = n_experts // ep
        self._cache: dict[int, tuple[float, float]] = {}

    def hit_probability(self, n_tokens: float) -> float:
        """Probability that a given expert is routed at least one of ``n_tokens`` tokens."""
        return 1.0 - (1.0 - self.k / self.e) ** n_tokens

    def mean_experts(self, n_tokens: float) -> float:
        """Distinct local experts a rank reads, on average over ranks."""
        return self.local * self.hit_probability(n_tokens)

    def busiest_experts(self, n_tokens: float) -> float:
        """Distinct local experts the busiest rank reads."""
        return self.busiest(n_tokens)[0]

    def busiest_rows(self, n_tokens: float) -> float:
        """Grouped-GEMM rows (token-expert pairs, tile-padded) of the busiest rank."""
        return self.busiest(n_tokens)[1]

    def busiest(self, n_tokens: float) -> tuple[float, float]:
        """``(distinct local experts read, tile-padded rows)`` of the busiest rank."""
        t = max(1, round(n_tokens))   # a pipelined micro-batch may carry a fraction of a token
        if t >= 1000:
            t = round(t, 3 - len(str(t)))
        c = self._cache.get(t)
        if c is None:
            c = self._compute(t)
            if len(self._cache) < 65536:
                self._cache[t] = c
        return c[0], c[1] * (n_tokens / t)

    def _compute(self, t: int) -> tuple[float, float]:
        experts = expected_max_binomial(self.local, self.hit_probability(t), self.ep)
        lo, pmf = tile_count_pmf(t, self.k / self.e, GEMM_TILE_M)
        return experts, GEMM_TILE_M * expected_max_of_sums(lo, pmf, self.local, self.ep)
