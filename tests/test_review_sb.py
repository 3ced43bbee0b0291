"""Review of the roofline decode shortcut and the fluid tier's burst warnings.

1. ``RooflineModel.decode_run`` skips the attention FLOPs side of ``max`` where ``_decode_memory_bound``
   holds. Every catalog GPU x model x tensor-parallel size x kernel set (and attention rates tuned to
   within 1e-12 .. 1e-6 of a tie with the KV read) must give, iteration by iteration, the very float
   ``step_time`` gives (the reference engine's clock), whichever loop it takes.
2. A ``gamma`` arrival process warns by its index of dispersion ``cv**2``. Like a trace's index
   (``sim.fluid.burst.dispersion``), it is the index of the arrivals the fleet sees: other classes'
   Poisson arrivals beside it add their mean to both variance and mean, so a small bursty tenant
   beside a large Poisson one is Poisson-like (superposition: ``sum(lambda_i c_i^2) / sum(lambda_i)``).
3. Neither dilution applies where classes are pinned to pools (``fleet.router.classes``): a bursty
   class may have a pool to itself, whose queue sees its arrivals alone.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.perf.kernels import KERNEL_SETS, KernelSet
from sim.perf.roofline import RooflineModel
from sim.scenario.catalog import get_gpu, get_model, gpu_names, model_names
from test_decode_run_bits import _by_steps as _steps_until
from test_fluid_burst import _measured


def _by_steps(m: RooflineModel, n: int, ctx: int, k: int, t: float):
    """The run as the reference engine clocks it, all ``k`` iterations (:func:`test_decode_run_bits._by_steps`)."""
    return _steps_until(m, n, ctx, k, t, math.inf)


def _bits(run):
    return [x.hex() for x in run[0]], [x.hex() for x in run[1]]


def test_decode_run_is_step_time_on_every_catalog_configuration():
    """Every GPU x model at tp 1 and 8 under every kernel set: ``decode_run`` (shortcut or general loop)
    is ``step_time`` bit for bit at short, long and very long contexts. Both loops are exercised: the
    H20 under the pytorch kernel set is not memory-bound on the larger models."""
    taken = {True: 0, False: 0}
    for g in gpu_names():
        for name in model_names():
            for tp in (1, 8):
                for ks in KERNEL_SETS.values():
                    m = RooflineModel(get_model(name), get_gpu(g), tp, kernels=ks)
                    if m.decode_run is None:    # sliding windows, MLA: the engine steps through step_time
                        continue
                    taken[m._decode_memory_bound] += 1
                    for n, ctx in ((1, 1), (64, 64 * 4001 + 3)):
                        assert _bits(m.decode_run(n, ctx, 12, 7.75, math.inf)) == _bits(_by_steps(m, n, ctx, 12, 7.75)), \
                            (g, name, tp, ks.name, n, ctx)
    assert taken[True] > 1000 and taken[False] > 0


@pytest.mark.parametrize("eps", [-1e-6, -1e-12, 0.0, 1e-12, 9.9e-10, 1.01e-9, 1e-8])
def test_decode_run_when_the_two_slopes_nearly_tie(eps):
    """The attention FLOPs' slope set to the KV read's over ``1 + eps``: on either side of the 1e-9 margin
    (shortcut taken or not) every step is ``step_time``'s, up to contexts of 2**40 tokens."""
    base = RooflineModel(get_model("llama-3-8b"), get_gpu("h100-sxm"), 1)
    ratio = (base._attn_flops_per_pair / base._attn_peak) / (base._decode_kv_read_bytes_per_token / base._attn_bw)
    frac = get_gpu("h100-sxm").attention_efficiency("decode", base.efficiency) * ratio * (1 + eps)
    m = RooflineModel(get_model("llama-3-8b"), get_gpu("h100-sxm"), 1,
                      kernels=KernelSet("tied", attention_flops_fraction=frac))
    assert m._decode_memory_bound is (eps > 1e-9)
    for n in (1, 3, 256):
        for ctx in (n, n * 1_000_003, n * 2 ** 40 + 7):
            assert _bits(m.decode_run(n, ctx, 40, 1.0, math.inf)) == _bits(_by_steps(m, n, ctx, 40, 1.0))


def _gamma_classes(gamma_rate: float, poisson_rate: float, cv: float = 2.0) -> dict:
    gamma = {"process": "gamma", "rate": gamma_rate, "cv": cv}
    classes = [{"name": "a", "arrival": {"process": "poisson", "rate": poisson_rate}},
               {"name": "b", "arrival": gamma}]
    return {"name": "g", "duration": "3600s", "warmup": "0s", "seed": 1, "fidelity": "fluid",
            "metrics": {"records": "none"}, "model": "llama-3-8b",
            "workload": {"classes": classes,
                         "prompt_tokens": {"dist": "fixed", "value": 200},
                         "output_tokens": {"dist": "fixed", "value": 50}},
            "fleet": {"router": "random", "pools": [{"name": "b", "gpu": "h100-sxm", "replicas": 1}]},
            "slo": {"ttft_s": 5.0, "tpot_s": 0.3}}


def _gamma_warnings(data: dict) -> list[str]:
    return [w for w in _measured(data)[2] if "gamma arrival" in w]


def test_a_small_gamma_tenant_beside_a_large_poisson_one_does_not_warn():
    """A tenant of gamma gaps of cv 2 at 1 request/s beside a Poisson tenant at 99: the arrivals the fleet
    sees have index (4 x 1 + 99) / 100 = 1.03, Poisson-like, as a trace's index beside Poisson classes is
    read; at 10 beside 10 the index is (40 + 10) / 20 = 2.5 and it warns, naming the class."""
    assert _gamma_warnings(_gamma_classes(1.0, 99.0)) == []
    said = _gamma_warnings(_gamma_classes(10.0, 10.0))
    assert len(said) == 1 and said[0].startswith("workload.classes.1.arrival: a gamma arrival process of cv 2")


def _pairs_beside_poisson(tmp_path: Path, pinned: bool) -> dict:
    """Class ``a``: a trace of pairs at Poisson instants (index 2, 10 requests/s); class ``b``: Poisson at
    90 requests/s; two pools, the classes pinned one to each or both routed over both."""
    from conftest import write_trace

    rng = np.random.default_rng(4)
    t = np.cumsum(rng.exponential(1 / 5.0, size=int(5.0 * 3600 * 1.2)))
    t = t[t < 3600.0]
    path = write_trace(tmp_path / "pairs.csv", [(round(float(x), 6), 10, 10) for x in np.sort(np.concatenate([t, t]))])
    pool = {"gpu": "h100-sxm", "replicas": 1, "batching": {"max_num_seqs": 8, "max_batched_tokens": 4096}}
    return {"name": "p", "seed": 1, "duration": 3600.0, "warmup": 0, "fidelity": "fluid", "metrics": {"records": "none"},
            "model": "llama-3-8b",
            "workload": {"classes": [{"name": "a", "arrival": {"process": "trace", "path": str(path),
                                                               "format": "fleetsim"}},
                                     {"name": "b", "arrival": {"process": "poisson", "rate": 90.0}}],
                         "prompt_tokens": {"dist": "fixed", "value": 10}, "output_tokens": {"dist": "fixed", "value": 10}},
            "fleet": {"router": {"policy": "random", **({"classes": {"a": "x", "b": "y"}} if pinned else {})},
                      "pools": [{"name": "x", **pool}, {"name": "y", **pool}]},
            "slo": {"ttft_s": 5.0, "tpot_s": 0.3}}


def test_a_bursty_trace_pinned_to_a_pool_of_its_own_is_not_diluted_by_another_pools_class(tmp_path):
    """Routed over both pools, the pairs mix with the Poisson class: (2 x 10 + 90) / 100 = 1.1, no warning.
    Pinned to a pool of its own, that pool sees the pairs alone (index 2) and the run must warn: the
    other pool's arrivals never reach it."""
    mixed = _measured(_pairs_beside_poisson(tmp_path, pinned=False))[0]
    assert mixed["index"] == pytest.approx(1.1, abs=4 * mixed["noise"]) and mixed["index"] < mixed["threshold"]
    alone = _measured(_pairs_beside_poisson(tmp_path, pinned=True))[0]
    assert alone["index"] == pytest.approx(2.0, abs=4 * 2 * alone["noise"]) and alone["index"] > alone["threshold"]
