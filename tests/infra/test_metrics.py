"""Every metric the dashboard and the alarms read is one this stack emits.

A metric in CloudWatch is a namespace, a name and an exact set of dimensions: a typo in any of
them, or a dimension value naming something the stack does not create, gives a graph with no
data and an alarm that never fires, and nothing reports it. So each metric of every alarm and
of every dashboard widget (its ``Fn::Sub`` body resolved) is checked against what emits it:

- AWS service metrics: the metric names and dimension sets the service documents for the
  resource type, and each dimension value resolves to a resource of this stack (the function
  names by ``Ref``, the queue names by ``GetAtt``, the API's name and stage as the template
  sets them);
- the Powertools (EMF) metrics: the namespace and service the functions' environment gives
  Powertools, and only metric names and dimensions the code really emits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from taskapi.entrypoints import notifications
from taskapi.entrypoints.http import route_metrics
from tests.infra.cfn import (
    EVERYTHING_ON,
    PSEUDO_PARAMETERS,
    REPO_ROOT,
    Template,
    deployed,
    resources_of_type,
    source_template,
)


@dataclass(frozen=True)
class Reference:
    """A resource named in a dimension value: ``Ref`` (attribute None) or ``GetAtt``."""

    resource: str
    attribute: str | None = None


@dataclass(frozen=True)
class MetricUse:
    where: str
    namespace: str
    name: str
    dimensions: dict[str, Any]


# What each AWS namespace the stack reads offers (the service's CloudWatch documentation):
# the metric names, and per dimension the resource type whose Ref or GetAtt it takes, or
# "api"/"stage" for the REST API's name and stage as the template sets them.
AWS_METRICS: dict[str, tuple[frozenset[str], dict[str, tuple[str, str | None] | str]]] = {
    "AWS/Lambda": (
        frozenset({"Invocations", "Errors", "Throttles", "Duration", "IteratorAge"}),
        {"FunctionName": ("AWS::Lambda::Function", None)},
    ),
    "AWS/SQS": (
        frozenset(
            {
                "ApproximateNumberOfMessagesVisible",
                "ApproximateAgeOfOldestMessage",
                "NumberOfMessagesSent",
            }
        ),
        {"QueueName": ("AWS::SQS::Queue", "QueueName")},
    ),
    "AWS/DynamoDB": (
        frozenset({"ReadThrottleEvents", "WriteThrottleEvents"}),
        {"TableName": ("AWS::DynamoDB::Table", None)},
    ),
    "AWS/ApiGateway": (
        frozenset({"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency"}),
        # Stage-level metrics; per resource and method ones need Resource and Method too, and
        # the API's one {proxy+} resource makes them useless per route.
        {"ApiName": "api", "Stage": "stage"},
    ),
}

# The Powertools (EMF) metrics the code emits, with their dimension sets (Powertools adds
# ``service`` to every one): the names it passes to ``add_metric`` anywhere in the service,
# and the per-route latency line (entrypoints/http/route_metrics.py).
_ADD_METRIC = re.compile(r'add_metric\(\s*name="([A-Za-z0-9]+)"')


def _emitted_metrics() -> dict[str, frozenset[str]]:
    names = {
        name
        for source in (REPO_ROOT / "src" / "taskapi").rglob("*.py")
        for name in _ADD_METRIC.findall(source.read_text(encoding="utf-8"))
    }
    # The notification function's, added by name from its tables.
    names |= {notifications.NOTIFICATIONS_SENT, *notifications.EVENT_OUTCOME_METRICS.values()}
    emitted = {name: frozenset({"service"}) for name in names}
    emitted[route_metrics.ROUTE_LATENCY] = frozenset({route_metrics.ROUTE_DIMENSION, "service"})
    return emitted


_SEARCH = re.compile(r"^SEARCH\('\{([^}]*)\}\s*(.*)',\s*'[^']+',\s*\d+\)$")
_SEARCH_TERM = re.compile(r'([A-Za-z0-9_]+)="([^"]*)"')

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")
_MARKER = re.compile(r"^<(Ref|GetAtt) ([A-Za-z0-9]+)(?:\.([A-Za-z0-9]+))?>$")


def _parameters(template: Template) -> dict[str, str]:
    """Every parameter's value in a deployed template (its default unless overridden)."""
    return {
        name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()
    } | PSEUDO_PARAMETERS


def _substitute(text: str, values: dict[str, str]) -> str:
    """``Fn::Sub`` of a string: parameters by value, resources as ``<Ref X>`` / ``<GetAtt X.A>``
    markers a dimension check resolves."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        resource, _, attribute = name.partition(".")
        return f"<GetAtt {resource}.{attribute}>" if attribute else f"<Ref {resource}>"

    return _SUB_VARIABLE.sub(replace, text)


def _value(node: Any, values: dict[str, str]) -> Any:
    """A dimension value as a string, or a Reference to the resource it names."""
    if isinstance(node, dict) and set(node) == {"Ref"}:
        return Reference(node["Ref"])
    if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
        resource, attribute = node["Fn::GetAtt"]
        return Reference(resource, attribute)
    if isinstance(node, dict) and set(node) == {"Fn::Sub"}:
        node = _substitute(node["Fn::Sub"], values)
    if isinstance(node, str) and (marker := _MARKER.match(node)):
        return Reference(marker.group(2), marker.group(3))
    return node


def _alarm_metrics(template: Template) -> Iterator[MetricUse]:
    values = _parameters(template)
    for name, alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").items():
        properties = alarm["Properties"]
        metrics = [
            query["MetricStat"]["Metric"]
            for query in properties.get("Metrics", [])
            if "MetricStat" in query
        ]
        if "MetricName" in properties:
            metrics.append(properties)
        assert metrics, f"{name} reads no metric"
        for metric in metrics:
            yield MetricUse(
                where=name,
                namespace=metric["Namespace"],
                name=metric["MetricName"],
                dimensions={
                    d["Name"]: _value(d["Value"], values) for d in metric.get("Dimensions", [])
                },
            )


def _dashboard_bodies(template: Template) -> dict[str, dict[str, Any]]:
    values = _parameters(template)
    return {
        name: json.loads(_substitute(dashboard["Properties"]["DashboardBody"]["Fn::Sub"], values))
        for name, dashboard in resources_of_type(template, "AWS::CloudWatch::Dashboard").items()
    }


def _widget_metrics(template: Template) -> Iterator[MetricUse]:
    for dashboard, body in _dashboard_bodies(template).items():
        for widget in body["widgets"]:
            if widget["type"] == "alarm":  # the alarms' states: test_the_alarm_widget_...
                continue
            where = f"{dashboard}: {widget['properties'].get('title')}"
            metrics = widget["properties"].get("metrics", [])
            assert metrics, f"{where} shows no metric"
            for row in metrics:
                fields = [field for field in row if not isinstance(field, dict)]
                if not fields:
                    (options,) = row
                    yield _searched(where, options["expression"])
                    continue
                namespace, name, *pairs = fields
                assert len(pairs) % 2 == 0, f"{where}: dimensions come in name-value pairs"
                yield MetricUse(
                    where=where,
                    namespace=namespace,
                    name=name,
                    dimensions={
                        pairs[i]: _value(pairs[i + 1], {}) for i in range(0, len(pairs), 2)
                    },
                )


def _searched(where: str, expression: str) -> MetricUse:
    """The metric a dashboard's ``SEARCH('{namespace,dimension,...} MetricName="..." ...')``
    finds: the dimensions it names, with the values it fixes (None: any value)."""
    match = _SEARCH.match(expression)
    assert match, f"{where}: {expression!r} is not a SEARCH this check reads"
    namespace, *dimension_names = (part.strip() for part in match.group(1).split(","))
    terms = dict(_SEARCH_TERM.findall(match.group(2)))
    name = terms.pop("MetricName", "")
    assert set(terms) <= set(dimension_names), f"{where}: filters on a dimension it does not name"
    return MetricUse(
        where=where,
        namespace=namespace,
        name=name,
        dimensions={dimension: terms.get(dimension) for dimension in dimension_names},
    )


def _powertools_setting(template: Template, variable: str) -> str:
    """What every function's environment gives Powertools (they must agree)."""
    settings = {
        function["Properties"]["Environment"]["Variables"][variable]
        for function in resources_of_type(template, "AWS::Lambda::Function").values()
    }
    assert len(settings) == 1, f"the functions disagree on {variable}: {settings}"
    (setting,) = settings
    assert isinstance(setting, str)
    return setting


def _powertools_problems(use: MetricUse, template: Template) -> list[str]:
    label = f"{use.where}: {use.namespace} {use.name}"
    dimensions = _emitted_metrics().get(use.name)
    if dimensions is None:
        return [f"{label}: the code emits no metric {use.name}"]
    problems = []
    if set(use.dimensions) != dimensions:
        problems.append(
            f"{label}: dimensions {sorted(use.dimensions)}, emitted {sorted(dimensions)}"
        )
    service = _powertools_setting(template, "POWERTOOLS_SERVICE_NAME")
    if use.dimensions.get("service", service) not in (service, None):
        problems.append(f"{label}: service={use.dimensions['service']!r}, emitted as {service!r}")
    return problems


def _problems(use: MetricUse, template: Template) -> list[str]:
    """What is wrong with one metric reference (nothing when the stack emits it)."""
    label = f"{use.where}: {use.namespace} {use.name}"
    if use.namespace == _powertools_setting(template, "POWERTOOLS_METRICS_NAMESPACE"):
        return _powertools_problems(use, template)
    if use.namespace not in AWS_METRICS:
        return [f"{label}: no resource or code of the stack emits this namespace"]
    names, dimensions = AWS_METRICS[use.namespace]
    problems = []
    if use.name not in names:
        problems.append(f"{label}: {use.namespace} has no metric {use.name}")
    if set(use.dimensions) != set(dimensions):
        problems.append(
            f"{label}: dimensions {sorted(use.dimensions)}, expected {sorted(dimensions)}"
        )
    for dimension, value in use.dimensions.items():
        expected = dimensions.get(dimension)
        if isinstance(expected, tuple):
            resource_type, attribute = expected
            resource = (
                template["Resources"].get(value.resource) if isinstance(value, Reference) else None
            )
            if (
                resource is None
                or resource["Type"] != resource_type
                or value.attribute != attribute
            ):
                how = f"GetAtt of its {attribute}" if attribute else "Ref"
                problems.append(
                    f"{label}: {dimension}={value!r} is not the {how} of a {resource_type}"
                )
        elif expected == "api" and value != _api_name(template):
            problems.append(f"{label}: ApiName={value!r} is not the API's ({_api_name(template)})")
        elif expected == "stage" and value != _stage_name(template):
            problems.append(f"{label}: Stage={value!r} is not the API's ({_stage_name(template)})")
    return problems


def _api_name(template: Template) -> str:
    (api,) = resources_of_type(template, "AWS::ApiGateway::RestApi").values()
    name = _value(api["Properties"]["Name"], _parameters(template))
    assert isinstance(name, str)
    return name


def _stage_name(template: Template) -> str:
    (stage,) = resources_of_type(template, "AWS::ApiGateway::Stage").values()
    name: str = stage["Properties"]["StageName"]
    return name


@pytest.mark.parametrize("parameters", [{}, EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_every_alarm_and_widget_metric_is_emitted_by_the_stack(parameters: dict[str, str]) -> None:
    template = deployed(**parameters)
    uses = [*_alarm_metrics(template), *_widget_metrics(template)]

    problems = [problem for use in uses for problem in _problems(use, template)]

    assert problems == []


def test_the_emitted_metrics_include_what_the_code_adds() -> None:
    emitted = _emitted_metrics()

    assert {"TaskCreated", "VersionConflict", "NotificationsSent", "RouteLatency"} <= set(emitted)


def test_a_search_is_read_as_the_metric_it_finds() -> None:
    use = _searched(
        "w",
        "SEARCH('{TaskApi,route,service} MetricName=\"RouteLatency\" service=\"x\"', 'p99', 300)",
    )

    assert use == MetricUse("w", "TaskApi", "RouteLatency", {"route": None, "service": "x"})


def test_the_check_reads_every_alarm_and_the_dashboard() -> None:
    # Guards the test above against passing because it found nothing to check.
    template = deployed()
    alarms = {use.where for use in _alarm_metrics(template)}
    widgets = {use.where for use in _widget_metrics(template)}

    assert alarms == set(resources_of_type(template, "AWS::CloudWatch::Alarm"))
    metric_widgets = [
        widget
        for widget in _dashboard_bodies(template)["OperationsDashboard"]["widgets"]
        if widget["type"] == "metric"
    ]
    assert len(widgets) == len(metric_widgets) >= 10


def test_the_alarm_widget_shows_every_alarm_of_the_stack() -> None:
    template = deployed()
    [widget] = [
        widget
        for widget in _dashboard_bodies(template)["OperationsDashboard"]["widgets"]
        if widget["type"] == "alarm"
    ]
    shown = [_value(arn, {}) for arn in widget["properties"]["alarms"]]

    assert all(isinstance(alarm, Reference) and alarm.attribute == "Arn" for alarm in shown)
    assert sorted(alarm.resource for alarm in shown) == sorted(
        resources_of_type(template, "AWS::CloudWatch::Alarm")
    )


@pytest.mark.parametrize(
    "use",
    [
        MetricUse("typo", "AWS/ApiGateway", "5xxError", {"ApiName": "taskapi-api", "Stage": "v1"}),
        MetricUse("stage", "AWS/ApiGateway", "Count", {"ApiName": "taskapi-api", "Stage": "v2"}),
        MetricUse("api", "AWS/ApiGateway", "Count", {"ApiName": "other-api", "Stage": "v1"}),
        MetricUse("table", "AWS/Lambda", "Errors", {"FunctionName": Reference("TasksTable")}),
        MetricUse("absent", "AWS/Lambda", "Errors", {"FunctionName": Reference("Nope")}),
        MetricUse("name", "AWS/Lambda", "Errors", {"FunctionName": "taskapi-ApiFunction"}),
        MetricUse(
            "url",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": Reference("RelayFailureQueue")},
        ),
        MetricUse(
            "extra",
            "AWS/Lambda",
            "Errors",
            {"FunctionName": Reference("ApiFunction"), "Resource": "live"},
        ),
        MetricUse("namespace", "AWS/Lamda", "Errors", {"FunctionName": Reference("ApiFunction")}),
        MetricUse("emf-name", "TaskApi", "NotificationsFailed", {"service": "taskapi"}),
        MetricUse("emf-service", "TaskApi", "NotificationsSent", {"service": "other"}),
        MetricUse("emf-dims", "TaskApi", "RouteLatency", {"service": "taskapi"}),
        MetricUse("emf-default-namespace", "taskapi", "NotificationsSent", {"service": "taskapi"}),
    ],
    ids=lambda use: use.where,
)
def test_a_metric_the_stack_does_not_emit_is_reported(use: MetricUse) -> None:
    assert _problems(use, deployed()) != []


def _function_alarms(template: Template, metric: str) -> dict[str, list[str]]:
    """Function logical id -> the alarms that read ``metric`` of that function alone."""
    found: dict[str, list[str]] = {}
    for use in _alarm_metrics(template):
        if use.namespace == "AWS/Lambda" and use.name == metric:
            function = use.dimensions["FunctionName"]
            assert isinstance(function, Reference)
            found.setdefault(function.resource, []).append(use.where)
    return found


def test_every_function_has_a_p99_latency_alarm_and_an_error_rate_alarm() -> None:
    template = deployed()
    functions = set(resources_of_type(template, "AWS::Lambda::Function"))
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    latency = {
        function: [a for a in names if alarms[a]["Properties"].get("ExtendedStatistic") == "p99"]
        for function, names in _function_alarms(template, "Duration").items()
    }
    # An error-rate alarm divides the function's Errors by its Invocations.
    errors, invocations = (
        _function_alarms(template, "Errors"),
        _function_alarms(template, "Invocations"),
    )
    error_rate = {f: sorted(set(errors[f]) & set(invocations.get(f, []))) for f in errors}

    assert {f for f, names in latency.items() if names} == functions
    assert {f for f, names in error_rate.items() if names} == functions


def test_latency_and_error_rate_thresholds_are_parameters_with_defaults() -> None:
    template = source_template()
    parameters = template["Parameters"]
    thresholds = {
        name: alarm["Properties"]["Threshold"]
        for name, alarm in template["Resources"].items()
        if name.endswith(("FunctionLatencyAlarm", "FunctionErrorRateAlarm"))
    }

    assert len(thresholds) == 2 * len(resources_of_type(deployed(), "AWS::Lambda::Function"))
    assert all(set(threshold) == {"Ref"} for threshold in thresholds.values()), thresholds
    referenced = {threshold["Ref"] for threshold in thresholds.values()}
    assert all(parameters[name]["Type"] == "Number" for name in referenced)
    assert all(float(parameters[name]["Default"]) > 0 for name in referenced)
