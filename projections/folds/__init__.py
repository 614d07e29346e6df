"""Pure folds: a batch of events, a snapshot read up front, the clock and the policy in; the
writes to make out. No I/O here: the projector reads, folds, then flushes."""
