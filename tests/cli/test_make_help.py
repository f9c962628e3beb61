"""``make help`` lists every target with the values of the variables its texts name (the
address ``make run`` serves on, the SAM config environment), not ``$(HOST)``."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_make_help_shows_the_values_of_the_variables_it_names() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "help", "PORT=8123", "HOST=0.0.0.0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert "start the API on http://0.0.0.0:8123 " in result.stdout
    assert "$(" not in result.stdout
