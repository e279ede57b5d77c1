"""solve_svc: runs solve jobs in fresh containers on the Docker hosts.

For now a skeleton: ping over RPC, a command queue and a status server.
"""
