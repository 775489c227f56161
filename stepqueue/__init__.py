"""stepqueue: Step Functions workflows whose tasks are queued to SQS workers.

The `stepqueue` command (stepqueue.cli) dispatches to three packages, each for one audience:
`generator` (specs → ASL and Terraform inputs), `stepqueue.deploy` (build the inputs, run
Terraform against AWS) and `stepqueue.local` (the emulator, the local event-source runner, the
demo).
"""
