"""Shared fixtures: small scenarios built as dicts, and a helper to write request traces."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from file_order import FileSeconds, load_seconds, longest_first

LINEAR = {"model": "linear", "base_s": 0.01, "per_prefill_token_s": 1e-4, "per_decode_token_s": 1e-3,
          "per_context_token_s": 0.0}


def scenario(**over) -> dict:
    """A small single-pool scenario with the linear step-time model (times easy to work by hand)."""
    base = {
        "name": "test", "seed": 3, "duration": 60, "warmup": 0,
        "model": "llama-2-7b",
        "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                     "prompt_tokens": {"dist": "fixed", "value": 100},
                     "output_tokens": {"dist": "fixed", "value": 10}},
        "fleet": {"router": "least_outstanding",
                  "pools": [{"name": "main", "gpu": "a100-80gb", "replicas": 1,
                             "batching": {"max_num_seqs": 64, "max_batched_tokens": 4096}}]},
        "perf": dict(LINEAR),
        "slo": {"ttft_s": 1.0, "tpot_s": 0.05},
        "economics": {"gpu_hour_usd": 2.0},
    }
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = v
    return out


def mmc_scenario_file(tmp_path: Path, rate: float, *, seed: int = 11, duration: str = "20m",
                      replicas: int = 1, prompt: dict | None = None, slo: dict | None = None) -> Path:
    """Central queue, max_num_seqs 1, 1 output token, Exp(1000) prompt tokens at 1 ms/token:
    an M/M/c queue with mean service ~1.0005 s (ceil rounding of the token count), as a YAML file."""
    import yaml

    data = {"name": "mmc", "seed": seed, "duration": duration, "model": "llama-3-8b",
            "workload": {"arrival": {"process": "poisson", "rate": rate},
                         "prompt_tokens": prompt or {"dist": "exponential", "mean": 1000, "max": 8000},
                         "output_tokens": {"dist": "fixed", "value": 1}},
            "fleet": {"router": "central_queue",
                      "pools": [{"name": "main", "gpu": "h100-sxm", "replicas": replicas,
                                 "batching": {"policy": "continuous", "max_num_seqs": 1,
                                              "max_batched_tokens": 16384}}]},
            "perf": {"model": "linear", "per_prefill_token_s": 0.001},
            "economics": {"gpu_hour_usd": 2.0}}
    if slo is not None:
        data["slo"] = slo
    path = tmp_path / "mmc.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def write_trace(path: Path, rows: list[tuple[float, int, int]]) -> Path:
    """A trace in fleetsim's own CSV format (timestamp_s, prompt_tokens, output_tokens)."""
    lines = ["timestamp_s,prompt_tokens,output_tokens"] + [f"{t},{p},{o}" for t, p, o in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


_FACTORY: list = []      # the session's tmp_path_factory (:func:`trace_dir`)


@pytest.fixture(scope="session", autouse=True)
def _session_tmp(tmp_path_factory):
    _FACTORY.append(tmp_path_factory)
    yield
    _FACTORY.clear()


def trace_dir() -> Path:
    """A new folder under pytest's temporary root (``tmp_path_factory``: pytest removes it with its old
    runs) for a helper that writes a trace outside a test's own ``tmp_path``."""
    return _FACTORY[0].mktemp("trace")


@pytest.fixture
def trace_scenario(tmp_path):
    """Build a scenario replaying exactly the given (time, prompt, output) requests."""
    def make(rows, **over):
        trace = write_trace(tmp_path / "trace.csv", rows)
        sc = scenario(**over)
        sc["workload"] = {"arrival": {"process": "trace", "path": str(trace), "format": "fleetsim"}}
        return sc
    return make


def curve_cache(tmp_path_factory) -> Path:
    """The run's own ``$FLEETSIM_CACHE`` (tests never read a user's cache): the fluid tier's capacity
    curves and the scheduler factors, measured once per run. Under pytest-xdist it is in the folder
    the processes' temporary roots share, so a curve one process measured the other reads (both write
    atomically: :func:`sim.atomic.atomic_write_text`, ``sim.fluid.capacity.capacity_curve``); in one
    process, under its own root."""
    import os

    root = tmp_path_factory.getbasetemp()
    path = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "fleetsim-cache"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session", autouse=True)
def _private_curve_cache(tmp_path_factory):
    """Fluid-tier capacity curves go to the run's folder (:func:`curve_cache`)."""
    import os

    old = os.environ.get("FLEETSIM_CACHE")
    os.environ["FLEETSIM_CACHE"] = str(curve_cache(tmp_path_factory))
    yield
    if old is None:
        os.environ.pop("FLEETSIM_CACHE", None)
    else:
        os.environ["FLEETSIM_CACHE"] = old


@pytest.fixture(scope="session", autouse=True)
def _tables_at_full_width():
    """Tables print at full width, as to a file: a ``$COLUMNS`` the shell exported would narrow them
    (``sim.planning.table.terminal_width``); a test that wants a width sets it."""
    import os

    old = os.environ.pop("COLUMNS", None)
    yield
    if old is not None:
        os.environ["COLUMNS"] = old


def pytest_addoption(parser):
    parser.addoption("--record-file-seconds", metavar="PATH", default=None,
                     help="write each test file's seconds (setup, call, teardown summed) to PATH as JSON; "
                          "tests/file_seconds.json orders the default run (tests/file_order.py)")


def pytest_collection_modifyitems(session, config, items):
    """The longest test files first (:mod:`file_order`): a parallel run's processes end together."""
    order = longest_first([it.nodeid for it in items], load_seconds())
    items[:] = [items[i] for i in order]


_RECORD: list[FileSeconds] = []


def pytest_configure(config):
    if config.getoption("--record-file-seconds") and not hasattr(config, "workerinput"):
        _RECORD.append(FileSeconds())        # in the controller (or the one process): it sees every report


def pytest_runtest_logreport(report):
    if _RECORD:
        _RECORD[0].add(report.nodeid, report.duration)


def pytest_sessionfinish(session):
    path = session.config.getoption("--record-file-seconds")
    if _RECORD and path:
        _RECORD.pop().write(Path(path))
