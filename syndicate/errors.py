"""Every error Syndicate raises on purpose.

Hierarchy::

    SyndicateError
    ├── ConfigError          a setting is missing or invalid (.name)
    ├── ContentError         an answer file cannot be used (.path, .line)
    ├── CatalogError         a gettext catalog cannot be used (.path, .line, .language)
    ├── FeedError            a rendition or feed text cannot go in a feed (.answer_id, .language)
    ├── PublishError         the publication tree could not be written (.path)
    ├── StoreError           the state database refused an operation
    │   └── NotFoundError    no subscriber, delivery or token by that id (also a LookupError)
    ├── InputError           a value given by an operator or a peer is refused (.field;
    │   │                    also a ValueError)
    │   ├── CursorError      a catch-up cursor this service did not hand out
    │   └── HubRequestError  a WebSub hub request that cannot be accepted
    ├── DeliveryError        a webhook could not be delivered (.subscriber_id)
    │   └── UnsafeURLError   a webhook URL points somewhere it must not
    ├── ApiError             an HTTP API request is refused (.status, .code, .headers)
    └── JobError             a scheduled job cannot be found, run or changed (.job)

Third-party exceptions are translated into these once, where they are caught, with
``raise ... from exc`` so the cause stays visible. The command line turns any of them into
one ``Error: ...`` line (:class:`syndicate.cli._common.SyndicateGroup`); the HTTP API answers
:class:`ApiError` with its status and code.
"""

from __future__ import annotations


class SyndicateError(Exception):
    """Base class of every error Syndicate raises on purpose."""


class ConfigError(SyndicateError):
    """A setting is missing or has an invalid value."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class _Located(SyndicateError):
    """An error about a place in a file: printed as ``path:line: message``."""

    def __init__(self, message: str, *, path: str, line: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ContentError(_Located):
    """An answer file cannot be used."""


class CatalogError(_Located):
    """A gettext catalog cannot be read or used."""

    def __init__(self, message: str, *, path: str, line: int = 0, language: str = "") -> None:
        super().__init__(message, path=path, line=line)
        self.language = language

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments: the default reduction cannot rebuild it (worker processes
        # send catalog errors back to the build).
        return _catalog_error, (self.message, self.path, self.line, self.language)


def _catalog_error(message: str, path: str, line: int, language: str) -> CatalogError:
    return CatalogError(message, path=path, line=line, language=language)


class FeedError(SyndicateError):
    """A rendition (or a feed's own text) cannot be put in a feed, e.g. a control character."""

    def __init__(
        self,
        message: str,
        *,
        answer_id: str | None = None,
        language: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.answer_id = answer_id
        self.language = language
        self.field = field
        self.message = message

    def __str__(self) -> str:
        if self.answer_id is None:
            return self.message
        return f"answer {self.answer_id} ({self.language}): {self.message}"


class PublishError(SyndicateError):
    """The publication tree could not be written; what was published before is intact."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class StoreError(SyndicateError):
    """The state database refused an operation or has an unexpected schema."""


class NotFoundError(StoreError, LookupError):
    """No subscriber, delivery or API token has the id asked for."""


class InputError(SyndicateError, ValueError):
    """A value an operator or a peer gave is not acceptable (a secret, a partner name, a
    cursor, a hub request). Also a :class:`ValueError`, what such checks raise in Python."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CursorError(InputError):
    """A catch-up cursor this service did not hand out."""


class HubRequestError(InputError):
    """A WebSub hub request that cannot be accepted (answered 400 with this message)."""


class DeliveryError(SyndicateError):
    """A webhook could not be delivered to a subscriber."""

    def __init__(self, message: str, *, subscriber_id: str | None = None) -> None:
        super().__init__(message)
        self.subscriber_id = subscriber_id


class UnsafeURLError(DeliveryError):
    """A webhook URL resolves to an address that is not allowed (SSRF guard)."""


class ApiError(SyndicateError):
    """An API request refused with an HTTP status and a machine-readable code.

    The message is shown to the client: it never holds a token or a secret.
    """

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class JobError(SyndicateError):
    """A scheduled job is unknown, busy, or not in the job store yet."""

    def __init__(self, message: str, *, job: str | None = None) -> None:
        super().__init__(message)
        self.job = job
