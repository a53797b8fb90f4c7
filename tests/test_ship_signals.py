"""The shipper's signal handling never deadlocks, whatever the main thread holds."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT
from .shipping import wait_until

# The main thread holds the lock of the topology's stop Event, as it does for a few
# bytecodes inside every `stop.wait()` of the read loop, when SIGTERM arrives. A
# handler that sets the Event itself waits for that lock in the thread holding it.
HOLDING_THE_STOP_LOCK = """
import os, signal, threading, types
from luna_events.ship import run

stop = threading.Event()
topology = types.SimpleNamespace(stopping=False, stop=stop, hurry=stop.set)
run._install_signals(topology)
with stop._cond:
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(100_000):  # Python runs the handler here, between two bytecodes
        pass
print("the handler returned", flush=True)
print("stopped" if stop.wait(60) else "not stopped", flush=True)
"""


def test_a_signal_while_the_main_thread_holds_the_stop_lock_still_stops():
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDING_THE_STOP_LOCK],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: process.poll() is not None, "the process to end (a deadlock?)", 60)
    finally:
        process.kill()
    stdout, stderr = process.communicate()
    assert stdout.splitlines() == ["the handler returned", "stopped"], stderr
    assert "signal 15: spooling the open batch and stopping" in stderr
