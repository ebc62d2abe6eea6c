"""Grading: a harness that runs student code in a sandboxed worker and the hidden checks here."""
