"""Demand: when requests arrive, how long they are, and which class (tenant) sends them.

>>> from sim.workload import WorkloadConfig, generate
>>> cfg = WorkloadConfig.model_validate({
...     "arrival": {"process": "poisson", "rate": 12},
...     "prompt_tokens": {"dist": "lognormal", "mean": 1000, "cv": 1.0, "max": 8192},
...     "output_tokens": {"dist": "fixed", "value": 250}})
>>> chunk = next(generate(cfg, horizon_s=60, seed=1))
>>> bool((chunk.arrival_s < 60).all()), int(chunk.output_tokens[0])
(True, 250)

Modules: :mod:`~sim.workload.arrivals` (processes), :mod:`~sim.workload.growth` (demand growth),
:mod:`~sim.workload.trace_replay` (replaying a trace's times), :mod:`~sim.workload.lengths` (token-length
distributions), :mod:`~sim.workload.traces` (trace files), :mod:`~sim.workload.classes`
(tenants), :mod:`~sim.workload.validation` and :mod:`~sim.workload.generator` (putting it together).
The schema lives in :mod:`sim.scenario.workload`.
"""
from sim.scenario.workload import WorkloadConfig
from sim.workload.classes import ClassSpec, class_names, classes
from sim.workload.generator import RequestChunk, generate
from sim.workload.lengths import fit_empirical
from sim.workload.traces import TraceData, read_trace, write_trace
from sim.workload.validation import validate

__all__ = [
    "ClassSpec", "RequestChunk", "TraceData", "WorkloadConfig", "class_names", "classes",
    "fit_empirical", "generate", "read_trace", "validate", "write_trace",
]
