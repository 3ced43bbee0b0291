"""Numbers for people: money, durations, latencies, counts and shares."""
import doctest
import math

import pytest

import sim.humanize as hz


def test_doctests():
    assert doctest.testmod(hz).failed == 0


@pytest.mark.parametrize("usd, full, short", [
    (1_296_884.5, "$1,296,884.50", "$1.30M"),
    (302_400.0, "$302,400.00", "$302k"),
    (999_999.0, "$999,999.00", "$1.00M"),        # rounds up into the next unit, never "1000k"
    (12.345, "$12.35", "$12.35"),                  # under 1,000: cents kept
    (-10.0, "-$10.00", "-$10.00"),
    (0.0, "$0.00", "$0.00"),
    (2.5e9, "$2,500,000,000.00", "$2.50B"),
])
def test_money_full_and_compact(usd, full, short):
    assert hz.money(usd) == full
    assert hz.money(usd, compact=True) == short


def test_money_never_prints_scientific_notation_or_nan():
    for v in (1.297e6, 3.024e5, 4.002e12, 1e-7):
        assert "e" not in hz.money(v).lower().replace("$", "")
    assert hz.money(None) == hz.money(math.nan) == hz.money(math.inf) == "–"
    assert hz.money(5, "EUR") == "€5.00" and hz.money(5, "CHF") == "5.00 CHF"


@pytest.mark.parametrize("seconds, text", [
    (31_622_400, "366 d"), (3.16224e7, "366 d"), (604_800, "7 d"), (3600, "1 h"), (5400, "1 h 30 m"),
    (86_399, "1 d"), (3599.6, "1 h"), (90, "1 m 30 s"), (59.9, "59.9 s"), (2.5, "2.5 s"),
])
def test_durations_in_days_hours_minutes(seconds, text):
    assert hz.duration(seconds) == text


def test_latency_count_share_number():
    assert hz.latency(0.12570720539802768) == "125.7 ms"
    assert hz.latency(0.00840382680049866) == "8.4 ms"
    assert hz.latency(10.173049771759825) == "10.17 s"
    assert hz.count(43_304) == "43,304" and hz.count(None) == "–"
    assert hz.share(0.999905943202689) == "100.0%" and hz.share(0.0176, 2) == "1.76%"
    assert hz.number(2980.1366) == "2,980" and hz.number(12.019) == "12" and hz.number(0.572) == "0.572"
