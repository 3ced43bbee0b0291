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
