"""The Lambda artifacts `make package` builds (tools/package.py), checked on what it produces."""
