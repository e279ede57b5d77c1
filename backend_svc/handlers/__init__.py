"""The RPC edge of backend_svc: decode a contract, ask the policy, call the domain."""
