"""Reclaims semaphore slots held by executions that ended without releasing them."""

from stepqueue_reclaimer.reclaim import reclaim_execution, sweep

__all__ = ["reclaim_execution", "sweep"]
