"""The error every layer raises to refuse a request: said where the refusal is decided."""

from __future__ import annotations

from contextlib import contextmanager


class DomainError(ValueError):
    """A request refused for what it asks - a bad value, data it needs that is not stored, a state that
    forbids it - with a message that names what is wrong, for the user as it is: a form's error, a
    command's CommandError, the API's 400 {"detail": message}. Services, selectors, request objects
    and the shared parsing raise it (registry and upload refusals are subclasses); a ValueError that
    is not one, raised anywhere, is a bug (a 500 on the API)."""


@contextmanager
def domain_errors():
    """At a request's or a service's boundary: a ValueError raised within - by an engine, a library or
    code the boundary calls, which know nothing of requests - leaves it as a DomainError with the same
    message (the original chained). Also a decorator: `@domain_errors()`."""
    try:
        yield
    except DomainError:
        raise
    except ValueError as exc:
        raise DomainError(str(exc)) from exc
