"""A planner's and a researcher's first hour, round 19: a class priority that no pool acts on is said
(and really orders nothing), a percentage written for a price is refused with what to write, and a
token budget below ``max_model_len`` without chunking says the value that fixes it."""
import warnings

import pytest

from sim.cli import main
from sim.errors import ScenarioWarning
from sim.scenario.load import load_scenario

BASE = "scenarios/baseline.yaml"
CLASSES = "workload.classes=[{name: chat, share: 0.8}, {name: premium, share: 0.2, priority: 1}]"


def _said(overrides: list[str]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_scenario(BASE, overrides)
    return [str(w.message) for w in caught if issubclass(w.category, ScenarioWarning)]


def test_priorities_no_pool_acts_on_are_said_and_a_priority_pool_silences_it(capsys):
    assert main(["validate", BASE, "--set", CLASSES]) == 0          # legal: said, not refused
    err = capsys.readouterr().err
    assert f"{BASE}: workload.classes.1.priority: orders nothing: no pool has policy: priority" in err
    assert not [m for m in _said([CLASSES, "fleet.pools.0.batching.policy=priority"]) if "priority" in m]
    # one priority for every class: nothing to order, nothing to say
    same = "workload.classes=[{name: chat, share: 0.8, priority: 1}, {name: premium, share: 0.2, priority: 1}]"
    assert not [m for m in _said([same]) if "priority" in m]


def _two_classes(policy: str, high: str) -> dict:
    """One replica serving one request at a time, prompts at 1 ms a token (exponential, mean 1 s): an
    M/M/1 queue at rho 0.8 for an hour (about 2,900 requests) with two equal classes, ``high`` the one
    of priority 1."""
    prio = {"a": 1 if high == "a" else 0, "b": 1 if high == "b" else 0}
    return {
        "name": "prio", "seed": 3, "duration": "1h", "warmup": "1m", "model": "llama-3-8b",
        "workload": {"arrival": {"process": "poisson", "rate": 0.8},
                     "prompt_tokens": {"dist": "exponential", "mean": 1000, "max": 8000},
                     "output_tokens": {"dist": "fixed", "value": 1},
                     "classes": [{"name": "a", "share": 0.5, "priority": prio["a"]},
                                 {"name": "b", "share": 0.5, "priority": prio["b"]}]},
        "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1,
                             "batching": {"policy": policy, "max_num_seqs": 1, "max_batched_tokens": 8192}}]},
        "perf": {"model": "linear", "per_prefill_token_s": 0.001},
        "economics": {"gpu_hour_usd": 2.0},
    }


def _class_waits(sc: dict) -> tuple[float, float]:
    import sim
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        s = sim.run(sc).summary
    return tuple(s["classes"][c]["latency"]["queue"]["mean"] for c in ("a", "b"))


def test_the_warning_is_true_continuous_ignores_priorities_and_priority_acts_on_them():
    """Under ``continuous`` swapping which class has priority 1 changes no wait (the same arrivals, the
    same FCFS queue); under ``priority`` the favoured class waits less than the M/M/1 FCFS wait
    rho/(mu - lambda) = 4 s and the other more (Cobham: W_high = rho/mu / (1 - rho_high) = 1.33 s,
    W_low = W_high / (1 - rho) = 6.67 s)."""
    fcfs = _class_waits(_two_classes("continuous", "a"))
    assert fcfs == _class_waits(_two_classes("continuous", "b"))
    assert fcfs == pytest.approx((4.0, 4.0), rel=0.15)
    high, low = _class_waits(_two_classes("priority", "a"))
    assert high == pytest.approx(1.33, rel=0.15) and low == pytest.approx(6.67, rel=0.15)
    # Kleinrock's conservation law: equal classes and service times, the mean wait over both is FCFS's
    assert (high + low) / 2 == pytest.approx(sum(fcfs) / 2, rel=0.05)


@pytest.mark.parametrize("field,written", [("economics.gpu_hour_usd", "-20%"), ("economics.gpu_hour_usd", "5 %")])
def test_a_percentage_is_refused_with_what_to_write(capsys, field, written):
    assert main(["validate", BASE, "--set", f"{field}={written}"]) == 2
    err = capsys.readouterr().err
    assert f"{field}: must be a number (got '{written}'); a percentage is not read: write the value itself" in err
    assert main(["validate", BASE, "--set", f"{field}={2.5 * 0.8}"]) == 0     # the new value itself is taken


def test_a_token_budget_below_max_model_len_without_chunking_says_the_value_that_fixes_it(capsys):
    """TensorRT-LLM's preset does not chunk: a 4,096-token budget under the baseline's 8,192-token
    max_model_len is refused with 'raise it to 8192', and 8192 is accepted."""
    base = ["validate", BASE, "--set", "fleet.pools.0.batching.scheduler=trtllm"]
    assert main([*base, "--set", "fleet.pools.0.batching.max_batched_tokens=4096"]) == 2
    err = capsys.readouterr().err
    assert "max_batched_tokens: must be >= max_model_len (8192) without chunked prefill" in err
    assert "raise it to 8192, enable chunked_prefill or set a smaller fleet.pools.0.max_model_len" in err
    assert main([*base, "--set", "fleet.pools.0.batching.max_batched_tokens=8192"]) == 0


@pytest.mark.parametrize("command,knob", [("sweep", ["--grid", "fleet.pools.0.replicas=1,2"]),
                                          ("plan", ["--vary", "fleet.pools.0.replicas=1..2"]),
                                          ("saturation", [])])
def test_a_batching_preset_given_to_the_dask_scheduler_option_says_the_field_it_meant(capsys, tmp_path,
                                                                                      command, knob):
    """``--scheduler`` is the Dask cluster's address; a researcher who just set the batching scheduler
    may write ``--scheduler sglang`` and was told it lacked a port number. Now the ``--set`` it meant,
    which the command then takes."""
    assert main([command, BASE, *knob, "--scheduler", "sglang", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--scheduler sglang: --scheduler is the address of a Dask scheduler" in err
    assert "--set fleet.pools.0.batching.scheduler=sglang" in err
    assert ("vary it with" in err) == bool(knob) and not (tmp_path / "x").exists()
    assert main(["validate", BASE, "--set", "fleet.pools.0.batching.scheduler=sglang"]) == 0


def test_adding_a_list_item_with_set_says_to_give_the_whole_list(capsys):
    """A researcher adding a class writes the next index; --set replaces items, it does not append, and
    the whole list it then points to is taken."""
    assert main(["validate", BASE, "--set", CLASSES, "--set", "workload.classes.2={name: gold, share: 0.1}"]) == 2
    err = capsys.readouterr().err
    assert ("--set: workload.classes.2: index out of range: the list has 2 items, index 0 to 1; --set cannot add "
            "an item: give the whole list, e.g. --set 'workload.classes=[...]'") in err
    three = ("workload.classes=[{name: chat, share: 0.7}, {name: premium, share: 0.2}, "
             "{name: gold, share: 0.1, slo: {ttft_s: 0.2, tpot_s: 0.03}}]")
    assert main(["validate", BASE, "--set", three]) == 0
    assert main(["validate", BASE, "--set", "fleet.pools.5.replicas=2"]) == 2       # not the next index: no advice
    assert "add an item" not in capsys.readouterr().err


def test_a_shipped_scenario_named_alone_is_pointed_to(capsys):
    """README's table lists ``baseline.yaml``; ``fleetsim run baseline`` said only 'file not found'."""
    assert main(["validate", "baseline"]) == 2
    assert "baseline: file not found (did you mean scenarios/baseline.yaml?)" in capsys.readouterr().err
    assert main(["validate", "scenarios/baseline.yaml"]) == 0
