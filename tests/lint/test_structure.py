"""Structure rules the build cannot see: the edges stay as readable as the core.

Functions in engine/server and sidecar stay under ~80 lines (lizard counts them), so a
handler reads as a few named steps rather than one long body.
"""
from __future__ import annotations

import pathlib

import lizard
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_LINES = 80


@pytest.mark.parametrize("folder", ["engine/server", "sidecar"])
def test_no_function_over_80_lines(folder):
    long = []
    for path in sorted((ROOT / folder).rglob("*.cpp")):
        for f in lizard.analyze_file(str(path)).function_list:
            if f.length > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}:{f.start_line} {f.name} ({f.length} lines)")
    assert not long, "functions over %d lines:\n  %s" % (MAX_LINES, "\n  ".join(long))
