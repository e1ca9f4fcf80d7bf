"""Cartum imports as destination_common StreamHandlers: `users/import` (object `users`) and
`catalog/import` with prices (object `product_prices`): map, validate, key, send, parse the
log, and plan (dry run, read-only calls only)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Optional

from destination_common import BatchRefused, Item, Outcome, StreamHandler, config_error, system_error

from destination_cartum_users.client import CartumClient, EncodedBody
from destination_cartum_users.mapping import decode_nested
from destination_cartum_users.phones import PhonePolicy
from destination_cartum_users.prices import map_prices, validate_prices
from destination_cartum_users.schema import validate

# Whole-request answers that are not about the token: the request is refused as a whole.
REFUSED_STATUSES = {"ERROR", "EXCEPTION", "HTTP_ERROR"}
# A refusal that says the request was too big, and the limit it may name.
SIZE_RE = re.compile(r"too (many|large|big)|entity too large|\b413\b", re.I)
LIMIT_RE = re.compile(r"(?:at most|maximum|max\.?|limit(?: is)?)\D{0,12}(\d+)", re.I)
logger = logging.getLogger("airbyte")


# Prepared bodies kept at most: more than the batches that can be in flight and queued
# (max_concurrent_requests is at most 8, plus one queued); a batch that was prepared and then
# never sent whole (the sync stopped; a limit learnt meanwhile sliced it) is forgotten here.
MAX_PREPARED = 16


def _forget_oldest(prepared: dict) -> None:
    while len(prepared) > MAX_PREPARED:
        del prepared[next(iter(prepared))]


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


def _all_ok(entry: Any) -> bool:
    """The common answer, told cheaply: `{"info": [...]}` whose every code is the integer 0
    (what parse_entry reads as 0, with messages an accepted outcome does not keep)."""
    infos = entry.get("info") if type(entry) is dict else None
    if type(infos) is not list or not infos:
        return False
    for info in infos:
        if type(info) is not dict or type(info.get("code")) is not int or info["code"] != 0:
            return False
    return True


# one accepted outcome for every accepted user (Outcome is frozen): no object per record
_ACCEPTED = Outcome.accepted()


def outcome_of(entry: Any) -> Outcome:
    if _all_ok(entry):
        return _ACCEPTED
    code, message = parse_entry(entry)
    if code == 0:
        return _ACCEPTED
    if code == 3:
        return Outcome.retry(3, message or "unhandled error")
    if code in (1, 2):
        return Outcome.rejected(code, message)
    return Outcome.rejected("unknown", message or "unknown log code")


class ImportHandler(StreamHandler):
    """What users/import and catalog/import share: the envelope, the aligned `response.log`,
    whole-request refusals (bisected by the loop) and the learnt batch limit.

    `send()` runs in the loop's worker threads (max_concurrent_requests): the counters change
    under `self._lock`, the learnt limit under the core's (`learn_limit`); the client
    serialises its token refresh."""

    dedupe = True
    # every request of send() goes through HttpClient (client.py; a re-login too): the request
    # slot is taken once the request is built, so it leaves the moment the previous answer is in
    requests_through_http_client = True
    function = "users/import"
    list_key = "users"
    noun = "users"

    def __init__(self, client: CartumClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self.sent = 0  # items carried by import requests (retries and halves included)
        # prepare(): the list of a batch handed to the workers, encoded in the main thread while
        # the request before it is in flight; send() of the same list takes it (id -> (items, body))
        self._prepared: dict[int, tuple[Sequence[Item], EncodedBody]] = {}

    def _note(self, field: str, reason: str) -> None:
        self.note(field, reason)  # StreamHandler.note (one seam: the phone tests watch it)

    def learn_from_refusal(self, size: int, reason: str) -> None:
        """After a "too many" refusal of `size` items: send at most the limit the shop names
        (or half) per request from now on (the core's `learn_limit`; it slices to max_batch)."""
        if size <= 1 or not SIZE_RE.search(reason or ""):
            return
        named = LIMIT_RE.search(reason)
        limit = max(1, min(int(named.group(1)) if named else size // 2, size - 1))
        self.learn_limit(limit, f"The shop refused {size} {self.noun} in one {self.function} request ({reason})")

    def prepare(self, items: Sequence[Item]) -> None:
        """Encode the request's list now (main thread, off the path between one answer and the
        next request); send() of this very list uses it. Halves and retries encode their own."""
        if self.max_batch is not None and len(items) > self.max_batch:
            return  # the core slices it to the learnt limit: send() gets other lists
        body = EncodedBody.of(self.list_key, [i.payload for i in items])
        if body is not None:
            with self._lock:
                self._prepared[id(items)] = (items, body)
                _forget_oldest(self._prepared)

    def _body(self, items: Sequence[Item]) -> Any:
        """The request body for `items`: what prepare() encoded for this list, else encoded now
        (the mapping itself when it cannot be encoded ahead; requests then says why)."""
        with self._lock:
            prepared = self._prepared.pop(id(items), None)
        if prepared is not None and prepared[0] is items:
            return prepared[1]
        payloads = [i.payload for i in items]
        return EncodedBody.of(self.list_key, payloads) or {self.list_key: payloads}

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        with self._lock:
            self.sent += len(items)
        try:
            return self._send(items)
        except BatchRefused as refused:
            self.learn_from_refusal(len(items), refused.reason)
            raise

    def _send(self, items: Sequence[Item]) -> list[Outcome]:
        function = self.function
        status, response = self.client.call(function, self._body(items))
        if status in ("OK", "WARNING"):
            log = response.get("log") if isinstance(response, Mapping) else None
            if not isinstance(log, list) or len(log) != len(items):
                got = len(log) if isinstance(log, list) else "no"
                raise system_error(
                    f"{function} answered {status} with {got} log entries for {len(items)} {self.noun}; cannot tell "
                    f"which {self.noun} were imported. Report this with the shop's API version."
                )
            return [outcome_of(entry) for entry in log]
        message = self.client.message(response)
        if status in REFUSED_STATUSES:
            raise BatchRefused(f"{function} {status}: {message}", code=status)
        if status == "FORBIDDEN":
            raise config_error(
                f"Cartum does not allow {function} for API user '{self.client.login}' ({message}). "
                f"Give the API user the right to use {function}."
            )
        if status == "UNDEFINED_FUNCTION":
            raise config_error(f"The shop at {self.client.base} has no {function} function: check the shop URL.")
        raise system_error(f"{function} answered an unknown status {status!r}: {message[:300]}")


class UsersImportHandler(ImportHandler):
    function = "users/import"
    list_key = "users"
    noun = "users"

    def __init__(
        self,
        client: CartumClient,
        mapper: Callable[[Mapping[str, Any]], dict],
        *,
        require_title: bool = True,
        group_ids: Optional[Collection[int]] = None,
        phones: Optional[PhonePolicy] = None,
    ) -> None:
        super().__init__(client)
        self.mapper = mapper
        self.require_title = require_title
        self.group_ids = group_ids
        self.phones = phones or PhonePolicy({})
        self._known: Optional[set[str]] = None  # dry run: e-mails in the shop
        self._folded: Optional[set[str]] = None  # the same, lower-cased
        self._plan_lock = threading.Lock()

    def map(self, data: Mapping[str, Any]) -> dict:
        map_decoded = getattr(self.mapper, "map_decoded", None)
        if map_decoded is not None and isinstance(data, Mapping):
            record = decode_nested(data)  # once, for the mapping and the phone's country
            payload = map_decoded(record)
        else:
            payload = self.mapper(data)
            record = decode_nested(data) if isinstance(data, Mapping) else {}
        self.phones.apply(payload, record, self._note)
        return payload

    def key(self, payload: Any, data: Mapping[str, Any]) -> Optional[str]:
        email = (payload or {}).get("email") if isinstance(payload, Mapping) else None
        if email is None and isinstance(data, Mapping):
            email = data.get("email")
            if email is None and isinstance(data.get("login"), Mapping):
                email = data["login"].get("email")
        # As written (stripped), not lower-cased: whether Cartum tells e-mails apart by case is
        # undocumented, and collapsing two users whose e-mails differ only in case would lose one.
        return email.strip() if isinstance(email, str) and email.strip() else None

    def validate(self, payload: Any) -> None:
        validate(payload, require_title=self.require_title, group_ids=self.group_ids)

    # ---- dry run --------------------------------------------------------------------------
    def known_emails(self) -> set[str]:
        """Every e-mail of the shop, as written, read once through users/export (read-only;
        pages of 500 until the shop answers EMPTY, so a lower server cap loses nothing)."""
        if self._known is None:
            known: set[str] = set()
            offset = 0
            while True:
                status, response = self.client.call("users/export", {"limit": 500, "offset": offset})
                users = response.get("users") if status == "OK" and isinstance(response, Mapping) else None
                if status == "EMPTY" or (status == "OK" and not users):
                    break
                if not isinstance(users, list):
                    raise config_error(
                        f"users/export answered {status} ({self.client.message(response)[:200]}) during the dry run; "
                        "cannot tell new users from existing ones. Check that the API user may export users."
                    )
                for u in users:
                    if isinstance(u, Mapping) and isinstance(u.get("email"), str):
                        known.add(u["email"].strip())
                offset += len(users)
            self._known = known
            logger.info(f"Dry run: the shop has {len(known)} users (read through users/export)")
        return self._known

    def plan(self, items: Sequence[Item]) -> list[Outcome]:
        """Exact e-mail in the shop: update; the same e-mail in another case only: "create or
        update" (whether Cartum tells e-mails apart by case is undocumented); else create."""
        with self._plan_lock:  # plan() runs in worker threads: one reads the shop, all share the sets
            return self._plan(items)

    def _plan(self, items: Sequence[Item]) -> list[Outcome]:
        known = self.known_emails()
        if self._folded is None:
            self._folded = {e.lower() for e in known}
        folded = self._folded
        out = []
        for item in items:
            email = item.key or ""
            if email in known:
                out.append(Outcome.planned("update"))
            elif not (item.payload or {}).get("title"):
                out.append(Outcome.rejected(1, "missing mandatory field title: the shop needs it to create a user"))
                continue
            elif email.lower() in folded:
                out.append(Outcome.planned("create or update"))
            else:
                out.append(Outcome.planned("create"))
            known.add(email)  # a later record with this e-mail updates it
            folded.add(email.lower())
        return out

    def summary(self) -> Optional[str]:
        p = self.phones
        return f"Cartum users: phones normalised to E.164 {p.normalised}, invalid phones dropped {p.dropped}"


class ProductPricesHandler(ImportHandler):
    """Object `product_prices`: catalog/import with `article`, `price`, `price_old`,
    `price_levels` (seed 001)."""

    function = "catalog/import"
    list_key = "products"
    noun = "products"

    def __init__(self, client: CartumClient, *, level_ids: Optional[Collection[int]], retail_level: int) -> None:
        super().__init__(client)
        self.level_ids = level_ids
        self.retail_level = retail_level
        self.moved = 0

    def map(self, data: Mapping[str, Any]) -> dict:
        payload, moved = map_prices(data, retail_level=self.retail_level)
        if moved:
            self.moved += 1
            self._note("price_levels", f"the entry of the retail level {self.retail_level} moved to price (seed 001)")
        return payload

    def key(self, payload: Any, data: Mapping[str, Any]) -> Optional[str]:
        article = (payload or {}).get("article") if isinstance(payload, Mapping) else None
        if article is None and isinstance(data, Mapping):
            article = data.get("article")
        return str(article).strip() if article is not None and str(article).strip() else None

    def validate(self, payload: Any) -> None:
        validate_prices(payload, level_ids=self.level_ids)

    def plan(self, items: Sequence[Item]) -> list[Outcome]:
        # No read-only call tells whether an article exists without reading the whole catalog.
        return [Outcome.planned("create or update") for _ in items]

    def summary(self) -> Optional[str]:
        return f"Cartum product prices: retail level entries moved to price {self.moved}"
