"""The three kinds of error a destination raises to stop a sync or fail a command, built one
way: `raise config_error("…")`, `raise transient_error("…")`, `raise system_error("…")`.

Each helper RETURNS an `AirbyteTracedException` with the matching `FailureType`; its message
(and internal message, the message when not given) passes through `redact()`, so no
registered secret (in any of its encodings) reaches the platform's error trace. `exception`
is the cause whose stack trace the trace message carries (optional)."""

from __future__ import annotations

from typing import Any, Optional

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

__all__ = ["config_error", "system_error", "transient_error", "traced_error"]


def traced_error(
    failure_type: FailureType,
    message: Any,
    *,
    internal: Optional[Any] = None,
    exception: Optional[BaseException] = None,
) -> AirbyteTracedException:
    """An `AirbyteTracedException` of `failure_type`; message and internal message redacted."""
    from destination_common.http import redact  # here: http.py builds its errors with these helpers

    text = redact(message)
    return AirbyteTracedException(
        message=text,
        internal_message=text if internal is None else redact(internal),
        failure_type=failure_type,
        exception=exception,
    )


def config_error(message: Any, *, internal: Optional[Any] = None, exception: Optional[BaseException] = None) -> AirbyteTracedException:
    """The user must change the configuration (credentials, URL, mapping, paths, data rules)."""
    return traced_error(FailureType.config_error, message, internal=internal, exception=exception)


def transient_error(message: Any, *, internal: Optional[Any] = None, exception: Optional[BaseException] = None) -> AirbyteTracedException:
    """The API or network failed in a way a later attempt may not (outage after retries)."""
    return traced_error(FailureType.transient_error, message, internal=internal, exception=exception)


def system_error(message: Any, *, internal: Optional[Any] = None, exception: Optional[BaseException] = None) -> AirbyteTracedException:
    """A bug or an API change the connector cannot handle (report it)."""
    return traced_error(FailureType.system_error, message, internal=internal, exception=exception)
