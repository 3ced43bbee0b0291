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


def test_a_broken_image_is_caught(page, tmp_path):
    # the check can fail: a page whose image does not decode
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><h1>x</h1>"
                   "<img alt='broken' src='data:image/png;base64,AAAA'></body></html>")
    with pytest.raises(AssertionError, match="broken"):
        _check(page, bad, tmp_path / "bad.png")
