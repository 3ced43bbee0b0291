"""The sweep page's table: the columns ``--columns`` named, in that order (as the terminal's table takes
them), else its default columns with the cost per million output tokens when the sweep priced anything."""
import argparse
import json
from html.parser import HTMLParser

import pytest

from sim.commands import sweep as sweep_cmd
from sim.planning import sweep
from sim.report import write_report

from conftest import mmc_scenario_file

BASE = {"seed": 1, "workload": {"arrival": {"rate": 1.0}}, "fleet": {"pools": [{"replicas": 1, "gpu": "a"}]}}


def priced_runner(price):
    """A hand-worked fleet of ``c`` GPUs for an hour at ``price`` $/GPU-hour serving a million output
    tokens: compute cost = $/hour = ``price × c``, and as many dollars per million output tokens."""
    def run(scenario, seed, capacity=1.0):
        c = scenario["fleet"]["pools"][0]["replicas"]
        return {"requests": {"arrived": 100, "completed": 100, "rejected": 0, "in_flight": 0},
                "latency": {"ttft": {"p99": 1.0 / c}, "e2e": {"p99": 2.0 / c}},
                "slo": {"attainment": 1.0}, "utilization": {"load_factor": 0.5 / c},
                "gpu_hours": {"provisioned": float(c)},
                "cost": {"compute_usd": price * c, "per_million_output_tokens": price * c},
                "simulated_seconds": 3600.0, "seed": seed, "wall_seconds": 0.0}
    return run


class Tables(HTMLParser):
    """Each table of the page as rows of cell texts."""

    def __init__(self):
        super().__init__()
        self.tables, self.cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def sweep_table(folder) -> list[list[str]]:
    """The rows of the page's table under "Sweep: ..." (heading first)."""
    html = write_report(folder, regenerate=False).read_text()          # (no figures drawn: faster)
    parser = Tables()
    parser.feed(html[html.index("<h2>Sweep:"):])
    return parser.tables[0]


def test_the_page_shows_the_columns_named_in_their_order(tmp_path):
    sweep(BASE, ["fleet.pools.0.replicas=2,4"], runner=priced_runner(2.0), executor="serial", figures=False,
          out=tmp_path / "s", columns=["$/hour", "latency.ttft.p99"])
    head, two, four = sweep_table(tmp_path / "s")
    assert head[:3] == ["fleet.pools.0.replicas", "n", "errors"] and len(head) == 5
    assert head[3] == "$/hour" and "TTFT" in head[4]                     # the order given, nothing else
    assert [two[3], four[3]] == ["$4.00", "$8.00"]                       # 2 $/GPU-hour × 2 and × 4 GPUs
    assert [two[4], four[4]] == ["500.0\u00a0ms", "250.0\u00a0ms"]       # 1 s / c (a value never broken inside)


def test_planner_columns_alone_keep_the_default_metrics_after_them(tmp_path):
    """The terminal keeps its default metrics when --columns names planner columns only; so does the page."""
    sweep(BASE, ["fleet.pools.0.replicas=2,4"], runner=priced_runner(2.0), executor="serial", figures=False,
          out=tmp_path / "s", columns=["$/month"])
    head, two, four = sweep_table(tmp_path / "s")
    assert head[3] == "$/month" and [two[3], four[3]] == ["$2,920", "$5,840"]     # $4 and $8 an hour × 730
    assert "TTFT p99" in head[4:] and "load factor" in head[4:]


def test_the_default_columns_add_the_cost_per_million_output_tokens_when_priced(tmp_path):
    sweep(BASE, ["fleet.pools.0.replicas=2,4"], runner=priced_runner(2.0), executor="serial", figures=False,
          out=tmp_path / "s")
    head, two, four = sweep_table(tmp_path / "s")
    i = head.index("$/M out tok")
    assert [two[i], four[i]] == ["$4.00", "$8.00"]
    sweep(BASE, ["fleet.pools.0.replicas=2,4"], runner=priced_runner(0.0), executor="serial", figures=False,
          out=tmp_path / "free")
    head, *_ = sweep_table(tmp_path / "free")
    assert "$/M out tok" not in head and len(head) == 3 + 5            # nothing priced: the five others only


def test_the_command_keeps_its_columns_for_the_page(tmp_path, capsys):
    scn = mmc_scenario_file(tmp_path, 1.0, seed=3, duration="2m")
    parser = argparse.ArgumentParser()
    sweep_cmd.add_arguments(parser)
    out = tmp_path / "s"
    assert sweep_cmd.main(parser.parse_args([str(scn), "--grid", "fleet.pools.0.replicas=1,2", "--out", str(out),
                                             "--quiet", "--no-figures", "--columns",
                                             "$/month,latency.queue.mean"])) == 0
    terminal = capsys.readouterr().out.splitlines()[0]
    assert terminal.index("$/month") < terminal.index("latency.queue.mean")
    assert json.loads((out / "sweep.json").read_text())["columns"] == ["$/month", "latency.queue.mean"]
    head, *rows = sweep_table(out)
    assert head[3] == "$/month" and "queue" in head[4] and len(head) == 5 and len(rows) == 2


def test_a_sweep_json_whose_columns_are_not_a_list_of_texts_is_refused(tmp_path, capsys):
    from sim.cli import main

    sweep(BASE, ["fleet.pools.0.replicas=2"], runner=priced_runner(2.0), executor="serial", figures=False,
          out=tmp_path / "s")
    path = tmp_path / "s" / "sweep.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "columns": "$/hour"}))
    assert main(["report", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.splitlines()[0] == f"{path}: columns: expected a list of texts, got the text '$/hour'"
    assert not (tmp_path / "s" / "report.html").exists()


def test_columns_that_are_not_texts_are_refused_before_anything_runs(tmp_path):
    from sim.errors import InputError

    with pytest.raises(InputError, match=r"^columns: expected a list of summary keys or planner columns.*got 5$"):
        sweep(BASE, ["fleet.pools.0.replicas=2"], runner=priced_runner(2.0), executor="serial", figures=False,
              out=tmp_path / "s", columns=5)
    assert not (tmp_path / "s").exists()
