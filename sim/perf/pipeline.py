"""A pipelined iteration as a permutation flow shop: micro-batches through a CPU stage and ``pp`` GPU stages.

An iteration of a pipeline-parallel replica is cut into ``m`` micro-batches of whole sequences
(:func:`sim.perf.parallel.micro_batches`) that go, in order, through ``pp + 1`` stages:

- **the CPU stage**: the engine's one scheduling thread, a serial resource that prepares micro-batch
  ``j + 1`` while the GPUs run ``j`` and, in the same loop, processes the outputs of the micro-batches
  that came back. Its time for micro-batch ``j`` is the whole CPU side of an iteration of that
  micro-batch (:mod:`sim.perf.overhead`: fixed + per sequence + per token + per streamed token),
  charged before the micro-batch's first GPU stage. vLLM V1's batch queue
  (``EngineCore.step_with_batch_queue``, ``vllm/v1/engine/core.py``: it schedules and launches a new
  batch without blocking while fewer than ``pipeline_parallel_size`` batches are in flight, and only
  then waits for the oldest), SGLang's ``event_loop_pp`` (``python/sglang/srt/managers/``: for each
  micro-batch in turn, receive requests, schedule, launch, then process a finished micro-batch's
  results) and TensorRT-LLM's ``PyExecutor._executor_loop_pp``
  (``tensorrt_llm/_torch/pyexecutor/py_executor.py``: each turn of the loop schedules one micro-batch,
  launches its forward asynchronously, then finalizes an earlier micro-batch's responses) all run this way (github.com/vllm-project/vllm,
  github.com/sgl-project/sglang, github.com/NVIDIA/TensorRT-LLM).
- **the GPU stages** ``1 .. pp``: every stage holds ``ceil(n_layers / pp)`` layers (the largest stage,
  :func:`sim.perf.memory.stage_layers`) and takes the same time for a micro-batch's layers, with their
  tensor-parallel collectives and activations; the **last** stage also runs the lm head and sampling
  (vLLM's and SGLang's model classes build ``lm_head`` only where the pipeline group ``is_last_rank``,
  a ``PPMissingLayer`` elsewhere; TensorRT-LLM's loop samples on the last PP rank only). The first stage's embedding is a gather of ``T * hidden`` values, not priced.
  Between GPU stages a micro-batch's activations take a hand-off (:meth:`sim.perf.parallel.Layout.
  stage_handoff_s_per_byte`) that holds neither stage: it is sent while the stage starts its next
  micro-batch.

The iteration takes the makespan of that flow shop (:func:`pipeline_makespan`), computed exactly:
``m x (pp + 1)`` additions. With the lm head and the CPU at zero every stage takes the same time and
the makespan is the proportionate flow shop's ``sum_j t_j + (pp - 1) * max_j (t_j + h_j)``.

A small example: PP2, two equal decode micro-batches ``a`` and ``b`` whose layers take 10 ms per stage,
an lm head of 1 ms on stage 2, 0.5 ms of CPU per micro-batch and 0.125 ms hand-offs (ms)::

    CPU   a 0-0.5, b 0.5-1
    GPU1  a 0.5-10.5            b 10.5-20.5
    GPU2  a 10.625-21.625       b 21.625-32.625     (a's hand-off 10.5-10.625; stage 2 is the bottleneck)

>>> pipeline_makespan([(0.5, 10.0, 11.0, 0.125)] * 2, pp=2)
32.625

Every stage paying the lm head and the CPU, as one slot of 11.5 ms, would give ``2 * 11.5 + (11.5 +
0.125) = 34.625`` ms.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.perf.base import BatchShape
from sim.perf.parallel import COLLECTIVE_LATENCY_S, micro_batch_sizes, micro_batches


def pipeline_makespan(jobs: Sequence[tuple[float, float, float, float]], pp: int) -> float:
    """Seconds from the first micro-batch's CPU work to the last one's end on the last stage.

    ``jobs``: one ``(cpu_s, stage_s, last_s, handoff_s)`` per micro-batch, in order: its seconds on the
    CPU stage (machine 0), on each of the GPU stages ``1 .. pp - 1``, on the last GPU stage ``pp``, and
    the hand-off between GPU stages (none from the CPU into stage 1). Each machine takes one job at a
    time, in the given order (a permutation flow shop), so with ``p[j][k]`` job ``j``'s seconds on
    machine ``k`` and ``lag[j][k]`` its transfer from machine ``k`` to ``k + 1``::

        C[j][k] = max(C[j-1][k], C[j][k-1] + lag[j][k-1]) + p[j][k]

    and the makespan is ``C[m-1][pp]``: ``m x (pp + 1)`` additions and comparisons.

    It is the longest path through the grid of jobs and machines that moves right (next job, same
    machine) or down (same job, next machine, paying the lag). When the CPU takes no time and every
    GPU stage takes the same ``t_j`` for job ``j`` (a proportionate flow shop), every such path visits
    each job once and pays ``t_j + h_j`` at each of its ``pp - 1`` downward moves between GPU stages,
    so the longest makes them all at the job with the largest ``t_j + h_j``::

        makespan = sum_j t_j + (pp - 1) * max_j (t_j + h_j)

    for any hand-offs: the formula pipelined iterations were timed with before the stages had
    distinct times. Two equal jobs of 10 on two stages with a hand-off of 1 take 10 + 10 + (10 + 1);
    a slower last stage (12) is the bottleneck from the first job's arrival on, 10 + 1 + 12 + 12:

    >>> pipeline_makespan([(0.0, 10.0, 10.0, 1.0)] * 2, pp=2)
    31.0
    >>> pipeline_makespan([(0.0, 10.0, 12.0, 1.0)] * 2, pp=2)
    35.0
    """
    done = [0.0] * (pp + 1)          # C[j-1][k]: when machine k finished the previous job
    last = pp
    for cpu_s, stage_s, last_s, handoff_s in jobs:
        end = done[0] + cpu_s        # the CPU takes the jobs back to back
        done[0] = end
        ready = end                  # no transfer into the first GPU stage
        for k in range(1, last + 1):
            free = done[k]
            end = (free if free > ready else ready) + (stage_s if k < last else last_s)
            done[k] = end
            ready = end + handoff_s
    return done[last]


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
        """``(cpu_s, stage_s, last_s, handoff_s)`` of one micro-batch (:func:`pipeline_makespan`): every GPU
        stage its layers with their activations and collectives, the last also the lm head."""
        stage_s = layers_s + act_s + comm_s
        return cpu_s, stage_s, stage_s + lm_s, handoff_s

    def pipeline_schedule(self, shape: BatchShape) -> list[tuple[float, float, float, float]]:
        """The micro-batches of a pipelined iteration of ``shape`` as :func:`pipeline_makespan` takes them
        (module docstring): one ``(cpu_s, stage_s, last_s, handoff_s)`` per micro-batch, in order."""
        if not shape.prefill_tokens and not shape.prefill_seqs:
            return self._decode_schedule(shape.decode_seqs, shape.decode_context_tokens)
        jobs: list[tuple[float, float, float, float]] = []
        for count, b in micro_batches(shape, self.layout.n_micro_batches):
            n_tokens = b.prefill_tokens + b.decode_seqs
            n_emit = b.decode_seqs + b.prefill_seqs
            layers_s = float(self._layers_s(n_tokens, b.prefill_tokens, b.prefill_attn_pairs, b.prefill_kv_tokens,
                                            b.decode_seqs, b.decode_context_tokens, n_emit, max))
            act_s, comm_s = self._act_comm_s(n_tokens)
            jobs += [self._job(layers_s, act_s, comm_s, self._lm_head_s(n_emit), self.cpu.seconds(n_emit, n_tokens),
                               COLLECTIVE_LATENCY_S + self._handoff_s_per_token * n_tokens)] * count
        return jobs

    def _decode_schedule(self, n_seqs: int, context_tokens: Any) -> list[tuple[float, float, float, float]]:
        """:meth:`pipeline_schedule` of a pure-decode iteration (the engine's per-step path): the split into
        micro-batches and every term that depends on a micro-batch's size only (all but attention) are
        cached per ``n_seqs``; each micro-batch takes its decodes' share of the context, as
        :func:`sim.perf.parallel.micro_batches` gives it."""
        runs = self._pp_decode.get(n_seqs)
        if runs is None:
            runs = []
            for count, _, k_d in micro_batch_sizes(0, n_seqs, self.layout.n_micro_batches):
                act_s, comm_s = self._act_comm_s(k_d)
                linear_s = None if self._adp else self._linear_parts(k_d)[2]
                runs.append((count, k_d, k_d / n_seqs, linear_s, act_s, comm_s, self._lm_head_s(k_d),
                             self.cpu.seconds(k_d, k_d), COLLECTIVE_LATENCY_S + self._handoff_s_per_token * k_d))
            if len(self._pp_decode) < 65536:
                self._pp_decode[n_seqs] = runs
        jobs: list[tuple[float, float, float, float]] = []
        for count, k_d, share, linear_s, act_s, comm_s, lm_s, cpu_s, handoff_s in runs:
            layers_s = float(self._layers_s(k_d, 0, 0.0, 0, k_d, context_tokens * share, k_d, max, linear_s))
            jobs += [self._job(layers_s, act_s, comm_s, lm_s, cpu_s, handoff_s)] * count
        return jobs

    def _pipelined(self, shape: BatchShape) -> float:
        """Seconds of a pipelined iteration: the makespan of its flow shop (module docstring)."""
        return pipeline_makespan(self.pipeline_schedule(shape), self.layout.pp)
