"""CPU time of a fluid run of short steps under a long scale-down stabilization window.

``scenarios/diurnal_week.yaml`` in the fluid tier for 12 h of simulated time, ``fluid.step: 2s``, its
autoscaler deciding every second, under each ``cooldown`` asked for: the window then holds ``cooldown /
fluid.step`` recommendations at every step (1,800 at 1 h). One JSON object per cooldown on stdout: the
fluid steps and the process's CPU seconds for the run (``time.process_time``; wall time on a shared
machine is not comparable)::

    python benchmarks/fluid_stabilization.py                      # 1 h and 4 h
    python benchmarks/fluid_stabilization.py --cooldown 3600

BENCHMARKS.md ("The fluid tier's stabilization window at short steps") quotes the numbers.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DURATION_S = 12 * 3600.0
STEP_S = 2.0


def main(argv: list[str] | None = None) -> int:
    import warnings

    import sim

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cooldown", nargs="+", type=float, default=[3600.0, 4 * 3600.0])
    a = ap.parse_args(argv)
    path = Path(__file__).resolve().parent.parent / "scenarios" / "diurnal_week.yaml"
    for cooldown in a.cooldown:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.process_time()
            s = sim.run(str(path), overrides=["fidelity=fluid", f"duration={DURATION_S}", f"fluid.step={STEP_S}",
                                              "fleet.pools.0.autoscale.interval=1",
                                              f"fleet.pools.0.autoscale.cooldown={cooldown}"]).summary
            cpu = time.process_time() - start
        print(json.dumps({"cooldown_s": cooldown, "fluid_steps": int(DURATION_S / STEP_S),
                          "scale_downs": s["autoscale"]["a100"]["scale_downs"],
                          "cpu_s": round(cpu, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
