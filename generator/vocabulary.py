"""The words and numbers that validation and rendering must agree on, each defined once.

State kinds, the fields each state type accepts, the names the generator reserves for its own
states, and every limit with where it comes from. Data only: the checks live elsewhere.
"""

from __future__ import annotations

# -- names (docs/contracts.md) -----------------------------------------------------------------

WORKFLOW_NAME = r"^[a-z][a-z0-9-]{0,29}$"
WORKER_NAME = r"^[a-z][a-z0-9_]{0,29}$"
SEMAPHORE_NAME = WORKFLOW_NAME  # the default is the workflow name; terraform/ checks the same
STATE_NAME_MAX = 80  # ASL: state names are at most 80 characters

# Generated states share one prefix so that no user state can collide with them.
RESERVED_PREFIX = "StepQueue:"
ACQUIRE = RESERVED_PREFIX + "Acquire"
ACQUIRE_TIMEOUT = RESERVED_PREFIX + "AcquireTimeout"
RELEASE = RESERVED_PREFIX + "Release"  # before the end of an End: true state
RELEASE_BEFORE = RESERVED_PREFIX + "Release:"  # + the name of a Succeed or Fail state
RELEASE_ON_ERROR = RESERVED_PREFIX + "ReleaseOnError"
RERAISE = RESERVED_PREFIX + "Reraise"
RELEASE_NO_MATCH = RESERVED_PREFIX + "ReleaseNoChoiceMatched"
RELEASE_FAILED = RESERVED_PREFIX + "ReleaseNotPosted"  # the waiting room's release gave up
NO_MATCH = RESERVED_PREFIX + "NoChoiceMatched"

# -- the spec's top level ----------------------------------------------------------------------

# The state machine part, copied into the definition as written.
MACHINE_FIELDS = ("Comment", "QueryLanguage", "StartAt", "States", "TimeoutSeconds", "Version")
TOP_LEVEL = frozenset({"name", "concurrency", "workers", *MACHINE_FIELDS})
CONCURRENCY_KEYS = frozenset(
    {
        "limit",
        "semaphore",
        "max_wait_seconds",
        "mode",
        "per_key",
        "rate",
        "priority",
        "aging_seconds",
        "expected_burst",
    }
)
# concurrency.expected_burst: the burst a semaphore is sized for (generator/semaphore.py checks
# max_wait_seconds against it). The rates are AWS's published StartExecution bucket (us-east-1,
# Standard) and the gatekeeper's ceiling per semaphore at central latencies, from
# testkit/scale_model.py (tests/unit/generator/test_burst_sizing.py holds them equal).
EXPECTED_BURST_KEYS = frozenset({"executions", "body_seconds"})
EXPECTED_BURST_MAX = 1_000_000_000
BODY_SECONDS_MAX = 604_800  # a week: a slot held longer is a lease, not a burst's body
START_EXECUTION_BUCKET, START_EXECUTION_PER_S = 1_300, 300
GATEKEEPER_CEILING_PER_S = 102
# A freed slot is granted again one gatekeeper batch after its release (the model's granting
# batch at central latencies, 98 ms, rounded up to 0.1 s): each slot turns over every
# body_seconds + this, not every body_seconds.
SLOT_TURNOVER_S = 0.1
# Admission controls of a waiting-room semaphore (docs/design.md §4b). The bounds are the
# gatekeeper's (lambda_src/stepqueue_gatekeeper/rules.py), so no spec passes here and fails there.
PER_KEY_KEYS = frozenset({"key", "limit"})
RATE_KEYS = frozenset({"per_second", "burst"})
RATE_MIN, RATE_MAX = 0.001, 10_000.0
BURST_MAX = 100_000
AGING_DEFAULT_SECONDS, AGING_MAX_SECONDS = 60, 86_400
# How an execution waits for a slot (docs/design.md §4): parked in the waiting room, the only
# mode. `mode: waiting_room` may still be written; the first version's `mode: polling` was
# retired and is refused with how to migrate (spec.py).
WAITING_ROOM = "waiting_room"
RETIRED_POLLING = "polling"

# -- query languages (docs/design.md, "JSONata") ----------------------------------------------

JSONPATH = "JSONPath"  # the default, top level and per state
JSONATA = "JSONata"
QUERY_LANGUAGES = frozenset({JSONPATH, JSONATA})
# The fields only a JSONPath state may have, each with what a JSONata state writes instead.
JSONPATH_ONLY: dict[str, str] = {
    "Parameters": "Arguments (a Task or Parallel) or ItemSelector (a Map) with {% %} values",
    "InputPath": "Arguments or Output reading '{% $states.input.field %}'",
    "OutputPath": "Output: '{% $states.result.field %}'",
    "ResultPath": "Output or Assign using '{% $states.result %}'",
    "ResultSelector": "Output: {key: '{% $states.result.field %}'}",
    "TimeoutSecondsPath": "TimeoutSeconds: '{% $states.input.timeout %}'",
    "HeartbeatSecondsPath": "HeartbeatSeconds: '{% $states.input.heartbeat %}'",
    "ItemsPath": "Items: '{% $states.input.items %}'",
    "MaxConcurrencyPath": "MaxConcurrency: '{% ... %}'",
    "ToleratedFailurePercentagePath": "ToleratedFailurePercentage: '{% ... %}'",
    "ToleratedFailureCountPath": "ToleratedFailureCount: '{% ... %}'",
    "SecondsPath": "Seconds: '{% $states.input.seconds %}'",
    "TimestampPath": "Timestamp: '{% $states.input.when %}'",
    "ErrorPath": "Error: '{% $states.input.error %}'",
    "CausePath": "Cause: '{% $states.input.cause %}'",
}
# The fields only a JSONata state may have.
JSONATA_ONLY = frozenset({"Arguments", "Output", "Items"})
# What `$states` holds in a JSONata expression; `result` and `errorOutput` only where AWS sets
# them (a Task's, Parallel's or Map's Output and Assign; a catcher's Output and Assign).
STATES_FIELDS = frozenset({"input", "context", "result", "errorOutput"})
# Step Functions' own JSONata functions beside the JSONata 2.0.6 library, which it serves
# except $eval (use $parse).
AWS_JSONATA_FUNCTIONS = frozenset({"partition", "range", "hash", "random", "uuid", "parse"})
JSONATA_FUNCTIONS = frozenset(
    {
        # aggregation and numbers
        "sum", "count", "max", "min", "average", "number", "abs", "floor", "ceil", "round",
        "power", "sqrt", "random", "formatNumber", "formatBase", "formatInteger", "parseInteger",
        # strings
        "string", "substring", "substringBefore", "substringAfter", "lowercase", "uppercase",
        "length", "trim", "pad", "contains", "split", "join", "match", "replace",
        "base64encode", "base64decode", "encodeUrlComponent", "encodeUrl",
        "decodeUrlComponent", "decodeUrl",
        # booleans, objects, arrays, higher order
        "boolean", "not", "exists", "keys", "lookup", "spread", "merge", "sift", "each",
        "error", "assert", "type", "sort", "reverse", "shuffle", "distinct", "zip", "append",
        "map", "filter", "single", "reduce",
        # dates and times
        "now", "millis", "fromMillis", "toMillis",
    }
)  # fmt: skip
# The JSONata form of what the generated JSONPath states read with `$`, `$$` and intrinsics;
# templates reach them as `jsonata.<key>` (Jinja would read a literal `{%` as a tag).
JSONATA_FORMS = {
    "input": "{% $states.input %}",
    "task_token": "{% $states.context.Task.Token %}",
    "state_name": "{% $states.context.State.Name %}",
    "execution_id": "{% $states.context.Execution.Id %}",
    "start_time": "{% $states.context.Execution.StartTime %}",
    # One value per entry of a state by one execution, as the JSONPath form's States.Hash.
    "entry_hash": "{% $hash($states.context.Execution.Id & ' ' & "
    "$states.context.State.EnteredTime, 'SHA-256') %}",
    "error_output": "{% $states.errorOutput %}",
    "error": "{% $states.input.Error %}",
    "cause": "{% $states.input.Cause %}",
}
VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
VARIABLE_NAME_MAX = 80
RESERVED_VARIABLE = "states"

# -- state kinds -------------------------------------------------------------------------------

TERMINAL = frozenset({"Succeed", "Fail"})
FLOW = frozenset({"Pass", "Task", "Wait", "Parallel", "Map"})  # need Next or End
FALLIBLE = frozenset({"Task", "Parallel", "Map"})  # may Retry and Catch
NESTING = frozenset({"Parallel", "Map"})  # hold scopes of their own

_COMMON = {"Type", "Comment", "QueryLanguage"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End", "Assign", "Output"}
_FALLIBLE = {"Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"}
_TASK = {
    "Resource",
    "Worker",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Credentials",
    "Arguments",
}
_MAP = {
    "ItemProcessor",
    "Iterator",
    "ItemsPath",
    "ItemSelector",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "Label",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Items",
}
WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")  # exactly one of them
FIELDS: dict[str, frozenset[str]] = {
    "Pass": frozenset(_COMMON | _IO | _FLOW | {"Parameters", "Result", "ResultPath"}),
    "Task": frozenset(_COMMON | _IO | _FLOW | _FALLIBLE | _TASK),
    "Choice": frozenset(_COMMON | _IO | {"Choices", "Default", "Assign", "Output"}),
    "Wait": frozenset(_COMMON | _IO | _FLOW | set(WAIT_FIELDS)),
    "Succeed": frozenset(_COMMON | _IO | {"Output"}),
    "Fail": frozenset(_COMMON | {"Error", "ErrorPath", "Cause", "CausePath"}),
    "Parallel": frozenset(_COMMON | _IO | _FLOW | _FALLIBLE | {"Branches", "Arguments"}),
    "Map": frozenset(_COMMON | _IO | _FLOW | _FALLIBLE | _MAP),
}
# Free-form JSON whose `.$` keys hold paths or intrinsic functions.
PAYLOAD_FIELDS = ("Parameters", "ResultSelector", "ItemSelector", "Assign")
# JSONata: free-form JSON whose strings may be {% %} expressions.
TEMPLATE_FIELDS = ("Arguments", "Output", "Assign", "ItemSelector", "Credentials")
# JSONata: a number, or one expression that evaluates to it: (minimum, maximum).
NUMBER_OR_EXPRESSION: dict[str, tuple[int, int]] = {
    "MaxConcurrency": (0, 99999999),
    "ToleratedFailurePercentage": (0, 100),
    "ToleratedFailureCount": (0, 99999999),
}

# Fields that set the same thing, a value and the `...Path` field that reads it from the input
# (for a Map also ItemSelector and its former name Parameters): at most one of each pair in a
# state, an ItemReader's ReaderConfig or an ItemBatcher (ASL; AWS refuses both).
TASK_EXCLUSIVE = (
    ("TimeoutSeconds", "TimeoutSecondsPath"),
    ("HeartbeatSeconds", "HeartbeatSecondsPath"),
)
MAP_EXCLUSIVE = (
    ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ("ItemSelector", "Parameters"),
)
FAIL_EXCLUSIVE = (("Error", "ErrorPath"), ("Cause", "CausePath"))
READER_CONFIG_EXCLUSIVE = (("MaxItems", "MaxItemsPath"),)
ITEM_BATCHER_EXCLUSIVE = (
    ("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
    ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"),
)

SCOPE_FIELDS = frozenset({"StartAt", "States", "Comment"})  # a Parallel branch
ITEM_PROCESSOR_FIELDS = SCOPE_FIELDS | {"ProcessorConfig"}  # a Map's ItemProcessor or Iterator
PROCESSOR_CONFIG_FIELDS = frozenset({"Mode", "ExecutionType"})
MAP_MODES = frozenset({"INLINE", "DISTRIBUTED"})
EXECUTION_TYPES = frozenset({"STANDARD", "EXPRESS"})

# -- Retry and Catch ---------------------------------------------------------------------------

ERROR_ALL = "States.ALL"
RETRIER_FIELDS = frozenset(
    {
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    }
)
RETRIER_MINIMUMS = (("IntervalSeconds", 1), ("MaxAttempts", 0), ("MaxDelaySeconds", 1))
JITTER_STRATEGIES = frozenset({"FULL", "NONE"})
CATCHER_FIELDS = frozenset({"ErrorEquals", "Next", "ResultPath", "Comment", "Assign", "Output"})

# -- Choice rules ------------------------------------------------------------------------------


def _ops(family: str) -> frozenset[str]:
    return frozenset(
        family + suffix
        for suffix in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    )


STRING_OPS = _ops("String")
NUMERIC_OPS = _ops("Numeric")
TIMESTAMP_OPS = _ops("Timestamp")
TYPE_TESTS = frozenset({"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"})
VALUE_OPS = STRING_OPS | NUMERIC_OPS | TIMESTAMP_OPS | {"BooleanEquals"}
PATH_OPS = frozenset(op + "Path" for op in VALUE_OPS)
COMPARISONS = VALUE_OPS | PATH_OPS | TYPE_TESTS | {"StringMatches"}
COMBINATORS = ("And", "Or", "Not")

# -- limits ------------------------------------------------------------------------------------

ASL_SECONDS_MAX = 99999999
# A Worker task waits for its token; without a timeout a lost message would hold the execution
# until the ASL maximum.
TASK_TIMEOUT_DEFAULT = 1800

# Worker settings: (minimum, maximum, default, why). None default = optional or derived.
WORKER_FIELDS: dict[str, tuple[int, int, int | None, str]] = {
    "timeout_seconds": (1, 900, 30, "the Lambda maximum is 900 s"),
    "memory_mb": (128, 10240, 256, "Lambda memory is 128..10240 MB"),
    "batch_size": (1, 10000, 1, "SQS event source mappings take 1..10000"),
    "batching_window_seconds": (0, 300, 0, "the SQS batching window is 0..300 s"),
    "max_concurrency": (2, 1000, 2, "SQS event source maximum concurrency is 2..1000"),
    "reserved_concurrency": (1, 100000, None, "reserved concurrency must be positive"),
    "max_receive_count": (1, 1000, 5, "the SQS redrive policy allows 1..1000"),
    "message_retention_seconds": (60, 1209600, 345600, "SQS keeps messages 60 s..14 days"),
    "delay_seconds": (0, 900, 0, "SQS delivery delay is 0..900 s"),
    "visibility_timeout_seconds": (0, 43200, None, "the SQS maximum is 12 hours"),
    "ephemeral_storage_mb": (512, 10240, 512, "Lambda's /tmp is 512..10240 MB"),
}
# A worker's own Lambda settings (generator/worker_deployment.py, docs/contracts.md).
WORKER_DEPLOYMENT_KEYS = frozenset(
    {
        "dependencies",
        "requirements",
        "architecture",
        "environment",
        "permissions",
        "log_retention_days",
        "vpc",
        "layers",
        "tags",
    }
)
WORKER_KEYS = frozenset({"handler", "group_by", *WORKER_FIELDS, *WORKER_DEPLOYMENT_KEYS})
# `group_by` (fair queues, docs/design.md §3a): SQS takes a MessageGroupId of 1..128 letters,
# digits and punctuation, so the tenant is sent as the hex digest of its text, which always fits;
# States.Hash hashes at most 10,000 characters (the JSONPath form's bound on the tenant's text).
GROUP_BY_HASH = "MD5"
GROUP_BY_TEXT_MAX_CHARS = 10000
# Above 10 messages per batch AWS requires a batching window of at least 1 s.
BATCH_SIZE_WITHOUT_WINDOW = 10
# AWS guidance for SQS-triggered Lambda: visibility >= 6 x function timeout + batching window.
VISIBILITY_FACTOR = 6
VISIBILITY_SLACK = 30  # our default adds a little on top of the minimum

MAX_WAIT_DEFAULT = 3600
MAX_WAIT_MAX = 31536000  # a standard execution lives at most one year

# The waiting room: the limit lives in a small counter item, so it is bounded by what one
# semaphore's message group can serve, not by an item's size; the gatekeeper checks the same.
WAITING_ROOM_LIMIT_MAX = 100000
# Release posts to the waiting room, retried this often before it leaves the slot to the
# sweep (it never fails an execution whose body succeeded).
RELEASE_MAX_ATTEMPTS = 8
