# examples/map.jq: GitHub issues (gh issue list --json ...) -> taskapi risk bug records.
def with_prefix($prefix):
  [.labels[].name | select(startswith($prefix)) | ltrimstr($prefix)] | first;
def body_line($name):
  (.body // "") | [capture("(?m)^" + $name + ":\\s*(?<value>.+?)\\s*$").value] | first;

[ .[] | {
    id: .number,
    title,
    severity: (with_prefix("severity:") // "medium"),
    component: (with_prefix("component:") // "unassigned"),
    file: (body_line("File") // "unknown"),
    category: (with_prefix("category:") // "uncategorised"),
    root_cause: body_line("Root cause"),
    testing_gap: body_line("Testing gap"),
    status: ((.state // "") | ascii_downcase),
    opened_at: .createdAt,
    closed_at: (if .state == "CLOSED" then .closedAt else null end)
  } ]
