"""The Lambda artifacts `make package` builds (tools/package.py) and the deploy preflight
(tools/preflight.py), checked on what they produce."""
