"""The ASL part of a spec: StartAt, States and everything nested in them.

`machine.check_machine` walks every scope (top level, each Parallel branch, each Map
processor) and hands each state to the check for its concern: `fields` (which keys a state
type takes, and the fields every type shares), `graph` (transitions, reachability, state
names), `states` (the rules of each state type, with `lambda_function` for the function a
Task calls), `choice` (Choice rules), `retry_catch` (retriers and catchers) and `paths`
(JSONPath and intrinsic functions). The `Worker:` key of a Task is the project's own rule,
handed to the caller through a hook.
"""
