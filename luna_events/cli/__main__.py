"""``python -m luna_events.cli``."""

from luna_events.cli import main

main()
