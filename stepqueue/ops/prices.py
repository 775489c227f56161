"""The price table `stepqueue cost` and `bench/scale.py` bill with, and docs/cost.md shows: AWS's
published on-demand prices for US East (N. Virginia), free tiers left out, with the date they
were read and the page each was read from. The one copy: the docs' table is generated from it
(`python -m stepqueue.ops.prices` prints it) and tests/unit/ops/test_prices_docs.py checks that
docs/cost.md holds it and that no document quotes another unit price.

A price here is a fact copied from AWS's pricing pages, never a guess: change one only together
with its date and source.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

REGION = "us-east-1"
CHECKED = "2026-12-02"  # the day these numbers were read from the pages below

SOURCES = {
    "step_functions": "https://aws.amazon.com/step-functions/pricing/",
    "sqs": "https://aws.amazon.com/sqs/pricing/",
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
}
PAGES = {  # each source's title, as AWS names the page
    "step_functions": "AWS Step Functions Pricing",
    "sqs": "Amazon SQS Pricing",
    "lambda": "AWS Lambda Pricing",
    "dynamodb": "Amazon DynamoDB Pricing for On-Demand Capacity",
}


@dataclass(frozen=True)
class Prices:
    usd_per_1000_transitions: float  # Step Functions Standard; every retry is one more
    usd_per_million_sqs_standard: float  # per request of up to 64 KB, first 100 billion/month
    usd_per_million_sqs_fifo: float
    usd_per_million_lambda_requests: float
    usd_per_lambda_gb_second: float  # x86_64, the architecture every function here uses
    usd_per_million_write_units: float  # DynamoDB on-demand (Standard table class)

    def as_json(self) -> dict[str, Any]:
        return {"region": REGION, "checked": CHECKED, "sources": SOURCES, **asdict(self)}


US_EAST_1 = Prices(
    usd_per_1000_transitions=0.025,
    usd_per_million_sqs_standard=0.40,
    usd_per_million_sqs_fifo=0.50,
    usd_per_million_lambda_requests=0.20,
    usd_per_lambda_gb_second=0.0000166667,
    # Halved from $1.25 on 1 November 2024 (AWS's on-demand price reduction).
    usd_per_million_write_units=0.625,
)


def rows(prices: Prices = US_EAST_1) -> list[tuple[str, str, str]]:
    """(what is billed, its price as the docs and the tool print it, source key)."""
    gb_second = f"${prices.usd_per_lambda_gb_second:.10f}".rstrip("0")
    return [
        (
            "Step Functions Standard",
            f"${prices.usd_per_1000_transitions} per 1,000 transitions",
            "step_functions",
        ),
        ("SQS standard", f"${prices.usd_per_million_sqs_standard:.2f} per million requests", "sqs"),
        ("SQS FIFO", f"${prices.usd_per_million_sqs_fifo:.2f} per million requests", "sqs"),
        (
            "Lambda requests",
            f"${prices.usd_per_million_lambda_requests:.2f} per million requests",
            "lambda",
        ),
        ("Lambda duration", f"{gb_second} per GB-s (x86_64)", "lambda"),
        (
            "DynamoDB on-demand",
            f"${prices.usd_per_million_write_units} per million write request units",
            "dynamodb",
        ),
    ]


def render(prices: Prices = US_EAST_1) -> str:
    """The table as `stepqueue cost` prints it above an estimate."""
    table = [(name, text) for name, text, _ in rows(prices)]
    width = max(len(name) for name, _ in table)
    lines = [f"prices: {REGION}, on-demand, free tiers left out, read {CHECKED} from AWS's pages"]
    lines += [f"  {name:<{width}}  {text}" for name, text in table]
    return "\n".join(lines)


def markdown(prices: Prices = US_EAST_1) -> str:
    """The table as docs/cost.md shows it, each price with the page it was read from."""
    lines = [
        f"Region `{REGION}` (US East, N. Virginia), on-demand, free tiers left out; read "
        f"{CHECKED} from the pages named.",
        "",
        "| billed | price | read from |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {text} | [{PAGES[key]}]({SOURCES[key]}) |" for name, text, key in rows(prices)
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
