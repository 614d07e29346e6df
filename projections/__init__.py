"""Read models folded from the event log, and the stores that hold them."""
