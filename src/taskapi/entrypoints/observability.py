"""Powertools Logger, Tracer and Metrics shared by every function, configured by the standard
``POWERTOOLS_*`` environment variables (the defaults serve local runs and tests)."""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "taskapi")

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "taskapi"), service=SERVICE_NAME
)
# Tracing switches itself off outside Lambda (no X-Ray daemon to talk to).
tracer = Tracer(service=SERVICE_NAME)

# A read records no metric by design; @metrics.log_metrics would warn about it every time.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)
