"""The closing line of ``scripts/test``: how many tests passed, failed and were skipped.

``python -m tests.support.junit_summary JUNIT_XML STATUS`` prints, from pytest's JUnit XML,
``scripts/test: 812 passed, 0 failed, 0 skipped`` (plus ``, N xfailed`` when some were expected
failures, and the exit status when it is not 0). Errors count as failed.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

XFAIL = "pytest.xfail"


def outcome(testcase: ET.Element) -> str:
    """``passed``, ``failed``, ``skipped`` or ``xfailed`` for one ``<testcase>``."""
    if testcase.find("failure") is not None or testcase.find("error") is not None:
        return "failed"
    skipped = testcase.find("skipped")
    if skipped is not None:
        return "xfailed" if skipped.get("type") == XFAIL else "skipped"
    return "passed"


def count(junit: Path) -> Counter[str]:
    return Counter(outcome(tc) for tc in ET.parse(junit).getroot().iter("testcase"))


def closing_line(junit: Path, status: int) -> str:
    if not junit.exists():
        return f"scripts/test: no results: pytest stopped with status {status} before " \
               f"writing {junit}"
    found = count(junit)
    line = (f"scripts/test: {found['passed']} passed, {found['failed']} failed, "
            f"{found['skipped']} skipped")
    if found["xfailed"]:
        line += f", {found['xfailed']} xfailed"
    return line + (f" (exit status {status})" if status else "")


def main(argv: list[str]) -> None:
    print(closing_line(Path(argv[0]), int(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
