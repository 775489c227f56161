"""Where the project's parts live, relative to this checkout: the one place that knows."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / "workflows"
LAMBDA_SRC = REPO / "lambda_src"
TERRAFORM_ROOT = REPO / "terraform"
MODULES = REPO / "modules"
REQUIREMENTS = REPO / "requirements.txt"

BUILD = REPO / "build"
GENERATED = BUILD / "generated"
LAMBDA_DIR = BUILD / "lambda"
LAMBDA_ZIP = LAMBDA_DIR / "stepqueue.zip"
PORT_FILE = BUILD / "emulator.port"
LOCAL_STATE = BUILD / "local-state"
DEPS_CACHE = BUILD / "cache" / "lambda-deps"
