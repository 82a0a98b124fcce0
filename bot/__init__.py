"""ZStack Clone Bot: clone ZStack AIOS model services from Slack, with approval in the thread."""

__version__ = "0.1.0"
