"""stories: an event-sourced backend for ephemeral Stories."""

__version__ = "0.1.0"
