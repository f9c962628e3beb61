"""Lambda: the scheduled reminder run (EventBridge Scheduler -> tasks due soon -> notifier).

The run is safe to repeat: each (task, due date) is reminded once, whatever the number of runs
or retries. A reminder that could not be sent is not marked, and the run then raises so that
Scheduler retries it (and, past its retries, dead-letters it) and the failure is visible; the
retry skips every reminder already sent.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from taskapi import bootstrap
from taskapi.entrypoints import snapstart
from taskapi.entrypoints.observability import logger, tracer


class RemindersFailed(Exception):
    """Some reminders could not be sent; the run must be retried."""


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:  # noqa: ARG001
    # The schedule carries no input: "now" comes from the service's clock.
    run = bootstrap.get_notification_service().send_reminders()
    summary = {
        "due_soon": run.due_soon,
        "sent": run.sent,
        "already_reminded": run.already_reminded,
        "failed": len(run.failed),
    }
    logger.info("reminder run finished", extra={**summary, "workspaces": run.workspaces})
    if run.failed:
        raise RemindersFailed(
            f"{len(run.failed)} reminder(s) not sent: " + ", ".join(str(i) for i in run.failed)
        )
    return summary


snapstart.prepare(bootstrap.get_notifications)
