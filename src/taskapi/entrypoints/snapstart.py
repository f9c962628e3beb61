"""Lambda SnapStart (template parameter ``SnapStart``): do the per-container work at init, so
the snapshot holds it, and make what must differ per container differ again after a restore.

The snapshot keeps the object graph ``bootstrap`` caches (settings, stores, boto3 clients);
``uuid4`` ids come from ``os.urandom`` and stay unique, but ``random`` (retry jitter) would
replay one sequence in every restored container, so it is reseeded. docs/performance.md#snapstart.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable


def prepare(build: Callable[[], object]) -> None:
    """At a SnapStart init, build the function's object graph now and reseed ``random`` on
    every restore; otherwise do nothing (the first invocation builds it, as usual)."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return
    # Provided by Lambda's Python runtime (3.12+) when SnapStart is on.
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]  # noqa: PLC0415

    build()
    register_after_restore(random.seed)
