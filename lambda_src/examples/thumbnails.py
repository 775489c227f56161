"""A worker with its own dependency, setting and permission (workflows/extras/thumbnails.yaml).

``thumbnail`` reads an image from the bucket named by ``THUMBNAIL_BUCKET`` (the deployment's
payload bucket, set in the spec's ``environment``), shrinks it with Pillow (the worker's own
pinned dependency, shipped in its own artifact) and returns the thumbnail's size. The
``s3:GetObject`` it needs is the worker's own ``permissions`` statement; nothing else grants it.
"""

from __future__ import annotations

import io
import os
from typing import Any

import boto3
import PIL
from PIL import Image
from stepqueue_runtime import TaskContext, TaskFailed

MAX_SIDE = 4096


def thumbnail(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """``{"key": str, "size": int}`` → ``{"width", "height", "format", "pillow"}``.

    ``pillow`` says where Pillow was imported from and which version: the artifact's."""
    key, size = payload.get("key"), payload.get("size", 128)
    if type(key) is not str or not key:
        raise TaskFailed("Thumbnails.NoKey", "the input has no key string")
    if type(size) is not int or not 1 <= size <= MAX_SIDE:
        raise TaskFailed("Thumbnails.BadSize", f"size must be 1..{MAX_SIDE}")
    bucket = os.environ["THUMBNAIL_BUCKET"]
    # Refused (AccessDenied without the worker's permission): the task fails with that error.
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with Image.open(io.BytesIO(body)) as image:
        image.thumbnail((size, size))
        width, height = image.size
        return {
            "width": width,
            "height": height,
            "format": image.format,
            "bucket": bucket,
            "pillow": {"version": PIL.__version__, "file": PIL.__file__},
        }
