"""The price table `stepqueue cost` bills with: AWS's published on-demand prices for US East
(N. Virginia), free tiers left out, with the date they were read and where.

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


def render(prices: Prices = US_EAST_1) -> str:
    rows = [
        ("Step Functions Standard", f"${prices.usd_per_1000_transitions} per 1,000 transitions"),
        ("SQS standard", f"${prices.usd_per_million_sqs_standard:.2f} per million requests"),
        ("SQS FIFO", f"${prices.usd_per_million_sqs_fifo:.2f} per million requests"),
        ("Lambda requests", f"${prices.usd_per_million_lambda_requests:.2f} per million"),
        (
            "Lambda duration",
            f"${prices.usd_per_lambda_gb_second:.10f}".rstrip("0") + " per GB-s (x86_64)",
        ),
        ("DynamoDB on-demand", f"${prices.usd_per_million_write_units} per million write units"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"prices: {REGION}, on-demand, free tiers left out, read {CHECKED} from AWS's pages"]
    lines += [f"  {name:<{width}}  {text}" for name, text in rows]
    return "\n".join(lines)
