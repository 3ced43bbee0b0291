"""A planner's first hour, continued: the names and paths a newcomer types first get an answer that
says what to write."""
import pytest

from sim.cli import main


def _err(capsys) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("override,line", [
    # the names as people say them: a GPU without its form factor, a model with its -instruct suffix
    ("fleet.pools.0.gpu=h200", "fleet.pools.0.gpu: unknown GPU 'h200' (did you mean h200-sxm?); allowed: a100-80gb"),
    ("fleet.pools.0.gpu=H100", "fleet.pools.0.gpu: unknown GPU 'H100' (did you mean h100-pcie or h100-sxm?); "),
    ("fleet.pools.0.gpu=mi300", "fleet.pools.0.gpu: unknown GPU 'mi300' (did you mean mi300x?); "),
    ("model=llama-3.1-70b-instruct", "model: unknown model 'llama-3.1-70b-instruct' (did you mean llama-3.1-70b?); "),
    ("model=Llama-3-8B", "model: unknown model 'Llama-3-8B' (did you mean llama-3-8b?); "),
    # a name near none stays as it was (README's error example), and so does one near too many
    ("fleet.pools.0.gpu=h900", "fleet.pools.0.gpu: unknown GPU 'h900'; allowed: a100-80gb"),
    ("model=llama-3", "model: unknown model 'llama-3'; allowed: "),
])
def test_an_unknown_catalog_name_says_the_near_one(capsys, override, line):
    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert f"scenarios/baseline.yaml: {line}" in _err(capsys)


def test_an_unknown_pool_a_router_names_says_the_near_one(capsys):
    assert main(["validate", "scenarios/mixed_fleet.yaml", "--set", "fleet.router.primary=h10"]) == 2
    err = _err(capsys)
    assert "fleet.router.primary: unknown pool 'h10' (did you mean h100?); allowed: h100, a100" in err


@pytest.mark.parametrize("override,line", [
    ("fleet.pools[0].replicas=3", "--set: fleet.pools[0].replicas: a list item is written by its index as a part "
                                  "of the dotted path: fleet.pools.0.replicas, not [0]"),
    ("economics.agreements[0].rate=0.15", "economics.agreements[0].rate: a list item is written by its index as a "
                                          "part of the dotted path: economics.agreements.0.rate, not [0]"),
])
def test_a_list_index_in_brackets_says_the_dotted_path(capsys, override, line):
    """Python's and jq's ``pools[0]`` used to read as an unknown key ``pools[0]`` of ``fleet``."""
    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert line in _err(capsys)


def test_the_slo_takes_a_time_with_its_unit_as_a_class_slo_does():
    """`slo: {ttft_s: 500ms}` was 'must be a number' where a class's `slo` and `duration` take units."""
    from sim.scenario.load import load_scenario

    sc = load_scenario("scenarios/baseline.yaml", ["slo.ttft_s=500ms", "slo.tpot_s=50 ms"]).scenario
    assert (sc.slo.ttft_s, sc.slo.tpot_s) == (0.5, 0.05)
    assert load_scenario("scenarios/baseline.yaml", ["slo.ttft_s=0.5"]).scenario.slo.ttft_s == 0.5


@pytest.mark.parametrize("override,line", [
    ("perf.cpu_per_token_s=20ms",
     "perf.cpu_per_token_s: must be a number (got '20ms'); the field is in seconds: write 0.02"),
    ("perf.cpu_per_seq_s=3us", "perf.cpu_per_seq_s: must be a number (got '3us'); the field is in seconds: write 3e-06"),
])
def test_a_time_with_a_unit_in_a_seconds_field_says_the_number(capsys, override, line):
    """Most `_s` fields take a unit (`overhead_s: 5ms`); the few that take a number of seconds only said
    'must be a number'."""
    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert f"scenarios/baseline.yaml: {line}" in _err(capsys)


def test_text_that_is_no_time_gets_no_seconds_hint(capsys):
    assert main(["validate", "scenarios/baseline.yaml", "--set", "perf.cpu_per_seq_s=fast"]) == 2
    assert _err(capsys).strip().endswith("perf.cpu_per_seq_s: must be a number (got 'fast')")


def test_the_per_pool_table_keeps_a_gpu_name_on_one_line():
    """`h100-sxm` broke at its hyphen in the report's narrow GPU column ('h100-' over 'sxm')."""
    import re

    from sim.report.html_page import CSS
    from sim.report.html_report import metrics_section

    summary = {"pools": {"main": {"gpu": "h100-sxm", "replicas": 4, "tensor_parallel": 1, "gpu_busy": 1.0}}}
    html = metrics_section(summary)
    pools = html[html.index("<h3>Per pool</h3>"):]
    assert pools.startswith("<h3>Per pool</h3><table class='pools'>") and "<td>h100-sxm</td>" in pools
    assert re.search(r"table\.pools td\+td\{white-space:nowrap\}", CSS)     # every cell but the pool's name


@pytest.mark.parametrize("override,line", [
    ("replicas=4", "replicas: unknown key 'replicas'; allowed: drain, duration, economics, engine, fidelity, fleet, "
                   "fluid, metrics, model, name, perf, seed, slo, start, warmup, workload; did you mean "
                   "fleet.pools.0.replicas?"),
    ("fleet.rate=40", "fleet.rate: unknown key 'rate'; allowed: disaggregated, frontend_s, pools, router; did you mean "
                      "workload.arrival.rate?"),
])
def test_a_key_written_in_the_wrong_block_says_where_the_scenario_has_it(capsys, override, line):
    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert _err(capsys).splitlines() == [f"scenarios/baseline.yaml: {line}"]


def test_a_latency_bound_with_a_unit_says_the_seconds(tmp_path, capsys):
    """`--constraint 'latency.ttft.p99<=500ms'`: latencies are seconds; nothing runs."""
    assert main(["plan", "scenarios/baseline.yaml", "--vary", "fleet.pools.0.replicas=1..4", "--constraint",
                 "latency.ttft.p99<=500ms", "--out", str(tmp_path / "p")]) == 2
    assert _err(capsys).splitlines() == ["--constraint: latency.ttft.p99: bound must be a number (got '500ms'); "
                                         "latencies are in seconds: write 0.5"]
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("command", ["plan", "saturation"])
@pytest.mark.parametrize("metric,op,written,number", [
    ("latency.ttft.p99", "<=", "1 s", "1"),
    ("slo.attainment", ">=", "99.5%", "0.995"),
    ("cost.per_million_output_tokens", "<=", "$0.50", "0.5"),
])
def test_a_bound_written_with_its_unit_says_the_number_to_write(tmp_path, capsys, command, metric, op, written,
                                                                number):
    """A planner writes the bound as they would say it (1 s, 99.5 %, $0.50): the error gives the
    number fleetsim reads in the metric's own unit, nothing runs, and the suggested form parses."""
    from sim.planning.constraints import parse_constraint

    why = {"1": "latencies are in seconds", "0.995": "a share is written from 0 to 1",
           "0.5": "money is in USD without the sign"}[number]
    knob = ["--vary", "fleet.pools.0.replicas=1..4"] if command == "plan" else []
    assert main([command, "scenarios/baseline.yaml", *knob, "--constraint", f"{metric}{op}{written}",
                 "--out", str(tmp_path / "p")]) == 2
    assert _err(capsys).splitlines() == [f"--constraint: {metric}: bound must be a number (got {written!r}); "
                                         f"{why}: write {number}"]
    assert not (tmp_path / "p").exists()
    assert parse_constraint(f"{metric}{op}{number}").bound == float(number)


def test_the_saturation_table_writes_latencies_in_digits(tmp_path, capsys):
    """A probe past saturation read `3.672e+04` ms where plan and sweep write 36,720."""
    assert main(["saturation", "scenarios/baseline.yaml", "--set", "duration=2m", "--set", "warmup=0", "--set",
                 "fleet.pools.0.replicas=1", "--start", "40", "--tolerance", "0.5", "--out", str(tmp_path / "s"),
                 "--quiet", "--executor", "serial"]) in (0, 1)
    import re

    table = capsys.readouterr().out.splitlines()
    head = next(line for line in table if line.startswith("rate "))
    at = head.index("latency.ttft.p99 (ms)") + len("latency.ttft.p99 (ms)")      # the column's right edge
    cells = [line[:at].split()[-1] for line in table if re.match(r"\s*\d", line)]
    # one replica at 40 req/s falls behind by ~20 req/s: its TTFT p99 is tens of seconds
    assert len(cells) >= 2 and any(re.fullmatch(r"\d{1,3}(,\d{3})+", c) for c in cells), cells
    assert all(re.fullmatch(r"[\d,]+(\.\d+)?", c) for c in cells), cells


@pytest.mark.parametrize("override,fits", [("model=llama-3-70b", 2), ("model=llama-3.1-405b", 16)])
def test_a_model_too_big_for_one_gpu_says_the_tensor_parallel_that_fits(capsys, override, fits):
    """Llama-3-70B's 131.4 GiB of bf16 weights need two 80 GiB H100s (65.7 GiB each, under 0.9 x 80 = 72);
    Llama-3.1-405B's 756 GiB need 16 (47.3 GiB each; 8 leave 94.5 GiB each, over 72)."""
    assert main(["validate", "scenarios/baseline.yaml", "--set", override]) == 2
    assert f"use a larger tensor_parallel ({fits} fits) or pipeline_parallel" in _err(capsys)
    assert main(["validate", "scenarios/baseline.yaml", "--set", override,
                 "--set", f"fleet.pools.0.tensor_parallel={fits}"]) == 0
    capsys.readouterr()
    if fits > 2:
        assert main(["validate", "scenarios/baseline.yaml", "--set", override,
                     "--set", f"fleet.pools.0.tensor_parallel={fits // 2}"]) == 2
