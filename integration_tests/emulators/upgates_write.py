"""`PUT /api/v2/customers` of the UPgates emulator, as seed 002 describes it.

Customers are matched by e-mail (case-insensitive); the answer lists every customer of the
request, in request order, as `{"email", "updated_yn", "messages": [{object, property, message,
level}]}`. A customer whose e-mail the shop does not know is **not created** (`updated_yn`
false, "Customer not found"). Only `newsletter_accept` (notset/no/yes/excluded) and `metas`
(`[{key, value}]`) are written; anything else in an item is ignored, as the seed lists no
other field. A request with more than `max_write_items` customers is refused as a whole with
`413` and nothing is processed (API-NOTES §1). The call passes the same guard as every other
call (auth, lock-out, concurrency, quota: it counts against the hourly and daily quota).

Switches (attributes of the `UpgatesEmulator`; tests set them after construction, the
`upgates_write_factory` fixture takes them as keyword arguments):

- `max_write_items` (100): most customers per request; more → 413, nothing processed.
- `put_email_field`: where the customer's e-mail is read from: `login` (`login.email`, what
  the API expects since 2025-01-01, default), `email` (the seed's top-level `email`), or
  `either` (`login.email`, else `email`).
- `meta_keys`: None (default: any meta key is accepted and stored), or the set of custom-field
  keys the shop defines; then an item with another key is handled per `unknown_meta`.
- `unknown_meta`: `reject` (default: `updated_yn` false with a message naming the key; nothing
  of that customer is written) or `ignore` (the unknown meta is dropped silently and the
  customer counts as updated: the data-losing case a connector must guard against).
- `put_answer_order`: `request` (default), `reversed` or `shuffled` (seeded): the order of the
  answer's customers, to prove that a connector matches answers by e-mail.
- `put_answer_omits`: a set of e-mails (lower case) left out of the answer although they were
  processed (undocumented; a connector must not count them as written without knowing).

Hooked into `UpgatesEmulator._put_customers` (upgates.py) with one line. Imports go one way:
upgates.py imports this module (and `UpgatesError`, defined here for both), never the reverse.
"""

from __future__ import annotations

from typing import Any

NEWSLETTER_VALUES = ("notset", "no", "yes", "excluded")
DEFAULT_MAX_WRITE_ITEMS = 100  # API-NOTES §1 (upgates.MAX_WRITE_ITEMS)


class UpgatesError(Exception):
    """Raise from a handler to answer `status` with the API's `{"messages": [...]}` body."""

    def __init__(self, status: int, message: str, *, obj: str = "", prop: str = "", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.body = {"messages": [{"object": obj, "property": prop, "message": message, "level": "error"}]}
        self.headers = headers or {}


def _switch(api: Any, name: str, default: Any) -> Any:
    return getattr(api, name, default)


def _message(prop: str, text: str, level: str = "error") -> dict[str, str]:
    return {"object": "customer", "property": prop, "message": text, "level": level}


def _email_of(item: dict[str, Any], where: str) -> str:
    login = item.get("login") if isinstance(item.get("login"), dict) else {}
    from_login = login.get("email") if isinstance(login, dict) else None
    top = item.get("email")
    if where == "login":
        value = from_login
    elif where == "email":
        value = top
    else:
        value = from_login or top
    return value.strip() if isinstance(value, str) else ""


def put_customers(api: Any, request: Any, body: Any) -> tuple[int, Any]:
    """The handler body (called under the emulator's lock, after its guard)."""
    items = body.get("customers") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise UpgatesError(400, "Body must be an object with a customers array", obj="customers")
    limit = int(_switch(api, "max_write_items", DEFAULT_MAX_WRITE_ITEMS))
    if len(items) > limit:
        raise UpgatesError(413, f"At most {limit} customers per request; nothing was processed", obj="customers")
    where = _switch(api, "put_email_field", "login")
    meta_keys = _switch(api, "meta_keys", None)
    unknown_meta = _switch(api, "unknown_meta", "reject")
    omits = {e.lower() for e in _switch(api, "put_answer_omits", set()) or ()}
    by_email: dict[str, dict[str, Any]] = {}
    for customer in sorted(api.customers.values(), key=lambda c: c["customer_id"]):
        by_email.setdefault(customer["login"]["email"].lower(), customer)  # the oldest wins
    answers: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            answers.append({"email": "", "updated_yn": False, "messages": [_message("", "Customer must be an object")]})
            continue
        email = _email_of(item, where)
        answer = {"email": email, "updated_yn": False, "messages": []}
        answers.append(answer)
        field = "login.email" if where != "email" else "email"
        if not email:
            answer["messages"].append(_message(field, "E-mail is missing"))
            continue
        target = by_email.get(email.lower())
        if target is None:
            answer["messages"].append(_message(field, "Customer not found"))
            continue
        changes: dict[str, Any] = {}
        errors: list[dict[str, str]] = []
        if "newsletter_accept" in item:
            value = item["newsletter_accept"]
            if value not in NEWSLETTER_VALUES:
                errors.append(_message("newsletter_accept", f"Invalid value {value!r}; allowed: {', '.join(NEWSLETTER_VALUES)}"))
            else:
                changes["newsletter_accept"] = value
                changes["newsletter_yn"] = value == "yes"
        if "metas" in item:
            metas = item["metas"]
            if not isinstance(metas, list):
                errors.append(_message("metas", "metas must be an array"))
            else:
                current = {m["key"]: dict(m) for m in target.get("metas") or []}
                for meta in metas:
                    if not isinstance(meta, dict) or not isinstance(meta.get("key"), str) or not meta["key"]:
                        errors.append(_message("metas", "Each meta needs a key"))
                        continue
                    key = meta["key"]
                    if meta_keys is not None and key not in meta_keys:
                        if unknown_meta == "ignore":
                            continue
                        errors.append(_message("metas.key", f"Unknown custom field '{key}'"))
                        continue
                    value = meta.get("value")
                    old = current.get(key, {"key": key, "type": "input", "values": []})
                    current[key] = {**old, "key": key, "value": "" if value is None else str(value)}
                changes["metas"] = list(current.values())
        if errors:
            answer["messages"] = errors
            continue
        if changes:
            api.update_customer(target["customer_id"], **changes)
        answer["updated_yn"] = True
    visible = [a for a in answers if a["email"].lower() not in omits]
    order = _switch(api, "put_answer_order", "request")
    if order == "reversed":
        visible.reverse()
    elif order == "shuffled":
        api.random.shuffle(visible)
    return 200, {"customers": visible}
