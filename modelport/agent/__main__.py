"""``python -m modelport.agent run ...``: see modelport.agent.cli and docs/agent.md."""

import sys

from modelport.agent.cli import main

if __name__ == "__main__":
    sys.exit(main())
