"""taskrisk: turn a bug-report export into a risk heat map (`taskrisk`, also `taskapi risk`).

What it reads, how it scores and what it reports: docs/operations.md.
"""
