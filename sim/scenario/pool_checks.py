"""The checks of one pool of a scenario: its GPU and model in the catalogs, batching, autoscale and
failure settings, the inter-node network, layout warnings, the parallel layout and memory plan.

Each returns ``(field.path, message)`` problems or warnings; :func:`sim.scenario.checks.semantic_problems`
calls them for every pool in turn.
"""
from __future__ import annotations

import math

from sim.humanize import duration as _duration
from sim.humanize import plural
from sim.scenario.catalog import get_gpu, get_model, gpu_names
from sim.scenario.pool_setup import pool_dtypes, pool_layout, pool_memory_plan
from sim.scenario.schedulers import BUDGET_REFUSALS
from sim.scenario.unknown_names import catalog_msg, model_error


def pool_catalog(pool, where: str, default_model, problems: list) -> tuple:
    """Pool's GPU and model from the catalogs (or inline), ``None`` for one with problems (added
    to ``problems``)."""
    from sim.errors import ScenarioError

    gpu = None
    try:
        gpu = get_gpu(pool.gpu)
    except KeyError:
        problems.append((f"{where}.gpu", catalog_msg("GPU", pool.gpu, gpu_names())))
    except ScenarioError as exc:  # an inline datasheet with problems of its own
        problems.extend((f"{where}.{path}", msg) for path, msg in exc.problems)
    model = default_model
    if pool.model is not None:
        try:
            model = get_model(pool.model)
        except ScenarioError as exc:
            problems.extend((f"{where}.{path}", msg) for path, msg in exc.problems)
            model = None
        except (KeyError, ValueError) as exc:
            problems.append((f"{where}.model", model_error(pool.model, exc)))
            model = None
    return gpu, model


MIN_IB_GBPS = 1.0
"""The slowest inter-node link a pool may name, Gb/s per GPU: gigabit Ethernet (IEEE 802.3ab,
1000BASE-T). A DGX H100 has one 400 Gb/s ConnectX-7 NIC per GPU (NVIDIA DGX H100 user guide)."""
MAX_NVLINK_DOMAIN_GPUS = 72
"""The largest NVLink domain shipping: a GB200 NVL72 rack, 72 GPUs (Microsoft Azure ND GB200 v6
documentation; shared reference notes). A node of more GPUs is warned about, whether the pool's
``gpus_per_node`` or an inline GPU's says so."""
MAX_NIC_GBPS = 800.0
"""The fastest scale-out NIC shipping, Gb/s per GPU: one 800 Gb/s ConnectX-8 SuperNIC per GPU in a
GB300 NVL72 (NVIDIA ConnectX-8 SuperNIC user manual,
https://docs.nvidia.com/networking/display/connectx8supernic/introduction); ConnectX-9 at 1.6 Tb/s
per GPU was announced for Vera Rubin (NVIDIA GTC Washington, October 2025). Above it is warned about;
above both it and the GPU's own scale-up link (8 x ``interconnect_gbps``, which is GB/s) is refused:
no network reaches a GPU faster than its own NVLink, and a typo of 400000 for 400 would silently
make every inter-node collective run at NVLink speed."""


def _ib_ceiling_gbps(gpu) -> float:
    """The fastest inter-node bandwidth a pool of ``gpu`` may name, Gb/s per GPU: the faster of
    the fastest NIC shipping and the GPU's own one-way scale-up link (GB/s x 8)."""
    return max(MAX_NIC_GBPS, 8 * gpu.interconnect_gbps)


def _ib_problems(pool, where: str, gpu) -> list[tuple[str, str]]:
    """An inter-node bandwidth below any network's, or above both any NIC's and the GPU's own
    scale-up link (``gpu`` is ``None`` when the pool's GPU has problems of its own)."""
    if pool.ib_gbps < MIN_IB_GBPS:
        return [(f"{where}.ib_gbps", f"must be >= {MIN_IB_GBPS:g} (Gb/s per GPU; gigabit Ethernet is the "
                                     f"slowest datacenter network, a DGX H100 has 400 Gb/s per GPU) "
                                     f"(got {pool.ib_gbps:g})")]
    ceiling = _ib_ceiling_gbps(gpu) if gpu is not None else math.inf
    if pool.ib_gbps > ceiling:
        link = 8 * gpu.interconnect_gbps
        return [(f"{where}.ib_gbps", f"must be <= {ceiling:,.0f} (Gb/s per GPU, gigabits): faster "
                                     f"than any NIC ({MAX_NIC_GBPS:,.0f} Gb/s ConnectX-8) and than the GPU's own "
                                     f"scale-up link ({gpu.name}: {gpu.interconnect_gbps:g} GB/s one way = "
                                     f"{link:,.0f} Gb/s) (got {pool.ib_gbps:,.6g})")]
    return []


#: ``autoscale.target`` per metric: (least, most, what the metric reads, its unit). ``desired = ceil(n_serving x
#: metric / target)``: a fraction above 1 (or a queue or TTFT above these) is never exceeded, so the pool never
#: grows; under a millionth (a microsecond for ttft, about one GPU kernel launch) any reading asks for ``max``
#: replicas, and 1e-300 made the ratio overflow. (A kv target of 0.002 is a real one: a large cache, a small load.)
TARGET_RANGE = {
    "load_factor": (1e-6, 1.0, "is a fraction for metric load_factor", "(1: the pool at its batch limits)"),
    "utilization": (1e-6, 1.0, "is a fraction for metric utilization", "(busy time / up time)"),
    "kv": (1e-6, 1.0, "is a fraction for metric kv", "(KV-cache blocks in use)"),
    "queue": (1e-6, 1e6, "is outstanding requests per serving replica for metric queue", "requests"),
    "ttft": (1e-6, 86_400.0, "is seconds of mean time to first token for metric ttft", "s (a microsecond to a day)"),
}


def _target_problems(a, where: str) -> list[tuple[str, str]]:
    """``autoscale.target`` outside what its metric can read (:data:`TARGET_RANGE`).

        >>> from sim.scenario.schema import Autoscale
        >>> _target_problems(Autoscale(metric="kv", target=1e-300), "p")[0][1][:51]
        'is a fraction for metric kv: must be >= 1e-06 (got '
    """
    lo, hi, what, unit = TARGET_RANGE[a.metric]
    if lo <= a.target <= hi:
        return []
    bound = f"must be <= {hi:g}" if a.target > hi else f"must be >= {lo:g}"
    why = ("a higher target is not reached, so the pool would never grow" if a.target > hi else
           "a smaller one asks for autoscale.max replicas at any load the metric registers")
    return [(f"{where}.autoscale.target", f"{what}: {bound} (got {a.target:g}); allowed {lo:g} to {hi:g} {unit}: {why}")]


def pool_settings_problems(sc, pool, where: str, gpu=None) -> list[tuple[str, str]]:
    """Batching policy, autoscale and failure settings of one pool that contradict each other, and
    an inter-node bandwidth outside any network's (:func:`_ib_problems`)."""
    problems = _ib_problems(pool, where, gpu)
    b = pool.batching
    if b.policy == "static" and b.batch_size is None:
        problems.append((f"{where}.batching.batch_size", "required when policy is static"))
    if b.policy == "static" and b.chunked_prefill:
        problems.append((f"{where}.batching.chunked_prefill", "must be false when policy is static"))
    if b.policy == "static" and b.mixed_batches:
        problems.append((f"{where}.batching.mixed_batches", "must be false when policy is static"))
    a = pool.autoscale
    if a is not None and sc.duration / a.interval > 5e6:
        problems.append((f"{where}.autoscale.interval", f"too short for the duration: at least {sc.duration / 5e6:g} s"))
    if a is not None:
        if a.max < pool.replicas:
            problems.append((f"{where}.autoscale.max", f"must be >= replicas ({pool.replicas}) (got {a.max})"))
        if pool.replicas < a.min:
            problems.append((f"{where}.replicas", f"must be >= autoscale.min ({a.min}) (got {pool.replicas})"))
        problems.extend(_target_problems(a, where))
    f = pool.failures
    if f is not None and f.distribution == "exponential" and f.shape != 1.0:
        problems.append((f"{where}.failures.shape",
                         f"applies only to distribution: weibull (got shape {f.shape:g} with exponential)"))
    return problems


def pool_warnings(sc, pool, where: str, gpu) -> list[tuple[str, str]]:
    """Layout and autoscaler settings of one pool that are legal but have no effect (or none within
    the run), as ``(field, message)``."""
    out: list[tuple[str, str]] = []
    a = pool.autoscale if not sc.drain else None     # a drained run goes on past its duration
    if a is not None and a.interval >= sc.duration:
        out.append((f"{where}.autoscale.interval",
                    f"the autoscaler's first decision would come {_duration(a.interval)} into the run, not before "
                    f"it ends ({_duration(sc.duration)}): the pool keeps its {pool.replicas} replica(s)"))
    elif a is not None and a.scale_up_delay is not None and a.interval + a.scale_up_delay >= sc.duration:
        out.append((f"{where}.autoscale.scale_up_delay",
                    f"replicas the autoscaler adds at its first decision ({_duration(a.interval)} into the run) "
                    f"would serve {_duration(a.scale_up_delay)} later, after the run ends "
                    f"({_duration(sc.duration)}): they are billed and never serve"))
    m, seqs = pool.pipeline_micro_batches, pool.batching.max_num_seqs
    if m is not None and pool.pipeline_parallel == 1:
        out.append((f"{where}.pipeline_micro_batches",
                    f"applies only with pipeline_parallel > 1 (got {m} micro-batches of one stage); it has no effect"))
    elif m is not None and m > seqs:
        out.append((f"{where}.pipeline_micro_batches",
                    f"{m} micro-batches is more than an iteration's sequences (batching.max_num_seqs: {seqs}); "
                    f"micro-batches hold whole sequences, so an iteration uses at most {seqs}"))
    if pool.data_parallel_attention and pool.tensor_parallel == 1:
        out.append((f"{where}.data_parallel_attention", "has no effect with tensor_parallel: 1 (one GPU already "
                                                         "runs the attention of every sequence)"))
    out.extend(_node_warnings(pool, where, gpu))
    if pool.autoscale is not None:                                  # both tiers read the band
        out.extend(tuning_alone_warnings(pool.autoscale, f"{where}.autoscale"))
        out.extend(tolerance_warnings(pool.autoscale, f"{where}.autoscale"))
    return out


#: the autoscale keys that tune how an autoscaler moves (its band, its pauses, the HPA's scale-up policies), not
#: what it scales on or between (metric, target, min, max)
TUNING_KEYS = ("interval", "scale_up_delay", "cooldown", "tolerance", "max_scale_up_pods", "max_scale_up_percent",
               "scale_up_period")


def tuning_alone_warnings(a, where: str) -> list[tuple[str, str]]:
    """An autoscale block of tuning keys alone (:data:`TUNING_KEYS`: ``--set ...autoscale.tolerance=0.2`` or
    ``...max_scale_up_pods=8`` on a pool without autoscale makes the block): the pool autoscales on every other
    key's default, which none of them asks for.

        >>> from sim.scenario.schema import Autoscale
        >>> tuning_alone_warnings(Autoscale(cooldown=60, scale_up_period=30), "a")[0][1][:58]
        "cooldown and scale_up_period are the autoscale block's onl"
        >>> tuning_alone_warnings(Autoscale(max=8, cooldown=60), "a"), tuning_alone_warnings(Autoscale(), "a")
        ([], [])
    """
    given = [k for k in TUNING_KEYS if k in a.model_fields_set]
    if not given or len(given) < len(a.model_fields_set):
        return []
    what = "a tolerance tunes an autoscaler, it does not" if given == ["tolerance"] else \
        f"{given[0]} tunes an autoscaler, it does not" if len(given) == 1 else \
        "these tune an autoscaler, they do not"
    every = "" if "interval" in given else f", every {a.interval:g} s"
    return [(f"{where}.{given[0]}" if len(given) == 1 else where,
             f"{'is' if len(given) == 1 else ' and '.join(given) + ' are'} the autoscale block's only "
             f"{'key' if len(given) == 1 else 'keys'}, so the pool autoscales on every other key's default "
             f"(metric {a.metric}, target {a.target:g}, min {a.min}, max {a.max}{every}): {what} make one; give at "
             f"least target and max, or remove the block to keep the pool's replicas fixed")]


BOUNDED_METRICS = ("utilization", "kv")
"""Metrics that never read above 1 (busy time / up time, KV blocks in use / blocks)."""


def tolerance_warnings(a, where: str) -> list[tuple[str, str]]:
    """An ``autoscale.tolerance`` band that holds the pool in one direction at any load: from 1 the
    band ``1 - tolerance <= metric / target`` holds every reading (the pool never shrinks); on a metric
    that reads at most 1, a band ``metric / target <= 1 + tolerance`` that holds ``1 / target`` (the
    pool never grows: the HPA's rule asks for more replicas only beyond the band).

        >>> from sim.scenario.schema import Autoscale
        >>> tolerance_warnings(Autoscale(metric="kv", target=0.95), "a")[0][1][:60]
        'with metric kv (at most 1) and target 0.95, metric / target '
        >>> tolerance_warnings(Autoscale(target=0.95), "a")     # load_factor reads past 1 when saturated
        []
    """
    out: list[tuple[str, str]] = []
    tol = a.tolerance
    if tol >= 1:
        out.append((f"{where}.tolerance",
                    f"{tol:g} keeps the pool from ever shrinking: the band 1 - tolerance <= metric / target <= "
                    f"1 + tolerance then holds every reading down to 0, so the rule never asks for fewer replicas, "
                    f"not even at no load (the Kubernetes HPA's default is 0.1; 0 turns the band off)"))
    if a.metric in BOUNDED_METRICS and a.target * (1 + tol) >= 1:
        out.append((f"{where}.tolerance",
                    f"with metric {a.metric} (at most 1) and target {a.target:g}, metric / target is at most "
                    f"{1 / a.target:.4g}, never past the band's 1 + tolerance = {1 + tol:g}: the pool never grows; "
                    f"a target below 1 / (1 + tolerance) = {1 / (1 + tol):.4g} or a tolerance below "
                    f"1 / target - 1 = {max(1 / a.target - 1, 0):.4g} lets it"))
    return out


def _node_warnings(pool, where: str, gpu) -> list[tuple[str, str]]:
    """A node larger than any NVLink domain (from the pool's ``gpus_per_node`` or its inline GPU's),
    an inter-node bandwidth faster than any NIC, or one that no traffic uses."""
    out: list[tuple[str, str]] = []
    per_node = pool.gpus_per_node or getattr(gpu, "gpus_per_node", None)
    node_field = f"{where}.gpus_per_node" if pool.gpus_per_node is not None else f"{where}.gpu.gpus_per_node"
    if per_node is not None and per_node > MAX_NVLINK_DOMAIN_GPUS:
        out.append((node_field,
                    f"{per_node:,} GPUs in one node is more than the largest NVLink domain shipping "
                    f"({MAX_NVLINK_DOMAIN_GPUS}, a GB200 NVL72 rack); every GPU of a node is modelled as linked "
                    f"by NVLink, so collectives of up to {per_node:,} GPUs never use ib_gbps"))
    gpus = pool.tensor_parallel * pool.pipeline_parallel
    in_range = gpu is not None and MIN_IB_GBPS <= pool.ib_gbps <= _ib_ceiling_gbps(gpu)
    if not in_range or pool.ib_gbps == type(pool).model_fields["ib_gbps"].default:
        return out
    if per_node is not None and gpus <= per_node:
        out.append((f"{where}.ib_gbps", f"a replica of {gpus} {plural(gpus, 'GPU')} fits in one node of {per_node} "
                                        f"(gpus_per_node): no traffic crosses nodes, so the inter-node bandwidth "
                                        f"has no effect"))
    elif pool.ib_gbps > MAX_NIC_GBPS:
        out.append((f"{where}.ib_gbps", f"{pool.ib_gbps:,.6g} Gb/s per GPU is faster than any NIC shipping "
                                        f"({MAX_NIC_GBPS:,.0f} Gb/s ConnectX-8; 1.6 Tb/s ConnectX-9 announced); "
                                        f"ib_gbps is gigabits per second per GPU"))
    return out


def pool_memory_problems(sc, i: int, pool, model, gpu, plans: dict,
                         notes: list | None = None) -> list[tuple[str, str]]:
    """Parallel layout, precision support, memory plan and the limits vLLM refuses to start with; the
    memory plan, once made, kept in ``plans[i]`` with its pool (what :func:`~sim.scenario.pool_setup.pool_setups`
    reads). A KV cache shorter than ``max_model_len`` under ``scheduler: sglang``, which SGLang starts with
    (serving shorter sequences), is no problem but a warning appended to ``notes``."""
    from sim.perf.parallel import check_layout

    problems: list[tuple[str, str]] = []
    where = f"fleet.pools.{i}"
    b = pool.batching
    layout = pool_layout(pool, gpu)
    bad = check_layout(model.n_heads, model.n_kv_heads, model.n_experts, model.is_mla, layout, model.n_layers)
    if bad:
        problems.extend((f"{where}.{k}", msg) for k, msg in bad)
        return problems
    split = pool.tensor_parallel // pool.expert_parallel      # the ways each MLP (expert) is split
    if split > model.ffn_hidden:
        problems.append((f"{where}.tensor_parallel",
                         f"splits every MLP of {model.name} (ffn_hidden={model.ffn_hidden}) {split} ways: at most "
                         f"{model.ffn_hidden * pool.expert_parallel} GPUs per stage, each holding at least one "
                         f"column (got {pool.tensor_parallel})"))
        return problems
    perf = pool.perf or sc.perf
    wdt, edt, kdt = pool_dtypes(perf, model)
    at = f"{'fleet.pools.%d.perf' % i if pool.perf else 'perf'}"
    if wdt == "fp8" and gpu.fp8_tflops is None or wdt == "fp4" and gpu.fp4_tflops is None:
        problems.append((f"{at}.weight_dtype", f"{gpu.name} has no {wdt} support"))
        return problems
    at, roof = (f"{at}.roofline", perf.roofline) if hasattr(perf, "roofline") else (at, perf)
    if getattr(roof, "moe_decode_efficiency", None) is not None and model.n_experts <= 1:
        problems.append((f"{at}.moe_decode_efficiency", f"the MoE decode level is a mixture of experts' (sim.perf.levels); "
                                                        f"{model.name} has no experts, and every decode step would be "
                                                        "slowed by it: remove the key"))
    mml = pool.max_model_len or model.max_context
    if b.block_size > mml:      # a sequence takes a whole block: validate said 48 sequences where 4 blocks held 4
        problems.append((f"{where}.batching.block_size",
                         f"{b.block_size:,} tokens per KV-cache block is more than one sequence holds (max_model_len "
                         f"{mml:,}), so each would take a block and leave the rest empty; engines page the cache in "
                         "small blocks (vLLM: 1 to 128 tokens, 16 by default)"))
        return problems
    plan = pool_memory_plan(pool, model, gpu, wdt, edt, kdt)
    plans[i] = (pool, plan)
    if not plan.fits:
        hint = (f" ({model.name} is published in {model.weight_dtype}: perf.weight_dtype: {model.weight_dtype})"
                if model.weight_dtype and model.weight_dtype != wdt else "")
        problems.append((where, plan.reason + hint))
        return problems
    # the configurations the engine refuses to start with (SGLang runs an over-budget prompt alone)
    if pool.max_model_len is not None and pool.max_model_len > model.max_context:
        problems.append((f"{where}.max_model_len",
                         f"must be <= the context length of {model.name} ({model.max_context}) "
                         f"(got {pool.max_model_len})"))
    if b.policy != "static":
        if not b.chunked_prefill and b.max_batched_tokens < mml and b.scheduler in BUDGET_REFUSALS:
            problems.append((f"{where}.batching.max_batched_tokens",
                             f"must be >= max_model_len ({mml}) without chunked prefill, or a whole prompt of "
                             f"max_model_len tokens never fits one iteration ({BUDGET_REFUSALS[b.scheduler]}) "
                             f"(got {b.max_batched_tokens}); raise it to {mml}, enable chunked_prefill or set "
                             f"a smaller fleet.pools.{i}.max_model_len"))
        if b.max_batched_tokens < b.max_num_seqs:
            problems.append((f"{where}.batching.max_batched_tokens",
                             f"must be >= max_num_seqs ({b.max_num_seqs}) (got {b.max_batched_tokens})"))
    remedy = (f"set a smaller fleet.pools.{i}.max_model_len, a larger gpu_memory_utilization, tensor_parallel or "
              "pipeline_parallel")
    if plan.kv_tokens < mml and plan.engine == "sglang" and notes is not None:
        # SGLang starts and serves requests up to its cache (tp_worker: max_req_len = min(context_len - 1,
        # max_total_num_tokens - 1); managers/utils.validate_input_length rejects a longer input)
        from sim.perf.memory import admitted_tokens
        served = admitted_tokens(plan.kv_blocks, b.block_size)
        notes.append((where, f"the KV cache holds {plan.kv_tokens:,} tokens, fewer than one sequence of "
                             f"max_model_len={mml:,}: SGLang starts and serves sequences of at most "
                             f"{served:,} tokens (those its blocks above the 1 % watermark hold), rejecting a "
                             f"longer prompt ('Input length ... exceeds the maximum allowed length') and stopping "
                             f"generation there; {remedy} to serve max_model_len"))
    elif plan.kv_tokens < mml and plan.engine != "sglang":
        problems.append((where, f"the KV cache holds {plan.kv_tokens:,} tokens, fewer than one sequence of "
                                f"max_model_len={mml:,} (vLLM refuses to start); {remedy}"))
    return problems
