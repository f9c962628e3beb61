"""The Swagger UI page, from Powertools' own generator and bundled assets, built on the first
request for it: the OpenAPI models it needs cost ~60 ms to import, which no other route should
pay at a cold start. See docs/performance.md#cold-start.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any


def swagger_page(document: dict[str, Any], base_path: str) -> str:
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import (  # noqa: PLC0415
        generate_swagger_html,
    )

    spec = {**document, "servers": [{"url": base_path or "/"}]}
    # "</" inside the embedded JSON must not close the page's <script> element.
    escaped = json.dumps(spec, indent=2).replace("</", "<\\/")
    script, css = _assets()
    return generate_swagger_html(escaped, script, css, "", None, persist_authorization=False)


@functools.cache
def _assets() -> tuple[str, str]:
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as bundled  # noqa: PLC0415

    folder = Path(bundled.__file__).parent
    return (
        (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (folder / "swagger-ui.min.css").read_text(encoding="utf-8"),
    )
