"""Workloads driven against the emulator by the demo, the tests and the benchmarks."""
