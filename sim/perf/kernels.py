"""Kernel sets: what a serving stack's kernels cost beyond the GEMM roofline.

The roofline prices the GEMMs with the GPU catalog's calibrated factors. The other kernels of a
layer behave differently in different serving stacks, and a :class:`KernelSet` says how, per layer
and iteration:

- **element-wise kernels** (norms, residual add, rotary embedding, gated activation) take
  ``max(elementwise_floor_s, bytes / (hbm_bw * elementwise_bw_fraction))``: a kernel has a minimum
  duration (launch, ramp-up of a grid too small to fill the GPU), and large ones stream their bytes
  at a fraction of peak bandwidth;
- **attention** takes ``max(FLOPs / (peak * attention_flops_fraction), KV bytes / (hbm_bw *
  attention_bw_fraction))``, plus ``prefill_attention_floor_s`` in an iteration with prompt tokens and
  ``decode_attention_floor_s`` in one with decoding sequences (one kernel call per phase);
- **MoE routing** takes ``moe_routing_s`` per MoE layer in every iteration: the kernels between a layer's
  router and its first expert GEMM (score activation, grouped top-k, activation quantization, sorting the
  tokens by expert, permutation) and the spacing between them, which no GEMM roofline prices; and
  ``moe_finalize_s`` per MoE layer the same for the kernels after the first expert GEMM (the second GEMM's
  input quantization, the spacing of the activation, quantization, second GEMM and output sum).

A FLOPs fraction left ``None`` is the GPU catalog's attention kernel efficiency of the phase
(``attention_prefill_efficiency``, ``attention_decode_efficiency``: published kernel rates, whatever the weights'
precision; the GEMMs' calibrated ``flops_efficiency`` on a GPU without them); any other fraction left ``None`` is
the GEMMs' calibrated factor (``bw_efficiency``).

**Attention precision.** Decode attention computes in the KV cache's precision (its peak applies); prompt
attention as :func:`prefill_attention_dtype` says, the same in every set because the stacks agree:

- grouped-query attention with an fp8 cache runs fp8: TensorRT-LLM's FP8 context FMHA, which ``trtllm-bench``
  (the harness of its published throughput tables) enables whenever the model is FP8-quantized
  (``tensorrt_llm/bench/build/build.py``: ``use_fp8_context_fmha = True if quant_algo == QuantAlgo.FP8``;
  github.com/NVIDIA/TensorRT-LLM), and vLLM's FlashAttention-3 backend, which with an fp8 cache also quantizes the
  queries and computes in fp8 (vLLM docs, ``docs/features/quantization/quantized_kvcache.md``);
- MLA prompt attention runs bf16 whatever the cache: TensorRT-LLM's FP8 MLA kept the context phase in BF16 and
  took FP8 for the generation phase only (NVIDIA/TensorRT-LLM PR 3190); vLLM's MLA prefill kernel runs BF16
  with an fp8 cache unless ``use_prefill_query_quantization`` is set in ``--attention-config`` (default off,
  ``vllm/config/attention.py``; gated in vllm-project/vllm PR 31195 because the cast cost more than the ~1.5x
  faster kernel saved on short prompts), and with an fp8 cache vLLM's and SGLang's DeepSeek-V3.2 paths dequantize
  the cache to BF16 for the prefill kernel (vllm-project/vllm PR 27532, sgl-project/sglang PR 11655); FlashMLA
  computes in BF16 (README).

Five sets, selected by ``perf.kernels`` (docs/performance_model.md, "Kernel sets"):

``trtllm`` (default)
    TensorRT-LLM-class fused kernels: no floors, attention FLOPs at the catalog's attention kernel
    efficiencies, attention and element-wise traffic at the GEMMs' bandwidth factor. It is the model the catalog is calibrated and validated with (TensorRT-LLM and MLPerf
    rows, docs/validation.md); TensorRT-LLM fuses the element-wise work into its GEMM and attention
    kernels and replays the step as a CUDA graph, so no per-kernel floor is resolved by those rows.
    One MoE term is published: the router's top-k. TensorRT-LLM's DeepSeek-R1 throughput blog
    ("Optimizing DeepSeek R1 Throughput on NVIDIA Blackwell GPUs", section "Top-K Kernels Fusions";
    github.com/NVIDIA/TensorRT-LLM ``docs/source/blogs/tech_blog/blog3_...md``, commit 02643c1) measures
    DeepSeek's grouped top-k with its bias and scales on B200 in its max-throughput setting at 252 µs as 18
    PyTorch ops and 15 µs fused into as few as 2 kernels; per MoE layer (read per step, 15 µs over 58 MoE layers
    would leave 0.13 µs for each of 2 kernels, below one kernel's launch, and fusing would save 0.1 % of a step,
    not the published 7.4 % end-to-end speedup), so ``moe_routing_s`` = 15 µs. It is
    DeepSeek's router; the other MoE routers (Qwen3's, Mixtral's, gpt-oss's softmax top-k) are fused into
    one or two kernels as well and are taken at the same cost, no TensorRT-LLM number of their own being
    published. Applied to every GPU (a B200 number; kernels this small are launch- and latency-bound).
    The permutation, finalize and dispatch kernels around the experts are not priced (no published number).
``pytorch``
    One PyTorch operator per kernel, with vLLM-class attention kernels, as the Vidur project profiled
    Llama-2-7B on an A100 (Sarathi-Serve's layers with vLLM-derived norm, rotary and activation
    kernels, timed one operator at a time; github.com/microsoft/vidur, commit 7d47513, MIT licence:
    ``data/profiling/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv`` and a 109-row sample of its
    attention profile). The numbers are :func:`sim.perf.vidur.fit_kernel_set` on those files, rounded:
    the five element-wise operators take 28 µs per layer at one token and stream at 52 % of peak HBM
    bandwidth when large (least squares on log error over the 259 token counts 1-4,096); decode
    attention has a 13 µs per-layer floor and reads the KV cache at 85 % of peak bandwidth, prefill
    attention a 0.149 ms floor and 28.5 % of peak FLOPs (least squares on relative error over the
    sample's 68 decode and 41 prefill rows). Applied to every GPU; on Vidur's H100 profile (not used
    in the fit) the element-wise times are 12 % high in the median (H100's own fit: 23 µs, 57 %).
``vllm``
    ``trtllm`` plus vLLM's MoE routing kernels, as a vLLM contributor's kernel timeline of a DeepSeek-V3.1 decode step
    on 8 H200 (expert parallel over 8, 4 sequences, late-2025 vLLM with CUDA graphs) lists them per MoE layer
    (github.com/vllm-project/vllm/issues/28084): sigmoid 1.9, ``topk_with_k2`` 1.8,
    ``group_idx_and_topk_idx`` 7.3, a copy 1.0, ``per_token_group_quant_8bit`` 2.2, ``moe_align_block_size``
    3.5, ``moe_count_and_sort_expert_tokens`` 1.1 and two index/element-wise kernels 1.6 and 2.5 µs: 22.9 µs,
    plus their share of the inter-kernel spacing the trace measures (39.8 µs for the 12 kernels from the
    all-reduce to the first ``fused_moe``, whose durations add to 33.4 µs: 0.533 µs per kernel, 4.8 µs for
    these 9), 27.7 µs per MoE layer. The other three of the 12 (the fused residual-add RMSNorm and the
    router GEMM's two split-K kernels) are a norm and a GEMM, priced as such. Only this term is set: the
    trace gives no number for vLLM's attention or element-wise kernels (``benchmarks/deepseek_kernel_trace.py``
    sets the trace beside the step model).

    After the first expert GEMM vLLM's ``fused_moe`` runs the gated activation, quantizes its output with the same
    ``per_token_group_quant`` kernel before the second (down) expert GEMM, and sums the experts' outputs
    (``moe_sum``): ``fused_experts_impl`` in ``vllm/model_executor/layers/fused_moe/fused_moe.py``
    (github.com/vllm-project/vllm). ``moe_finalize_s`` prices what of these no roofline prices and a Hopper
    trace gives a number for: the quantization kernel, 2.2 µs as the trace times it at the first GEMM's input
    (the second quantizes 4 x 8 rows of the expert width instead of 4 rows of 7,168: launch-bound either way),
    and the four kernel boundaries (activation, quantization, second GEMM, sum) at the trace's 0.533 µs:
    4.3 µs per MoE layer. The activation's and the sum's own durations have no published Hopper number and
    stay unpriced (their bytes are in the element-wise traffic); the second GEMM is the roofline's.

    ``fp8_linear_floor_s`` is the shortest a block-fp8 linear op takes in vLLM (the activation's per-token-group
    quantization, then an fp8 GEMM with 128x128 weight-block scales): each such GEMM of a model published in
    fp8 (DeepSeek-V3/R1: ``quantization_config`` ``fp8`` with ``weight_block_size`` [128, 128]) takes
    ``max(fp8_linear_floor_s, its own roofline time)`` (:func:`block_fp8_linears` lists them). Published
    kernel times agree that these GEMMs do not get shorter than about 10 µs at 1-64 tokens, whatever the weight
    bytes: SGLang PR 5820 (github.com/sgl-project/sglang/pull/5820, its ``bench_fp8_blockwise_gemm.py``,
    ``triton.testing.do_bench``, GEMM only) times DeepSeek-V3's N=3,072 K=1,536 GEMM (4.7 MB of weights) at
    M=1 at 10.3 µs with DeepGEMM (9.4 at M=32-64), 14.5 with vLLM's CUTLASS kernel, 14.3 with SGLang's Triton
    kernel, flat to M=64, and every other DeepSeek shape it lists longer; vLLM PR 23280
    (github.com/vllm-project/vllm/pull/23280, H100, in a CUDA graph, quantization included) times the whole op
    on the fused q_a/kv_a projection (N=2,112, K=7,168) at 23.3 µs (Triton) and 34.0 µs (CUTLASS) at M=1 and 16,
    where the bf16 GEMM of the same shape takes 9.9 µs. The floor is the fastest of these kernels at 1-64 tokens
    (9.4 µs; vLLM v0.11 runs DeepGEMM for shapes ``should_use_deepgemm_for_fp8_linear`` accepts when DeepGEMM is
    installed and enabled, CUTLASS otherwise on Hopper) plus the quantization kernel as the H200 trace times it
    (2.2 µs) and the two kernel boundaries at the trace's
    0.533 µs: 12.6 µs, a lower bound of the op as PR 23280 times it.
``sglang-0.4``, ``vllm-0.7``
    ``trtllm`` and ``vllm`` (the routing terms of each) as the releases of early 2025 ran DeepSeek's block-fp8 linear
    layers, before DeepGEMM (released 2025-02-26) was integrated: ``apply_w8a8_block_fp8_linear`` (vLLM 0.7
    ``vllm/model_executor/layers/quantization/utils/fp8_utils.py``; SGLang's copy in
    ``python/sglang/srt/layers/quantization/fp8_utils.py``) ran a CUTLASS block-fp8 GEMM where N and K are multiples
    of 128 (``CUTLASS_BLOCK_FP8_SUPPORTED``, true on compute capability 9.0; SGLang made it opt-in with
    ``SUPPORT_CUTLASS_BLOCK_FP8`` only in PR 4640, 2025-03-21, whose description says the check until then
    "turns on cutlass_block_fp8 when this flag is False") and Triton's ``w8a8_block_fp8_matmul`` otherwise (at TP8
    only the 576-wide kv_a projection; which of the two SGLang 0.4.3.post2 itself ran is not pinned down by the
    sources here: the pre-DeepGEMM ``fp8_utils.py`` calls the CUTLASS kernel, but its date against the release's is
    not known, and with Triton alone its GEMMs were slower still). ``fp8_gemm_flops_fraction`` is the CUTLASS
    kernel's compute-bound rate as a fraction of the GPU's fp8 peak: 729.0 TFLOPS (:func:`cutlass_block_fp8_tflops`,
    the median of three DeepSeek shapes at 4,096 tokens in SGLang PR 5820's table: 615-891 TFLOPS, where DeepGEMM
    runs 831-1,280), 36.8 % of a Hopper SXM's 1,979 against the catalog's fp8 GEMM factor of 69.1 % (calibrated
    on per-tensor fp8 GEMMs). vLLM's own table of the kernel from the releases' month (vLLM PR 13917, 2025-02-26,
    H100, :data:`CUTLASS_BLOCK_FP8_H100_FEB25`) runs it at 603-817 TFLOPS at 1,024-4,096 tokens, a range with the
    priced 729 inside it too. Each block-fp8 linear GEMM (:func:`block_fp8_linears`) takes its smooth roofline at that
    rate instead of the GEMMs' (and at least the set's floor); the kv_a projection's Triton GEMM is priced at it too, a
    lower bound of its time (replicated at TP8, it is 10 % of these GEMMs' FLOPs per GPU; SGLang's Triton kernel ran
    268-355 TFLOPS at 4,096 tokens on H200 in SGLang PR 3893, 2025-02-26, and 563-656 on two shapes in PR 5820).
    Both sets also price the routed experts' Triton ``fused_moe`` (``triton_fused_moe``): for DeepSeek-V3/R1's TP8
    experts on an H100 or H200 each MoE layer takes the whole call's published H100 time (vLLM PR 13932, the tile the
    engines' tuned H200 file runs too), scaled to the GPU's HBM bandwidth, where that exceeds the routed experts'
    roofline and the set's routing terms (:mod:`sim.perf.fused_moe`: the sources, the rule, and its known limit, too
    slow at decode sizes).

    ``sglang-0.4`` also prices SGLang 0.4.3's MLA path for prompt chunks (``mla_absorbed_prefix_batches``):
    ``DeepseekV2AttentionMLA.forward`` (``python/sglang/srt/models/deepseek_v2.py``) ran the decompressed attention
    (``forward_normal``: 128 heads of 192/128 dimensions) only when ``forward_batch.forward_mode.is_extend()`` and
    ``forward_batch.extend_prefix_lens.sum() == 0``, i.e. when no prompt in the batch had cached tokens before
    it, and the weight-absorbed one (``forward_absorb``: multi-query attention over the 512 + 64 latent, Triton's
    ``extend_attention_fwd``) otherwise. With chunked prefill (8,192 tokens by default on an H200 at that version,
    ``server_args.py``) every prompt batch that continues a split prompt ran absorbed, for all its prompts: 3.4x
    the attention FLOPs per (query, key) pair for DeepSeek-V3 (``(2 x 512 + 64) x 128`` against ``(192 + 128) x
    128``). They are priced at the catalog's prompt attention rate (no published rate of the Triton extend kernel
    at these widths exists: a lower bound of their time). SGLang PR 5113 (2025-04) later ran such batches
    decompressed, with the cached prefix in chunks (``MHA_CHUNKED_KV``).

A set is named in a ``perf:`` block (``kernels``, ``kernel_factors``; :func:`build_kernels` builds
one from the two outside a scenario, for ``fleetsim calibrate``), and a calibration file fitted with a
set other than ``trtllm`` records it (:func:`kernel_record`), so that a block running another set
can be warned (:func:`kernel_mismatch`).

    >>> KERNEL_SETS["trtllm"].elementwise_floor_s, round(KERNEL_SETS["trtllm"].moe_routing_s * 1e6, 1)
    (0.0, 15.0)
    >>> kernel_set("pytorch").attention_bw_fraction
    0.853
    >>> round(kernel_set("vllm").moe_routing_s * 1e6, 1), round(kernel_set("vllm").moe_finalize_s * 1e6, 1)
    (27.7, 4.3)
    >>> round(kernel_set("vllm").fp8_linear_floor_s * 1e6, 1)
    12.6
    >>> round(kernel_set("sglang-0.4").fp8_gemm_flops_fraction, 3), kernel_set("vllm-0.7").fp8_linear_floor_s > 0
    (0.368, True)
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from sim.errors import InputError
from sim.scenario.architecture import ModelSpec


VLLM_ROUTING_KERNELS_S = (1.9 + 1.8 + 7.3 + 1.0 + 2.2 + 3.5 + 1.1 + 1.6 + 2.5) * 1e-6
"""The 9 routing kernels of one MoE layer in vLLM's DeepSeek-V3.1 decode step on H200 (vllm issue 28084; module
docstring), summed: 22.9 µs."""

VLLM_KERNEL_SPACING_S = (39.8 - 33.4) * 1e-6 / 12
"""Spacing per kernel in the same trace: 39.8 µs from the all-reduce to the first expert GEMM for 12 kernels
whose durations add to 33.4 µs."""

VLLM_GROUP_QUANT_S = 2.2e-6
"""``per_token_group_quant_8bit_kernel`` in the same trace (vllm issue 28084): one fp8 activation quantization
of a MoE layer's expert input at 4 sequences on H200."""

VLLM_FINALIZE_KERNELS = 4
"""Kernels of vLLM's ``fused_moe`` after its first expert GEMM: activation, quantization, second GEMM, ``moe_sum``
(``fused_experts_impl``, vllm/model_executor/layers/fused_moe/fused_moe.py)."""

BLOCK_FP8_GEMM_FLOOR_S = 9.376e-6
"""The shortest block-fp8 GEMM at 1-64 tokens in SGLang PR 5820's table of DeepSeek-V3's GEMMs: DeepGEMM on
N=3,072 K=1,536 at M=32 and 64 (10.336 µs at M=1; github.com/sgl-project/sglang/pull/5820; module docstring)."""

VLLM_BLOCK_FP8_LINEAR_FLOOR_S = BLOCK_FP8_GEMM_FLOOR_S + VLLM_GROUP_QUANT_S + 2 * VLLM_KERNEL_SPACING_S
"""One block-fp8 linear op in vLLM at a few tokens: the GEMM's floor, the activation's quantization and the
two kernels' boundaries (12.6 µs)."""


@dataclass(frozen=True, slots=True)
class KernelSet:
    """Per-kernel characteristics of one serving stack (seconds per layer per iteration, ``moe_routing_s``
    per MoE layer; fractions of the GPU's peak FLOP/s or HBM bandwidth, ``None`` = the GEMMs' calibrated
    factor)."""

    name: str
    elementwise_floor_s: float = 0.0
    elementwise_bw_fraction: float | None = None
    attention_flops_fraction: float | None = None
    attention_bw_fraction: float | None = None
    prefill_attention_floor_s: float = 0.0
    decode_attention_floor_s: float = 0.0
    moe_routing_s: float = 0.0
    moe_finalize_s: float = 0.0
    fp8_linear_floor_s: float = 0.0
    fp8_gemm_flops_fraction: float | None = None   # block-fp8 linear GEMMs' compute rate, of the fp8 peak
    mla_absorbed_prefix_batches: bool = False       # MLA prompt batches with a cached prefix run absorbed
    triton_fused_moe: bool = False                  # routed experts at the Triton fused_moe's published times


TRTLLM_FUSED_TOPK_S = 15e-6
"""TensorRT-LLM's fused top-k of DeepSeek's router on B200, per MoE layer: 252 µs as 18 PyTorch ops, 15 µs fused
(blog 3, "Top-K Kernels Fusions"; module docstring)."""

CUTLASS_BLOCK_FP8_HOPPER = ((4096, 24576, 7168, 1619.567990), (4096, 32768, 512, 223.616004),
                            (4096, 3072, 1536, 53.024001))
"""``(M, N, K, µs)``: vLLM's CUTLASS block-fp8 GEMM (``ops.cutlass_scaled_mm`` with 1x128 activation and 128x128
weight scales, the kernel of vllm-project/vllm PR 11868 that sgl-kernel copied as ``fp8_blockwise_scaled_mm``,
sgl-project/sglang PR 3267) at M = 4,096 tokens, the DeepSeek-V3 shapes at that M in the ``vllm`` column of
github.com/sgl-project/sglang/pull/5820 ("cutlass 3.9 supported to improve fp8_blockwise_gemm", 2025-04-28;
``benchmark/kernels/quantization/bench_fp8_blockwise_gemm.py``, ``triton.testing.do_bench``, the GEMM alone on
Hopper): the TP1 q_b (N=24,576 K=7,168) and kv_b (N=32,768 K=512) projections and the TP8 q_b (N=3,072 K=1,536)."""


CUTLASS_BLOCK_FP8_H100_FEB25 = ((1024, 4096, 7168, 99.7), (1024, 18432, 7168, 331.3), (2048, 4096, 7168, 198.3),
                                (4096, 4096, 7168, 392.2))
"""``(M, N, K, µs)``: the same CUTLASS kernel on H100 as vLLM timed it on 2025-02-26, the day DeepGEMM was released and
the month of the early-2025 releases (vllm-project/vllm PR 13917, ``benchmarks/kernels/deepgemm/README.md``, "vLLM
CUTLASS Implementation", the rows at M >= 1,024: 603-817 TFLOPS, 613 at M = 4,096). Not used for the rate (its shapes
are not the TP8 ones of :data:`CUTLASS_BLOCK_FP8_HOPPER`): a cross-check that the rate is what the kernel ran then."""


def cutlass_block_fp8_tflops() -> float:
    """The compute-bound rate of the CUTLASS block-fp8 GEMM: the median over :data:`CUTLASS_BLOCK_FP8_HOPPER` of
    ``2 M N K / time`` (TFLOPS).

        >>> round(cutlass_block_fp8_tflops(), 1)
        729.0
    """
    rates = sorted(2.0 * m * n * k / (us * 1e-6) / 1e12 for m, n, k, us in CUTLASS_BLOCK_FP8_HOPPER)
    return rates[len(rates) // 2]


HOPPER_FP8_PEAK_TFLOPS = 1979.0
"""H100 SXM's and H200 SXM's dense fp8 tensor-core peak (the GPU catalog's ``fp8_tflops``), the denominator of
:data:`CUTLASS_BLOCK_FP8_FRACTION`."""

CUTLASS_BLOCK_FP8_FRACTION = cutlass_block_fp8_tflops() / HOPPER_FP8_PEAK_TFLOPS
"""The CUTLASS block-fp8 GEMM's compute-bound rate as a fraction of the fp8 peak (0.368)."""

KERNEL_SETS: dict[str, KernelSet] = {
    "trtllm": KernelSet("trtllm", moe_routing_s=TRTLLM_FUSED_TOPK_S),
    "pytorch": KernelSet("pytorch", elementwise_floor_s=27.6e-6, elementwise_bw_fraction=0.524,
                         attention_flops_fraction=0.285, attention_bw_fraction=0.853,
                         prefill_attention_floor_s=148.6e-6, decode_attention_floor_s=13.1e-6),
    "vllm": KernelSet("vllm", moe_routing_s=VLLM_ROUTING_KERNELS_S + 9 * VLLM_KERNEL_SPACING_S,
                      moe_finalize_s=VLLM_GROUP_QUANT_S + VLLM_FINALIZE_KERNELS * VLLM_KERNEL_SPACING_S,
                      fp8_linear_floor_s=VLLM_BLOCK_FP8_LINEAR_FLOOR_S),
}
KERNEL_SETS["sglang-0.4"] = KernelSet("sglang-0.4", moe_routing_s=TRTLLM_FUSED_TOPK_S,
                                      fp8_gemm_flops_fraction=CUTLASS_BLOCK_FP8_FRACTION,
                                      mla_absorbed_prefix_batches=True, triton_fused_moe=True)
KERNEL_SETS["vllm-0.7"] = replace(KERNEL_SETS["vllm"], name="vllm-0.7",
                                  fp8_gemm_flops_fraction=CUTLASS_BLOCK_FP8_FRACTION, triton_fused_moe=True)
"""The kernel sets ``perf.kernels`` names (see module docstring for the sources of each number)."""


def prefill_attention_dtype(kv_dtype: str, is_mla: bool) -> str:
    """The precision prompt attention computes in with a ``kv_dtype`` cache (module docstring, "Attention
    precision"): bf16 for MLA, the cache's otherwise.

        >>> prefill_attention_dtype("fp8", False), prefill_attention_dtype("fp8", True)
        ('fp8', 'bf16')
    """
    return "bf16" if is_mla else kv_dtype


def block_fp8_linears(m: ModelSpec, tp: int, layers: int) -> tuple[tuple[int, int, int], ...]:
    """``(calls, N, K)`` per iteration of each block-fp8 linear GEMM of ``layers`` layers on one GPU of a
    tensor-parallel group of ``tp``, for a model published in fp8 (``m.weight_dtype``; empty otherwise): the
    attention projections (MLA: the fused q_a/kv_a projection, replicated, the q_b and o projections; the
    kv_b projection is absorbed into decode attention and left out), the dense layers' MLPs and the shared
    experts' (gate and up fused). The routed experts (``fused_moe``, :attr:`KernelSet.moe_finalize_s`), the
    router and the lm head (bf16 in DeepSeek's checkpoint) are not among them.

        >>> from sim.scenario.catalog import get_model
        >>> block_fp8_linears(get_model("deepseek-v3"), 8, 61)
        ((61, 2112, 7168), (61, 3072, 1536), (61, 7168, 2048), (3, 4608, 7168), (3, 7168, 2304), (58, 512, 7168), (58, 7168, 256))
    """
    if m.weight_dtype != "fp8":
        return ()
    h, moe = m.hidden, round(m.moe_layers * layers / m.n_layers)
    if m.is_mla and m.q_lora_rank:
        attn = [(m.q_lora_rank + m.kv_lora_rank + m.qk_rope_head_dim, h), (m.q_dim // tp, m.q_lora_rank)]
    elif m.is_mla:
        attn = [(m.kv_lora_rank + m.qk_rope_head_dim, h), (m.q_dim // tp, h)]
    else:
        attn = [((m.q_dim + 2 * m.kv_dim) // tp, h)]
    gemms = [(layers, n, k) for n, k in attn + [(h, m.o_dim // tp)]]
    up = m.mlp_matrices - 1
    for calls, f in ((layers - moe, m.dense_ffn_hidden or m.ffn_hidden if m.is_moe else m.ffn_hidden),
                     (moe, m.shared_ffn_hidden)):
        if calls and f:
            gemms += [(calls, up * f // tp, h), (calls, h, f // tp)]
    return tuple(gemms)


def kernel_set(name: str) -> KernelSet:
    """The kernel set called ``name``; ``ValueError`` naming the allowed ones otherwise."""
    try:
        return KERNEL_SETS[name]
    except KeyError:
        raise ValueError(f"unknown kernel set {name!r}; allowed: {', '.join(KERNEL_SETS)}") from None


def build_kernels(name: str | None, factors: object, where: str = "",
                  labels: dict[str, str] | None = None) -> KernelSet:
    """The kernel set ``name`` (default ``trtllm``) with the numbers of the mapping ``factors`` in place,
    built and checked as a scenario's ``perf.kernels`` / ``perf.kernel_factors`` are
    (:func:`sim.perf.kernels_for`); :class:`~sim.errors.InputError` starting with ``where`` and naming
    the field (``labels`` renames ``kernels`` and ``kernel_factors``, e.g. as command-line flags)."""
    from pydantic import ValidationError

    from sim.perf import kernels_for
    from sim.scenario.perf import KernelFactors, RooflinePerf
    try:
        return kernels_for(RooflinePerf(kernels=name or "trtllm", kernel_factors=factors))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = ".".join([(labels or {}).get(loc[0], loc[0]), *loc[1:]])
        msg = {"extra_forbidden": f"unknown key; allowed: {', '.join(KernelFactors.model_fields)}",
               "model_type": "must be a mapping of kernel numbers",
               "model_attributes_type": "must be a mapping of kernel numbers"}.get(
            err["type"], err["msg"].removeprefix("Value error, "))
        got = "" if "(got" in msg else f" (got {err.get('input')!r})"
        raise InputError(f"{where}{field}: {msg}{got}") from None


def kernel_record(kernels: KernelSet | None) -> dict:
    """``{kernels: NAME, kernel_factors: {...}}`` as a calibration file records a set: its name and the
    numbers in which it differs from the named set; empty for the default ``trtllm`` set.

        >>> kernel_record(KERNEL_SETS["trtllm"]), kernel_record(KERNEL_SETS["pytorch"])
        ({}, {'kernels': 'pytorch'})
    """
    if kernels is None or kernels == KERNEL_SETS["trtllm"]:
        return {}
    named = KERNEL_SETS.get(kernels.name, KERNEL_SETS["trtllm"])
    factors = {f.name: getattr(kernels, f.name) for f in fields(KernelSet) if f.name != "name"
               and getattr(kernels, f.name) != getattr(named, f.name)}
    return {"kernels": kernels.name, **({"kernel_factors": factors} if factors else {})}


def described(kernels: KernelSet) -> str:
    """A kernel set as a ``perf:`` block names it: ``kernels: pytorch``, and the numbers that differ from
    the named set as ``kernel_factors``.

        >>> described(KERNEL_SETS["trtllm"])
        'kernels: trtllm'
    """
    given = kernel_record(kernels).get("kernel_factors", {})
    return f"kernels: {kernels.name}" + (" with kernel_factors {" + ", ".join(f"{n}: {v:.4g}" for n, v in
                                                                             given.items()) + "}" if given else "")


def kernel_mismatch(fitted: KernelSet | None, kernels: KernelSet) -> str | None:
    """Why factors fitted with the kernel set ``fitted`` (a calibration file's record) mislead a ``perf:``
    block that runs ``kernels``; ``None`` when the file records no set (a ``trtllm`` or Vidur GEMM fit, an
    older file) or the same one.

        >>> kernel_mismatch(KERNEL_SETS["pytorch"], KERNEL_SETS["pytorch"]) is None
        True
        >>> kernel_mismatch(KERNEL_SETS["pytorch"], KERNEL_SETS["trtllm"])[:60]
        'fitted with kernels: pytorch, but this perf block runs kerne'
    """
    if fitted is None or fitted == kernels:
        return None
    return (f"fitted with {described(fitted)}, but this perf block runs {described(kernels)}: the "
            f"factors were fitted net of the other set's element-wise and attention kernel times; name the "
            f"same set in the perf block, or refit with fleetsim calibrate --kernels {kernels.name}")
