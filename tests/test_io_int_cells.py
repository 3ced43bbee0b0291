"""Integer CSV cells formatted through a table of strings equal ``str`` of each value."""
from __future__ import annotations

import numpy as np
import pytest

from sim.io import csv_text


@pytest.mark.parametrize("values", [
    np.array([512, 512, 512], dtype=np.int64),
    np.array([0, -1, 3, 255, -1], dtype=np.int32),
    np.arange(-128, 128, dtype=np.int8),                     # the whole int8 range in one table
    np.array([0, 255, 7], dtype=np.uint8),
    np.array([2**64 - 1, 2**64 - 2], dtype=np.uint64),       # beyond int64: formatted one by one
    np.array([-2**63, -2**63 + 5], dtype=np.int64),
    np.array([2**63 - 1, 2**63 - 300], dtype=np.int64),
    np.arange(10_000, dtype=np.int64)[::-1] % 300,           # several blocks, wider than one table
])
def test_integer_cells_equal_str(values):
    text = csv_text(["v"], [values])
    assert text == "v\n" + "".join(f"{v}\n" for v in values.tolist())
