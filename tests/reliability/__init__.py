"""Reliability and security suite: replicas under SIGKILL, Redis/ZStack/Slack faults, security."""
