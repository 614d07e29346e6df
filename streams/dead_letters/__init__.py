"""Dead letters for operators: read them back, show them without their content, send back the
ones that are valid now, each exactly once.

A dead letter's id is `<partition>:<offset>` on the dead-letter topic. Its origin and reason are
in the headers `streams.producer.dead_letter_headers` writes, after the headers the message came
with (the request id and traceparent of its request among them, streams.tracing). A redrive
re-sends a dead letter that decodes and passes validation today to its source topic, with its
key and the headers it came with, and in the same
Kafka transaction writes a mark keyed by its id to the compacted `<prefix>.dead-letter-redriven`
topic; every run reads the marks first and skips what they name. Runs share one transactional
id per deployment, so a run fences any earlier one still open: a fenced run's transaction is
aborted and sends nothing, and the marks a run reads are those of every run before it.
"""

from streams.dead_letters.reading import find_dead_letter, read_dead_letters, redriven_ids, select
from streams.dead_letters.records import (
    REASON_CLASSES,
    DeadLetter,
    Origin,
    Reading,
    inspect,
    matches_reason,
    parse_headers,
    parse_id,
    parse_since,
    reason_class,
)
from streams.dead_letters.redaction import CONTENT_FIELDS, REDACTED, details, redact, summary
from streams.dead_letters.redrive import RedriveReport, Skipped, redrive

__all__ = [
    "CONTENT_FIELDS",
    "REDACTED",
    "REASON_CLASSES",
    "DeadLetter",
    "Origin",
    "Reading",
    "RedriveReport",
    "Skipped",
    "details",
    "find_dead_letter",
    "inspect",
    "matches_reason",
    "parse_headers",
    "parse_id",
    "parse_since",
    "read_dead_letters",
    "reason_class",
    "redact",
    "redrive",
    "redriven_ids",
    "select",
    "summary",
]
