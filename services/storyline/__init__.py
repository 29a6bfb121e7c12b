"""Storyline: an event-sourced story update service."""

__version__ = "0.1.0"
