"""Helpers that stand up real servers and real images for the test suite."""
