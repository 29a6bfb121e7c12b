"""Offline evaluation of the core against gold data (``storyline eval``).

Reads research corpora by path; nothing here is imported by the service itself.
"""
