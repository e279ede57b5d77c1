"""``python -m modelport``: the same as the ``modelport`` command."""

from modelport.cli.main import cli

if __name__ == "__main__":
    cli()
