"""Slack's side of the boundary: the verified door (signature and payload shape), replay
protection, the Web API client and the delivery of notices, error answers."""
