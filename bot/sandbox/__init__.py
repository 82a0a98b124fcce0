"""Local stand-ins for the outside world: the ZStack simulator, the Slack emulator, the sandbox."""
