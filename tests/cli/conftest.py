"""The ``taskapi`` command as a person runs it: each test starts it as a process (seconds, so
not in the unit suite, which stays in-process and quick)."""
