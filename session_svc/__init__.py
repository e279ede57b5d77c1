"""session_svc: starts, watches and stops data-session containers on the Docker hosts.

For now a skeleton: ping over RPC, a command queue and a status server.
"""
