"""users/import as a destination_common StreamHandler: map, validate, key, send, parse the log."""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Collection, Mapping, Optional, Sequence

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import BatchRefused, Item, Outcome, StreamHandler, redact

from destination_cartum_users.client import CartumClient, config_error
from destination_cartum_users.validation import validate

# Whole-request answers that are not about the token: the request is refused as a whole.
REFUSED_STATUSES = {"ERROR", "EXCEPTION", "HTTP_ERROR"}
# A refusal that says the request was too big, and the limit it may name.
SIZE_RE = re.compile(r"too (many|large|big)|entity too large|\b413\b", re.I)
LIMIT_RE = re.compile(r"(?:at most|maximum|max\.?|limit(?: is)?)\D{0,12}(\d+)", re.I)
logger = logging.getLogger("airbyte")


def parse_entry(entry: Any) -> tuple[int, str]:
    """One `response.log[i]`: the nested seed shape `{"info": [{code, message}, ...]}` or the
    flat `{code, message}`. Returns the deciding code (the lowest non-zero code, so a missing
    field (1) or a validation error (2) wins over an unhandled error (3); 0 when every code is
    0; -1 when unreadable) and the messages of that code joined."""
    if isinstance(entry, Mapping) and isinstance(entry.get("info"), list):
        infos = [i for i in entry["info"] if isinstance(i, Mapping)]
    elif isinstance(entry, Mapping) and "code" in entry:
        infos = [entry]
    elif isinstance(entry, list):
        infos = [i for i in entry if isinstance(i, Mapping)]
    else:
        return -1, f"unreadable log entry: {str(entry)[:200]}"
    if not infos:
        return -1, "empty log entry"
    codes = []
    for info in infos:
        try:
            codes.append((int(info.get("code")), str(info.get("message") or "")))
        except (TypeError, ValueError):
            codes.append((-1, f"unreadable code {info.get('code')!r}"))
    failing = [(c, m) for c, m in codes if c != 0]
    if not failing:
        return 0, "; ".join(m for _, m in codes)
    worst = min(c for c, _ in failing) if all(c > 0 for c, _ in failing) else -1
    return worst, "; ".join(m for c, m in failing if c == worst) or f"code {worst}"


def outcome_of(entry: Any) -> Outcome:
    code, message = parse_entry(entry)
    if code == 0:
        return Outcome.accepted()
    if code == 3:
        return Outcome.retry(3, message or "unhandled error")
    if code in (1, 2):
        return Outcome.rejected(code, message)
    return Outcome.rejected("unknown", message or "unknown log code")


class UsersImportHandler(StreamHandler):
    dedupe = True

    def __init__(
        self,
        client: CartumClient,
        mapper: Callable[[Mapping[str, Any]], dict],
        *,
        require_title: bool = True,
        group_ids: Optional[Collection[int]] = None,
    ) -> None:
        self.client = client
        self.mapper = mapper
        self.require_title = require_title
        self.group_ids = group_ids

    def map(self, data: Mapping[str, Any]) -> dict:
        return self.mapper(data)

    def key(self, payload: Any, data: Mapping[str, Any]) -> Optional[str]:
        email = (payload or {}).get("email") if isinstance(payload, Mapping) else None
        if email is None and isinstance(data, Mapping):
            email = data.get("email")
            if email is None and isinstance(data.get("login"), Mapping):
                email = data["login"].get("email")
        return email.strip().lower() if isinstance(email, str) and email.strip() else None

    def validate(self, payload: Any) -> None:
        validate(payload, require_title=self.require_title, group_ids=self.group_ids)

    def learn_limit(self, size: int, reason: str) -> None:
        """After a "too many users" refusal of `size` users: send at most the limit the shop
        names (or half) per request from now on (destination_common slices to max_batch)."""
        if size <= 1 or not SIZE_RE.search(reason or ""):
            return
        named = LIMIT_RE.search(reason)
        limit = max(1, min(int(named.group(1)) if named else size // 2, size - 1))
        if self.max_batch is None or limit < self.max_batch:
            self.max_batch = limit
            logger.warning(
                f"The shop refused {size} users in one request ({reason}); sending at most {limit} per request "
                f"from now on. Set batch_size to {limit} to save these refused requests."
            )

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        try:
            return self._send(items)
        except BatchRefused as refused:
            self.learn_limit(len(items), refused.reason)
            raise

    def _send(self, items: Sequence[Item]) -> list[Outcome]:
        status, response = self.client.call("users/import", {"users": [i.payload for i in items]})
        if status in ("OK", "WARNING"):
            log = response.get("log") if isinstance(response, Mapping) else None
            if not isinstance(log, list) or len(log) != len(items):
                got = len(log) if isinstance(log, list) else "no"
                msg = redact(
                    f"users/import answered {status} with {got} log entries for {len(items)} users; cannot tell "
                    "which users were imported. Report this with the shop's API version."
                )
                raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.system_error)
            return [outcome_of(entry) for entry in log]
        message = self.client.message(response)
        if status in REFUSED_STATUSES:
            raise BatchRefused(f"users/import {status}: {message}", code=status)
        if status == "FORBIDDEN":
            raise config_error(
                f"Cartum does not allow users/import for API user '{self.client.login}' ({message}). "
                "Give the API user the right to import users."
            )
        if status == "UNDEFINED_FUNCTION":
            raise config_error(f"The shop at {self.client.base} has no users/import function: check the shop URL.")
        msg = redact(f"users/import answered an unknown status {status!r}: {message[:300]}")
        raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.system_error)
