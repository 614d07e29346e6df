"""Stores holding the read models: Redis for the hot, small ones; the CQL store for the rest."""
