"""Fault scenarios run against the real local stack: what the system survives, measured."""
