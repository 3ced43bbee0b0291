"""Memory and time of ``fleetsim compare --html`` on a large request table.

Simulates one run (``--scenario``, ``--set`` overrides; by default the baseline for a day at 24
req/s, about two million requests) into a temporary folder, or copies ``--folder`` there (as
``bench_report.py`` does), then, each in a fresh process (peak RSS is ``ru_maxrss`` of that
process): reading its ``requests.csv.gz`` whole, reading only the columns the comparison page draws
(:data:`sim.report.comparison_page.REQUEST_FIELDS`), and the whole ``fleetsim compare RUN RUN --html
PAGE`` command. Prints one JSON object.

    python benchmarks/bench_compare_page.py                                   # ~3 min to simulate
    python benchmarks/bench_compare_page.py --set duration=2h                 # a smaller table
    python benchmarks/bench_compare_page.py --folder RUN                      # a run already simulated
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from bench_report import arguments, measure, prepared_run, report

CASES = {
    "read_all_columns": "from sim.report.result_folder import read_requests\nread_requests(sys.argv[1])",
    "read_page_columns": "from sim.report.result_folder import read_requests\n"
                         "from sim.report.comparison_page import REQUEST_FIELDS\n"
                         "read_requests(sys.argv[1], REQUEST_FIELDS)",
    "compare_html_same_folder_twice": "from sim.cli import main\n"
                                      "assert main(['compare', sys.argv[1], sys.argv[1], '--html', sys.argv[2]]) == 0",
}


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory() as tmp:
        run, simulated = prepared_run(args, tmp)
        report(args, run, simulated, {name: measure(body, str(run), str(Path(tmp) / "page.html"))
                                      for name, body in CASES.items()})


if __name__ == "__main__":
    main()
