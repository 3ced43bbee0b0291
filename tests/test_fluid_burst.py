"""Trace arrivals burstier than Poisson inside a fluid sub-step (sim/fluid/burst.py): the index of
dispersion against theory (Poisson counts: 1, with the sampling noise of a Poisson sample variance;
clumps of ``b`` requests: ``E[b^2] / E[b]``), and the warning a fluid run gives on each side of the
threshold, on synthetic traces of known dispersion and on the bundled Azure samples."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sim.fluid.burst import MATERIAL, dispersion, measure, threshold, warn_bursty
from sim.fluid.substep import sub_arrivals

ROOT = Path(__file__).resolve().parent.parent


def test_poisson_counts_read_one_with_the_noise_of_a_poisson_sample_variance():
    """400 independent sets of 40 sub-steps x 25 windows of Poisson counts (means 0.5 ... 20, each
    sub-step its own): the indices average 1 and spread by the noise given (within 10 %, the
    standard error of a standard deviation from 400 draws is 3.5 %), and none passes 1 + 4 sigma."""
    rng = np.random.default_rng(7)
    lam = np.linspace(0.5, 20.0, 40)[:, None]
    got = [dispersion(rng.poisson(lam, size=(40, 25))) for _ in range(400)]
    d = np.array([g[0] for g in got])
    sd = float(np.mean([g[1] for g in got]))
    assert abs(d.mean() - 1.0) < 3 * sd / np.sqrt(len(d))
    assert d.std(ddof=1) == pytest.approx(sd, rel=0.10)
    assert (d > threshold(sd)).sum() == 0


def test_each_sub_step_is_read_against_its_own_mean():
    """Poisson counts at 1 per window in half the sub-steps and 30 in the others: the sub-steps
    follow that swing, so the index stays Poisson's 1; pooled over the run the variance is the mean's
    15.5 plus the spread of the means, 14.5^2: 14.6 x the mean."""
    rng = np.random.default_rng(3)
    lam = np.repeat([1.0, 30.0], 50)[:, None]
    counts = rng.poisson(lam, size=(100, 30))
    d, sd = dispersion(counts)
    assert abs(d - 1.0) < 4 * sd
    assert counts.var() / counts.mean() == pytest.approx((15.5 + 14.5 ** 2) / 15.5, rel=0.1)


@pytest.mark.parametrize("p_pair, expected", [(1.0, 2.0), (0.1, 1.3 / 1.1)])
def test_clumps_read_the_second_moment_over_the_mean_of_their_size(p_pair, expected):
    """Clumps of one or two requests (a pair with probability ``p``) at Poisson instants: counts have
    variance ``E[b^2] nu`` and mean ``E[b] nu``; pairs 2, one clump in ten a pair 1.3 / 1.1 = 1.18."""
    rng = np.random.default_rng(11)
    clumps = rng.poisson(4.0, size=(200, 30))
    pairs = rng.binomial(clumps, p_pair)
    d, sd = dispersion(clumps + pairs)
    assert d == pytest.approx(expected, abs=4 * sd * expected)


def test_poisson_classes_beside_the_trace_add_their_mean_to_both():
    """A counted stream of index 2 and mean 5 per window beside an expected 5 per window of Poisson
    arrivals (variance = mean): (2 x 5 + 5) / (5 + 5) = 1.5."""
    rng = np.random.default_rng(5)
    counted = 2 * rng.poisson(2.5, size=(400, 30))
    d, sd = dispersion(counted, smooth=np.full(400, 5.0))
    assert d == pytest.approx(1.5, abs=4 * sd)


def test_the_threshold_is_poissons_noise_band_or_material_whichever_is_higher():
    assert threshold(0.05) == MATERIAL
    assert threshold(0.2) == pytest.approx(1.8)


def _trace_scenario(tmp_path: Path, times: np.ndarray, duration: float, fidelity: str = "fluid") -> dict:
    from conftest import write_trace

    path = write_trace(tmp_path / "t.csv", [(round(float(t), 6), 10, 10) for t in np.sort(times)])
    return {"name": "burst", "seed": 1, "duration": duration, "warmup": 0, "fidelity": fidelity,
            "metrics": {"records": "none"}, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "trace", "path": str(path), "format": "fleetsim"}},
            "fleet": {"router": "random", "pools": [{"name": "b", "gpu": "h100-sxm", "replicas": 1,
                                                     "batching": {"max_num_seqs": 8, "max_batched_tokens": 4096}}]},
            "perf": {"model": "linear", "base_s": 0.02, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.002,
                     "per_context_token_s": 0.0},
            "slo": {"ttft_s": 5.0, "tpot_s": 0.3}}


def _measured(data: dict):
    from sim.scenario.load import load_scenario

    loaded = load_scenario(data)
    sc = loaded.scenario
    edges = np.append(np.arange(0.0, float(sc.duration), 3600.0), float(sc.duration))
    base = Path(loaded.base_dir)
    fine = sub_arrivals(sc, edges, np.diff(edges), base)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = warn_bursty(sc, edges, fine, base)
    return measure(sc, edges, fine, base), out, [str(w.message) for w in caught]


def _poisson_times(rng, rate: float, duration: float) -> np.ndarray:
    return np.cumsum(rng.exponential(1.0 / rate, size=int(rate * duration * 1.2)))


def test_a_poisson_generated_trace_does_not_warn(tmp_path):
    """10 requests/s for an hour, Poisson: the index is 1 within 4 sigma of its noise, no warning."""
    t = _poisson_times(np.random.default_rng(2), 10.0, 3600.0)
    m, out, said = _measured(_trace_scenario(tmp_path, t[t < 3600.0], 3600.0))
    assert m["window_s"] == pytest.approx(1.0) and m["windows"] == 3600
    assert abs(m["index"] - 1.0) < 4 * m["noise"]
    assert out["overdispersed"] is False and not said


def test_a_trace_of_pairs_warns_and_one_of_few_pairs_does_not(tmp_path):
    """Pairs at Poisson instants (index 2) warn, naming the index and the window; one clump in ten a
    pair (1.18, beyond Poisson's noise band but under 1.5) does not."""
    rng = np.random.default_rng(4)
    base = _poisson_times(rng, 5.0, 3600.0)
    base = base[base < 3600.0]
    m, out, said = _measured(_trace_scenario(tmp_path, np.concatenate([base, base]), 3600.0))
    assert m["index"] == pytest.approx(2.0, abs=4 * 2 * m["noise"])
    assert out["overdispersed"] is True and len(said) == 1
    assert "workload.arrival" in said[0] and f"{m['index']:.2f}" in said[0] and "1 s windows" in said[0]
    assert "fidelity: request" in said[0]
    few = base[rng.random(len(base)) < 0.1]
    m, out, said = _measured(_trace_scenario(tmp_path, np.concatenate([base, few]), 3600.0))
    assert m["index"] == pytest.approx(1.3 / 1.1, abs=4 * 1.2 * m["noise"])
    assert m["index"] > 1.0 + 4 * m["noise"] and out["overdispersed"] is False and not said


def test_a_scenario_without_a_trace_measures_nothing(tmp_path):
    data = _trace_scenario(tmp_path, np.array([0.0]), 600.0)
    data["workload"] = {"arrival": {"process": "poisson", "rate": 5.0},
                        "prompt_tokens": {"dist": "fixed", "value": 10}, "output_tokens": {"dist": "fixed", "value": 10}}
    m, out, said = _measured(data)
    assert m is None and out is None and not said


@pytest.mark.parametrize("trace, scale, warns", [("conv", 10, True), ("code", 1, True), ("conv", 1, False)])
def test_the_bundled_azure_samples(trace, scale, warns):
    """The conversation sample as recorded is Poisson-like at 1 s (1.09, within its noise band); ten
    times its rate (each row's copies inside the row's own gap) it reads 9.9, and the code sample 8.2
    as recorded: those warn (docs/scaling.md)."""
    from sim.scenario.load import read_file

    data = read_file(ROOT / "scenarios" / "azure_conv_replay.yaml")
    data["workload"]["arrival"].update(path=str(ROOT / "scenarios" / "traces" / f"azure_{trace}_2023_first2000.csv"),
                                       rate_scale=scale)
    m, out, said = _measured(data)
    assert out["overdispersed"] is warns and bool(said) is warns


def test_a_fluid_run_keeps_the_index_in_its_summary_and_says_it_only_on_poisson_curves(tmp_path):
    """End to end: the pairs trace run in the fluid tier measures its curves under the trace's own arrivals
    (sim/fluid/replay.py), so it does not warn, and its summary's ``fidelity.arrival_dispersion`` holds what
    was measured and ``modelled: trace``; its keys beside it stay. Given curves measured under Poisson
    arrivals instead, the same run warns once and says ``modelled: None``."""
    import sim
    from sim.errors import ScenarioWarning
    from sim.fluid.capacity import capacity_curve
    from sim.scenario.load import load_scenario
    from sim.fluid.run import run_fluid

    base = _poisson_times(np.random.default_rng(4), 2.0, 600.0)
    base = base[base < 600.0]
    data = _trace_scenario(tmp_path, np.concatenate([base, base]), 600.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        summary = sim.run(data).summary
    disp = summary["fidelity"]["arrival_dispersion"]
    assert summary["fidelity"]["tier"] == "fluid" and summary["fidelity"]["steps"] == 1
    assert disp["overdispersed"] is True and disp["index"] > disp["threshold"] >= MATERIAL
    assert disp["window_s"] == pytest.approx(600.0 / 12 / 50) and disp["modelled"] == "trace"
    loaded = load_scenario(data)
    poisson = [capacity_curve(loaded.scenario, 0, Path(loaded.base_dir))]
    with pytest.warns(ScenarioWarning, match="burstier than Poisson") as caught:
        plain = run_fluid(loaded, curves=poisson).summary
    assert sum("burstier" in str(w.message) for w in caught) == 1
    assert plain["fidelity"]["arrival_dispersion"]["modelled"] is None


def _gamma_scenario(cv: float, fidelity: str, seed: int = 1, classes: bool = False) -> dict:
    arrival = {"process": "gamma", "rate": 3.3, "cv": cv}
    data = {"name": "g", "duration": "3600s", "warmup": "60s", "seed": seed, "fidelity": fidelity,
            "metrics": {"records": "none"}, "model": "llama-3-8b",
            "workload": {"arrival": arrival, "prompt_tokens": {"dist": "fixed", "value": 200},
                         "output_tokens": {"dist": "fixed", "value": 50}},
            "fleet": {"router": "random", "pools": [{"name": "b", "gpu": "h100-sxm", "replicas": 1,
                                                     "batching": {"max_num_seqs": 8, "max_batched_tokens": 4096}}]},
            "perf": {"model": "linear", "base_s": 0.02, "per_prefill_token_s": 0.0, "per_decode_token_s": 0.002,
                     "per_context_token_s": 0.0},
            "slo": {"ttft_s": 5.0, "tpot_s": 0.3}}
    if classes:
        data["workload"]["arrival"] = {"process": "poisson", "rate": 1.0}
        data["workload"]["classes"] = [{"name": "a", "share": 1.0},
                                       {"name": "b", "arrival": arrival}]
    return data


def test_a_gamma_process_burstier_than_material_warns_and_reads_far_too_mildly():
    """Gamma gaps of cv 2 (index cv^2 = 4) at 3.3 requests/s on one batching replica (load ~0.75): the
    fluid tier reads them on Poisson's curves, TTFT p99 the same as for cv 1, where the request level
    queues four times as long (cv 2: 5.2-6.3 s over seeds 1-3, against 1.3-1.5 s at cv 1); the fluid run
    says so. cv 1.2 (1.44, under 1.5) does not warn."""
    import sim
    from sim.errors import ScenarioWarning

    with pytest.warns(ScenarioWarning, match=r"gamma arrival process of cv 2 is burstier.*cv\^2 = 4") as caught:
        fluid = sim.run(_gamma_scenario(2.0, "fluid")).summary
    assert sum("gamma arrival" in str(w.message) for w in caught) == 1
    request = sim.run(_gamma_scenario(2.0, "request")).summary
    assert request["latency"]["ttft"]["p99"] > 3 * fluid["latency"]["ttft"]["p99"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        sim.run(_gamma_scenario(1.2, "fluid"))


def test_a_class_of_gamma_arrivals_is_named():
    from sim.errors import ScenarioWarning
    import sim

    with pytest.warns(ScenarioWarning, match=r"^workload\.classes\.1\.arrival: a gamma arrival process of cv 2"):
        sim.run(_gamma_scenario(2.0, "fluid", classes=True))


def test_a_sweep_says_the_gamma_warning_once(tmp_path, capsys):
    """Two rates of the cv-2 gamma scenario at fidelity: fluid: the sweep's checks say the gamma
    warning once, and its two runs do not say it again (each said it before: three in all)."""
    import yaml

    from sim.cli import main

    path = tmp_path / "g.yaml"
    data = _gamma_scenario(2.0, "fluid")
    data["duration"] = "600s"
    path.write_text(yaml.safe_dump(data))
    assert main(["sweep", str(path), "--seeds", "1", "--grid", "workload.arrival.rate=3.0,3.3", "--executor", "serial",
                 "--out", str(tmp_path / "sweep"), "--quiet", "--no-figures"]) == 0
    assert capsys.readouterr().err.count("a gamma arrival process of cv 2") == 1


def test_a_sweep_says_the_merged_clumps_warning_once(tmp_path, capsys):
    """A class's own compound_poisson clumps merged with other arrivals (sim.fluid.burst.compound_message): over
    two fleet sizes at fidelity: fluid, the sweep's checks say it once and its two runs do not say it again (each
    said it before: three in all; a grid that changes the arrivals' mix says each point's own merged clumps, once
    each); the pattern the runs leave unsaid is that warning's text."""
    import re

    import yaml

    from sim.cli import main
    from sim.fluid.burst import COMPOUND_SAID

    lengths = {"prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 50}}
    data = {"name": "c", "duration": "600s", "model": "llama-3-8b", "fidelity": "fluid", "seed": 1,
            "workload": {"arrival": {"process": "poisson", "rate": 6}, **lengths,
                         "classes": [{"name": "steady", "share": 1.0},
                                     {"name": "batch", "arrival": {"process": "compound_poisson", "rate": 2,
                                                                   "clump_mean": 12}}]},
            "fleet": {"pools": [{"name": "p", "gpu": "h100-sxm", "replicas": 1}]},
            # coarse curves (two grid points, short runs): the warnings counted depend on the arrivals alone,
            # not on how finely the two fleet sizes' curves are measured
            "fluid": {"grid": [0.5, 0.9], "calibration_duration": 60, "calibration_requests": 300}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["sweep", str(path), "--seeds", "1", "--grid", "fleet.pools.0.replicas=1,2", "--executor",
                 "serial", "--out", str(tmp_path / "sweep"), "--quiet", "--no-figures"]) == 0
    err = capsys.readouterr().err
    assert err.count("class batch's clumps of 12") == 1, err
    said = next(line for line in err.splitlines() if "class batch's clumps of 12" in line)
    assert re.match(COMPOUND_SAID, said[said.index("workload.classes"):], re.I)
