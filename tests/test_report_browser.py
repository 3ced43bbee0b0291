"""report.html in a real browser (headless Chromium): no console errors, every image loads, the
header names the GPU and the model. Skipped without a Chromium; ``make test-browser`` installs
Debian's and runs this file, keeping the screenshots in ``results/screenshots/``."""
import os
from pathlib import Path

import pytest

from sim.planning import sweep
from sim.report import write_report
from headless import Page, file_url, find_browser

pytest.importorskip("websocket", reason="needs websocket-client (the 'browser' extra)")
BROWSER = find_browser()
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (make test-browser installs it)")]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def page():
    with Page(BROWSER) as p:
        yield p


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    where = os.environ.get("FLEETSIM_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check(page: Page, report: Path, shot: Path) -> str:
    page.console.clear()
    page.open(file_url(report))
    images = page.evaluate("[...document.images].map(i => [i.alt, i.complete, i.naturalWidth])")
    assert images, "the report shows no figure"
    broken = [alt for alt, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images that did not load: {broken}"
    assert page.errors() == []
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= window, "the page scrolls sideways"
    page.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    return page.evaluate("document.querySelector('h1').textContent + ' ' + "
                         "(document.querySelector('.lead') || {textContent: ''}).textContent")


def test_baseline_report_in_a_browser(page, shots, tmp_path):
    import sim

    folder = sim.run(ROOT / "scenarios" / "baseline.yaml", overrides=["duration=10m", "warmup=1m"]).write(
        tmp_path / "baseline")
    header = _check(page, write_report(folder), shots / "baseline_report.png")
    assert "h100-sxm" in header and "llama-3-8b" in header
    assert page.evaluate("document.getElementById('verdict').textContent").startswith("SLO met")
    assert page.evaluate("document.images.length") == 4      # latency, time series, utilization, cash flow


def test_sweep_report_in_a_browser(page, shots, tmp_path):
    out = tmp_path / "sweep"
    sweep(ROOT / "scenarios" / "baseline.yaml", {"fleet.pools.0.replicas": [2, 4]}, seeds=1,
          overrides=["duration=2m", "warmup=0"], out=out, executor="serial")
    header = _check(page, write_report(out), shots / "sweep_report.png")
    assert "h100-sxm" in header and "llama-3-8b" in header


def test_plan_report_tables_fit_the_page(page, shots, tmp_path):
    """A plan with a joint knob, three constraints and the capacity band: its tables (each group's
    answers at the model's capacity, then the same rows at -3 %) fit a 1280-px window without
    scrolling sideways, and every row is in both."""
    from sim.planning import MMcRunner, plan

    out = tmp_path / "plan"
    runner = MMcRunner(service_s=0.2, noise_cv=0.2, price_per_gpu_hour_usd={"h100-sxm": 6.16, "a100-80gb": 2.70})
    plan(ROOT / "scenarios" / "baseline.yaml",
         ["fleet.pools.0.replicas=1..16", "fleet.pools.0.gpu&economics.gpu_hour_usd=h100-sxm&6.16,a100-80gb&2.70"],
         constraints=["latency.ttft.p99<=2.0", "slo.attainment>=0.99", "latency.queue.p99<=1.0"], seeds=2,
         overrides=["workload.arrival.rate=20"], runner=runner, executor="serial", capacity_band=3, out=out)
    _check(page, write_report(out), shots / "plan_report.png")
    tables = page.evaluate("[...document.querySelectorAll('table')].map(t => [t.rows[0].cells[0].textContent, "
                           "t.rows.length, t.rows[0].cells.length, t.scrollWidth, t.clientWidth])")
    wide = [t for t in tables if t[3] > t[4]]
    assert not wide, f"tables that scroll sideways (first heading, rows, columns, width, shown): {wide}"
    plans = [t for t in tables if t[0] == "replicas"]          # the knobs' columns come first, by short name
    assert len(plans) == 3 and plans[0][1] == plans[1][1] > 2      # the same rows, at two capacities; all evaluated
    # knobs, verdict, GPUs, $/hour, $/month (the MMc runner reports no tokens), the constraints, load factor,
    # headroom; at -3 %: knobs, verdict, feasible there, the constraints there
    assert [t[2] for t in plans[:2]] == [3 + 1 + 3 + 3 + 2, 3 + 1 + 1 + 3]
    heads = page.evaluate("[...document.querySelectorAll('table')[1].rows[0].cells].map(c => c.textContent)")
    assert heads[3:7] == ["verdict", "GPUs", "$/hour", "$/month"], heads


def test_a_broken_image_is_caught(page, tmp_path):
    # the check can fail: a page whose image does not decode
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><h1>x</h1>"
                   "<img alt='broken' src='data:image/png;base64,AAAA'></body></html>")
    with pytest.raises(AssertionError, match="broken"):
        _check(page, bad, tmp_path / "bad.png")
