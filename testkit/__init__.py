"""Workloads the tests and the benchmarks drive against the emulator: semaphore stresses with
injected faults, stand-in executions, synthetic specs. Not part of the stepqueue package (the
wheel holds none of it)."""
