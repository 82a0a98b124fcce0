"""Talking to ZStack: the HTTP client (the only httpx user), the wire models, the query grammar and
the webhook addresses ZStack calls back on."""
