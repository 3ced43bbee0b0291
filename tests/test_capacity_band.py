"""The capacity band (``fleetsim run --capacity-band``) against queueing theory and hand arithmetic.

A capacity scale ``c`` makes every iteration ``1 / c`` as long. With the linear step-time model,
``max_num_seqs: 1``, single-token outputs and a central queue, a run is an M/G/c queue whose service
times are the prompt's ``0.001 s/token x tokens / c``, so:

* per request, the wait of one FCFS server on the band's arrivals is Lindley's recursion
  ``W_{n+1} = max(0, W_n + D / c - A_{n+1})`` on the same arrival times (common random numbers);
* over replications, each side's mean wait is Pollaczek–Khinchine at the scaled service rate,
  ``W_q = ρ D' / (2 (1 - ρ))`` with ``D' = D / c`` and ``ρ = λ D'``;
* FCFS waits are non-decreasing in every service time (Kiefer–Wolfowitz's workload vector), so
  with common arrivals the faster side's percentiles are at or below the point's, the slower's at
  or above.
"""
from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import sim
from sim import humanize
from sim.cli import main
from sim.errors import InputError
from sim.metrics.band import attainment_range, class_band, latency_range, near_saturation
from sim.perf.base import BatchShape, decode_run_fn, decode_step_fn
from sim.perf.linear import LinearModel
from sim.perf.roofline import RooflineModel
from sim.perf.scaled import ScaledCapacity, scaled
from sim.perf.table import TableModel
from sim.report_text import format_summary
from sim.scenario.catalog import get_gpu, get_model

from conftest import scenario
from test_queueing_theory import _ci99, _queue_scenario, md1_wait_s

ROOT = Path(__file__).resolve().parents[1]


def queue_scenario(*, lam: float, seed: int = 1, duration: float = 2000.0, warmup: float = 0.0, c: int = 1,
                   prompt: dict | None = None) -> dict:
    """An M/G/c queue of 1-token requests at 1 ms per prompt token (M/D/1 with 1 s service by default)."""
    return _queue_scenario(c=c, lam=lam, prompt=prompt or {"dist": "fixed", "value": 1000}, seed=seed,
                           duration=duration, warmup=warmup)


# ---------------------------------------------------------------- the perf layer


def _models():
    roof = RooflineModel(get_model("llama-3-8b"), get_gpu("h100-sxm"), 1, "bf16", "bf16")
    axes = (np.array([0.0, 512.0]), np.array([0.0, 8.0, 64.0]), np.array([0.0, 20000.0]))
    values = np.array([[[0.0, 0.01], [0.02, 0.03], [0.05, 0.07]], [[0.04, 0.05], [0.06, 0.07], [0.09, 0.1]]])
    table = TableModel(axes, values, roof, "grid.csv")
    return {"roofline": roof, "linear": LinearModel(0.01, 1e-4, 1e-3, 3e-7), "table": table}


@pytest.mark.parametrize("kind", ["roofline", "linear", "table"])
def test_scaled_steps_are_the_inner_steps_over_the_capacity_bit_for_bit(kind):
    inner = _models()[kind]
    m = ScaledCapacity(inner, 0.97)
    shapes = [BatchShape(prefill_tokens=300, prefill_seqs=1, prefill_attn_pairs=45150.0, prefill_kv_tokens=300),
              BatchShape(prefill_tokens=100, prefill_seqs=1, prefill_attn_pairs=5050.0, prefill_kv_tokens=100,
                         decode_seqs=4, decode_context_tokens=2000)]
    for s in shapes:
        assert m.step_time(s) == inner.step_time(s) / 0.97
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the table's grid ends: its roofline takes over
        for n in (1, 7, 64, 100):
            ctx = np.array([n, n * 300 + 1, n * 5000 + 17])
            vec = m.decode_times(n, ctx).tolist()
            run_steps, _ = decode_run_fn(m)(n, int(ctx[0]), 3, 0.0, math.inf)
            for c, v in zip(ctx.tolist(), vec):
                ref = inner.step_time(BatchShape(decode_seqs=n, decode_context_tokens=c)) / 0.97
                assert m.step_time(BatchShape(decode_seqs=n, decode_context_tokens=c)) == ref
                assert decode_step_fn(m)(n, c) == ref == v
            assert run_steps == [m.decode_step(n, int(ctx[0]) + i * n) for i in range(3)]


def test_a_scale_of_one_is_the_model_itself_and_a_bad_scale_is_refused():
    lm = LinearModel(base_s=0.02)
    assert scaled(lm, 1.0) is lm
    assert ScaledCapacity(lm, 0.5).step_time(BatchShape(decode_seqs=1)) == 0.04   # 20 ms at half the capacity
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="capacity scale"):
            ScaledCapacity(lm, bad)


@pytest.mark.parametrize("router", ["least_outstanding", "round_robin"])    # round robin: the lean path
def test_fast_and_reference_engines_agree_under_a_capacity_scale(router):
    sc = scenario(duration=120, workload={"arrival": {"process": "poisson", "rate": 12.0},
                                          "prompt_tokens": {"dist": "uniform", "low": 50, "high": 600},
                                          "output_tokens": {"dist": "uniform", "low": 5, "high": 80}})
    sc["fleet"] = dict(sc["fleet"], router=router, pools=[dict(sc["fleet"]["pools"][0], replicas=2)])
    fast = sim.run(dict(sc, engine="fast"), capacity=0.93)
    ref = sim.run(dict(sc, engine="reference"), capacity=0.93)
    assert fast.records.tobytes() == ref.records.tobytes()
    plain = sim.run(dict(sc, engine="fast"))
    assert fast.records.tobytes() != plain.records.tobytes()


# ---------------------------------------------------------------- against theory


def lindley_waits(arrivals: np.ndarray, service_s: float) -> np.ndarray:
    """FCFS single-server waits in queue: ``W_{n+1} = max(0, W_n + S - (A_{n+1} - A_n))``."""
    w = np.zeros(len(arrivals))
    for i in range(1, len(arrivals)):
        w[i] = max(0.0, w[i - 1] + service_s - (arrivals[i] - arrivals[i - 1]))
    return w


@pytest.mark.parametrize("capacity", [0.97, 1.0, 1.03])
def test_each_waits_are_lindleys_recursion_at_the_scaled_service_time(capacity):
    res = sim.run(queue_scenario(lam=0.8, duration=1500.0), capacity=capacity)
    rec = np.sort(res.records[res.records["status"] == 1], order="arrival_s")
    expected = lindley_waits(rec["arrival_s"], 1.0 / capacity)
    assert np.allclose(rec["sched_s"] - rec["arrival_s"], expected, rtol=0, atol=1e-9)
    assert np.allclose(rec["completion_s"] - rec["sched_s"], 1.0 / capacity, rtol=0, atol=1e-9)


def test_the_band_is_the_point_run_at_each_scaled_capacity():
    sc = queue_scenario(lam=0.8, duration=1500.0)
    point = sim.run(sc, capacity_band=3)
    b = point.summary["capacity_band"]
    assert b["pct"] == 3.0 and b["slower"]["capacity"] == 0.97 and b["faster"]["capacity"] == 1.03
    for name, capacity in (("slower", 0.97), ("faster", 1.03)):
        alone = sim.run(sc, capacity=capacity).summary
        assert b[name]["latency"] == {k: alone["latency"][k] for k in ("ttft", "tpot", "itl", "e2e", "queue")}
        assert b[name]["slo"]["attainment"] == alone["slo"]["attainment"]
        assert b[name]["stability"]["verdict"] == alone["stability"]["verdict"]
    # the point run is the run without a band, untouched
    assert point.summary["latency"] == sim.run(sc).summary["latency"]


@pytest.fixture(scope="module")
def md1_bands():
    # 5,000 s each: the 99 % intervals' half-widths are 9.9 % (faster) and 12.1 % (slower) of P-K's wait and
    # 18.5 % of the band's width, inside the 15 % and 25 % asked (at 8,000 s: 9.0, 12.7 and 23.4 %)
    lam, reps = 0.8, 12
    return lam, [sim.run(queue_scenario(lam=lam, seed=s, duration=5000.0, warmup=300.0), capacity_band=3).summary
                 for s in range(1, reps + 1)]


def test_band_ends_match_pollaczek_khinchine_at_the_scaled_capacity(md1_bands):
    """M/D/1, D = 1 s, λ = 0.8: P-K gives 2.000 s at the model's capacity, 1.689 s at 1.03x and
    2.422 s at 0.97x; each side's mean wait over 12 replications (99 % CI) contains its own."""
    lam, runs = md1_bands
    for name, capacity in (("faster", 1.03), ("slower", 0.97)):
        theory = md1_wait_s(lam, 1.0 / capacity)
        m, half = _ci99(np.array([r["capacity_band"][name]["latency"]["queue"]["mean"] for r in runs]))
        assert half < 0.15 * theory, (name, m, half, theory)
        assert abs(m - theory) <= half, f"{name}: W_q = {m:.4f} ± {half:.4f} s, P-K {theory:.4f} s"
    # common random numbers: the band's width is known far more precisely than either end
    width = np.array([r["capacity_band"]["slower"]["latency"]["queue"]["mean"]
                      - r["capacity_band"]["faster"]["latency"]["queue"]["mean"] for r in runs])
    m, half = _ci99(width)
    theory = md1_wait_s(lam, 1 / 0.97) - md1_wait_s(lam, 1 / 1.03)        # 0.737 s
    assert half < 0.25 * theory and abs(m - theory) <= half, (m, half, theory)


@pytest.mark.parametrize("c, prompt", [(1, None), (4, {"dist": "exponential", "mean": 1000, "max": 100_000})])
def test_band_ends_bracket_the_point_value(c, prompt):
    res = sim.run(queue_scenario(lam=0.85 * c, c=c, prompt=prompt, duration=1500.0), capacity_band=5)
    s, b = res.summary, res.summary["capacity_band"]
    for key in ("ttft", "e2e", "queue"):
        for stat in ("mean", "p50", "p90", "p99"):
            lo, mid, hi = (b["faster"]["latency"][key][stat], s["latency"][key][stat],
                           b["slower"]["latency"][key][stat])
            assert lo <= mid <= hi, (key, stat, lo, mid, hi)
    assert b["slower"]["slo"]["attainment"] <= s["slo"]["attainment"] <= b["faster"]["slo"]["attainment"]


# ---------------------------------------------------------------- the command line


def _write(tmp_path: Path, data: dict, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_same_seed_gives_the_same_bytes(tmp_path):
    path = _write(tmp_path, queue_scenario(lam=0.9, duration=600.0))
    outs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--json", "--quiet",
                               "--capacity-band", "4"], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
        s = json.loads(proc.stdout)
        s.pop("wall_seconds")
        outs.append(json.dumps(s))
    assert outs[0] == outs[1]
    assert json.loads(outs[0])["capacity_band"]["pct"] == 4.0


@pytest.mark.parametrize("value", ["0", "-3", "51", "nan", "inf", "abc", ""])
def test_a_bad_band_is_a_clear_error(tmp_path, capsys, value):
    path = _write(tmp_path, queue_scenario(lam=0.5, duration=60.0))
    with pytest.raises(SystemExit) as exc:
        main(["run", str(path), "--capacity-band", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--capacity-band" in err and "greater than 0 and at most 50" in err and "Traceback" not in err


def test_a_scenario_after_the_flag_is_explained(tmp_path, capsys):
    path = _write(tmp_path, queue_scenario(lam=0.5, duration=60.0))
    with pytest.raises(SystemExit):
        main(["run", "--capacity-band", str(path)])
    assert "a scenario file goes before the flag" in capsys.readouterr().err


def test_a_per_cent_sign_is_explained(tmp_path, capsys):
    """``3%`` is a number with its sign, not a scenario file in the wrong place."""
    path = _write(tmp_path, queue_scenario(lam=0.5, duration=60.0))
    with pytest.raises(SystemExit) as exc:
        main(["run", str(path), "--capacity-band", "3%"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--capacity-band 3)" in err and "goes before the flag" not in err


def test_the_python_api_names_its_argument():
    with pytest.raises(InputError, match="capacity_band: give a percentage"):
        sim.run(queue_scenario(lam=0.5, duration=60.0), capacity_band=0)


def test_the_flag_alone_is_three_per_cent_and_the_table_shows_ranges(tmp_path, capsys):
    path = _write(tmp_path, queue_scenario(lam=0.8, duration=600.0))
    assert main(["run", str(path), "--quiet", "--capacity-band"]) == 0
    out = capsys.readouterr().out
    assert "±3 % capacity" in out and "ms p99 (+3 % – −3 %)" in out
    assert "ranges: the same arrivals with the model's capacity 3 % higher (lower latency) and 3 % lower" in _words(out)


def test_the_run_says_the_two_capacities_it_runs_at_with_the_digits_that_tell_them_apart(tmp_path, capsys):
    path = _write(tmp_path, queue_scenario(lam=0.5, duration=60.0))
    for pct, said in (("3", "0.97 and 1.03"), ("1e-9", "0.99999999999 and 1.00000000001")):   # (not "1 and 1")
        assert main(["run", str(path), "--capacity-band", pct]) == 0
        assert f"then twice more at {said} times the model's capacity" in _words(capsys.readouterr().err)


def test_an_overloaded_side_reads_overload():
    """At λ = 0.99 and D = 1 s, 10 % less capacity is ρ = 1.1: the queue grows by ~9 % of the
    arrivals, past the stability test's allowance over 4,000 s; 10 % more is ρ = 0.9, stable."""
    res = sim.run(queue_scenario(lam=0.99, duration=8000.0), capacity_band=10)
    b = res.summary["capacity_band"]
    assert b["slower"]["stability"]["verdict"] == "unstable"
    assert b["faster"]["stability"]["verdict"] == "stable"
    text = format_summary(res)
    ttft = next(line for line in text.splitlines() if line.startswith("ttft") and "(" in line)
    assert ttft.count("– overload)") == 3, ttft
    assert "−10 % unstable" in text


def test_near_saturation_suggests_the_band(tmp_path, capsys):
    busy = _write(tmp_path, queue_scenario(lam=0.92, duration=600.0), "busy.yaml")
    assert main(["run", str(busy)]) == 0
    assert "fleetsim run --capacity-band gives the range" in _words(capsys.readouterr().out)   # the verdict
    assert main(["run", str(busy), "--json"]) == 0
    assert "rerun with --capacity-band" in capsys.readouterr().err                     # and stderr under --json
    idle = _write(tmp_path, queue_scenario(lam=0.3, duration=600.0), "idle.yaml")
    assert main(["run", str(idle)]) == 0
    assert "--capacity-band" not in capsys.readouterr().out
    assert main(["run", str(busy), "--capacity-band"]) == 0
    out = capsys.readouterr()
    assert "gives the range" not in out.out and "rerun with" not in out.err
    assert "At ±3 % of the model's capacity TTFT p99 ranges" in _words(out.out)


def _words(text: str) -> str:
    """Wrapped text as one line."""
    return " ".join(text.split())


def test_a_run_that_does_not_keep_up_is_not_near_saturation():
    """Past saturation there is no latency to read a range around: neither the verdict nor the --json note
    suggests the band (the stability warning says what happened)."""
    over = {"stability": {"stable": False, "offered_load_factor": 11.2}, "utilization": {"load_factor": 0.91}}
    assert near_saturation(over) is None
    assert near_saturation({**over, "stability": {"stable": True, "offered_load_factor": 0.95}}) == 0.95


def test_near_saturation_reads_the_highest_load_factor():
    assert near_saturation({"pools": {"a": {"load_factor": 0.5}, "b": {"load_factor": 0.9}}}) == 0.9
    assert near_saturation({"stability": {"offered_load_factor": math.inf}, "utilization": {"load_factor": 0.2}}) is None
    assert near_saturation({}) is None


def test_the_report_shows_the_ranges_beside_the_point_values(tmp_path):
    from sim.report.html_report import write_report

    res = sim.run(queue_scenario(lam=0.99, duration=8000.0), capacity_band=10)
    folder = res.write(tmp_path / "res", figures="none")
    saved = json.loads((folder / "summary.json").read_text())
    assert saved["capacity_band"] == json.loads(json.dumps(res.summary["capacity_band"]))
    page = write_report(folder, regenerate=False).read_text()
    assert "<th>range at ±10 % capacity</th>" in page
    p99 = res.summary["capacity_band"]["faster"]["latency"]["ttft"]["p99"]
    assert f"<td>{humanize.latency(p99)} – overload</td>" in page
    assert "ranges: the same arrivals with the model&#x27;s capacity 10 % higher" in page
    assert "With 10 % less capacity" in page and "reaches overload" in page       # the verdict


# ---------------------------------------------------------------- per request class


def _two_classes(lam: float = 0.9, duration: float = 1500.0) -> dict:
    sc = queue_scenario(lam=lam, duration=duration)
    sc["workload"]["classes"] = [{"name": "interactive", "share": 0.3, "slo": {"ttft_s": 3.0}},
                                 {"name": "batch", "share": 0.7}]
    sc["slo"] = {"ttft_s": 10.0, "tpot_s": 1.0}
    return sc


def test_each_class_has_its_range_and_it_is_that_classs_block_at_the_scaled_capacity(tmp_path, capsys):
    """FCFS waits are non-decreasing in every service time (common arrivals), so each class's
    percentiles order as the fleet's do; a side's class block is the class block of the run at
    that capacity, bit for bit."""
    sc = _two_classes()
    res = sim.run(copy.deepcopy(sc), capacity_band=3)
    b = res.summary["capacity_band"]
    slow = sim.run(copy.deepcopy(sc), capacity=0.97).summary
    for name in ("interactive", "batch"):
        point = res.summary["classes"][name]
        f, s = b["faster"]["classes"][name], b["slower"]["classes"][name]
        assert s["latency"] == slow["classes"][name]["latency"] and s["slo"]["attainment"] == \
            slow["classes"][name]["slo"]["attainment"]
        for q in ("p50", "p90", "p99"):
            assert f["latency"]["ttft"][q] <= point["latency"]["ttft"][q] <= s["latency"]["ttft"][q], (name, q)
        assert s["slo"]["attainment"] <= point["slo"]["attainment"] <= f["slo"]["attainment"], name
    # the terminal's class table shows the ranges
    assert main(["run", str(_write(tmp_path, sc)), "--quiet", "--capacity-band"]) == 0
    out = capsys.readouterr().out
    assert "TTFT p99 ms (+3 % – −3 %)" in out and "SLO (−3 % – +3 %)" in out
    for name in ("interactive", "batch"):
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        own = class_band(b, name)
        assert f"({latency_range(own, 'ttft', 'p99')})" in row and f"({attainment_range(own)})" in row


# ---------------------------------------------------------------- sweeps


def test_a_banded_sweep_has_each_points_band_and_ranges_in_its_table(tmp_path, capsys):
    """Every point runs with the band (its sides are the runs at 0.97 and 1.03 capacity, bit for
    bit); the table gains a range column per latency and SLO column; a stored point without the band
    is not reused for one with it."""
    path = _write(tmp_path, queue_scenario(lam=0.8, duration=600.0))
    out = tmp_path / "sw"
    plain = sim.sweep(str(path), ["workload.arrival.rate=0.7,0.8"], out=out, progress=False, figures=False)
    banded = sim.sweep(str(path), ["workload.arrival.rate=0.7,0.8"], out=out, progress=False, figures=False,
                       capacity_band=3)
    assert not any(r.get("reused") for r in banded.records) and all(r.get("reused") is False for r in plain.records)
    for row in banded:
        lam = row["workload.arrival.rate"]
        slow = sim.run(queue_scenario(lam=lam, duration=600.0), capacity=0.97).summary
        assert row["capacity_band.slower.latency.ttft.p99"] == slow["latency"]["ttft"]["p99"]
        assert row["capacity_band.slower.slo.attainment"] == slow["slo"]["attainment"]
    assert "capacity_band.faster.latency.ttft.p99" not in plain[0]
    conf = banded.configurations[1]
    assert conf["capacity_band.faster.latency.ttft.p99.mean"] <= conf["latency.ttft.p99.mean"] <= \
        conf["capacity_band.slower.latency.ttft.p99.mean"]
    assert conf["capacity_band.slower.stable"] in (True, None, False)
    rc = main(["sweep", str(path), "--grid", "workload.arrival.rate=0.7,0.8", "--out", str(out), "--quiet",
               "--capacity-band", "--columns", "latency.ttft.p99,utilization.load_factor"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "latency.ttft.p99 ±3 %" in table and "utilization.load_factor ±3 %" not in table
    from sim.planning.planner import plain    # the table's latencies in ms, as the run summary's

    faster, slower = (plain(conf[f"capacity_band.{s}.latency.ttft.p99.mean"] * 1000) for s in ("faster", "slower"))
    assert faster in table and slower in table
    # the sweep's report.html has the ranges as a table of their own
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "Ranges at ±3 % capacity" in page
    assert humanize.latency(conf["capacity_band.slower.latency.ttft.p99.mean"]) in page


def test_a_sweep_band_needs_the_simulator():
    with pytest.raises(InputError, match="capacity_band: needs the simulator"):
        sim.sweep(queue_scenario(lam=0.5), {"workload.arrival.rate": [0.5]}, runner=lambda sc, seed: {},
                  executor="serial", progress=False, capacity_band=3)


def test_a_banded_sweeps_figure_shades_the_range_between_the_sides():
    from sim.report.render import new_figure
    from sim.report.sweep_figures import metric_vs_knob

    rows = [{"rate": r, "latency.ttft.p99.mean": p, "capacity_band.pct.mean": 3.0,
             "capacity_band.faster.latency.ttft.p99.mean": f, "capacity_band.slower.latency.ttft.p99.mean": s}
            for r, f, p, s in ((1.0, 0.1, 0.2, 0.3), (2.0, 0.3, 0.5, 0.9))]
    ax = new_figure(4, 3).subplots()
    assert metric_vs_knob(ax, rows, "rate", [], "latency.ttft.p99", "p99 TTFT (s)")
    shaded = [c for c in ax.collections if c.get_label() == "±3 % capacity"]
    assert len(shaded) == 1
    ys = shaded[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.1) and ys.max() == pytest.approx(0.9)
    # without the band keys nothing is shaded
    ax = new_figure(4, 3).subplots()
    metric_vs_knob(ax, [{k: v for k, v in r.items() if not k.startswith("capacity_band")} for r in rows], "rate", [],
                   "latency.ttft.p99", "p99 TTFT (s)")
    assert not [c for c in ax.collections if "capacity" in str(c.get_label())]


def test_the_verdict_explains_a_question_mark():
    """A side the run is too short to judge gets a '?' in the verdict's range and, in the same
    sentence, what the '?' means (the legend under the terminal table is not beside the verdict)."""
    from sim.metrics.band import band, verdict

    def side(v: str, ttft_p99: float) -> dict:
        return {"stability": {"verdict": v}, "latency": {"ttft": {"p99": ttft_p99}},
                "slo": {"attainment": 0.9}}

    text = verdict({"capacity_band": band(3, slower=side("cannot tell", 4.8), faster=side("stable", 0.25))})
    assert "4.80 s?" in text or "4.8 s?" in text, text
    assert "too short to tell whether the fleet keeps up with 3 % less capacity" in text
    both = verdict({"capacity_band": band(3, slower=side("cannot tell", 4.8), faster=side("cannot tell", 0.25))})
    assert "on either side" in both
    plain = verdict({"capacity_band": band(3, slower=side("stable", 0.5), faster=side("stable", 0.25))})
    assert "?" not in plain and "too short" not in plain
