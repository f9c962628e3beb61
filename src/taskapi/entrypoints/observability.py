"""Powertools Logger, Tracer and Metrics shared by every function, configured by the standard
``POWERTOOLS_*`` environment variables (the defaults serve local runs and tests).

With tracing off (``POWERTOOLS_TRACE_DISABLED``, or outside Lambda) the Tracer gets a provider
that does nothing, so the X-Ray SDK is never imported. See docs/performance.md#cold-start.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from taskapi.service.correlation import CorrelationFilter

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "taskapi")

logger = Logger(service=SERVICE_NAME)
# Lines written while the local dispatcher delivers an event carry that event's correlation id.
CORRELATION_FILTER = CorrelationFilter()
logger.registered_handler.addFilter(CORRELATION_FILTER)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "taskapi"), service=SERVICE_NAME
)

# A read records no metric by design; @metrics.log_metrics would warn about it every time.
warnings.filterwarnings("ignore", "No application metrics to publish", UserWarning)


class _Off(BaseSegment, BaseProvider):
    """A segment and a provider that record nothing: tracing is off."""

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        return None

    @contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield self

    def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> Any:
        raise NotImplementedError("no function of this service is asynchronous")

    def patch(self, modules: Sequence[str]) -> None:
        return None

    def patch_all(self) -> None:
        return None


class _QuietTracer(Tracer):
    @staticmethod
    def _disable_tracer_provider() -> None:
        # Powertools switches the X-Ray SDK off here, importing it to do so; it is never used.
        return None

    def capture_lambda_handler(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[..., Any]:
        # The handler itself: its subsegment, annotations and metadata would go to _Off, which
        # records nothing, at a few microseconds per invocation (docs/performance.md).
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler


def _tracer() -> Tracer:
    if Tracer._is_tracer_disabled():
        return _QuietTracer(service=SERVICE_NAME, disabled=True, provider=_Off())
    return Tracer(service=SERVICE_NAME)


tracer = _tracer()
