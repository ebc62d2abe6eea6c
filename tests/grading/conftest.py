"""Fixtures shared by the grading tests."""
