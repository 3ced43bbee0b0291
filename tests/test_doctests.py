"""Every example in a docstring of ``sim/`` holds (the documentation's examples are run, not trusted).

Some test files run a few modules' examples next to their own tests; this runs all of them, so an
example that goes stale (a percentile convention changed, a doctest option misspelt) fails the build.
"""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sim

MODULES = sorted(m.name for m in pkgutil.walk_packages(sim.__path__, "sim.") if m.name != "sim.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
