"""The Erlang C yardstick against the textbook formula written out independently."""
import math

import pytest

from sim.planning.erlang import erlang_c, mean_wait_s, min_servers, wait_quantile_s


def erlang_c_textbook(c: int, a: float) -> float:
    """Direct factorial form (Kleinrock 1975, eq. 3.40)."""
    top = a ** c / math.factorial(c) * c / (c - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize("c,a", [(1, 0.5), (2, 1.0), (5, 3.7), (13, 10.0), (30, 27.5)])
def test_erlang_c_matches_factorial_formula(c, a):
    assert erlang_c(c, a) == pytest.approx(erlang_c_textbook(c, a), rel=1e-12)


def test_single_server_reduces_to_mm1():
    lam, s = 0.8, 1.0  # rho = 0.8: P(wait) = rho, E[Wq] = rho / (mu - lambda)
    assert erlang_c(1, lam * s) == pytest.approx(0.8)
    assert mean_wait_s(1, lam, s) == pytest.approx(0.8 / (1.0 - 0.8))
    # P(Wq > t) = rho exp(-(mu - lambda) t); the 0.99 quantile solves rho e^{-0.2 t} = 0.01
    assert wait_quantile_s(1, lam, s, 0.99) == pytest.approx(math.log(0.8 / 0.01) / 0.2)


def test_unstable_queue_has_infinite_wait():
    assert erlang_c(4, 4.0) == 1.0 and math.isinf(mean_wait_s(4, 4.0, 1.0))


def test_min_servers_is_the_first_c_meeting_the_bound():
    lam, s, bound = 10.0, 1.0, 0.1
    c = min_servers(lam, s, max_mean_wait_s=bound)
    wait = lambda k: erlang_c_textbook(k, lam * s) / (k / s - lam)
    assert wait(c) <= bound < wait(c - 1)
