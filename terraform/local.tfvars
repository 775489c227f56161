# Settings for the local emulator (bench/local/emulator.py). The endpoint's port is chosen when
# the emulator starts, so the caller passes it: -var aws_endpoint_url=http://127.0.0.1:PORT
region = "us-east-1"

# moto answers 500 to the APIs it lacks; do not let the provider retry them for minutes.
max_retries = 2

# moto would try to run the Lambda in Docker on every message: create the mappings disabled,
# the local runner (bench/local) polls the queues instead (DESIGN.md §8).
event_source_mapping_enabled = false

# Everything else keeps the production defaults (log retention 365 days, tracing, ...), so a
# local plan is the plan checkov scans and the one AWS would get.
