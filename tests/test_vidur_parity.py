"""The default roofline against Vidur's measured A100 Llama-2-7B operators (profiles bundled from Vidur)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

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


@pytest.mark.xfail(strict=True, reason="target not met yet: attention efficiencies per serving stack "
                                       "(see docs/validation.md, parity with Vidur)")
def test_prefill_within_10_and_decode_within_7_percent_of_vidur():
    for kind, n, vidur, roof in vidur_parity.parity():
        tol = vidur_parity.PREFILL_TARGET if kind == "prefill" else vidur_parity.DECODE_TARGET
        assert roof == pytest.approx(vidur, rel=tol), (kind, n)
