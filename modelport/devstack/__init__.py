"""``modelport dev up/down``: the whole platform as local processes for development.

``plan`` decides what runs where (ports, environment), ``state`` keeps the state directory
(pids, cookie secret, logs), ``procs`` starts, watches and stops processes, ``stack`` ties them
together for the CLI.
"""
