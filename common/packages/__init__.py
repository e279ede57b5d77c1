"""Package formats: signed runtime packages, encrypted app packages, and their keys.

See ``docs/package-formats.md`` for the byte layouts.
"""
