"""``fleetsim compare ... --html FILE``: the page holds every folder, every setting that differs, every
metric row of the terminal with its changes and one image per figure; its latency curves are the
sorted latencies of each folder's ``requests.csv.gz`` (worked from the CSV here, not from the code's
reader); a folder without a request table, or with a damaged one, keeps its columns with a note in
place of its curves; the page never replaces a file it reads."""
from __future__ import annotations

import base64
import csv
import gzip
import html
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import scenario
from sim.cli import main
from sim.report.comparison import compare, label
from sim.report.comparison_words import cell, change_cell, setting
from sim.report.comparison_page import (bin_width, binned_means, comparison_html, completions_per_second,
                                        latency_chart, legend_name, metric_table, over_time_chart, read_tables)

from test_compare import DURATION, _run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A: one replica; B: two, at a higher rate with longer outputs; N: A without its request table;
    D: A with its request table cut short (a damaged gzip); S: A keeping a sample of its requests."""
    root = tmp_path_factory.mktemp("compare_page")
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(scenario(duration=DURATION)))
    a = _run(path, root / "a")
    b = _run(path, root / "b", "fleet.pools.0.replicas=2", "workload.arrival.rate=6",
             "workload.output_tokens.value=40")
    n = root / "n"
    shutil.copytree(a, n)
    (n / "requests.csv.gz").unlink()
    d = root / "d"
    shutil.copytree(a, d)
    data = (a / "requests.csv.gz").read_bytes()
    (d / "requests.csv.gz").write_bytes(data[: len(data) // 2])
    s = _run(path, root / "s", "metrics.records=sample")
    return {"a": a, "b": b, "n": n, "d": d, "s": s}


def _latencies_from_csv(folder: Path) -> dict[str, np.ndarray]:
    """TTFT (every request with a first token), TPOT and end-to-end latency (every completed request; TPOT
    of those with more than one output token), from the CSV by hand (seconds)."""
    out: dict[str, list[float]] = {"ttft": [], "tpot": [], "e2e": []}
    with gzip.open(folder / "requests.csv.gz", "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            arrival = float(row["arrival_s"])
            if row["first_token_s"]:
                out["ttft"].append(float(row["first_token_s"]) - arrival)
            if not row["first_token_s"] or not row["completion_s"]:
                continue
            first, done, n = float(row["first_token_s"]), float(row["completion_s"]), float(row["output_tokens"])
            out["e2e"].append(done - arrival)
            if n > 1:
                out["tpot"].append((done - first) / (n - 1))
    return {k: np.sort(np.array(v)) for k, v in out.items()}


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_the_page_holds_the_folders_the_settings_every_metric_row_and_a_figure_each(runs, tmp_path, capsys):
    page_file = tmp_path / "cmp.html"
    folders = [str(runs["a"]), str(runs["b"])]
    assert main(["compare", *folders, "--html", str(page_file)]) == 0
    text, err = capsys.readouterr()
    assert err.strip() == f"fleetsim: wrote {page_file}"
    page = page_file.read_text(encoding="utf-8")
    comparison = compare(folders)
    for folder in folders:
        assert html.escape(folder) in page
    assert comparison.differences      # replicas, rate, output length
    for key, values in comparison.differences:
        assert re.search(f"<tr><td>{re.escape(key)}</td>" + "".join(f"<td>{re.escape(html.escape(setting(v, key)).replace(',', ',<wbr>'))}</td>"
                                                                    for v in values) + "</tr>", page), key
    table = page[page.index("<h2>Metrics</h2>"):page.index("<h2>Figures</h2>")]
    assert table.count("<tr>") == len(comparison.rows) + 1
    for row in comparison.rows:        # the terminal's words, values and changes, in its order
        assert row.label in text
        cells = [cell(row.key, row.values[0]), cell(row.key, row.values[1]), change_cell(row.key, row.changes[1])]
        pattern = f"<tr><td>{re.escape(html.escape(row.label))}</td>" + "".join(
            f'<td[^>]*>{re.escape(html.escape(c))}</td>' for c in cells) + "</tr>"
        assert re.search(pattern, table), (row.key, cells)
    images = _images(page)
    assert len(images) == 2 and all(i.startswith(b"\x89PNG\r\n\x1a\n") for i in images)   # CDFs, over time
    assert 'alt="latency_cdf"' in page and 'alt="over_time"' in page
    assert not [p for p in tmp_path.iterdir() if p.name != "cmp.html"]    # written in place, no leftover


def test_changes_are_coloured_only_where_the_better_way_is_plain(runs):
    comparison = compare([runs["a"], runs["b"]])
    table = comparison_html(comparison)
    rows = {r.key: r for r in comparison.rows}

    def css(key: str) -> str:
        r = rows[key]
        m = re.search(f"<tr><td>{re.escape(html.escape(r.label))}</td>.*?</tr>", table)
        classes = re.findall(r'<td class="(\w+)"', m.group(0))
        return classes[0] if classes else ""

    # two replicas for the same time: twice the compute cost (by hand: 1 → 2 GPUs at $2/h for 120 s)
    assert rows["cost.compute_usd"].changes[1]["absolute"] == pytest.approx(2.0 * DURATION / 3600, rel=1e-12)
    assert css("cost.compute_usd") == "worse"
    # three times the arrival rate over the same run: throughput up, but it is more load, not better
    assert rows["throughput.requests_per_s"].changes[1]["relative"] > 1.0
    assert comparison.load == ["workload.arrival.rate", "workload.output_tokens.value"]
    for rate in ("throughput.requests_per_s", "throughput.output_tokens_per_s", "slo.goodput_rps"):
        if rate in rows:
            assert css(rate) == "", rate
    assert "The offered load differs between the folders, so throughput and goodput are not judged" in table
    # forty output tokens instead of ten: each request takes longer end to end, worse
    assert rows["latency.e2e.p50"].changes[1]["absolute"] > 0 and css("latency.e2e.p50") == "worse"
    for neutral in ("utilization.load_factor", "gpu_hours.provisioned", "requests.completed"):
        assert rows[neutral].changes[1]["absolute"] != 0 and css(neutral) == "", neutral


def test_throughput_is_judged_only_under_the_same_offered_load():
    """Ten requests a second served against eight: better when both folders were offered the same load (the
    base fell behind), not judged when the offered load differs (then more served is more offered)."""
    from sim.report.comparison import Comparison, Row, change

    rows = [Row(key, [8.0, 10.0], [None, change(8.0, 10.0)])
            for key in ("throughput.requests_per_s", "classes.chat.throughput.requests_per_s", "slo.goodput_rps",
                        "latency.ttft.p99")]

    def tones(load: list[str]) -> list[str]:
        table = metric_table(Comparison([], [], [], rows, [], load), [1])
        return [(re.findall(r'<td class="(\w+)"', row) or [""])[0] for row in table.split("<tr>")[2:]]

    assert tones([]) == ["better", "better", "better", "worse"]
    assert tones(["workload.arrival.concurrency"]) == ["", "", "", "worse"]


def test_the_terminal_says_why_throughput_is_not_judged(runs, capsys):
    assert main(["compare", str(runs["a"]), str(runs["b"])]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("note: the offered load differs (workload.arrival.rate, workload.output_tokens.value): a higher "
            "throughput or goodput is then more load served, not a better fleet") in out
    assert main(["compare", str(runs["a"]), str(runs["s"])]) == 0        # (metrics.records only)
    assert "offered load" not in capsys.readouterr().out


def test_the_cdf_points_are_the_sorted_latencies_of_each_request_table(runs):
    comparison = compare([runs["a"], runs["b"]])
    notes: list[str] = []
    requests, _ = read_tables(comparison, notes)
    assert notes == []
    names = [legend_name(i, f.path) for i, f in enumerate(comparison.folders)]
    chart = latency_chart(names, requests)
    by_hand = [_latencies_from_csv(runs["a"]), _latencies_from_csv(runs["b"])]
    for panel, key in zip(chart.panels, ("ttft", "tpot", "e2e")):
        scale = 1000.0 if panel.xlabel == "milliseconds" else 1.0
        assert scale == (1000.0 if max(v[key][-1] for v in by_hand) < 1.0 else 1.0)
        assert [s.label for s in panel.series] == names
        for series, lat in zip(panel.series, by_hand):
            values = lat[key]
            n = values.size
            assert n > 100                                  # fewer than CDF_POINTS: every request is a point
            np.testing.assert_allclose(series.x, values * scale, rtol=1e-12)
            np.testing.assert_allclose(series.y, np.arange(1, n + 1) / n, rtol=1e-12)
            for q in (0.1, 0.5, 0.9, 0.99):                 # the q-quantile: the ceil(q n)-th smallest latency
                at = int(np.argmax(np.asarray(series.y) >= q - 1e-12))
                assert series.x[at] == pytest.approx(values[math.ceil(q * n) - 1] * scale, rel=1e-12)


@pytest.mark.parametrize("days", [1, 3, 6.5, 7, 13, 30, 60, 100, 180, 365, 366, 730])
def test_a_bin_divides_a_day_or_is_whole_weeks(days):
    """A bin that is neither (2 or 5 days) beats against a weekly pattern: 5-day bins over a year drew a
    35-day cycle that was not in the run."""
    width = bin_width(days * 86400)
    assert 86400 % width == 0 or width % (7 * 86400) == 0
    assert days * 86400 / width <= 80 or width == 86400 or width % (7 * 86400) == 0


def test_a_weekly_pattern_over_a_year_bins_flat():
    """Hourly samples of 7 on weekdays and 0 at weekends for a year: every whole bin holds whole weeks, so
    its mean is 5 (120 weekday hours x 7 / 168 hours), exactly."""
    hours = np.arange(365 * 24, dtype=float)
    v = np.where((hours // 24) % 7 < 5, 7.0, 0.0)
    end = 365 * 86400.0
    width = bin_width(end)
    x, means = binned_means(hours * 3600, v, end, width)
    whole = x + width <= end
    assert width == 7 * 86400 and whole.sum() == 52
    assert set(means[whole].tolist()) == {5.0}


def test_throughput_over_time_counts_every_completed_request(runs):
    comparison = compare([runs["a"], runs["b"]])
    requests, series = read_tables(comparison, [])
    ends = [DURATION, DURATION]
    chart, width = over_time_chart([legend_name(i, f.path) for i, f in enumerate(comparison.folders)],
                                   requests, series, ends)
    with open(runs["a"] / "timeseries.csv", newline="") as fh:
        samples = [r for r in csv.DictReader(fh)]
    spacing = float(samples[1]["time_s"]) - float(samples[0]["time_s"])
    # 120 s / 80 bins = 1.5 s, but no narrower than the samples: 80 samples' span in round numbers
    assert width == bin_width(max(DURATION, 80 * spacing)) >= spacing
    for s, folder in zip(chart.panels[0].series, (runs["a"], runs["b"])):
        done = _latencies_from_csv(folder)["e2e"].size
        x, rate = np.asarray(s.x[:-1]), np.asarray(s.y[:-1])     # (the last point holds the last bin's value)
        widths = np.diff(np.append(x, max(DURATION, x[-1] + width)))
        assert float(np.sum(rate * widths)) == pytest.approx(done, rel=1e-9)
    x, rate = completions_per_second(np.array([0.5, 1.5, 1.7, 4.1, np.nan]), 4.5, 2.0)
    assert x.tolist() == [0.0, 2.0, 4.0] and rate.tolist() == [1.5, 0.0, 2.0]   # 3 in 2 s, none, 1 in 0.5 s
    # running sequences: the mean of the time series' samples in a bin, by hand from the CSV
    running = chart.panels[2].series[0]
    for x0, y in zip(running.x[:3], running.y[:3]):
        rows = [r for r in samples if x0 <= float(r["time_s"]) < x0 + width]
        assert rows and y == pytest.approx(sum(float(r["running"]) for r in rows) / len(rows), rel=1e-12)


@pytest.mark.parametrize("which, why", [("n", "no requests.csv.gz"), ("d", "requests.csv.gz could not be read")])
def test_a_folder_without_a_readable_request_table_keeps_its_columns_with_a_note(runs, tmp_path, which, why):
    page_file = tmp_path / "cmp.html"
    assert main(["compare", str(runs["a"]), str(runs[which]), "--html", str(page_file), "--json"]) == 0
    page = page_file.read_text(encoding="utf-8")
    note = re.search(f'<p class="note">B \\({re.escape(html.escape(str(runs[which])))}\\): (its )?{why}[^<]*'
                     "its curves are left out</p>", page)
    assert note, page[page.index("<h2>Figures</h2>"):][:2000]
    comparison = compare([runs["a"], runs[which]])
    row = next(r for r in comparison.rows if r.key == "latency.ttft.p99")     # the table has B's numbers still
    assert re.search(f"<td>{re.escape(cell(row.key, row.values[1]))}</td>", page)
    requests, series = read_tables(comparison, [])
    chart = latency_chart(["A", "B"], requests)
    assert [s.label for s in chart.panels[0].series] == ["A"]                 # only A's curve
    over_time, _ = over_time_chart(["A", "B"], requests, series, [DURATION, DURATION])
    throughput, _, running, _ = over_time.panels                              # (and replicas)
    assert [s.label for s in throughput.series if len(s.x)] == ["A"]          # B: no completions to count
    assert [s.label for s in running.series] == ["A", "B"]                    # but its time series is drawn
    assert [s.label for s in throughput.series] == ["A", "B"]                 # and the legend names it


def test_the_page_never_replaces_a_file_it_reads(runs, tmp_path, capsys):
    for target in (runs["a"] / "summary.json", runs["b"] / "requests.csv.gz", runs["a"] / "timeseries.csv"):
        before = target.read_bytes()
        assert main(["compare", str(runs["a"]), str(runs["b"]), "--html", str(target)]) == 2
        err = capsys.readouterr().err
        assert f"--html: {target}: it is the input file" in err and target.read_bytes() == before
    same = tmp_path / "x"
    assert main(["compare", str(runs["a"]), str(runs["b"]), "--out", str(same), "--html", str(same)]) == 2
    assert "it is the --out file too" in capsys.readouterr().err and not same.exists()
    assert main(["compare", str(runs["a"]), str(runs["b"]), "--html", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    from sim.errors import InputError
    from sim.report import write_comparison_page

    target = runs["b"] / "timeseries.csv"
    before = target.read_bytes()
    with pytest.raises(InputError, match="it is the input file"):     # from Python too
        write_comparison_page(compare([runs["a"], runs["b"]]), target)
    assert target.read_bytes() == before


def test_json_and_out_are_as_without_the_page(runs, tmp_path, capsys):
    folders = [str(runs["a"]), str(runs["b"])]
    assert main(["compare", *folders, "--json", "--out", str(tmp_path / "a.json")]) == 0
    plain = capsys.readouterr().out
    assert main(["compare", *folders, "--json", "--out", str(tmp_path / "b.json"), "--html",
                 str(tmp_path / "p.html")]) == 0
    assert capsys.readouterr().out == plain
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert label(1) in (tmp_path / "p.html").read_text(encoding="utf-8")


def test_the_legend_sits_in_the_empty_lower_right_of_the_last_cdf_in_both_renderers(runs):
    from sim.report.chart import to_svg
    from sim.report.render import draw_chart

    comparison = compare([runs["a"], runs["b"]])
    chart = latency_chart(["A: a", "B: b"], read_tables(comparison, [])[0])
    assert [p.legend for p in chart.panels] == [None, None, "lower right"]
    legend = draw_chart(chart).axes[2].get_legend()
    assert legend is not None and legend._loc == 4               # matplotlib's code for "lower right"
    svg = to_svg(chart)
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    box = re.search(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="#fff" '
                    r'fill-opacity="0.8"', svg)
    x, y, w, h = (float(v) for v in box.groups())
    assert x > 2 * width / 3 and x + w < width and y > height / 2 and y + h < height   # third panel, bottom half


def test_same_folders_same_bytes_and_many_folders_in_tables_of_two_beside_the_base(runs, tmp_path):
    folders = [str(runs[k]) for k in ("a", "b", "n", "d", "b")]
    pages = []
    for name in ("one.html", "two.html"):
        assert main(["compare", *folders, "--html", str(tmp_path / name), "--json"]) == 0
        pages.append((tmp_path / name).read_bytes())
    assert pages[0] == pages[1]
    page = pages[0].decode("utf-8")
    heads = re.findall(r'<table class=\'compare\'><tr>(.*?)</tr>', page)
    assert [re.findall(r"<th>(.*?)</th>", h) for h in heads] == [
        ["metric", "A (base)", "B", "B vs A", "C", "C vs A"], ["metric", "A (base)", "D", "D vs A", "E", "E vs A"]]


def test_a_sampled_request_table_is_said_in_a_note(runs):
    import json

    summary = json.loads((runs["s"] / "summary.json").read_text())
    kept, arrived = summary["requests"]["records_kept"], summary["requests"]["arrived"]
    assert 0 < kept < arrived
    page = comparison_html(compare([runs["a"], runs["s"]]))
    assert (f"B ({html.escape(str(runs['s']))}): its requests.csv.gz holds {kept:,} of {arrived:,} requests "
            "(metrics.records: sample)") in page
    # its latency curves are the sample's: as many points as rows kept with a first token
    comparison = compare([runs["a"], runs["s"]])
    requests, _ = read_tables(comparison, [])
    assert requests[1]["arrival_s"].size == kept


def test_the_page_reads_only_the_request_columns_it_draws_and_still_checks_every_line(runs, tmp_path):
    """The request table is read as the five columns the page draws from (the whole table was held as
    text: 18 columns of millions of rows); those are the CSV's cells, the other columns are not kept,
    and a line with a cell too few is still refused, naming the line."""
    from sim.errors import ScenarioError
    from sim.report.comparison_page import REQUEST_FIELDS
    from sim.report.result_folder import read_requests

    requests, _ = read_tables(compare([runs["a"], runs["b"]]), [])
    assert set(requests[0]) == set(REQUEST_FIELDS)
    with gzip.open(runs["a"] / "requests.csv.gz", "rt", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for name in REQUEST_FIELDS:
        by_hand = np.array([float(r[name]) if r[name] else np.nan for r in rows])
        np.testing.assert_array_equal(requests[0][name], by_hand)
    damaged = tmp_path / "d"
    shutil.copytree(runs["a"], damaged)
    with gzip.open(runs["a"] / "requests.csv.gz", "rt", newline="") as fh:
        lines = fh.read().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0]                    # line 4: one cell fewer than the header
    with gzip.open(damaged / "requests.csv.gz", "wt", newline="") as fh:
        fh.write("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError) as exc:
        read_requests(damaged, REQUEST_FIELDS)
    assert exc.value.problems[0] == ("line 4", f"{lines[3].count(',') + 1} cells, the header has "
                                               f"{lines[0].count(',') + 1}")


def test_hostile_names_are_escaped_on_the_page(runs, tmp_path):
    """A scenario name (or folder name) with markup, control characters and a bidirectional override:
    the markup is text, and the controls are written as the terminal writes them (``\\x1b``, ``\\u202e``),
    not passed to the page where they hid or reordered what a cell shows."""
    import json

    hostile = "<script>alert(1)</script>\x1b[31m\u202eevil"
    folder = tmp_path / "h\x07"
    shutil.copytree(runs["a"], folder)
    data = json.loads((folder / "summary.json").read_text())
    data["scenario"] = hostile
    (folder / "summary.json").write_text(json.dumps(data))
    page = comparison_html(compare([runs["a"], folder]))
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m\\u202eevil" in page
    assert "h\\x07" in page
    assert not any(c in page for c in ("\x1b", "\x07", "\u202e"))
    assert legend_name(1, folder).endswith("h\\x07")          # the figures' legend too


def test_a_sampled_runs_percentiles_are_said_to_be_estimates(runs):
    """The same run kept whole and as a sample: every percentile moves by its histogram's error alone
    (log bins 1 % wide: within sqrt(1.01) - 1 = 0.499 %), which the table shows, and the page colours,
    as changes; a note says so. Two runs keeping every record have none."""
    comparison = compare([runs["a"], runs["s"]])
    assert comparison.notes == ["the latency percentiles of B (sample) are estimated from histograms (metrics.records), "
                                "each within 0.5 % of the exact: a change of a percentile smaller than that may "
                                "be the estimate's alone"]
    bound = math.sqrt(1.01) - 1
    for row in comparison.rows:
        if row.key.startswith("latency.") and not row.key.endswith(".mean") and row.changes[1]["relative"]:
            assert abs(row.changes[1]["relative"]) <= bound + 1e-12, row.key
    assert not any("histograms" in n for n in compare([runs["a"], runs["b"]]).notes)     # (whole runs)
    # on the page such a change is not coloured better or worse; a percentile of two whole runs is
    table = metric_table(comparison, [1])
    percentiles = [r for r in comparison.rows if re.fullmatch(r"latency\.\w+\.p\d+", r.key)]
    moved = [r for r in percentiles if r.changes[1]["relative"] and abs(r.changes[1]["relative"]) >= 0.001]
    assert moved                                               # (under the 0.1 % of a rounding, nothing to show)
    for r in moved:
        row = re.search(f"<tr><td>{re.escape(r.label)}</td>.*?</tr>", table).group(0)
        assert 'class="better"' not in row and 'class="worse"' not in row, row
    whole = metric_table(compare([runs["a"], runs["b"]]), [1])
    assert re.search(r'<tr><td>TTFT p99</td>.*?class="(better|worse)"', whole)


def test_spaces_in_names_stay_spaces_on_the_page(runs, tmp_path):
    """A folder named with a no-break space reads as such on the page, as on a run's report page
    (``html_page.escape``), not as ``\\u00a0``."""
    folder = tmp_path / "run\u00a02"
    shutil.copytree(runs["a"], folder)
    page = comparison_html(compare([runs["a"], folder]))
    assert "run\u00a02" in page and "run\\u00a02" not in page
