"""Print the service image's requirements, one a line: the project's dependencies from
pyproject.toml minus what only the runtime or the CLI needs (the solver, the data-frame
libraries, the terminal UI; the services read cases with pyarrow alone; click stays for
``python -m backend_svc admin``). Standard library only, so the image build runs it before
anything is installed:

    python3 deploy/service/requirements.py pyproject.toml > requirements.txt
"""

import re
import sys
import tomllib

NOT_IN_SERVICES = {"highspy", "numpy", "pandas", "rich"}


def name(requirement: str) -> str:
    """The normalised distribution name at the start of a PEP 508 requirement."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def main(pyproject: str) -> None:
    with open(pyproject, "rb") as handle:
        deps = tomllib.load(handle)["project"]["dependencies"]
    for dep in deps:
        if name(dep) not in NOT_IN_SERVICES:
            print(dep)


if __name__ == "__main__":
    main(sys.argv[1])
