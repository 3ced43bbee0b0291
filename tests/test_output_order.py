"""A command's stdout and stderr sent to one pipe (``fleetsim plan ... 2>&1 | tee log``) read in the order
they were written: stdout was written in blocks, stderr at once, so the notes under a plan's table came
before the table."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _as_a_shell_runs_it() -> dict:
    """The environment as a shell gives it: no PYTHONUNBUFFERED (which writes every stream at once), no
    terminal width."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": str(ROOT), "COLUMNS": ""}


def test_a_plans_table_comes_before_the_notes_under_it_in_one_pipe(tmp_path):
    scn = {"name": "order", "seed": 7, "duration": "2m", "warmup": "10s", "model": "llama-3-8b",
           "workload": {"arrival": {"process": "poisson", "rate": 2.0},
                        "prompt_tokens": {"dist": "fixed", "value": 900}, "output_tokens": {"dist": "fixed", "value": 100}},
           "fleet": {"pools": [{"name": "main", "gpu": "h100-sxm", "replicas": 1}]}, "economics": {"gpu_hour_usd": 6.16}}
    path = tmp_path / "order.yaml"
    path.write_text(yaml.safe_dump(scn))
    env = _as_a_shell_runs_it()
    done = subprocess.run([sys.executable, "-m", "sim", "plan", str(path), "--vary", "fleet.pools.0.replicas=1,2",
                           "--constraint", "latency.ttft.p99<=5", "--out", str(tmp_path / "plan"), "--quiet",
                           "--no-figures", "--executor", "serial"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    answer = next(i for i, line in enumerate(lines) if line.startswith("cheapest meeting all constraints:"))
    rule = next(i for i, line in enumerate(lines) if line.startswith("---"))
    legend = next(i for i, line in enumerate(lines) if line.startswith("feasible: meets every constraint"))
    wrote = next(i for i, line in enumerate(lines) if "configurations evaluated" in line)
    assert answer < rule < legend < wrote


def test_a_reader_gone_from_stdout_leaves_no_traceback_and_exit_status_zero():
    """``fleetsim ... | head -1``: head leaves after the first line, the command's next line meets a closed
    pipe. Line by line that is every command printing more than one line; Python's own flush at exit then
    failed again, printing ``Exception ignored ... BrokenPipeError`` and exiting with status 120. Here the
    pipe is closed before the command starts, so its first line meets it, on any machine."""
    read, write = os.pipe()
    os.close(read)
    env = _as_a_shell_runs_it()
    try:
        done = subprocess.run([sys.executable, "-m", "sim", "validate", "scenarios/baseline.yaml"], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, timeout=600)
    finally:
        os.close(write)
    assert "BrokenPipe" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.returncode == 0
