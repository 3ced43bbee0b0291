"""A plan that lets GPU types compete at one price per GPU-hour says so: its cost ranking counts GPUs
alone. The price is read back from each configuration's cost over its GPU-hours (hand arithmetic)."""
from sim.commands.plan import one_price_note

KNOB = "fleet.pools.0.gpu"


def row(gpu, gpus, usd_per_gpu_hour, **more):
    # one simulated hour: GPU-hours = GPUs, cost = GPUs × price
    return {KNOB: gpu, "gpu_hours.provisioned.mean": float(gpus),
            "cost.compute_usd.mean": gpus * usd_per_gpu_hour, **more}


def test_one_price_over_two_gpu_types_is_said_with_the_price_and_the_joint_knob():
    note = one_price_note([row("h100-sxm", 4, 2.5), row("h200-sxm", 3, 2.5), row("h200-sxm", 4, 2.5)], [KNOB])
    assert note is not None
    assert "$2.50 per GPU-hour" in note
    assert '--vary "fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&PRICE,h200-sxm&PRICE"' in note


def test_prices_that_move_with_the_gpu_are_not_flagged():
    # the README's joint knob: CoreWeave's $6.16 (H100) and $6.31 (H200) per GPU-hour
    rows = [row("h100-sxm", 5, 6.16, **{"economics.gpu_hour_usd": "6.16"}),
            row("h200-sxm", 4, 6.31, **{"economics.gpu_hour_usd": "6.31"})]
    assert one_price_note(rows, [KNOB, "economics.gpu_hour_usd"]) is None


def test_one_gpu_type_or_no_gpu_knob_says_nothing():
    assert one_price_note([row("h100-sxm", 2, 2.5), row("h100-sxm", 4, 2.5)], [KNOB]) is None
    rows = [{"fleet.pools.0.replicas": n, "gpu_hours.provisioned.mean": n, "cost.compute_usd.mean": 2.5 * n}
            for n in (2, 4)]
    assert one_price_note(rows, ["fleet.pools.0.replicas"]) is None


def test_rows_without_usage_are_left_out_rather_than_read_as_a_price():
    rows = [row("h100-sxm", 4, 2.5), {KNOB: "h200-sxm", "gpu_hours.provisioned.mean": 0.0,
                                       "cost.compute_usd.mean": 0.0}]
    assert one_price_note(rows, [KNOB]) is None


# -- the note is kept in plan.json and shown on the plan's page, not only printed on stderr --------------

import json  # noqa: E402

from sim.planning import MMcRunner, plan  # noqa: E402
from sim.report import write_report  # noqa: E402

BASE = {"seed": 1, "workload": {"arrival": {"rate": 10.0}}, "fleet": {"pools": [{"replicas": 12, "gpu": "a"}]}}


def _plan(tmp_path, prices, vary):
    out = tmp_path / "plan"
    result = plan(BASE, vary, constraints=["latency.queue.mean<=0.1"], executor="serial", out=out, progress=False,
                  runner=MMcRunner(service_s=1.0, duration_s=3600.0, price_per_gpu_hour_usd=prices))
    return result, json.loads((out / "plan.json").read_text()), write_report(out).read_text()


def test_one_price_note_is_in_plan_json_and_on_the_page(tmp_path):
    """Erlang C: 10 req/s of 1 s service needs 13 servers for a mean wait <= 0.1 s whatever the GPU, so two
    GPU types at $2.50 an hour tie at 13 GPU-hours × $2.50 = $32.50: the ranking counts GPUs alone."""
    result, data, page = _plan(tmp_path, {"default": 2.5}, ["fleet.pools.0.replicas=1..32",
                                                             "fleet.pools.0.gpu=h100-sxm,a100-80gb"])
    assert [r["cost.compute_usd.mean"] for r in result] == [13 * 2.5, 13 * 2.5]
    assert result.one_price_note == data["one_price_note"]
    assert data["one_price_note"].startswith("every GPU type was priced at $2.50 per GPU-hour")
    assert "Every GPU type was priced at $2.50 per GPU-hour" in page
    assert "fleet.pools.0.gpu&amp;economics.gpu_hour_usd=a100-80gb&amp;PRICE,h100-sxm&amp;PRICE" in page


def test_own_prices_leave_no_note_in_plan_json_or_on_the_page(tmp_path):
    result, data, page = _plan(tmp_path, {"h100-sxm": 6.16, "a100-80gb": 2.70},
                               ["fleet.pools.0.replicas=1..32", "fleet.pools.0.gpu=h100-sxm,a100-80gb"])
    # 13 GPU-hours each: $80.08 on H100s, $35.10 on A100s (CoreWeave's list prices, docs/planning.md)
    assert [round(r["cost.compute_usd.mean"], 2) for r in result] == [35.10, 80.08]
    assert result.one_price_note is None and "one_price_note" not in data
    assert "per GPU-hour: the cost ranking counts GPUs alone" not in page
