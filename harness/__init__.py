"""Private deployments of the product, for the tests, the benchmark and the fault scenarios.

A deployment has topics, keyspaces, a Redis prefix (and a bucket, if asked) of its own, runs
real worker and gateway processes against them, waits for the worker group to catch up,
reads the log and the read models back, and removes everything it created when it closes.
"""
