"""The Stories event catalogue: Avro schemas for every event and the codec that frames them.

Bytes on the wire use Avro single-object encoding (0xC3 0x01, the 8-byte CRC-64-AVRO
fingerprint of the writer schema, the Avro binary body). Every event is written with the
latest version of its schema and read with the latest too, so older events stay readable.
"""

from __future__ import annotations

from schemas.catalogue import Catalogue, CatalogueError, SchemaVersion
from schemas.errors import DecodeError, EventError, EventValidationError

__all__ = [
    "EVENT_NAMES",
    "CATALOGUE",
    "Catalogue",
    "CatalogueError",
    "DecodeError",
    "EventError",
    "EventValidationError",
    "SchemaVersion",
    "decode",
    "encode",
    "fingerprint_of",
    "new_event",
    "schema_of",
    "validate",
]

CATALOGUE: Catalogue = Catalogue.from_package()
"""The catalogue shipped with this package; the functions below are its bound methods."""

EVENT_NAMES: tuple[str, ...] = CATALOGUE.event_names
encode = CATALOGUE.encode
decode = CATALOGUE.decode
validate = CATALOGUE.validate
schema_of = CATALOGUE.schema_of
fingerprint_of = CATALOGUE.fingerprint_of
new_event = CATALOGUE.new_event
