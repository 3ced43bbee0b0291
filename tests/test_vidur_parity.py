"""The roofline against Vidur's measured A100 Llama-2-7B operators (profiles bundled from Vidur).

The Vidur side is composed from the profile CSVs (operators by token count, the attention sample);
the roofline with ``perf.kernels: pytorch`` must land within the issue's targets: prefill within 10 %
for 128-2,048 tokens, decode within 7 % for batch 1-128.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import vidur_parity  # noqa: E402


def test_parity_reads_every_profile_point_and_compares_like_with_like():
    rows = vidur_parity.parity()
    assert [r[1] for r in rows if r[0] == "prefill"] == list(vidur_parity.PREFILL_TOKENS)
    assert [r[1] for r in rows if r[0] == "decode"] == list(vidur_parity.DECODE_BATCH)
    # both sides grow with the work: longer prefills and larger decode batches take longer
    for kind in ("prefill", "decode"):
        v = [r[2] for r in rows if r[0] == kind]
        f = [r[3] for r in rows if r[0] == kind]
        assert v[-1] > v[0] and f == sorted(f)


def test_prefill_within_10_and_decode_within_7_percent_of_vidur_with_pytorch_kernels():
    for kind, n, vidur, roof in vidur_parity.parity("pytorch"):
        tol = vidur_parity.PREFILL_TARGET if kind == "prefill" else vidur_parity.DECODE_TARGET
        assert roof == pytest.approx(vidur, rel=tol), (kind, n)


def test_the_default_trtllm_kernels_miss_the_targets_where_vidurs_stack_differs():
    """The fused-kernel default is not Vidur's stack: short prefills and batch-1 decode are faster than
    Vidur measured (no kernel floors), so the kernel set is a real choice, not a no-op."""
    rows = {(k, n): (v, r) for k, n, v, r in vidur_parity.parity("trtllm")}
    for key in (("prefill", 128), ("decode", 1)):
        v, r = rows[key]
        assert r < 0.9 * v, key
    assert not vidur_parity.met(vidur_parity.parity("trtllm"))


def test_benchmark_prints_json():
    out = subprocess.run([sys.executable, str(BENCH / "vidur_parity.py")], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert data["pytorch"]["met"] is True and data["trtllm"]["met"] is False
    assert len(data["h100_holdout_pytorch"]) == len(vidur_parity.PREFILL_TOKENS) + len(vidur_parity.DECODE_BATCH)
    by_tp = {(r["gpu"], r["tp"]): r for r in data["elementwise_by_tp_pytorch"]}
    assert len(by_tp) == 8 and all(r["rows"] == 259 for r in by_tp.values())
    # fitted on A100 TP1; held out elsewhere, where Vidur's element-wise kernels are faster (smaller floors)
    assert by_tp["a100-80gb", 1]["median_abs_error"] < 0.05
    assert by_tp["a100-80gb", 8]["measured_one_token_s"] < by_tp["a100-80gb", 1]["measured_one_token_s"]
    assert by_tp["a100-80gb", 8]["mean_error"] > 0 and by_tp["h100-sxm", 1]["mean_error"] > 0
    # the catalog is calibrated on TensorRT-LLM rows with the trtllm set: its fit rows fit it better
    rows = data["throughput_rows_estimate"]
    assert rows["trtllm"]["median_fit"] < rows["pytorch"]["median_fit"]
    assert rows["trtllm"]["errors"]["8e"] < 0 < rows["pytorch"]["errors"]["8e"]   # 128-token TTFT: fast vs slow
