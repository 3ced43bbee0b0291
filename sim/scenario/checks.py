"""Cross-field checks that a schema cannot express: catalog names, parallelism, memory, references.

It sits above the domain layers (it asks ``sim.perf`` for the memory plan, ``sim.workload`` and
``sim.economics`` to validate their blocks); see the layers in docs/architecture.md.

Returns ``(field.path, message)`` problems; :func:`sim.scenario.load.scenario_from_dict` raises them
together as one :class:`~sim.errors.ScenarioError`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import difflib
import math
import warnings

from sim.economics import validate as validate_economics
from sim.errors import ScenarioWarning, clipped, given
from sim.humanize import duration as _duration
from sim.humanize import plural
from sim.scenario.class_pins import pin_problems, pin_warnings
from sim.scenario.catalog import get_gpu, get_model, gpu_family, gpu_names, model_names
from sim.scenario.perf import kernel_floor_warnings
from sim.scenario.pool_setup import pool_dtypes, pool_layout, pool_memory_plan
from sim.scenario.workload import EmpiricalTokens, FixedTokens, LognormalTokens, UniformTokens
from sim.workload import validate as validate_workload
from sim.workload.closed import scenario_problems as closed_loop_problems
from sim.workload.closed import scenario_warnings as closed_loop_warnings

if TYPE_CHECKING:
    from sim.scenario.load import LoadedScenario


def _catalog_msg(kind: str, name: object, names: list[str]) -> str:
    return (f"unknown {kind} {given(name)}{near_names(name, names)}; "
            f"allowed: {', '.join(clipped(str(n)) for n in names)}")


def near_names(name: object, names: list[str]) -> str:
    """`` (did you mean X?)`` for a name that is the start of catalog names (``h200`` for ``h200-sxm``),
    else begins with one (``llama-3.1-70b-instruct`` for ``llama-3.1-70b``; the longest), whatever the
    case, else is one misspelt; ``""`` when none is near or more than three are.

        >>> near_names("H100", ["a100-80gb", "h100-pcie", "h100-sxm"])
        ' (did you mean h100-pcie or h100-sxm?)'
        >>> near_names("llama-3.1-70b-instruct", ["llama-3-70b", "llama-3.1-70b", "llama-3.1-8b"])
        ' (did you mean llama-3.1-70b?)'
        >>> near_names("h200", ["h100-sxm", "h20", "h200-sxm"]), near_names("h900", ["h100-sxm", "h20", "h200-sxm"])
        (' (did you mean h200-sxm?)', '')
    """
    if not isinstance(name, str) or len(name.strip()) < 2:
        return ""
    low = name.strip().lower()
    near = ([n for n in names if n.lower().startswith(low)]
            or sorted((n for n in names if low.startswith(n.lower())), key=len)[-1:]     # the longest it begins with
            or difflib.get_close_matches(low, names, n=2, cutoff=0.8))
    if not near or len(near) > 3:
        return ""
    return f" (did you mean {' or '.join([', '.join(near[:-1]), near[-1]] if len(near) > 1 else near)}?)"


def semantic_problems(loaded: "LoadedScenario") -> list[tuple[str, str]]:
    """Every problem of a loaded scenario that its schema cannot see, as ``(field, message)`` in a
    fixed order: run-wide settings, each pool (catalog entries, batching, autoscale, failures,
    parallel layout, memory), the router (and its classes pinned to pools), disaggregation, the
    workload, the economics."""
    from sim.errors import ScenarioError

    sc = loaded.scenario
    problems = _run_problems(sc)
    default_model = None
    try:
        default_model = get_model(sc.model)
    except ScenarioError as exc:  # an inline architecture with problems of its own
        problems.extend(exc.problems)
    except (KeyError, ValueError) as exc:
        problems.append(("model", _model_error(sc.model, exc)))

    names = [p.name for p in sc.fleet.pools]
    seen: set[str] = set()
    notes = kernel_floor_warnings(sc.perf, "perf")
    contexts: list[int] = []
    for i, pool in enumerate(sc.fleet.pools):
        where = f"fleet.pools.{i}"
        if pool.name in seen:
            problems.append((f"{where}.name", f"pool names must be unique (got {pool.name!r} twice)"))
        seen.add(pool.name)
        gpu, model = _pool_catalog(pool, where, default_model, problems)
        if model is not None:
            contexts.append(min(model.max_context, pool.max_model_len or model.max_context))
        problems.extend(_pool_settings_problems(sc, pool, where, gpu))
        if model is not None and gpu is not None:
            problems.extend(_pool_memory_problems(sc, i, pool, model, gpu, loaded.memory_plans))
        notes.extend(_pool_warnings(sc, pool, where, gpu))
        if pool.perf is not None:
            notes.extend(kernel_floor_warnings(pool.perf, f"{where}.perf"))
    notes.extend(pin_warnings(sc))
    notes.extend(_central_priority_warnings(sc))
    notes.extend(closed_loop_warnings(sc))
    for field, msg in notes:
        warnings.warn(f"{field}: {msg}", ScenarioWarning, stacklevel=2)
    problems.extend(_perf_file_problems(sc, loaded.base_dir))
    problems.extend(_router_problems(sc.fleet.router, names))
    problems.extend(_batcher_problems(sc.fleet))
    problems.extend(closed_loop_problems(sc))
    problems.extend(pin_problems(sc))
    problems.extend(_disaggregation_problems(sc, names))
    problems.extend(validate_workload(sc.workload, loaded.base_dir))
    if contexts and len(contexts) == len(sc.fleet.pools):
        problems.extend(_prompt_fit_problems(sc.workload, max(contexts)))
    lines = [c.revenue_line for c in sc.workload.classes if getattr(c, "revenue_line", None)]
    problems.extend(validate_economics(sc.economics, names, sc.duration, sc.start, revenue_lines=lines))
    return problems


def _least_tokens(dist) -> int | None:
    """The fewest tokens a length distribution can draw (``None``: a trace's, not known here)."""
    if isinstance(dist, FixedTokens):
        return dist.value
    if isinstance(dist, UniformTokens):
        return dist.low
    if isinstance(dist, LognormalTokens):
        return dist.min
    if isinstance(dist, EmpiricalTokens):
        weights = dist.weights or [1.0] * len(dist.values)
        drawn = [v for v, w in zip(dist.values, weights) if w > 0]
        return min(drawn) if drawn else None
    return None


def _prompt_fit_problems(wl, longest: int) -> list[tuple[str, str]]:
    """A prompt distribution (the workload's, or a class's) whose every draw is longer than the
    longest context any pool serves: every such request would be rejected, as vLLM refuses a prompt
    longer than max_model_len, and the run would measure nothing of it."""
    sources = [(f"workload.classes.{i}.prompt_tokens" if c.prompt_tokens else "workload.prompt_tokens",
                c.prompt_tokens or wl.prompt_tokens) for i, c in enumerate(wl.classes or [])] \
        or [("workload.prompt_tokens", wl.prompt_tokens)]
    out = []
    for where, dist in dict(sources).items():
        least = _least_tokens(dist)
        if least is not None and least > longest:
            out.append((where, f"every prompt is at least {least:,} tokens, longer than the longest context a "
                               f"pool serves ({longest:,} tokens, max_model_len): every request would be rejected"))
    return out


def _run_problems(sc) -> list[tuple[str, str]]:
    """Run-wide settings: the horizon, time-series rows, a fleet that can serve, the warm-up."""
    import datetime as _dt

    problems: list[tuple[str, str]] = []
    try:
        last_day = sc.start + _dt.timedelta(seconds=sc.duration)
        if last_day.year > 9000:
            raise OverflowError
    except OverflowError:
        problems.append(("duration", f"runs past the year 9000 from start {sc.start.isoformat()} (got {sc.duration:g} s)"))
    samples = sc.duration / sc.metrics.interval
    if samples > 5e6 and not problems:     # a duration past the year 9000 is said once, not as rows too
        problems.append(("metrics.interval", f"would record {samples:,.0f} time-series rows over the duration "
                                             f"(at most 5,000,000): use at least {sc.duration / 5e6:g} s"))
    if all(p.replicas == 0 and p.autoscale is None for p in sc.fleet.pools):
        problems.append(("fleet.pools", "every pool has replicas: 0 and no autoscale: nothing would serve requests"))
    if sc.warmup >= sc.duration:
        problems.append(("warmup", f"must be < duration (got warmup={sc.warmup:g} s, duration={sc.duration:g} s)"))
    return problems


def _pool_catalog(pool, where: str, default_model, problems: list) -> tuple:
    """Pool's GPU and model from the catalogs (or inline), ``None`` for one with problems (added
    to ``problems``)."""
    from sim.errors import ScenarioError

    gpu = None
    try:
        gpu = get_gpu(pool.gpu)
    except KeyError:
        problems.append((f"{where}.gpu", _catalog_msg("GPU", pool.gpu, gpu_names())))
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
            problems.append((f"{where}.model", _model_error(pool.model, exc)))
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


def _pool_settings_problems(sc, pool, where: str, gpu=None) -> list[tuple[str, str]]:
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
        if a.metric in ("utilization", "kv") and a.target > 1:
            problems.append((f"{where}.autoscale.target",
                             f"is a fraction for metric {a.metric}: must be <= 1 (got {a.target:g})"))
    f = pool.failures
    if f is not None and f.distribution == "exponential" and f.shape != 1.0:
        problems.append((f"{where}.failures.shape",
                         f"applies only to distribution: weibull (got shape {f.shape:g} with exponential)"))
    return problems


def _pool_warnings(sc, pool, where: str, gpu) -> list[tuple[str, str]]:
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


def _perf_file_problems(sc, base_dir) -> list[tuple[str, str]]:
    """The step-time tables and calibration files the ``perf`` blocks name, read as a run reads them
    (relative to the scenario's folder): each one that cannot be read, by the field naming it. A
    calibration file fitted with another kernel set or KV sharing than its block runs is a warning."""
    from sim.errors import InputError
    from sim.paths import resolve_path

    def read(kind: str, name: str, at: str, perf, gpus: dict[str, list[str]]) -> None:   # the readers import
        if kind == "path":                                                                  # scipy: only when named
            from sim.perf.table import read_table
            read_table(resolve_path(name, base_dir))
        else:
            from sim.perf import kernels_for
            from sim.perf.calibration import gpu_mismatch, kv_sharing_mismatch, load_calibration
            from sim.perf.kernels import kernel_mismatch
            cal = load_calibration(resolve_path(name, base_dir))
            for note in (kernel_mismatch(cal.kernels, kernels_for(perf)),
                         kv_sharing_mismatch(cal.attention_kv_sharing, perf.attention_kv_sharing),
                         *(gpu_mismatch(cal.gpu, gpu, f"pool {', '.join(pools)}") for gpu, pools in gpus.items())):
                if note:
                    warnings.warn(f"{at}.calibration: {name} {note}", ScenarioWarning, stacklevel=2)

    def pools_on(block_pools) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for p in block_pools:
            out.setdefault(gpu_family(p.gpu), []).append(p.name)
        return out

    blocks = [("perf", sc.perf, pools_on(p for p in sc.fleet.pools if p.perf is None))]
    blocks += [(f"fleet.pools.{i}.perf", p.perf, pools_on([p])) for i, p in enumerate(sc.fleet.pools)
               if p.perf is not None]
    problems = []
    for where, perf, gpus in blocks:
        named = []
        if getattr(perf, "path", None) is not None:          # a table, and the roofline outside its grid
            named.append(("path", where, perf.path))
            where, perf = f"{where}.roofline", perf.roofline
        if getattr(perf, "calibration", None) is not None:
            named.append(("calibration", where, perf.calibration))
        for kind, at, name in named:
            try:
                read(kind, name, at, perf, gpus)
            except InputError as exc:
                problems.append((f"{at}.{kind}", str(exc)))
    return problems


def _pool_memory_problems(sc, i: int, pool, model, gpu, plans: dict) -> list[tuple[str, str]]:
    """Parallel layout, precision support, memory plan and the limits vLLM refuses to start with; the
    memory plan, once made, kept in ``plans[i]`` with its pool (what :func:`~sim.scenario.pool_setup.pool_setups`
    reads)."""
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
    # the configurations vLLM refuses to start with
    if pool.max_model_len is not None and pool.max_model_len > model.max_context:
        problems.append((f"{where}.max_model_len",
                         f"must be <= the context length of {model.name} ({model.max_context}) "
                         f"(got {pool.max_model_len})"))
    if b.policy != "static":
        if not b.chunked_prefill and b.max_batched_tokens < mml:
            problems.append((f"{where}.batching.max_batched_tokens",
                             f"must be >= max_model_len ({mml}) without chunked prefill, as vLLM requires "
                             f"(got {b.max_batched_tokens}); enable chunked_prefill or set a smaller "
                             f"fleet.pools.{i}.max_model_len"))
        if b.max_batched_tokens < b.max_num_seqs:
            problems.append((f"{where}.batching.max_batched_tokens",
                             f"must be >= max_num_seqs ({b.max_num_seqs}) (got {b.max_batched_tokens})"))
    if plan.kv_tokens < mml:
        problems.append((where, f"the KV cache holds {plan.kv_tokens:,} tokens, fewer than one sequence of "
                                f"max_model_len={mml:,} (vLLM refuses to start); set a smaller "
                                f"fleet.pools.{i}.max_model_len, a larger gpu_memory_utilization, "
                                f"tensor_parallel or pipeline_parallel"))
    return problems


def _router_problems(r, names: list[str]) -> list[tuple[str, str]]:
    """The weighted and spillover routers' pool names, weights and threshold."""
    problems: list[tuple[str, str]] = []
    if r.policy == "weighted":
        if not r.weights:
            problems.append(("fleet.router.weights", "required for the weighted router: pool name -> weight"))
        else:
            for k, w in r.weights.items():
                if k not in names:
                    problems.append((f"fleet.router.weights.{k}", _catalog_msg("pool", k, names)))
                if w < 0:
                    problems.append((f"fleet.router.weights.{k}", f"must be >= 0 (got {w})"))
            if sum(max(w, 0) for w in r.weights.values()) <= 0:
                problems.append(("fleet.router.weights", "at least one weight must be > 0"))
    if r.policy == "spillover":
        for key in ("primary", "overflow"):
            v = getattr(r, key)
            if v is None:
                problems.append((f"fleet.router.{key}", "required for the spillover router"))
            elif v not in names:
                problems.append((f"fleet.router.{key}", _catalog_msg("pool", v, names)))
        if r.threshold is None:
            problems.append(("fleet.router.threshold", "required for the spillover router"))
        if r.primary is not None and r.primary == r.overflow:
            problems.append(("fleet.router.overflow", f"must differ from primary (got {r.overflow!r} for both)"))
    return problems


def _central_priority_warnings(sc) -> list[tuple[str, str]]:
    """``batching.policy: priority`` on some pools but not all behind ``router: central_queue``, with
    classes of different priorities: the fleet's queue, where requests wait, then stays FCFS."""
    pools = sc.fleet.pools
    fcfs = [p.name for p in pools if p.batching.policy != "priority"]
    if (sc.fleet.router.policy != "central_queue" or sc.fleet.disaggregated is not None or len(fcfs) == len(pools)
            or not fcfs or len({c.priority for c in sc.workload.classes}) < 2):
        return []
    i = next(i for i, p in enumerate(pools) if p.batching.policy == "priority")
    return [(f"fleet.pools.{i}.batching.policy",
             f"priority orders only this pool's replica queues, which router central_queue keeps nearly empty; "
             f"the fleet's queue, where requests wait, takes them by class priority only when every pool's policy "
             f"is priority, and {plural(len(fcfs), 'pool')} {', '.join(map(given, fcfs))} "
             f"{'is' if len(fcfs) == 1 else 'are'} not, so the classes are served first come, first served: "
             f"give every pool policy: priority, or none")]


def _batcher_problems(fleet) -> list[tuple[str, str]]:
    """A batcher sends each group to one replica the router picks: not with a central queue (no
    replica queues), classes pinned to pools (a group mixes classes) or disaggregation (no router)."""
    r = fleet.router
    if r.batcher is None:
        return []
    out = []
    group = "a batcher sends each group to the one replica the router picks"
    if r.policy == "central_queue":
        out.append(("fleet.router.batcher", f"{group}, and router central_queue keeps no replica queues; use "
                                            "round_robin, random, least_outstanding, weighted or spillover"))
    if r.classes:
        out.append(("fleet.router.batcher", f"{group}, and a group may mix request classes pinned to different "
                                            "pools (fleet.router.classes); remove the pins or the batcher"))
    if fleet.disaggregated is not None:
        out.append(("fleet.router.batcher", "the router, and so its batcher, is not used under "
                                            "fleet.disaggregated; remove one of the two"))
    return out


def _disaggregation_problems(sc, names: list[str]) -> list[tuple[str, str]]:
    """Prefill and decode pools that exist, differ and serve the same model."""
    problems: list[tuple[str, str]] = []
    d = sc.fleet.disaggregated
    if d is not None:
        for key in ("prefill_pool", "decode_pool"):
            v = getattr(d, key)
            if v not in names:
                problems.append((f"fleet.disaggregated.{key}", _catalog_msg("pool", v, names)))
        if d.prefill_pool == d.decode_pool:
            problems.append(("fleet.disaggregated.decode_pool", "must differ from prefill_pool"))
        by_name = {p.name: p for p in sc.fleet.pools}
        if d.prefill_pool in by_name and d.decode_pool in by_name:
            def _model_of(p):
                return p.model if p.model is not None else sc.model
            mp, md = _model_of(by_name[d.prefill_pool]), _model_of(by_name[d.decode_pool])
            if mp != md:
                problems.append(("fleet.disaggregated.decode_pool",
                                 f"must serve the same model as the prefill pool (got {md!r} and {mp!r})"))
    return problems


def _model_error(name: object, exc: Exception) -> str:
    if isinstance(name, str):
        return _catalog_msg("model", name, model_names())
    from sim.errors import ScenarioError

    if isinstance(exc, ScenarioError):  # an inline architecture: its own field problems
        return "; ".join(f"{path.split('.', 1)[-1] if '.' in path else path}: {msg}" for path, msg in exc.problems)
    msg = exc.args[0] if exc.args else str(exc)
    return str(msg)
