"""Shared set-up of the property-based tests (hypothesis): example count and a hang guard.

``STDP_FUZZ_EXAMPLES`` (default 200) sets the examples per property; raise it for a longer run.
"""
import contextlib
import os
import signal

EXAMPLES = int(os.environ.get("STDP_FUZZ_EXAMPLES", "200"))


@contextlib.contextmanager
def no_hang(seconds: float = 10.0):
    """Fail (instead of waiting forever) when the block runs longer than ``seconds``."""
    def alarm(signum, frame):
        raise AssertionError(f"took longer than {seconds} s: a hang")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
