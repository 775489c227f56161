"""Running everything on this machine: the moto emulator and its shims, the local event-source
runner, the demo, its burst and its report. (The workloads tests and benchmarks drive live in
testkit/, outside the package.)"""
