"""CPU and serving overheads of one iteration: the time a step spends outside the GPU kernels.

An iteration-level engine does CPU work around every forward pass: schedule the batch, build its
input metadata, launch kernels, copy the sampled tokens back, detokenize them and stream them to
clients. Unless that work overlaps the GPU (SGLang's overlap scheduler, vLLM V1's async output
processing), it adds to the step time. :class:`CpuOverhead` models it as::

    overhead_s = fixed_s + (per_seq_s + per_stream_token_s) * sequences + per_token_s * tokens

``sequences`` are the sequences that sample a token this iteration (decodes plus prompts) — the
per-sequence scheduling and sampling work; ``tokens`` are the tokens processed (prompt tokens plus
one per decode) — the per-token input preparation. ``per_stream_token_s`` is the work of returning
each sampled token to its client as it is generated (a streaming response: detokenization, the
response object, serialization, the hand-off to the front end); a run whose clients do not stream
(an offline/batch run that returns each request once, complete) does not do it, which is why the
scenario key ``perf.streaming: false`` sets it to 0 (:func:`sim.perf.build_step_model`).

Published evidence for the streaming term (no public source gives a per-token figure for
TensorRT-LLM's C++ executor, which is why it defaults to 0 and is a scenario's choice):

- TensorRT-LLM: "For each response, TensorRT LLM must perform detokenization ... and OpenAI API
  protocol objects need to be initialized ... One observation from the user side will be reduced
  streaming performance when compared to non-streaming" (TensorRT-LLM tech blog 8, "Scaling Expert
  Parallelism in TensorRT-LLM, part 2", section "Support Stream Interval"; github.com/NVIDIA/
  TensorRT-LLM issue 2613 "Performance of streaming requests is worse than non-streaming" and pull
  5284 ``stream_interval``: "the overhead of streaming is only revealed when the concurrency gets high
  enough", pull 6332).
- vLLM: streaming every token added ~6 % to TPOT for Llama-3.1-8B on one H100 (ShareGPT, multi-step +
  async output processing; github.com/vllm-project/vllm pull 8335: 26.0 ms mean TPOT without
  streaming at ~8,400 output tokens/s, i.e. ~220 sequences per iteration by Little's law), about
  **7 µs per streamed token**; ``--stream-interval`` (pull 27869, vLLM blog "gpt-oss performance
  optimization", 2026-02-01) reports up to 57 % end-to-end gain at 1,024 concurrent streams on B200
  from streaming every 10th token instead of every token.
- SGLang: incremental detokenization for streaming (github.com/sgl-project/sglang pull 653: the
  detokenizer "achieves very low performance when streaming is enabled" and the forward pass is fast).
- TensorRT-LLM's C++ executor, bounded from MLPerf Inference v4.0/v4.1 Llama-2-70B (NVIDIA's harness
  streams in Server runs only): at each H200 run's published batch (Little's law) the step model is
  within ~2 % of the iteration time of both its Server (streaming) and its Offline (not streaming) run
  once the FLOPs level is set from the Offline run, which leaves at most ~5 µs per streamed token at
  455-554 sequences; the B200 Server point would take ~3.5 µs. A bound, not a measurement, so the
  default stays 0 (docs/validation.md, "The step-time curve at the published load points").

Published anchors (none gives a per-batch-size curve for one stack, which is why the per-sequence
and per-token terms default to 0 and are a scenario's choice):

- vLLM V0 before multi-step scheduling: "5-13 ms of GPU bubble" per decode step from output
  processing, input preparation and scheduling (RFC "Multi-Step Scheduling", github.com/vllm-project/vllm
  issue 6854); for Llama-3-8B on one H100, 29 % of the run time was scheduling and 33 % the HTTP API
  server (vLLM blog, "vLLM v0.6.0: 2.7x Throughput Improvement and 5x Latency Reduction", 2024-09-05).
- vLLM V0 scheduler alone: ~2.5 ms per iteration on an A10 benchmark (github.com/vllm-project/vllm
  pull 4261).
- vLLM V1 scheduler alone: ~0.1 ms per ``schedule()`` call in a 5,000-request FCFS microbenchmark
  (github.com/vllm-project/vllm pull 19057).

The fixed part is the GPU catalog's calibrated ``overhead_s`` (see docs/performance_model.md).

    >>> CpuOverhead(0.001, 2e-5, 0.0).seconds(100, 300)
    0.003
    >>> CpuOverhead(0.001, 2e-5, 0.0, 7e-6).seconds(100, 300)
    0.0037
    >>> CpuOverhead(0.001).is_fixed
    True
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CpuOverhead:
    """Seconds of CPU-side work per iteration (see module docstring)."""

    fixed_s: float = 0.0
    per_seq_s: float = 0.0
    per_token_s: float = 0.0
    per_stream_token_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("fixed_s", "per_seq_s", "per_token_s", "per_stream_token_s"):
            v = getattr(self, name)
            if not v >= 0 or v == float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0 (got {v!r})")

    @property
    def is_fixed(self) -> bool:
        """True when the overhead does not depend on the batch."""
        return self.per_seq_s == 0.0 and self.per_token_s == 0.0 and self.per_stream_token_s == 0.0

    def seconds(self, n_seqs: int, n_tokens: int) -> float:
        """Overhead of an iteration sampling ``n_seqs`` sequences over ``n_tokens`` tokens."""
        if self.is_fixed:
            return self.fixed_s
        return self.fixed_s + ((self.per_seq_s + self.per_stream_token_s) * n_seqs + self.per_token_s * n_tokens)
