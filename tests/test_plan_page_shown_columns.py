"""``fleetsim plan --columns`` on the plan's report page: kept in plan.json as ``shown_columns`` (beside
``columns``, the knobs' columns) and tabulated in the order named, right after the verdict."""
import html as html_lib
import json
import re

from sim.planning import MMcRunner, plan
from sim.report import write_report

BASE = {"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}}
VARY = ["fleet.pools.0.replicas=1..32", "fleet.pools.0.gpu=h100-sxm,a100-80gb"]


def _first_plan_table(page: str) -> list[list[str]]:
    body = re.search(r"<table class='plan'>(.*?)</table>", page).group(1)
    return [[html_lib.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
            for r in re.findall(r"<tr>(.*?)</tr>", body)]


def _plan(tmp_path, columns):
    out = tmp_path / "plan"
    plan(BASE, VARY, constraints=["latency.queue.mean<=0.1"], executor="serial", out=out, columns=columns,
         runner=MMcRunner(service_s=1.0, duration_s=3600.0, price_per_gpu_hour_usd={"h100-sxm": 6.16, "a100-80gb": 2.70}))
    return json.loads((out / "plan.json").read_text()), _first_plan_table(write_report(out).read_text())


def test_named_columns_are_stored_and_shown_in_their_order(tmp_path):
    """Erlang C puts the answer at 13 servers at 10 req/s (test_report's plan page test): an hour of 13
    one-GPU servers is 13 GPU-hours (GPU-hours is not on the page unless named); the named metric and
    planner column come right after the verdict, in the order given, the defaults after them."""
    data, main = _plan(tmp_path, "GPU-hours, latency.ttft.p99")
    assert data["shown_columns"] == ["GPU-hours", "latency.ttft.p99"]
    assert data["columns"] == ["fleet.pools.0.replicas", "fleet.pools.0.gpu"]     # its meaning kept
    assert main[0] == ["replicas", "gpu", "verdict", "GPU-hours", "TTFT p99", "GPUs", "$/hour", "$/month",
                       "queue wait mean", "load factor", "headroom"]
    assert [(r[0], r[3]) for r in main[1:]] == [("13", "13"), ("13", "13"), ("12", "12")]
    ttft = [float(r[4].removesuffix(" s").replace("\u00a0s", "")) for r in main[1:]]
    assert ttft[0] == ttft[1] > 1.0 and ttft[2] > ttft[0]     # service 1 s + a wait; 12 servers wait longer


def test_a_named_default_column_is_shown_once_and_without_names_nothing_is_stored(tmp_path):
    data, main = _plan(tmp_path, ["latency.queue.mean", "$/month"])
    assert main[0][2:6] == ["verdict", "queue wait mean", "$/month", "GPUs"]
    assert main[0].count("queue wait mean") == 1 and main[0].count("$/month") == 1
    data, main = _plan(tmp_path / "again", None)
    assert "shown_columns" not in data
    assert main[0] == ["replicas", "gpu", "verdict", "GPUs", "$/hour", "$/month", "queue wait mean",
                       "load factor", "headroom"]
