"""Plan time of the Terraform root against the local emulator, for 1 and for 20 workflows.

    python -m bench.terraform [--workflows 20] [--spec workflows/burst.yaml] [--repeat 3]

N copies of one spec (renamed bench01..benchNN) go through the generator API into a temp dir;
the Lambda zip is built into another. One emulator, one data dir: `terraform init` runs once
(the second deployment reuses it), nothing is applied, and each `terraform plan` is timed from
an empty state (so every resource is planned for creation: the worst case of a plan). The
median of `--repeat` runs is reported. The last stdout line is one JSON object:

    {"plan_seconds_1": .., "plan_seconds_20": .., "resources_1": .., "resources_20": ..,
     "terraform": "1.11.4", "provider": "5.100.0", ...}
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stepqueue.deploy.artifacts import build_lambda_zip, generate
from stepqueue.deploy.terraform import Terraform
from stepqueue.local.deployment import local_deployment
from stepqueue.local.emulator import Emulator
from stepqueue.paths import REPO
from testkit.synthetic_specs import renamed_copies

_PLAN_SUMMARY = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")


def time_plan(tf: Terraform, repeat: int) -> tuple[float, int]:
    samples = []
    resources = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = tf.plan()
        samples.append(time.perf_counter() - start)
        match = _PLAN_SUMMARY.search(result.output)
        resources = int(match.group(1)) if match else 0
    return statistics.median(samples), resources


def versions(tf: Terraform) -> tuple[str, str]:
    """Terraform's version and the AWS provider selected in `tf`'s data dir."""
    data = tf.version()
    selections: dict[str, Any] = data.get("provider_selections", {})
    # Keys are "<source host>/hashicorp/aws"; match on the namespace/type, not the host.
    provider = next((str(v) for k, v in selections.items() if k.endswith("/hashicorp/aws")), "")
    return str(data.get("terraform_version", "")), provider


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.terraform", description=__doc__)
    parser.add_argument("--workflows", type=int, default=20, help="the larger deployment (20)")
    parser.add_argument("--spec", type=Path, default=REPO / "workflows" / "burst.yaml")
    parser.add_argument("--repeat", type=int, default=3, help="plans per size; median reported")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="stepqueue-bench-tf-") as tmp_name:
        tmp = Path(tmp_name)
        specs = renamed_copies(args.spec, args.workflows, tmp / "specs")
        small = generate(specs[:1], tmp / "generated-1")
        large = generate(specs, tmp / f"generated-{args.workflows}")
        lambda_zip = build_lambda_zip(tmp / "lambda")
        work_dir = tmp / "work"
        with Emulator() as emu:
            tf_small = local_deployment(
                emu.endpoint, work_dir, generated_dir=small, lambda_zip=lambda_zip
            )
            start = time.perf_counter()
            tf_small.init()
            init_seconds = time.perf_counter() - start
            tf_large = local_deployment(
                emu.endpoint, work_dir, generated_dir=large, lambda_zip=lambda_zip
            )
            tf_large.init()  # same data dir and configuration: skipped
            plan_small, resources_small = time_plan(tf_small, args.repeat)
            plan_large, resources_large = time_plan(tf_large, args.repeat)
            terraform_version, provider_version = versions(tf_small)

    result = {
        "plan_seconds_1": round(plan_small, 2),
        f"plan_seconds_{args.workflows}": round(plan_large, 2),
        "resources_1": resources_small,
        f"resources_{args.workflows}": resources_large,
        "init_seconds": round(init_seconds, 2),
        "repeat": args.repeat,
        "spec": args.spec.name,
        "terraform": terraform_version,
        "provider": provider_version,
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
