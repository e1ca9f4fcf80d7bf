"""PUT /api/v2/customers as a destination_common StreamHandler: map, validate locally (never a
request for a record that cannot succeed), batch, match the answer by e-mail, learn the
shop's maximum per request, plan a dry run with read-only lookups."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, Optional

from destination_common import BatchRefused, Item, Outcome, Reject, StreamHandler, config_error, system_error

from destination_upgates_customers.client import UpgatesClient, json_of, messages_text
from destination_upgates_customers.schema import NEWSLETTER_VALUES, validate

logger = logging.getLogger("airbyte")


# Prepared bodies kept at most: more than the batches that can be in flight and queued
# (max_concurrent_requests is at most 8, plus one queued); a batch that was prepared and then
# never sent whole (the sync stopped; a limit learnt meanwhile sliced it) is forgotten here.
MAX_PREPARED = 16


def _forget_oldest(prepared: dict) -> None:
    while len(prepared) > MAX_PREPARED:
        del prepared[next(iter(prepared))]

PATH = "customers"
# The API documents 413 for "more than 100 items" (API-NOTES §1).
DOCUMENTED_MAX = 100
LIMIT_RE = re.compile(r"(?:at most|maximum|max\.?|limit(?: is)?|more than)\D{0,12}(\d+)", re.I)
EMAIL_FIELDS = ("login.email", "email", "both")
JSON_HEADERS = {"Content-Type": "application/json"}


def encode_body(body: Any) -> Optional[bytes]:
    """`body` as requests' own `json=` encodes it (the standard json module, `allow_nan=False`,
    default separators, ASCII escapes, UTF-8): the request stays byte for byte the same. None
    when encoding refuses it (the caller then passes `json=` and requests reports it as always)."""
    try:
        return json.dumps(body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, RecursionError):
        return None


class CustomersPutHandler(StreamHandler):
    dedupe = True

    def __init__(
        self,
        client: UpgatesClient,
        mapper: Callable[[Mapping[str, Any]], dict],
        *,
        email_field: str = "login.email",
        meta_keys: Optional[Collection[str]] = None,
    ) -> None:
        self.client = client
        self.mapper = mapper
        self.email_field = email_field if email_field in EMAIL_FIELDS else "login.email"
        self.meta_keys = {str(k) for k in meta_keys} if meta_keys else None
        self._lock = threading.Lock()  # counters and learnt keys (held only briefly; the limit: the core's lock)
        self._plan_lock = threading.Lock()  # dry-run lookups (held across their requests)
        self.unknown_meta_keys: set[str] = set()  # learnt from the shop's answers
        self.updated = 0
        self.not_updated = 0
        self.warnings = 0
        self.refused_as_too_large = 0
        # dry run: which e-mails the shop knows (lower case), found by read-only lookups
        self._known: set[str] = set()
        self._absent: set[str] = set()
        self._whole_list = False
        self._list_pages: Optional[int] = None
        self.lookup_requests = 0
        # prepare(): the PUT body of a batch handed to the workers, encoded in the main thread while
        # the request before it is in flight; _put() of the same list takes it (id -> (items, bytes))
        self._prepared: dict[int, tuple[Sequence[Item], bytes]] = {}

    # ---- per record ---------------------------------------------------------------------
    def map(self, data: Mapping[str, Any]) -> dict:
        raw = self.mapper(data)
        out: dict[str, Any] = {}
        email = raw.get("email")
        out["email"] = email.strip() if isinstance(email, str) else email
        if raw.get("newsletter_accept") is not None:
            value = raw["newsletter_accept"]
            if isinstance(value, str) and value.strip().lower() != value and value.strip().lower() in NEWSLETTER_VALUES:
                self._note("newsletter_accept", f"written in lower case as '{value.strip().lower()}'")
            out["newsletter_accept"] = value.strip().lower() if isinstance(value, str) else value
        metas = raw.get("metas") or {}
        if isinstance(metas, list):  # a template or preset gave the API's own array
            metas = {m.get("key"): m.get("value") for m in metas if isinstance(m, Mapping)}
        if not isinstance(metas, Mapping):
            raise Reject("invalid_metas", f"metas must be an object of custom-field key -> value, not {type(metas).__name__}")
        out["metas"] = {str(k): v for k, v in metas.items() if v is not None}
        return out

    def _note(self, field: str, reason: str) -> None:
        """A field-level correction, kept by the loop as a note (StreamHandler.note)."""
        self.note(field, reason)

    def key(self, payload: Any, data: Mapping[str, Any]) -> Optional[str]:
        email = payload.get("email") if isinstance(payload, Mapping) else None
        if email is None and isinstance(data, Mapping):
            email = data.get("email")
            if email is None and isinstance(data.get("login"), Mapping):
                email = data["login"].get("email")
        return email.strip().lower() if isinstance(email, str) and email.strip() else None

    def validate(self, payload: Any) -> None:
        with self._lock:
            refused = set(self.unknown_meta_keys)
        validate(payload, meta_keys=self.meta_keys, refused=refused)

    # ---- the API's shape ----------------------------------------------------------------
    def body_of(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        customer: dict[str, Any] = {}
        if self.email_field in ("login.email", "both"):
            customer["login"] = {"email": payload["email"]}
        if self.email_field in ("email", "both"):
            customer["email"] = payload["email"]
        if payload.get("newsletter_accept") is not None:
            customer["newsletter_accept"] = payload["newsletter_accept"]
        if payload.get("metas"):
            customer["metas"] = [
                {"key": k, "value": ("1" if v else "0") if isinstance(v, bool) else str(v)} for k, v in payload["metas"].items()
            ]
        return customer

    # ---- sending ------------------------------------------------------------------------
    def learn_from_refusal(self, size: int, text: str) -> None:
        """After a 413 for `size` customers: at most the number the answer names (else the
        documented 100, else half) per request from now on (the core's `learn_limit`)."""
        named = LIMIT_RE.search(text or "")
        limit = int(named.group(1)) if named else (DOCUMENTED_MAX if size > DOCUMENTED_MAX else size // 2)
        limit = max(1, min(limit, size - 1))
        with self._lock:
            self.refused_as_too_large += 1
        self.learn_limit(limit, f"UPgates refused {size} customers in one request as too many ({text[:200]})")

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        """One PUT for the items; items with a custom field the shop refused since they were
        validated (records are validated while earlier requests are in flight) are rejected
        here without being sent."""
        with self._lock:
            unknown = set(self.unknown_meta_keys)
        doomed: dict[int, Outcome] = {}
        if unknown:
            for n, item in enumerate(items):
                refused = sorted(unknown & set(item.payload.get("metas") or {}))
                if refused:
                    doomed[n] = Outcome.rejected(
                        "unknown_meta_key", f"the shop refused the custom field '{refused[0]}' earlier in this sync"
                    )
        if doomed:
            with self._lock:
                self._prepared.pop(id(items), None)  # encoded with the doomed items: not sent
            rest = [item for n, item in enumerate(items) if n not in doomed]
            sent = iter(self._put(rest) if rest else [])
            return [doomed[n] if n in doomed else next(sent) for n in range(len(items))]
        return self._put(items)

    def prepare(self, items: Sequence[Item]) -> None:
        """Encode the PUT body now (main thread, off the path between one answer and the next
        request); _put() of this very list uses it. A batch send() trims (a custom field the
        shop refused meanwhile), halves and retries encode their own."""
        if self.max_batch is not None and len(items) > self.max_batch:
            return  # the core slices it to the learnt limit: _put() gets other lists
        data = encode_body({"customers": [self.body_of(i.payload) for i in items]})
        if data is not None:
            with self._lock:
                self._prepared[id(items)] = (items, data)
                _forget_oldest(self._prepared)

    def _put(self, items: Sequence[Item]) -> list[Outcome]:
        with self._lock:
            prepared = self._prepared.pop(id(items), None)
        if prepared is not None and prepared[0] is items:
            data: Optional[bytes] = prepared[1]
        else:
            data = encode_body({"customers": [self.body_of(i.payload) for i in items]})
        if data is not None:
            response = self.client.request("PUT", PATH, what="PUT customers", data=data, headers=JSON_HEADERS)
        else:
            body = {"customers": [self.body_of(i.payload) for i in items]}
            response = self.client.request("PUT", PATH, what="PUT customers", json=body)
        status = response.status_code
        answer = json_of(response)
        text = messages_text(answer) or (response.text or "")[:200]
        if status == 413:
            if len(items) > 1:
                self.learn_from_refusal(len(items), text)
            raise BatchRefused(f"HTTP 413: too many customers in one request ({text})", code="http 413")
        if status == 401:
            raise config_error(
                f"UPgates refused the API login '{self.client.login}' (HTTP 401: {text}). Check the API login and key "
                "(shop admin: Add-ons > API). The connector does not retry: 5 failed logins lock the address out for an hour."
            )
        if status == 403:
            raise config_error(
                f"UPgates answered HTTP 403 to PUT customers ({text}): the API user may lack the right to write customers, "
                "be inactive, or be locked out after failed logins. Give the user the customers write right in the shop "
                "admin (Add-ons > API)."
            )
        if status in (404, 405):
            raise config_error(
                f"{self.client.base}/customers answered HTTP {status}: this does not look like the UPgates API v2. "
                "Check the API URL (it ends in /api/v2)."
            )
        if status >= 400:
            raise BatchRefused(f"HTTP {status}: {text or 'refused'}", code=f"http {status}")
        customers = answer.get("customers") if isinstance(answer, Mapping) else None
        if not isinstance(customers, list):
            # HTTP 200 with an error envelope (or something else) is an error, never a success.
            if text:
                raise BatchRefused(f"the answer has no customers list: {text}", code="refused")
            raise system_error(
                "UPgates answered PUT customers with HTTP 200 but without a customers list; cannot tell which customers "
                "were updated. Report this with the shop's API version."
            )
        return self.outcomes(items, customers)

    def outcomes(self, items: Sequence[Item], customers: Iterable[Any]) -> list[Outcome]:
        """One outcome per item, matched by e-mail (case-insensitive; the answer's order is
        not relied on). A customer missing from the answer is retried once, then rejected."""
        by_email: dict[str, Mapping[str, Any]] = {}
        for entry in customers:
            if isinstance(entry, Mapping) and isinstance(entry.get("email"), str):
                by_email.setdefault(entry["email"].strip().lower(), entry)
        out: list[Outcome] = []
        updated = not_updated = warnings = 0
        for item in items:
            entry = by_email.get(str(item.payload["email"]).lower())
            if entry is None:
                out.append(Outcome.retry("no_answer", "UPgates' answer did not list this customer"))
                continue
            messages = entry.get("messages") or []
            if entry.get("updated_yn") is True:
                updated += 1
                warnings += sum(1 for m in messages if isinstance(m, Mapping))
                out.append(Outcome.accepted())
                continue
            not_updated += 1
            reason = messages_text({"messages": messages}) or "not updated (no message)"
            self._learn_unknown_metas(item, messages)
            out.append(Outcome.rejected("not_updated", reason))
        with self._lock:
            self.updated += updated
            self.not_updated += not_updated
            self.warnings += warnings
        return out

    def _learn_unknown_metas(self, item: Item, messages: Iterable[Any]) -> None:
        """A message about `metas` that names one of this customer's custom-field keys: the
        shop does not take that key; later records with it are rejected without a request."""
        keys = list((item.payload.get("metas") or {}).keys())
        for m in messages:
            if not isinstance(m, Mapping) or not str(m.get("property") or "").startswith("metas"):
                continue
            text = str(m.get("message") or "")
            for key in keys:
                if f"'{key}'" in text or f'"{key}"' in text:
                    with self._lock:
                        if key not in self.unknown_meta_keys:
                            self.unknown_meta_keys.add(key)
                            logger.warning(
                                f"UPgates refused the custom field '{key}' ({text[:200]}); later records with it are "
                                "rejected without a request. Create the field in the shop or fix the mapping."
                            )

    # ---- dry run ------------------------------------------------------------------------
    def plan(self, items: Sequence[Item]) -> list[Outcome]:
        """`update` for e-mails the shop knows; a rejection for the others (PUT never creates
        a customer). Read-only lookups, the cheapest of: one `GET /customers?email=` per
        unknown e-mail, or the whole customer list once (100 per page)."""
        self._lookup([str(i.payload["email"]) for i in items])
        with self._plan_lock:
            known = {str(i.payload["email"]).lower() for i in items} & self._known
        out = []
        for item in items:
            email = str(item.payload["email"]).lower()
            if email in known:
                out.append(Outcome.planned("update"))
            else:
                out.append(Outcome.rejected("not_found", "no customer with this e-mail in the shop (UPgates does not create customers)"))
        return out

    def _get(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        response = self.client.request("GET", PATH, what="GET customers", params=dict(params))
        self.lookup_requests += 1
        if response.status_code in (401, 403):
            raise config_error(
                f"UPgates answered HTTP {response.status_code} to GET customers ({messages_text(json_of(response))}). "
                "Check the API login and key and the user's right to read customers."
            )
        if response.status_code >= 400:
            raise config_error(f"UPgates answered HTTP {response.status_code} to GET customers: check the API URL.")
        body = json_of(response)
        if not isinstance(body, Mapping) or not isinstance(body.get("customers"), list):
            raise config_error("UPgates answered GET customers without a customers list: check the API URL.")
        return body

    def _take(self, body: Mapping[str, Any]) -> set[str]:
        found = set()
        for c in body.get("customers") or []:
            email = c.get("login", {}).get("email") if isinstance(c, Mapping) and isinstance(c.get("login"), Mapping) else None
            if email is None and isinstance(c, Mapping):
                email = c.get("email")
            if isinstance(email, str):
                found.add(email.strip().lower())
        self._known |= found
        return found

    def _lookup(self, emails: Sequence[str]) -> None:
        """Resolve each e-mail (as written; compared in lower case) to known or absent."""
        with self._plan_lock:
            spelled = {e.lower(): e for e in emails}
            todo = [e for e in spelled if e not in self._known and e not in self._absent]
            if not todo or self._whole_list:
                return
            if self._list_pages is None and len(todo) > 1:
                first = self._get({"page": 1})
                self._take(first)
                self._list_pages = int(first.get("number_of_pages") or 1)
                self._whole_list = self._list_pages <= 1
                todo = [e for e in todo if e not in self._known]
                if not todo or self._whole_list:
                    return
            pages_left = (self._list_pages or 0) - 1
            if self._list_pages is not None and len(todo) >= pages_left:
                for page in range(2, self._list_pages + 1):
                    self._take(self._get({"page": page}))
                self._whole_list = True
                return
            for email in todo:
                if email in self._take(self._get({"email": spelled[email]})):
                    continue
                self._absent.add(email)

    # ---- reporting ----------------------------------------------------------------------
    def summary(self) -> Optional[str]:
        planned_only = self.lookup_requests and not (self.updated or self.not_updated)
        parts = [] if planned_only else [f"updated {self.updated}", f"not updated {self.not_updated}"]
        if self.warnings:
            parts.append(f"warnings {self.warnings}")
        if self.refused_as_too_large:
            parts.append(f"requests refused as too large {self.refused_as_too_large} (now at most {self.max_batch} per request)")
        if self.unknown_meta_keys:
            parts.append(f"custom fields refused by the shop: {', '.join(sorted(self.unknown_meta_keys))}")
        if self.lookup_requests:
            parts.append(f"dry-run lookups {self.lookup_requests}")
        if self.client.rate_limited:
            parts.append(f"rate-limited answers {self.client.rate_limited} (waited {self.client.waited_seconds:.1f} s)")
        parts.append(f"quota left: {self.client.quota_line()}")
        return "UPgates customers: " + ", ".join(parts)

