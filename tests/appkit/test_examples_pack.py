"""The examples pass the app packer's checks (manifest fields, files, imports)."""

from __future__ import annotations

import pytest

from common.packages import app as packages
from tests.appkit.conftest import EXAMPLES


@pytest.mark.parametrize("name", ["transport", "facility-location", "sleeper"])
def test_example_passes_the_packer_checks(name: str) -> None:
    manifest, files = packages.check_app(EXAMPLES / name)
    assert manifest.name == name and "app.py" in files
