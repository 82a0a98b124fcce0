"""Slack listeners. Each module exposes ``register(app, deps)``; they never touch httpx or redis."""
