"""Run figures on degenerate and long data: readable ticks, whole-number counts, flat lines on a
sensible axis, long series as bands, utilization bars from whatever the summary reports."""
import numpy as np
import pytest

from sim.report.chart import envelope, nice_ticks, to_svg
from sim.report.render import draw_chart
from sim.report.run_figures import (ENVELOPE_COLUMNS, FLEET, latency_cdf_chart, timeseries_chart,
                                    utilization_chart)


def _ts(n: int, pools=("main",), step_s: float = 10.0, replicas: float = 4.0) -> dict:
    t = np.repeat(np.arange(1, n + 1) * step_s, len(pools))
    rng = np.random.default_rng(0)
    return {"time_s": t, "pool": np.array(list(pools) * n),
            "queue_len": rng.integers(0, 3, t.size).astype(float),
            "running": rng.integers(10, 40, t.size).astype(float),
            "kv_blocks_used": rng.integers(500, 4000, t.size).astype(float),
            "replicas": np.full(t.size, replicas), "busy_frac": rng.uniform(0.2, 1.0, t.size)}


def _labels_overlap(fig) -> bool:
    """Whether any two x tick labels of any axes of ``fig`` overlap once drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        boxes.sort(key=lambda b: b.x0)
        if any(a.x1 > b.x0 for a, b in zip(boxes, boxes[1:])):
            return True
    return False


def test_tpot_cdf_tick_labels_do_not_run_together():
    # the case of the report that printed "0.00750.01000.0125...": TPOT between 7.5 and 23 ms
    rng = np.random.default_rng(1)
    n = 5000
    arrival = np.arange(n, dtype=float)
    first = arrival + rng.uniform(0.01, 0.3, n)
    out = rng.integers(50, 500, n).astype(float)
    tpot = np.clip(rng.lognormal(np.log(0.0085), 0.05, n), 0.0075, 0.0235)
    req = {"arrival_s": arrival, "first_token_s": first, "completion_s": first + tpot * (out - 1),
           "output_tokens": out}
    chart = latency_cdf_chart(req)
    assert chart.panels[1].xlabel == "milliseconds"        # all under a second: shown in ms
    assert not _labels_overlap(draw_chart(chart))


def test_flat_replica_count_sits_on_a_whole_number_axis_from_zero():
    chart = timeseries_chart(_ts(50))
    replicas = chart.panels[-1]
    assert replicas.ylim == pytest.approx((0.0, 4 * 1.08)) and replicas.yinteger
    assert "pool main" in replicas.title
    fig = draw_chart(chart)
    ticks = fig.axes[-1].get_yticks()
    assert all(float(t).is_integer() for t in ticks)      # no 3.8 / 4.2 ticks for a count
    assert ">3.8<" not in to_svg(chart) and ">4<" in to_svg(chart)      # SVG tick labels too


def test_integer_ticks_never_fractional():
    assert nice_ticks(0.0, 1.08, integer=True) == [0.0, 1.0]
    assert all(t.is_integer() for t in nice_ticks(0.0, 3.2, integer=True))


def test_a_year_of_hourly_samples_is_drawn_as_a_band_with_a_mean_line():
    n = 366 * 24
    ts = _ts(n, pools=("h100", "a100"), step_s=3600.0)
    chart = timeseries_chart(ts)
    running = chart.panels[1]
    assert "per pool" in running.title
    kinds = [s.kind for s in running.series]
    assert kinds == ["band", "line", "band", "line"]
    band, mean = running.series[0], running.series[1]
    assert len(band.x) <= ENVELOPE_COLUMNS
    sel = ts["pool"] == "h100"
    assert np.min(band.bottom) == ts["running"][sel].min() and np.max(band.y) == ts["running"][sel].max()
    assert np.all(np.asarray(band.bottom) <= mean.y) and np.all(np.asarray(mean.y) <= band.y)
    assert chart.panels[-1].xlabel == "simulated time (days)"
    svg = to_svg(chart)
    assert len(svg) < 400_000 and 'fill-opacity="0.3"' in svg
    draw_chart(chart)                                      # matplotlib draws the band too


def test_envelope_of_a_series_keeps_its_extremes_and_mean():
    x = np.arange(1000.0)
    y = np.sin(x / 10)
    c, lo, hi, mean = envelope(x, y, 10)
    assert c.size == 10 and lo.min() == y.min() and hi.max() == y.max()
    assert mean[0] == pytest.approx(y[:100].mean())
    assert envelope([], [], 5)[0].size == 0
    c1, lo1, hi1, _ = envelope([5.0, 5.0], [1.0, 2.0], 3)    # one x value: one column
    assert c1.size == 1 and (lo1[0], hi1[0]) == (1.0, 2.0)


@pytest.mark.parametrize("n", [1, 2])
def test_a_run_with_one_or_two_samples_still_draws(n):
    chart = timeseries_chart(_ts(n))
    draw_chart(chart)
    assert "<svg" in to_svg(chart)


def test_a_lone_sample_is_a_dot_where_a_step_line_would_draw_nothing():
    """A one-step fluid run writes one time-series row: a step line through one point is invisible,
    so that row is drawn as a dot (the SVG's circle), and two or more rows as lines without dots."""
    one, two = timeseries_chart(_ts(1)), timeseries_chart(_ts(2))
    assert all(s.marker for p in one.panels for s in p.series)
    assert not any(s.marker for p in two.panels for s in p.series)
    assert "<circle" in to_svg(one) and "<circle" not in to_svg(two)


def test_nan_only_column_does_not_break_the_time_series():
    ts = _ts(10)
    ts["queue_len"] = np.full(10, np.nan)
    chart = timeseries_chart(ts)
    assert chart.panels[0].ylim == (0.0, 1.0)
    draw_chart(chart)
    to_svg(chart)


def test_utilization_shows_what_the_summary_has_per_pool():
    old = {"utilization": {"gpu_busy": 0.9, "kv_cache_mean": 0.02, "mfu": 0.06},
           "pools": {"main": {"gpu_busy": 0.9, "kv_cache_mean": 0.02}}}
    chart = utilization_chart(None, old)
    assert list(chart.panels[0].categories) == ["GPU busy", "KV cache use\n(mean)", "MFU"]   # fleet MFU for one pool
    new = {"utilization": {"gpu_busy": 0.7, "kv_cache_mean": 0.3, "mfu": 0.2, "mbu": 0.5, "load_factor": 0.8},
           "pools": {"a": {"gpu_busy": 0.9, "kv_cache_mean": 0.4, "mbu": 0.6, "load_factor": 0.9},
                     "b": {"gpu_busy": 0.5, "kv_cache_mean": 0.2}}}
    chart = utilization_chart(None, new)
    panel = chart.panels[0]
    assert list(panel.categories) == ["GPU busy", "KV cache use\n(mean)", "MFU", "MBU", "load factor"]
    assert [s.label for s in panel.series] == ["a", "b", FLEET]
    assert panel.series[1].y == [0.5, 0.2]                 # pool b: only what it reports
    assert "0.80" in [n.text for n in panel.notes]         # load factor as a ratio, not a percentage
    draw_chart(chart)
    to_svg(chart)


def test_utilization_without_a_summary_falls_back_on_the_time_series():
    ts = _ts(4)
    ts["busy_frac"] = np.array([1.0, 0.0, 1.0, 0.0])
    panel = utilization_chart(ts, None).panels[0]
    assert list(panel.categories) == ["GPU busy"] and panel.series[0].y == [pytest.approx(0.5)]


@pytest.mark.parametrize("n", [1, 3])
def test_latency_cdf_of_one_request_or_identical_latencies(n):
    req = {"arrival_s": np.zeros(n), "first_token_s": np.full(n, 0.05), "completion_s": np.full(n, 1.05),
           "output_tokens": np.full(n, 11.0)}
    chart = latency_cdf_chart(req)
    assert [p.xlabel for p in chart.panels] == ["milliseconds", "milliseconds", "seconds"]
    assert chart.panels[1].series[0].x[0] == pytest.approx(100.0)      # (1.05 - 0.05) / 10 s = 100 ms
    draw_chart(chart)
    import re

    assert not re.search(r"\bnan\b|\binf\b", to_svg(chart), re.IGNORECASE)


def test_a_million_request_cdf_is_drawn_through_a_bounded_number_of_points():
    rng = np.random.default_rng(2)
    n = 1_000_000
    first = rng.exponential(0.2, n)
    req = {"arrival_s": np.zeros(n), "first_token_s": first, "completion_s": first + 2.0,
           "output_tokens": np.full(n, 201.0)}
    chart = latency_cdf_chart(req)
    assert all(len(s.x) <= 2000 for p in chart.panels for s in p.series)
    assert len(to_svg(chart)) < 300_000


@pytest.mark.parametrize("data", [
    {"rate": None, "upper": None, "attainment": 0.99, "probes": []},
    {"rate": None, "upper": 12.0, "attainment": 0.99,
     "probes": [{"rate": 12.0, "feasible": False, "slo.attainment.mean": 0.2, "latency.ttft.p99.mean": None}]},
])
def test_saturation_figure_without_an_answer_or_probes(tmp_path, data):
    from sim.report.sweep_figures import saturation_figure

    paths = saturation_figure(data, tmp_path / "saturation")
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_saturation_legend_does_not_call_a_probe_within_the_slo_a_miss(tmp_path):
    # fleetsim saturation on the baseline rejects 85.5 req/s at 99.1 % attainment (target 99 %): the
    # run was too short to tell whether the fleet keeps up, not a miss of the SLO
    from sim.report.sweep_figures import saturation_figure

    data = {"rate": 84.0, "upper": 85.5, "attainment": 0.99,
            "probes": [{"rate": 84.0, "feasible": True, "slo.attainment.mean": 1.0, "latency.ttft.p99.mean": 0.52},
                       {"rate": 85.5, "feasible": False, "slo.attainment.mean": 0.991,
                        "latency.ttft.p99.mean": 1.98}]}
    svg = next(p for p in saturation_figure(data, tmp_path / "saturation") if p.suffix == ".svg").read_text()
    assert "not sustained (SLO missed, or not shown to keep up)" in svg and "fails the SLO" not in svg


def test_a_category_label_of_two_lines_is_two_texts_one_under_the_other_in_svg():
    """'KV cache use (mean)' is drawn on two lines (its bar's neighbours are close), in SVG as matplotlib
    draws it: one text per line, the second a line lower at the same x."""
    import re

    svg = to_svg(utilization_chart(None, {"pools": {"main": {"gpu_busy": 0.9, "kv_cache_mean": 0.02}}}))
    first = re.search(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>KV cache use</text>', svg)
    second = re.search(r'<text x="([\d.]+)" y="([\d.]+)"[^>]*>\(mean\)</text>', svg)
    assert first and second and first.group(1) == second.group(1), svg
    assert float(second.group(2)) > float(first.group(2))
    assert "KV cache use\n(mean)" not in svg and "KV cache use (mean)" not in svg


def test_the_latency_figure_reads_only_its_request_columns_and_draws_what_the_whole_table_draws(tmp_path, monkeypatch):
    """A folder's request table is read as the columns the figures use (REQUEST_INPUTS; the other
    cells dropped as each line is read): the latency figure is byte for byte the one drawn from the
    whole table, parsed here by the csv module, and the columns handed to the figure are only those."""
    import csv
    import gzip

    from sim.metrics.schema import REQUEST_COLUMNS
    from sim.report import run_figures
    from sim.report.run_figures import REQUEST_INPUTS, write_run_figures

    rng = np.random.default_rng(3)
    n = 400
    arrival = np.sort(rng.uniform(0, 100, n))
    first = arrival + rng.uniform(0.01, 0.5, n)
    out = rng.integers(1, 300, n)
    done = first + out * rng.uniform(0.008, 0.02, n)
    classes = rng.choice(["chat", "documents"], n)
    folder = tmp_path / "run"
    folder.mkdir()
    with gzip.open(folder / "requests.csv.gz", "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(REQUEST_COLUMNS)
        for i in range(n):
            row = {"rid": i, "arrival_s": arrival[i], "sched_s": arrival[i], "first_token_s": first[i],
                   "completion_s": done[i], "prompt_tokens": 100, "output_tokens": out[i],
                   "generated_tokens": out[i], "queue_s": 0.0, "ttft_s": first[i] - arrival[i],
                   "e2e_s": done[i] - arrival[i], "preemptions": 0, "retries": 0, "pool": "main",
                   "replica": 0, "class": classes[i], "status": "completed", "reason": ""}
            w.writerow([row[c] for c in REQUEST_COLUMNS])
    with gzip.open(folder / "requests.csv.gz", "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    whole = {c: np.array([r[c] for r in rows]) for c in REQUEST_COLUMNS}
    whole = {c: (v if c in ("pool", "class", "status", "reason") else v.astype(float)) for c, v in whole.items()}
    given = tmp_path / "given"
    given.mkdir()
    write_run_figures(given, requests=whole, timeseries={}, summary={}, renderer="svg")

    handed = []
    chart = run_figures.latency_cdf_chart
    monkeypatch.setattr(run_figures, "latency_cdf_chart", lambda req: handed.append(set(req)) or chart(req))
    write_run_figures(folder, timeseries={}, summary={}, renderer="svg")
    assert handed == [set(REQUEST_INPUTS)]
    drawn = (folder / "figures" / "latency_cdf.svg").read_bytes()
    assert drawn == (given / "figures" / "latency_cdf.svg").read_bytes()
    assert b"documents" in drawn                            # the class column came through: one line per class
