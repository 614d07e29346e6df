"""Errors as RFC 9457 problem documents: one shape for every failure a client can see."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import Response

__all__ = [
    "PROBLEM_JSON",
    "FieldError",
    "ProblemDocument",
    "Problem",
    "problem_responses",
    "add_problem_schema",
    "not_found",
    "invalid",
    "bad_request",
    "unauthorized",
    "conflict",
    "too_many_requests",
    "too_large",
    "unavailable",
    "internal_error",
]

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:stories:problem:"


class FieldError(BaseModel):
    """One offending input, named so a client can point at it."""

    field: str = Field(description="Path of the offending input, e.g. `audience.user_ids[0]`")
    message: str = Field(description="What is wrong with it")


class ProblemDocument(BaseModel):
    """RFC 9457 problem details, with the offending fields listed."""

    type: str = Field(description="Identifier of the kind of problem (a URN, not a page)")
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong with this request")
    errors: list[FieldError] = Field(default_factory=list, description="Offending inputs, if any")


class Problem(Exception):
    """Raised anywhere in a request; rendered as a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        errors: Iterable[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        title: str | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.document = ProblemDocument(
            type=TYPE_BASE + kind,
            title=title or HTTPStatus(status).phrase,
            status=status,
            detail=detail,
            errors=list(errors),
        )
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The problem as an HTTP response."""
        body = self.document.model_dump_json().encode()
        return Response(body, self.status, headers=self.headers, media_type=PROBLEM_JSON)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries saying these statuses answer with a problem document."""
    schema = {"$ref": "#/components/schemas/ProblemDocument"}
    return {
        status: {"description": HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {"schema": schema}}}
        for status in statuses
    }


def add_problem_schema(openapi: dict[str, Any]) -> dict[str, Any]:
    """Put ProblemDocument (and FieldError) into the components the responses refer to."""
    schema = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components.update(definitions)
    components["ProblemDocument"] = schema
    return openapi


def not_found(what: str = "story") -> Problem:
    """Absence; also what a caller gets for anything they may not see."""
    return Problem(404, "not-found", f"No such {what}.")


def invalid(field: str, message: str) -> Problem:
    """Well-formed input that breaks a rule (422)."""
    return Problem(422, "validation", f"{field}: {message}", [FieldError(field=field, message=message)])


def bad_request(field: str, message: str) -> Problem:
    """Input that cannot be read at all, e.g. a forged cursor (400)."""
    return Problem(400, "bad-request", f"{field}: {message}", [FieldError(field=field, message=message)])


def unauthorized(detail: str) -> Problem:
    """No usable bearer token."""
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return Problem(401, "unauthorized", detail, headers=headers)


def conflict(detail: str, retry_after: int | None = None) -> Problem:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return Problem(409, "conflict", detail, headers=headers)


def too_many_requests(retry_after: int) -> Problem:
    detail = f"Too many writes; try again in {retry_after} s."
    return Problem(429, "rate-limited", detail, headers={"Retry-After": str(retry_after)})


def too_large(limit: int) -> Problem:
    return Problem(413, "too-large", f"The request body is larger than {limit} bytes.")


def unavailable(dependency: str, retry_after: int = 5) -> Problem:
    """A service behind the gateway is away; the client may retry."""
    detail = f"{dependency} is unavailable; try again shortly."
    return Problem(503, "unavailable", detail, headers={"Retry-After": str(retry_after)})


def internal_error() -> Problem:
    return Problem(500, "internal", "Something went wrong on our side; it has been logged.")
