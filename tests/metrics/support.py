"""Reading ``/metrics`` and the series table of docs/operations.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
SERVICES = ("portal", "backend", "session", "solve")
_ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| (?P<type>\w+) \| (?P<labels>[^|]*) \| "
                  r"(?P<services>[^|]*) \| (?P<meaning>[^|]+) \|$")


@dataclass(frozen=True)
class DocumentedSeries:
    name: str  # as written: counters end in _total
    type: str
    labels: frozenset[str]
    services: frozenset[str]

    @property
    def family(self) -> str:
        """The family name prometheus-client's parser reports (``_total`` dropped)."""
        return self.name.removesuffix("_total") if self.type == "counter" else self.name


def documented_series() -> list[DocumentedSeries]:
    """Rows of the table under ``### Series`` in docs/operations.md."""
    text = DOC.read_text()
    table = text.split("### Series", 1)[1]
    rows = []
    for line in table.splitlines():
        found = _ROW.match(line)
        if found:
            labels = frozenset(re.findall(r"`(\w+)`", found["labels"]))
            services = frozenset(s.strip() for s in found["services"].split(","))
            rows.append(DocumentedSeries(found["name"], found["type"], labels, services))
        elif rows and not line.startswith("|"):
            break
    return rows


async def scrape(url: str, headers: dict[str, str] | None = None) -> dict[str, Metric]:
    """The metric families served at ``url`` (which must answer 200 in Prometheus's text
    format), by family name."""
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        text = await resp.text()
        assert resp.status == 200, text
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4"), resp.headers
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample_value(families: dict[str, Metric], family: str, suffix: str = "",
                 **labels: str) -> float:
    """The value of the sample ``family + suffix`` whose labels include ``labels``; 0 when
    there is none (a labelled child not yet created)."""
    metric = families.get(family)
    if metric is None:
        return 0.0
    for sample in metric.samples:
        if sample.name == family + suffix and labels.items() <= sample.labels.items():
            return float(sample.value)
    return 0.0


def label_names(metric: Metric) -> set[str]:
    """Label names of a family's samples, without the histogram's ``le``."""
    names: set[str] = set()
    for sample in metric.samples:
        if not sample.name.endswith("_created"):
            names |= sample.labels.keys() - {"le"}
    return names
