"""A request in flight: plain slots, no SimPy process of its own.

Finished requests are copied into the columnar :class:`~sim.metrics.records.RequestLog` and dropped.
"""
from __future__ import annotations

import math

import numpy as np

# status and rejection codes of the request rows (defined with the rows' schema)
from sim.metrics.schema import (COMPLETED, FAILED, IN_FLIGHT, R_BUDGET, R_CONTEXT, R_KV, R_NO_REPLICA,  # noqa: F401
                                R_QUEUE_FULL, R_RETRIES, R_TIMEOUT, REJECT_REASONS, REJECTED)


def served_output(prompt, output, context):
    """The output tokens a request of ``prompt`` and ``output`` tokens gets from a replica whose
    context is ``context`` tokens: all of them if the whole sequence fits, else generation stops at
    the context limit (``context - prompt`` tokens, at least 1: the prefill's own token), as vLLM
    stops a sequence at ``max_model_len``. The one rule: a replica applies it to each request it
    takes (:meth:`~sim.serving.replica.Replica.enqueue`), the scheduler factor's measurement
    (:mod:`sim.serving.saturated`) to arrays of lengths, so it serves the lengths a run serves.

    >>> served_output(100, 20, 8192), served_output(100, 2_000_000_000, 8192), served_output(8192, 5, 8192)
    (20, 8092, 1)
    >>> served_output(np.array([100, 100]), np.array([20, 20_000]), 8192)
    array([  20, 8092])
    """
    if isinstance(output, np.ndarray) or isinstance(prompt, np.ndarray):
        return np.where(prompt + output > context, np.maximum(1, context - prompt), output)
    return output if prompt + output <= context else max(1, context - prompt)


_INF = math.inf


class Req:
    """Mutable state of one request while the fleet holds it.

    Token bookkeeping follows vLLM: a prefill of ``target`` tokens fills the KV cache and emits one
    token; each decode iteration writes the previous token's KV (context grows by one) and emits
    one more. While decoding, the current context is ``join_len + (replica.dc - join_dc)``.
    A request that loses its KV cache (preemption, replica failure) keeps the tokens it has
    emitted and later recomputes ``prompt + gen`` tokens, whose prefill emits the next token.
    """

    __slots__ = ("rid", "arrival", "prompt", "output", "cls", "prio",
                 "gen", "target", "pf_done", "blocks", "join_len", "join_dc", "epoch",
                 "first_tok", "sched", "last_tok", "preempt", "retries", "pool", "replica", "decoding",
                 "order", "reason", "kv_ready", "queued_at", "pb", "rsv", "lead", "deadline")

    def __init__(self, rid: int, arrival: float, prompt: int, output: int, cls: int, prio: int) -> None:
        self.rid = rid
        self.arrival = arrival
        self.prompt = prompt
        self.output = output
        self.cls = cls
        self.prio = prio
        self.gen = 0            # tokens emitted so far
        self.target = prompt    # tokens the next (or current) prefill must put in the KV cache
        self.pf_done = 0        # of ``target``, already prefilled (chunked prefill)
        self.blocks = 0         # KV blocks held while prefilling (decoders' blocks follow from context)
        self.join_len = 0
        self.join_dc = 0
        self.epoch = 0          # bumps on preemption; stale heap entries carry an old epoch
        self.first_tok = -1.0
        self.sched = -1.0       # first time admitted into a batch
        self.last_tok = -1.0
        self.preempt = 0
        self.retries = 0
        self.pool = -1
        self.replica = -1
        self.decoding = False
        self.order = 0          # admission order on the replica (preemption victims: newest first)
        self.reason = 0
        self.pb = 0             # KV blocks of a cached shared prefix this request reads but does not own
        self.kv_ready = False   # disaggregation: KV cache already on the decode replica (no prefill)
        self.queued_at = arrival  # when it (last) joins a replica's queue: its arrival, or its batcher dispatch
        self.rsv = 0            # KV blocks reserved for the whole sequence (kv_reservation: full)
        self.lead = 0.0         # pipelined replica: how far its micro-batch runs ahead of the cycle's end (s)
        self.deadline = _INF    # its client gives up unless admitted before (workload.patience_s)

    def lose_kv(self) -> None:
        """The request lost its KV cache (preemption, a replica's failure): it keeps the tokens it has
        emitted, its next prefill recomputes ``prompt + gen`` of them from the start, and its epoch
        moves on so that the decode heap's entries for it are stale."""
        self.epoch += 1
        self.kv_ready = False
        self.target = self.prompt + self.gen
        self.pf_done = 0
