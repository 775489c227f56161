"""Running everything on this machine: the moto emulator and its shims, the local event-source
runner, the demo and its report, and the scenarios that tests and benchmarks drive."""
