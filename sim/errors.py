"""Errors a user can cause, reported as one line per problem and exit status 2.

Every problem names the file, the field path and what is allowed::

    scenarios/x.yaml: workload.arrival.rate: must be > 0 (got -3)
"""
from __future__ import annotations


class ScenarioError(Exception):
    """One or more problems with a scenario (or another input file).

    ``problems`` holds ``(field_path, message)`` pairs; ``source`` is the file they came from.
    """

    def __init__(self, problems: list[tuple[str, str]], source: str = "<scenario>") -> None:
        self.problems = list(dict.fromkeys((str(p), str(m)) for p, m in problems))  # once each, in order
        self.source = source
        super().__init__(self.format())

    def format(self) -> str:
        lines = []
        for path, msg in self.problems:
            lines.append(f"{self.source}: {path}: {msg}" if path else f"{self.source}: {msg}")
        return "\n".join(lines)


class InputError(Exception):
    """A problem with a non-scenario input (trace file, profile table, calibration CSV).

    The message already names the file, line and column where it can.
    """
