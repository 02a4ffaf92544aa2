"""Benchmarks of the crawler, notifications, search and the Library page.

Each module prints figures; none of them is a test. ``make bench`` runs them all
(``python -m bench``); see docs/benchmarks.md for the figures and the knobs.
"""
