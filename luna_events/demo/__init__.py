"""The demo: simulated luna-tasks and luna-remote-sdk traffic, shipped to a private InfluxDB."""
