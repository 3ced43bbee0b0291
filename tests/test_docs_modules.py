"""docs/architecture.md lists every module under ``sim/`` exactly once ("Modules": one bullet per
module under a heading per package), and nothing that no longer exists."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def listed_modules(text: str) -> list[str]:
    """``sim/pkg/module.py`` paths named by the bullets of the "Modules" section, in order."""
    section = text.split("\n## Modules\n", 1)[1].split("\n## ", 1)[0]
    out, package = [], None
    for line in section.splitlines():
        heading = re.match(r"### `(sim/(?:[a-z_]+/)?)`", line)
        if heading:
            package = heading.group(1)
        elif line.startswith("* `"):
            assert package, f"a module listed before any package heading: {line}"
            names = line[2:].split(" — ", 1)[0]
            out += [package + name for name in re.findall(r"`([a-z_]+\.py)`", names)]
    return out


def test_every_module_is_listed_once_and_every_listed_module_exists():
    listed = listed_modules(DOC.read_text(encoding="utf-8"))
    tree = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sim").rglob("*.py")}
    twice = sorted(m for m, n in Counter(listed).items() if n > 1)
    assert not twice, f"listed more than once in docs/architecture.md: {twice}"
    assert not sorted(tree - set(listed)), f"missing from docs/architecture.md (Modules): {sorted(tree - set(listed))}"
    assert not sorted(set(listed) - tree), f"listed in docs/architecture.md but not in sim/: {sorted(set(listed) - tree)}"


def test_the_listing_is_read_as_written():
    text = "\n## Modules\n\n### `sim/`\n\n* `a.py` — x\n\n### `sim/p/`\n\n* `b.py`, `c.py` — y `d.py`\n\n## Next\n* `e.py`"
    assert listed_modules(text) == ["sim/a.py", "sim/p/b.py", "sim/p/c.py"]
