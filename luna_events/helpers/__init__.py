"""Helpers that time and emit the service-specific series of luna-tasks and luna-remote-sdk."""
