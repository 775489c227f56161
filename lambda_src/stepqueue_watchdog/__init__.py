"""Measures how long each state machine's oldest RUNNING execution has run (the watchdog)."""

from stepqueue_watchdog.watch import Watched, watch

__all__ = ["Watched", "watch"]
