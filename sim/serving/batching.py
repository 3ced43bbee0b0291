"""Where a batch is formed: the batching policies of a replica, each a small unit chosen by name.

Every iteration the replica asks its policy for the next batch: :meth:`Batching.schedule`
admits waiting requests (taking their KV blocks) and returns ``(shape, prefills, decode,
k_fast)`` -- the batch shape for the step-time model, the prefill chunks ``[(req, tokens)]``,
whether the running decoders take a step, and (fast engine) how many identical decode
iterations may run before anything changes -- or ``None`` when nothing can run.

* ``continuous`` (vLLM V0, :class:`Continuous`): admit whole prompts (head of line, within
  ``max_num_seqs``, ``max_batched_tokens`` and free blocks above the watermark); an iteration
  that admits prefills runs prefills only, otherwise every running sequence decodes one token.
* ``chunked`` (:class:`Chunked`; vLLM V1, or V0 with ``chunked_prefill: true``): decodes first,
  then partial prefills, then new prompts, chunked to fill the token budget.
* ``mixed`` (:class:`Mixed`; TensorRT-LLM in-flight batching): as ``chunked`` but a prompt is
  never split: it joins the decode iteration whole, or waits (head of line) until it fits.
* ``prefill_first`` (:class:`PrefillFirst`; SGLang): an iteration with prompts (chunked to the
  budget) runs them alone; the running decodes step only when no prompt can be admitted.

Which one a pool runs follows from its ``batching`` keys after the scheduler preset
(:mod:`sim.scenario.schedulers`): ``mixed_batches`` and ``chunked_prefill``. With
``kv_reservation: full`` admission also needs the whole sequence's blocks beyond every admitted
request's final need (the replica's ``committed`` blocks), so nothing is ever preempted.
* ``static`` (:class:`Static`): wait for ``batch_size`` requests (or the oldest's ``timeout_s``),
  reserve their whole final context, one prefill iteration, decode until the last one finishes.

The ``priority`` policy is ``continuous`` or ``chunked`` with the queue ordered by class
priority (:class:`~sim.serving.waiting.Waiting`) and the victim of a preemption chosen among the
lowest class (:data:`VICTIMS`). With ``prefill_min_free_kv_pct`` (ROCm vLLM's
``VLLM_SCHED_PREFILL_KVC_FREEPCT``) an iteration admits new prompts only while more than that
percentage of the KV blocks is free (:func:`prefill_gate_open`). A policy never touches the clock; it calls the replica's
admission and batch-membership steps (``_admit``, ``_make_room``, ``_join_decode``) and reads
its queue, KV cache and decode-batch aggregates.

>>> sorted(SCHEDULERS), sorted(VICTIMS)
(['chunked', 'continuous', 'mixed', 'prefill_first', 'static'], ['lowest_priority', 'newest'])
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sim.perf.base import BatchShape
from sim.serving.request import Req

if TYPE_CHECKING:
    from sim.scenario.schema import Batching as BatchingConfig
    from sim.serving.replica import Replica


# ---------------------------------------------------------------------- victim choice
def newest(active: dict[int, Req]) -> Req:
    """The most recently admitted sequence (vLLM's recompute preemption)."""
    return next(reversed(active.values()))


def newest_of_lowest_class(active: dict[int, Req]) -> Req:
    """The most recently admitted sequence of the lowest priority class present."""
    low = min(r.prio for r in active.values())
    for r in reversed(active.values()):
        if r.prio == low:
            return r
    raise AssertionError("unreachable: the lowest class is present")  # pragma: no cover


VICTIMS = {"newest": newest, "lowest_priority": newest_of_lowest_class}


# ---------------------------------------------------------------------- shapes
def prefill_shape(prefills: list[tuple[Req, int]], n_dec: int, ctx_sum: int) -> BatchShape:
    """The batch shape of prompt chunks ``[(req, tokens)]`` (each continuing from ``req.pf_done``)
    plus ``n_dec`` decoders whose contexts sum to ``ctx_sum``."""
    tokens = 0
    pairs = 0.0
    kv = 0
    for r, chunk in prefills:
        prior = r.pf_done
        tokens += chunk
        pairs += chunk * (prior + (chunk + 1) / 2)
        kv += prior + chunk
    return BatchShape(prefill_tokens=tokens, prefill_seqs=len(prefills), prefill_attn_pairs=pairs,
                      prefill_kv_tokens=kv, decode_seqs=n_dec,
                      decode_context_tokens=(ctx_sum + n_dec) if n_dec else 0)


def decode_shape(n_dec: int, ctx_sum: int) -> BatchShape:
    """A decode-only iteration of ``n_dec`` sequences (each writes one more token's KV)."""
    return BatchShape(decode_seqs=n_dec, decode_context_tokens=ctx_sum + n_dec)


# ---------------------------------------------------------------------- admission
def prefill_gate_open(min_free_pct: float, free: int, total: int) -> bool:
    """Whether an iteration may admit new prompts: more than ``min_free_pct`` per cent of the
    ``total`` KV blocks are ``free`` (0: always).

    ROCm's vLLM fork (``VLLM_SCHED_PREFILL_KVC_FREEPCT``, github.com/ROCm/vllm pull request 89,
    ``Scheduler._schedule_prefills`` in ``vllm/core/scheduler.py``) takes the free share once per
    scheduler step, before the first prompt, and skips every prefill of that step unless
    ``100 * free / total`` exceeds the setting: "decode gets priority. As sequences finish decode, kv
    cache gets freed up". Prompts admitted in an open step may take the cache below the threshold.
    Compared in integers, so a threshold that is a whole percentage is exact.

    >>> prefill_gate_open(31.0, 310, 1000), prefill_gate_open(31.0, 311, 1000), prefill_gate_open(0.0, 0, 1000)
    (False, True, True)
    """
    return not min_free_pct or 100 * free > min_free_pct * total


def full_reservation(rep: "Replica", r: Req, hit: int) -> int | None:
    """Blocks ``r`` will own at its last token if the replica reserves whole sequences (0 if it
    does not), or None when they do not fit beside the admitted requests' reservations."""
    if not rep.full:
        return 0
    kv = rep.kv
    final = kv.blocks_for(r.target + r.output - r.gen - 1) - hit // kv.block_size
    return final if rep.committed + kv.pinned + final <= kv.total - kv.watermark else None


def admit(rep: "Replica", blocks: int, hit: int, final: int) -> Req:
    """Admit the head of the queue, holding ``blocks`` and reserving ``final`` (see full_reservation)."""
    r = rep._admit(blocks, hit)
    r.rsv = final
    rep.committed += final
    return r


def admit_whole_prompts(rep: "Replica") -> list[tuple[Req, int]]:
    """Admit waiting requests with their whole prompts, head of line, while the batch stays within
    ``max_num_seqs``, the token budget and the free blocks above the watermark. An over-long
    recompute (prompt plus generated tokens over the budget) runs alone. Returns the prefills."""
    w = rep.waiting
    q = w._heap if w.priority else w._dq
    kv = rep.kv
    bs = kv.block_size
    cap = kv.total - kv.watermark
    caching = kv.prefix_caching
    budget0 = budget = rep.budget
    max_seqs = rep.max_seqs
    n_seqs = len(rep.active)
    prefills: list[tuple[Req, int]] = []
    if not prefill_gate_open(rep.batching.min_free_pct, kv.total - kv.used, kv.total):
        return prefills
    while q and n_seqs < max_seqs:
        r = w.peek()
        target = r.target
        hit = kv.prefix_hit(r.cls, target) if caching else 0
        need = target - hit
        if need > budget and (prefills or need <= budget0):
            break  # over the token budget (an over-long recompute runs alone)
        blocks = -(-target // bs) - hit // bs
        if kv.used + blocks > cap:
            break
        final = full_reservation(rep, r, hit)
        if final is None:
            break
        admit(rep, blocks, hit, final)
        prefills.append((r, need))
        budget -= need
        n_seqs += 1
    return prefills


class Batching:
    """A replica's batching policy: how the next iteration's batch is formed, whom to preempt."""

    name = ""

    def __init__(self, victim: str = "newest", min_free_pct: float = 0.0) -> None:
        self.victim = VICTIMS[victim]
        self.min_free_pct = min_free_pct  # prompts only above this KV free share (prefill_gate_open)

    def schedule(self, rep: "Replica"):
        """The next iteration: ``(shape, prefills, decode, k_fast)``, or None if nothing can run."""
        raise NotImplementedError

    def ready(self, rep: "Replica") -> bool:
        """Whether an idle replica should form a batch now."""
        return len(rep.waiting) > 0

    @staticmethod
    def _decode_step(rep: "Replica", prefills: list):
        k = rep._fast_k() if rep.fast else 0
        return (decode_shape(rep.n_dec, rep.ctx_sum) if k <= 1 else None), prefills, True, k


class Continuous(Batching):
    """vLLM V0 continuous batching without chunked prefill: prefill-only iterations come first."""

    name = "continuous"

    def schedule(self, rep: "Replica"):
        if rep.role == "decode":
            admit_transferred(rep)
        prefills = admit_whole_prompts(rep)
        if prefills:
            return prefill_shape(prefills, 0, 0), prefills, False, 0
        if rep.n_dec == 0:
            return None
        rep._make_room()
        if rep.n_dec == 0:
            return self.schedule(rep)
        return self._decode_step(rep, prefills)


class Chunked(Batching):
    """Chunked prefill: every running decode first, then partial prefills, then new prompts,
    chunked to fill ``max_batched_tokens``. :class:`Mixed` and :class:`PrefillFirst` change one
    rule each (``split``, ``mixed``)."""

    name = "chunked"
    mixed = True   # prompts share the iteration (and its token budget) with the running decodes
    split = True   # a prompt longer than the budget left is split; else it waits until it fits whole

    def schedule(self, rep: "Replica"):
        if rep.role == "decode":
            admit_transferred(rep)
        prefills: list[tuple[Req, int]] = []
        kv = rep.kv
        mixed, split = self.mixed, self.split
        reserved = 0
        if rep.n_dec:
            rep._make_room()
            reserved = kv.needs_at(rep.dc)
        budget = rep.budget - rep.n_dec if mixed else rep.budget
        n_seqs = len(rep.active)
        for r in list(rep.prefilling.values()):
            if budget <= 0:
                break
            chunk = min(r.target - r.pf_done, budget)
            prefills.append((r, chunk))
            budget -= chunk
        bs = kv.block_size
        gate = prefill_gate_open(self.min_free_pct, kv.total - kv.used - reserved, kv.total)
        while gate and budget > 0 and len(rep.waiting) and n_seqs < rep.max_seqs:
            r = rep.waiting.peek()
            hit = kv.prefix_hit(r.cls, r.target)
            need = r.target - hit
            if not split and need > budget and (prefills or need <= rep.budget or (mixed and rep.n_dec)):
                break  # a whole prompt waits for room in the budget (an over-long recompute runs alone)
            blocks = kv.blocks_for(r.target) - hit // bs
            if not kv.fits(blocks, reserved):
                break
            final = full_reservation(rep, r, hit)
            if final is None:
                break  # the whole sequence's blocks must stay available
            admit(rep, blocks, hit, final)
            rep.prefilling[r.rid] = r
            chunk = min(need, budget) if split else need
            prefills.append((r, chunk))
            budget -= chunk
            n_seqs += 1
        if not prefills and rep.n_dec == 0:
            return None
        if not prefills:
            return self._decode_step(rep, prefills)
        if not mixed:
            return prefill_shape(prefills, 0, 0), prefills, False, 0
        return prefill_shape(prefills, rep.n_dec, rep.ctx_sum), prefills, rep.n_dec > 0, 0


class Mixed(Chunked):
    """TensorRT-LLM's in-flight batching: whole prompts join the decode iteration within the token
    budget; a prompt that does not fit what is left waits (head of line)."""

    name = "mixed"
    split = False


class PrefillFirst(Chunked):
    """SGLang: prompts (chunked to the budget) run in iterations of their own, before decodes."""

    name = "prefill_first"
    mixed = False


class Static(Batching):
    """Static batching: ``batch_size`` requests (or fewer after ``timeout_s``) with their whole
    final context reserved, one prefill iteration, then decode until the last one finishes."""

    name = "static"

    def __init__(self, size: int, timeout_s: float | None, victim: str = "newest") -> None:
        super().__init__(victim)
        self.size = size
        self.timeout_s = timeout_s

    def deadline(self, rep: "Replica") -> float:
        """When the oldest waiting request's timeout makes a partial batch go."""
        return rep.waiting.peek().queued_at + (self.timeout_s or 0.0)

    def ready(self, rep: "Replica") -> bool:
        n = len(rep.waiting)
        if not n:
            return False
        if n >= self.size or rep.draining:
            return True
        if self.timeout_s is None:
            return False
        return rep.env.now >= self.deadline(rep)

    def schedule(self, rep: "Replica"):
        if rep.n_dec == 0 and not rep.prefilling and not rep.active:
            kv = rep.kv
            prefills = []
            n = 0
            while len(rep.waiting) and n < self.size:
                r = rep.waiting.peek()
                # the whole final context: a prefill emits a token without adding context, a
                # transferred request (kv_ready) already holds ``target`` tokens and has emitted ``gen``
                final = r.target + r.output - r.gen - (0 if r.kv_ready else 1)
                blocks = kv.blocks_for(final)
                if kv.used + blocks > kv.total:
                    break
                rep._admit(blocks)
                n += 1
                if r.kv_ready:
                    r.kv_ready = False
                    rep._join_decode(r, r.last_tok)
                else:
                    prefills.append((r, r.target))
            if not n:
                return None
            if prefills:
                return prefill_shape(prefills, 0, 0), prefills, False, 0
        k = rep._fast_k() if rep.fast else 0
        return decode_shape(rep.n_dec, rep.ctx_sum), [], True, k


def admit_transferred(rep: "Replica") -> None:
    """Decode role: transferred requests at the head of the queue join the decode batch directly."""
    kv = rep.kv
    n_seqs = len(rep.active)
    while len(rep.waiting) and n_seqs < rep.max_seqs:
        r = rep.waiting.peek()
        if not r.kv_ready:
            break
        blocks = kv.blocks_for(r.target)
        if not kv.fits(blocks):
            break
        rep._admit(blocks)
        r.kv_ready = False
        rep._join_decode(r, r.last_tok)
        n_seqs += 1


SCHEDULERS = {"continuous": Continuous, "chunked": Chunked, "mixed": Mixed, "prefill_first": PrefillFirst,
              "static": Static}
ITERATION_RULES = {(False, False): "continuous", (True, True): "chunked", (True, False): "mixed",
                   (False, True): "prefill_first"}
"""Policy name by ``(mixed_batches, chunked_prefill)``."""


def make_batching(cfg: "BatchingConfig") -> Batching:
    """The policy of a pool's ``batching`` block: ``static``; else by ``mixed_batches`` and
    ``chunked_prefill`` (:data:`ITERATION_RULES`); ``priority`` chooses victims of the lowest class;
    ``prefill_min_free_kv_pct`` gates new prompts (:func:`prefill_gate_open`)."""
    victim = "lowest_priority" if cfg.policy == "priority" else "newest"
    if cfg.policy == "static":
        return Static(cfg.batch_size or 0, cfg.timeout_s, victim)
    policy = SCHEDULERS[ITERATION_RULES[(cfg.mixed_batches, cfg.chunked_prefill)]]
    return policy(victim, cfg.prefill_min_free_kv_pct)
