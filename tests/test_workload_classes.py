"""Request classes (tenants): shares, own arrivals, per-class lengths, specs and their problems."""
from __future__ import annotations

import math

import numpy as np

from sim.workload import WorkloadConfig, class_names, classes, generate, validate

LENGTHS = {"prompt_tokens": {"dist": "fixed", "value": 100}, "output_tokens": {"dist": "fixed", "value": 10}}


def make(**workload) -> WorkloadConfig:
    return WorkloadConfig.model_validate({**LENGTHS, **workload})


def collect(cfg, horizon_s, seed=1):
    chunks = list(generate(cfg, horizon_s, seed, chunk_size=4096))
    return tuple(np.concatenate([getattr(c, f) for c in chunks])
                 for f in ("arrival_s", "prompt_tokens", "output_tokens", "class_idx"))


SHARED = [
    {"name": "chat", "share": 0.6, "priority": 2, "slo": {"ttft_s": "500ms", "tpot_s": 0.05},
     "revenue_line": "chat-api"},
    {"name": "batch", "share": 0.3, "prompt_tokens": {"dist": "fixed", "value": 4000}},
    {"name": "free", "share": 0.1, "output_tokens": {"dist": "uniform", "low": 1, "high": 3}},
]


def test_shares_split_the_arrivals_and_classes_use_their_own_lengths():
    cfg = make(arrival={"process": "poisson", "rate": 20}, classes=SHARED)
    t, p, o, c = collect(cfg, 5000.0)
    n = t.size
    for i, share in enumerate((0.6, 0.3, 0.1)):
        k = (c == i).sum()
        assert abs(k - share * n) < 4 * math.sqrt(n * share * (1 - share))
    assert (p[c == 0] == 100).all() and (p[c == 1] == 4000).all() and (p[c == 2] == 100).all()
    assert (o[c == 0] == 10).all() and (o[c == 2] <= 3).all()
    assert class_names(cfg) == ["chat", "batch", "free"]
    spec = classes(cfg)
    assert (spec[0].priority, spec[0].slo_ttft_s, spec[0].slo_tpot_s, spec[0].revenue_line) == (2, 0.5, 0.05, "chat-api")
    assert (spec[1].priority, spec[1].slo_ttft_s, spec[1].revenue_line) == (0, None, None)


def test_shares_must_sum_to_one():
    bad = [dict(SHARED[0], share=0.5), SHARED[1], SHARED[2]]
    cfg = make(arrival={"process": "poisson", "rate": 20}, classes=bad)
    assert validate(cfg, ".") == [("workload.classes", "shares must sum to 1 (got 0.9)")]
    ok = [dict(SHARED[0], share=0.6 + 5e-10), SHARED[1], SHARED[2]]
    assert validate(make(arrival={"process": "poisson", "rate": 20}, classes=ok), ".") == []


def test_classes_with_their_own_arrivals_are_merged_in_time_order():
    cls = [{"name": "a", "arrival": {"process": "poisson", "rate": 3}},
           {"name": "b", "arrival": {"process": "gamma", "rate": 1, "cv": 3},
            "prompt_tokens": {"dist": "fixed", "value": 7}}]
    t, p, o, c = collect(make(classes=cls), 20_000.0)
    assert (np.diff(t) >= 0).all()
    assert abs((c == 0).sum() - 60_000) < 4 * math.sqrt(60_000)
    assert abs((c == 1).sum() - 20_000) < 4 * 3 * math.sqrt(20_000)   # renewal count variance ~ cv^2 mean
    assert (p[c == 1] == 7).all() and (p[c == 0] == 100).all()


def test_one_class_streams_do_not_move_when_another_class_changes():
    cls = [{"name": "a", "arrival": {"process": "poisson", "rate": 3},
            "prompt_tokens": {"dist": "lognormal", "mean": 500, "cv": 1}},
           {"name": "b", "arrival": {"process": "poisson", "rate": 1}}]
    t1, p1, _, c1 = collect(make(classes=cls), 2000.0)
    changed = [cls[0], dict(cls[1], arrival={"process": "poisson", "rate": 2},
                            prompt_tokens={"dist": "fixed", "value": 3})]
    t2, p2, _, c2 = collect(make(classes=changed), 2000.0)
    np.testing.assert_array_equal(t1[c1 == 0], t2[c2 == 0])
    np.testing.assert_array_equal(p1[c1 == 0], p2[c2 == 0])


def test_class_problems():
    both = make(arrival={"process": "poisson", "rate": 1},
                classes=[{"name": "x", "share": 1.0, "arrival": {"process": "poisson", "rate": 1}},
                         {"name": "x", "share": 0.0}])
    problems = validate(both, ".")
    assert ("workload.classes", "class names must be unique (got 'x' twice)") in problems
    assert any(p == "workload.classes.0" and "both" in m for p, m in problems)
    unused = make(arrival={"process": "poisson", "rate": 1},
                  classes=[{"name": "x", "arrival": {"process": "poisson", "rate": 1}}])
    assert [p for p, _ in validate(unused, ".")] == ["workload.arrival"]
    no_arrival = make(classes=[{"name": "x", "share": 1.0}])
    assert [p for p, _ in validate(no_arrival, ".")] == ["workload.arrival"]
    no_lengths = WorkloadConfig.model_validate(
        {"arrival": {"process": "poisson", "rate": 1}, "prompt_tokens": {"dist": "fixed", "value": 1},
         "classes": [{"name": "x", "share": 1.0}]})
    assert [p for p, _ in validate(no_lengths, ".")] == ["workload.classes.0.output_tokens"]


def test_mixed_classes_are_deterministic_and_independent_of_chunk_size():
    cls = [{"name": "a", "share": 0.25}, {"name": "b", "share": 0.75,
                                           "prompt_tokens": {"dist": "exponential", "mean": 300}},
           {"name": "c", "arrival": {"process": "diurnal", "mean_rate": 2, "peak_to_trough": 5}}]
    cfg = make(arrival={"process": "gamma", "rate": 4, "cv": 2}, classes=cls)
    runs = [[np.concatenate([getattr(ch, f) for ch in generate(cfg, 3000.0, 21, chunk_size=size)])
             for f in ("arrival_s", "prompt_tokens", "output_tokens", "class_idx")]
            for size in (65536, 100, 65536)]
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            np.testing.assert_array_equal(x, y)
    assert set(np.unique(runs[0][3])) == {0, 1, 2}
