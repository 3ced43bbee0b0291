"""The sections of the validation page that are rewritten alone (``validate_perf.py --section 2026|conc``): where
each one sits in ``docs/validation.md`` and how it is spliced in, and the fixed-concurrency section's writer.
"""
from __future__ import annotations

import pathlib
import sys

import fixed_concurrency

SECTION_2026 = "## 2025-26 models: Llama-3.1-405B (dense, TP8), Qwen3-235B-A22B and DeepSeek-R1 (MoE, EP8)"


def splice_2026(text: str, section: str) -> str:
    r"""``text`` (validation.md) with ``section`` (the 2025-26 section, from its heading to the fixed-concurrency
    section or the end) in place of the one it holds, everything before that heading and the fixed-concurrency
    section after it kept as they are; appended after a blank line when it holds none, as a full regeneration
    writes it. So ``--section 2026`` after a full regeneration changes nothing but the section.

        >>> report = "# Validation\n\nrows\n"
        >>> full = splice_2026(report, SECTION_2026 + "\n\nold\n")
        >>> full == report + "\n" + SECTION_2026 + "\n\nold\n"
        True
        >>> splice_2026(full, SECTION_2026 + "\n\nnew\n") == report + "\n" + SECTION_2026 + "\n\nnew\n"
        True
        >>> conc = splice_conc(full, fixed_concurrency.SECTION + "\n\nc\n")
        >>> splice_2026(conc, SECTION_2026 + "\n\nnew\n") == splice_conc(
        ...     report + "\n" + SECTION_2026 + "\n\nnew\n", fixed_concurrency.SECTION + "\n\nc\n")
        True
    """
    start = text.find(SECTION_2026)
    tail_at = text.find(fixed_concurrency.SECTION)
    tail = "\n" + text[tail_at:] if tail_at > start >= 0 else ""
    return text[:start] + section + tail if start >= 0 else text + "\n" + section


def splice_conc(text: str, section: str) -> str:
    r"""``text`` (validation.md) with ``section`` (the fixed-concurrency section, the last one, from its heading to
    the end) in place of the one it holds; appended after a blank line when it holds none, as a full
    regeneration writes it (after the 2025-26 section). So ``--section conc`` changes nothing but the section.

        >>> full = splice_conc("# Validation\n", fixed_concurrency.SECTION + "\n\nold\n")
        >>> full == "# Validation\n\n" + fixed_concurrency.SECTION + "\n\nold\n"
        True
        >>> splice_conc(full, fixed_concurrency.SECTION + "\n\nnew\n") == (
        ...     "# Validation\n\n" + fixed_concurrency.SECTION + "\n\nnew\n")
        True
    """
    start = text.find(fixed_concurrency.SECTION)
    return text[:start] + section if start >= 0 else text + "\n" + section


def write_conc_section(mode: str, out_md: pathlib.Path) -> dict[str, float]:
    """Write the fixed-concurrency section (:mod:`fixed_concurrency`) into ``out_md``: every published point
    against the simulator, held out. It needs the simulator (a closed loop has no closed-form estimate here):
    in ``estimate`` mode the section is left as it is. Returns the worst absolute error per metric."""
    if mode != "simulator":
        print("fixed-concurrency section: needs the simulator, left as it is", file=sys.stderr)
        return {}
    results, sens = fixed_concurrency.run_all()
    for p, s in results:
        print(f"{p.id:>22} " + " ".join(
            f"{k} {fixed_concurrency.error(s[k], getattr(p, k)):+7.1%}" for k, _, _ in fixed_concurrency.METRICS),
            file=sys.stderr)
    text = out_md.read_text(encoding="utf-8") if out_md.exists() else ""
    out_md.write_text(splice_conc(text, "\n".join(fixed_concurrency.report_lines(results, sens))), encoding="utf-8")
    return {k: max(abs(fixed_concurrency.error(s[k], getattr(p, k))) for p, s in results)
            for k, _, _ in fixed_concurrency.METRICS}
