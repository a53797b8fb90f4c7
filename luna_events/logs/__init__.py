"""Writing monitoring events as JSON log lines: stdlib logging and structlog."""
