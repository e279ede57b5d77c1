"""Cases: versioned, compressed snapshots of an app's data, readable outside Modelport.

A case is a zip holding ``modelport-case.json`` (magic and format version), ``manifest.json``
(app, identifiers, sha256 of every member) and one zstd Parquet table per identifier under
``data/``. See docs/case-format.md.

>>> import io
>>> from modelport.case import read_case, write_case
>>> buf = io.BytesIO()
>>> _ = write_case(buf, "demo", "1.0", {"items": ["a", "b"], "weight": {"a": 2.0}})
>>> read_case(buf.getvalue()).values("weight")
{'a': 2.0}
"""

from modelport.case.diff import CaseDiff, ElementChange, IdentifierDiff, diff_cases
from modelport.case.errors import CODES, CaseError
from modelport.case.export import export, to_pandas
from modelport.case.reader import Case, read_case
from modelport.case.safety import Limits
from modelport.case.schema import FORMAT_VERSION, MAGIC, SUFFIX, IdentifierInfo
from modelport.case.writer import Written, infer_info, write_case

__all__ = [
    "CODES",
    "FORMAT_VERSION",
    "MAGIC",
    "SUFFIX",
    "Case",
    "CaseDiff",
    "CaseError",
    "ElementChange",
    "IdentifierDiff",
    "IdentifierInfo",
    "Limits",
    "Written",
    "diff_cases",
    "export",
    "infer_info",
    "read_case",
    "to_pandas",
    "write_case",
]
