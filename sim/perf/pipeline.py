"""A pipelined iteration as a cyclic flow shop: micro-batches circulating through a CPU stage and ``pp`` GPU stages.

An iteration of a pipeline-parallel replica (every running sequence advances by one token) is cut
into ``m`` micro-batches of whole sequences (:func:`sim.perf.parallel.micro_batches`) that go, in
order, through ``pp + 1`` stages:

- **the CPU stage**: the engine's one scheduling thread, a serial resource that prepares micro-batch
  ``j + 1`` while the GPUs run ``j`` and, in the same loop, processes the outputs of the micro-batches
  that came back. Its time for micro-batch ``j`` is the whole CPU side of an iteration of that
  micro-batch (:mod:`sim.perf.overhead`: fixed + per sequence + per token + per streamed token),
  charged before the micro-batch's first GPU stage.
- **the GPU stages** ``1 .. pp``: every stage holds ``ceil(n_layers / pp)`` layers (the largest stage,
  :func:`sim.perf.memory.stage_layers`) and takes the same time for a micro-batch's layers, with their
  tensor-parallel collectives and activations; the **last** stage also runs the lm head and sampling
  (vLLM's and SGLang's model classes build ``lm_head`` only where the pipeline group ``is_last_rank``,
  a ``PPMissingLayer`` elsewhere; TensorRT-LLM's loop samples on the last PP rank only). The first
  stage's embedding is a gather of ``T * hidden`` values, not priced. Between GPU stages a
  micro-batch's activations take a hand-off (:meth:`sim.perf.parallel.Layout.stage_handoff_s_per_byte`)
  that holds neither stage: it is sent while the stage starts its next micro-batch.

**The pipeline stays full.** Engines do not drain the pipeline between iterations: vLLM V1's batch
queue (``EngineCore.step_with_batch_queue``, ``vllm/v1/engine/core.py``: it schedules and launches a new
batch without blocking while fewer than ``pipeline_parallel_size`` batches are in flight, and only
then waits for the oldest), SGLang's ``event_loop_pp`` (``python/sglang/srt/managers/``: for each
micro-batch in turn, receive requests, schedule, launch, then process a finished micro-batch's
results) and TensorRT-LLM's ``PyExecutor._executor_loop_pp``
(``tensorrt_llm/_torch/pyexecutor/py_executor.py``: each turn of the loop schedules one micro-batch,
launches its forward asynchronously, then finalizes an earlier micro-batch's responses) each keep
``pp`` micro-batches in flight, and a micro-batch is scheduled again (its sequences one token longer)
as soon as its previous pass has come back (github.com/vllm-project/vllm, github.com/sgl-project/sglang,
github.com/NVIDIA/TensorRT-LLM). MLPerf v5.0's 8xH100 Llama-2-70B Server run shows it: each two-GPU
PP2 engine held ~1,100 sequences by Little's law, more than one micro-batch's configured batch of 1,024
(docs/validation.md). So the micro-batches circulate, and an iteration lasts one **cycle** of that
closed flow shop (:func:`pipeline_cycle`): the time between two passes of a micro-batch, which is what
each of its sequences sees as its time per output token. A cycle is bounded below by every circuit
of the schedule: each machine must run every micro-batch once (the busiest machine's load: the last
stage's ``sum_j (layers_j + lm_j)``, or the CPU's ``sum_j cpu_j``), and each micro-batch must make its
own lap (``cpu_j + (pp - 1) * (layers_j + h_j) + layers_j + lm_j``) before its next pass. For the
micro-batches engines form (whole sequences dealt round-robin, so sizes differ by at most one, prompts
in the first) the cycle is exactly the largest of these (tested against a simulation of the
recirculating schedule); a lone micro-batch (``m = 1``) is its lap.

A small example: PP2, two equal decode micro-batches ``a`` and ``b`` whose layers take 10 ms per stage,
an lm head of 1 ms on stage 2, 0.5 ms of CPU per micro-batch and 0.125 ms hand-offs (ms). In the
steady state stage 2 never idles and ``a`` is on stage 1 while ``b`` is on stage 2::

    CPU   a 0-0.5       b 11-11.5     a 22-22.5 ...   (a micro-batch is prepared again once its pass came back)
    GPU1  a 0.5-10.5    b 11.5-21.5   a 22.5-32.5 ...
    GPU2  b 0-11        a 11-22       b 22-33 ...     (a's activations arrive at 10.625 and wait 0.375)

each lap is 0.5 + 10 + 0.125 + 11 = 21.625 ms and the last stage's load 2 x 11 = 22 ms, so a cycle
(every sequence one token further) takes 22 ms, and ``b`` is scheduled 11 ms after ``a``, when its
pass comes back:

>>> pipeline_cycle([(0.5, 10.0, 11.0, 0.125)] * 2, pp=2)
22.0

The same loops take new requests before each micro-batch is scheduled (vLLM V1's ``EngineCore`` before
each ``step_with_batch_queue``, SGLang's ``recv_requests`` per micro-batch of ``event_loop_pp``,
TensorRT-LLM's fetch at the top of each turn of ``_executor_loop_pp``), so a request arriving mid-cycle
joins the next micro-batch; the request-level engine books that as a phase lead on the cycle priced
here (:meth:`sim.serving.iteration.Iterations._lead`). Those admission points are the instants the
micro-batches are scheduled (:func:`admission_offsets`): each when its pass comes back, the passes
coming back one after another off the last stage (``b`` above 11 ms after ``a``), and no sooner than
the CPU stage has prepared the one before.

Draining the pipeline after every iteration (fill, run, drain: the first pass of ``a`` from an empty
pipeline to the end of ``b``) would take 0.5 + 10 + 0.125 + 2 x 11 = 32.625 ms; every stage paying
the lm head and the CPU as one slot of 11.5 ms on top, 34.625 ms.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sim.perf.base import BatchShape
from sim.perf.parallel import COLLECTIVE_LATENCY_S, micro_batch_sizes, micro_batches


def pipeline_cycle(jobs: Sequence[tuple[float, float, float, float]], pp: int,
                   counts: Sequence[float] | None = None) -> float:
    """Seconds of one cycle of micro-batches circulating through a CPU stage and ``pp`` GPU stages
    (module docstring): the time in which every micro-batch passes every stage once.

    ``jobs``: one ``(cpu_s, stage_s, last_s, handoff_s)`` per micro-batch, in order: its seconds on the
    CPU stage, on each of the GPU stages ``1 .. pp - 1``, on the last GPU stage ``pp``, and the hand-off
    between GPU stages; ``counts`` (default 1 each): how many equal micro-batches each job stands for
    (a mean-field iteration with fractional sequence counts may give fractional ones). The cycle is the
    largest circuit of the schedule: a machine's load (the CPU's ``sum_j cpu_j``; the last GPU stage's
    ``sum_j last_j``, which is at least any other stage's) or a micro-batch's lap
    ``cpu_j + (pp - 1) * (stage_j + handoff_j) + last_j``:

    >>> pipeline_cycle([(0.0, 10.0, 10.0, 1.0)] * 2, pp=2)       # lap 10 + 1 + 10 > load 20
    21.0
    >>> pipeline_cycle([(0.0, 10.0, 10.0, 1.0)] * 4, pp=2)       # four micro-batches hide the hand-off
    40.0
    >>> pipeline_cycle([(0.0, 10.0, 10.0, 1.0)], pp=4)           # a lone micro-batch: its lap
    43.0
    """
    return cycle_of_runs(zip(counts if counts is not None else [1] * len(jobs), jobs), pp)


def admission_offsets(jobs: Sequence[tuple[float, float, float, float]]) -> list[float]:
    """Seconds from micro-batch 0's scheduling to each micro-batch's in a cycle of ``jobs`` (as
    :func:`pipeline_cycle` takes them): the instants a pipelined engine takes new requests into its
    micro-batches (module docstring).

    A micro-batch is scheduled again when its pass comes back from the last stage, and the passes come
    back in order, each after the one before has left the last stage; the CPU stage prepares them one
    at a time. So micro-batch ``j`` is scheduled at ``max(S_(j-1) + cpu_(j-1), last_1 + ... + last_j)``
    after micro-batch 0. This is the recirculating schedule's steady state whenever a machine's load
    binds (the last stage's, or the CPU's) or a heavier micro-batch 0 (the one holding prompts) sets
    the pace with its lap; micro-batches of equal size whose own laps bind never wait for one another,
    and keep the phases they were filled with, back to back off the last stage as here. In the module's
    example ``b`` is scheduled 11 ms after ``a``; with a 12 ms CPU stage (the CPU's load binds), 12 ms:

    >>> admission_offsets([(0.5, 10.0, 11.0, 0.125)] * 2)
    [0.0, 11.0]
    >>> admission_offsets([(12.0, 10.0, 11.0, 0.125)] * 2)
    [0.0, 12.0]
    """
    out = [0.0]
    back = 0.0
    for j in range(1, len(jobs)):
        back += jobs[j][2]
        prepared = out[-1] + jobs[j - 1][0]
        out.append(prepared if prepared > back else back)
    return out


def cycle_of_runs(runs: Iterable[tuple[float, tuple[float, float, float, float]]], pp: int) -> float:
    """:func:`pipeline_cycle` of ``(count, job)`` runs of equal micro-batches (the step model's form)."""
    cpu_load = last_load = lap = 0.0
    hops = pp - 1
    for n, (cpu_s, stage_s, last_s, handoff_s) in runs:
        cpu_load += n * cpu_s
        last_load += n * last_s
        own = cpu_s + hops * (stage_s + handoff_s) + last_s
        if own > lap:
            lap = own
    return max(cpu_load, last_load, lap)


class PipelineParts:
    """The pipelined iteration of a :class:`~sim.perf.roofline.RooflineModel` (module docstring); a base of
    that class, reading its coefficients and its per-stage terms: ``_layers_s`` (a stage's layers),
    ``_linear_parts``, ``_act_comm_s`` (its activations and collectives), ``_lm_head_s`` and ``cpu``."""

    layout: Any
    cpu: Any
    _handoff_s_per_token: float
    _adp: bool
    _pp_decode: dict

    def _job(self, layers_s: float, act_s: float, comm_s: float, lm_s: float, cpu_s: float,
             handoff_s: float) -> tuple[float, float, float, float]:
        """``(cpu_s, stage_s, last_s, handoff_s)`` of one micro-batch (the cycle (:func:`pipeline_cycle`)): every GPU
        stage its layers with their activations and collectives, the last also the lm head."""
        stage_s = layers_s + act_s + comm_s
        return cpu_s, stage_s, stage_s + lm_s, handoff_s

    def pipeline_schedule(self, shape: BatchShape) -> list[tuple[float, float, float, float]]:
        """The micro-batches of a pipelined iteration of ``shape`` as :func:`pipeline_cycle` takes them
        (module docstring): one ``(cpu_s, stage_s, last_s, handoff_s)`` per micro-batch, in order (whole
        sequences: the shape's counts are integers)."""
        return [job for count, job in self._runs(shape) for _ in range(int(count))]

    def _runs(self, shape: BatchShape) -> list[tuple[float, tuple[float, float, float, float]]]:
        """``(count, job)`` runs of equal micro-batches of ``shape`` (:func:`sim.perf.parallel.micro_batches`)."""
        if not shape.prefill_tokens and not shape.prefill_seqs:
            return self._decode_runs(shape.decode_seqs, shape.decode_context_tokens)
        runs = []
        for count, b in micro_batches(shape, self.layout.n_micro_batches):
            n_tokens = b.prefill_tokens + b.decode_seqs
            n_emit = b.decode_seqs + b.prefill_seqs
            layers_s = float(self._layers_s(n_tokens, b.prefill_tokens, b.prefill_attn_pairs, b.prefill_kv_tokens,
                                            b.decode_seqs, b.decode_context_tokens, n_emit, max))
            act_s, comm_s = self._act_comm_s(n_tokens)
            runs.append((count, self._job(layers_s, act_s, comm_s, self._lm_head_s(n_emit),
                                          self.cpu.seconds(n_emit, n_tokens),
                                          COLLECTIVE_LATENCY_S + self._handoff_s_per_token * n_tokens)))
        return runs

    def _decode_runs(self, n_seqs: int, context_tokens: Any) -> list[tuple[float, tuple[float, float, float, float]]]:
        """:meth:`_runs` of a pure-decode iteration (the engine's per-step path): the split into
        micro-batches and every term that depends on a micro-batch's size only (all but attention) are
        cached per ``n_seqs``; each micro-batch takes its decodes' share of the context, as
        :func:`sim.perf.parallel.micro_batches` gives it."""
        sizes = self._pp_decode.get(n_seqs)
        if sizes is None:
            sizes = []
            for count, _, k_d in micro_batch_sizes(0, n_seqs, self.layout.n_micro_batches):
                act_s, comm_s = self._act_comm_s(k_d)
                linear_s = None if self._adp else self._linear_parts(k_d)[2]
                sizes.append((count, k_d, k_d / n_seqs, linear_s, act_s, comm_s, self._lm_head_s(k_d),
                              self.cpu.seconds(k_d, k_d), COLLECTIVE_LATENCY_S + self._handoff_s_per_token * k_d))
            if len(self._pp_decode) < 65536:
                self._pp_decode[n_seqs] = sizes
        runs = []
        for count, k_d, share, linear_s, act_s, comm_s, lm_s, cpu_s, handoff_s in sizes:
            # :meth:`_job`, inlined (the engine's per-step path)
            layers_s = float(self._layers_s(k_d, 0, 0.0, 0, k_d, context_tokens * share, k_d, max, linear_s))
            stage_s = layers_s + act_s + comm_s
            runs.append((count, (cpu_s, stage_s, stage_s + lm_s, handoff_s)))
        return runs

    def _pipelined(self, shape: BatchShape) -> float:
        """Seconds of a pipelined iteration: one cycle of its micro-batches (module docstring)."""
        return cycle_of_runs(self._runs(shape), self.layout.pp)
