"""The header of a plan/sweep page in a folder an earlier plan of another configuration wrote to: its
points stay (a rerun resumes from them), and the first file in points/ may be one of them. The title
and "What was simulated" must say this result's model, GPU and scenario, not the earlier one's."""
import json
import re

from sim.planning import plan, sweep
from sim.report import write_report
from sim.report.html_page import point_of
from sim.report.overview import read_scenario


def scenario(name: str, model: str, gpu: str, tp: int) -> dict:
    return {"name": name, "seed": 2, "duration": "20s", "model": model,
            "workload": {"arrival": {"process": "poisson", "rate": 1.0},
                         "prompt_tokens": {"dist": "fixed", "value": 100},
                         "output_tokens": {"dist": "fixed", "value": 10}},
            "fleet": {"pools": [{"name": "main", "gpu": gpu, "replicas": 1, "tensor_parallel": tp}]},
            "economics": {"gpu_hour_usd": 2.0}}


SMALL = scenario("small8b", "llama-3-8b", "h100-sxm", 1)
LARGE = scenario("large70b", "llama-3-70b", "a100-80gb", 2)


def _title(folder) -> str:
    return re.search(r"<h1>(.*?)</h1>", write_report(folder).read_text()).group(1)


def _points(folder) -> list[str]:
    return [json.loads(p.read_text())["summary"]["scenario"] for p in sorted((folder / "points").glob("*.json"))]


def test_two_plans_into_one_folder_each_titled_by_its_own_points(tmp_path):
    out = tmp_path / "plans"
    for first, second in ((SMALL, LARGE), (LARGE, SMALL)):
        folder = out / first["name"]
        plan(first, ["fleet.pools.0.replicas=1,2"], executor="serial", out=folder, figures=False)
        plan(second, ["fleet.pools.0.replicas=1,2"], executor="serial", out=folder, figures=False)
        assert sorted(set(_points(folder))) == sorted({"small8b", "large70b"})   # both plans' points kept
        title = _title(folder)
        assert title.startswith(f"fleetsim report: {second['name']} · {second['model']} · "
                                f"{second['fleet']['pools'][0]['gpu']}"), title
        assert first["name"] not in title and first["fleet"]["pools"][0]["gpu"] not in title


def test_a_result_none_of_whose_points_is_kept_says_scenario_json_alone(tmp_path):
    """Only the earlier plan's points left (this one's deleted): the header falls back to scenario.json."""
    folder = tmp_path / "plan"
    plan(SMALL, ["fleet.pools.0.replicas=1,2"], executor="serial", out=folder, figures=False)
    plan(LARGE, ["fleet.pools.0.replicas=1,2"], executor="serial", out=folder, figures=False)
    for p in (folder / "points").glob("*.json"):
        if json.loads(p.read_text())["summary"]["scenario"] == "large70b":
            p.unlink()
    title = _title(folder)
    assert "llama-3-70b" in title and "h100-sxm" not in title and "small8b" not in title, title


def test_two_sweeps_into_one_folder_each_titled_by_its_own_gpu(tmp_path):
    """The same scenario swept twice, the second time with --set on another GPU: each page names its own
    (the GPU is not varied by the grid, so the title takes it from a point)."""
    for i, (first, second) in enumerate((("h100-sxm", "a100-80gb"), ("a100-80gb", "h100-sxm"))):
        folder = tmp_path / f"sweep{i}"
        for gpu in (first, second):
            sweep(SMALL, {"fleet.pools.0.replicas": [1, 2]}, overrides=[f"fleet.pools.0.gpu={gpu}"],
                  executor="serial", out=folder, figures=False)
        assert len(list((folder / "points").glob("*.json"))) == 4
        title = _title(folder)
        assert title.startswith(f"fleetsim report: small8b · llama-3-8b · {second}"), title


def test_two_saturation_searches_into_one_folder_each_titled_by_its_own_gpu(tmp_path):
    """A search's points hold the rate probed as the search wrote it (16), its probes as a float
    (16.0): still the same configuration. Each of two searches (the second on another GPU, the rates
    they probe in part the same) names its own GPU."""
    from sim.planning import saturation

    for i, (first, second) in enumerate((("h100-sxm", "a100-80gb"), ("a100-80gb", "h100-sxm"))):
        folder = tmp_path / f"sat{i}"
        for gpu in (first, second):
            saturation(SMALL, overrides=[f"fleet.pools.0.gpu={gpu}"], executor="serial", out=folder,
                       rel_tol=0.5, max_probes=4)
        title = _title(folder)
        assert title.startswith(f"fleetsim report: small8b · llama-3-8b · {second}"), title
        data = json.loads((folder / "saturation.json").read_text())
        own = point_of(folder, data, read_scenario(folder))      # a point, not scenario.json alone
        assert own is not None and own["pools"]["main"]["gpu"] == second
