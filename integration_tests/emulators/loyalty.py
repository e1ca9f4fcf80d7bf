"""Loyalty platform (api.clienttoolbox.com, API 1.5/1.6) emulator: `customers_batch` and the
read calls a test needs to read back what was written (`manage_fields` list, `campaigns_list`,
`customer_search`, `customer_info`). As API-NOTES §3 and seed 003 describe:

- every parameter, credentials included, is POST form data (query parameters are accepted
  too, as a GET would send them); the key may also come in an `api_access_key` header, which
  wins over the form field;
- every answer is HTTP 200; XML by default, JSON with `output=JSON`, JSONP with `callback`,
  `condensed=yes` drops white space from JSON(P); errors are `status="error"` with a message.

Switches for what nobody documents (keyword arguments, also plain attributes):
- `max_lines`: maximum profiles_data lines per batch (None: unlimited). More → batch error.
- `echo_request`: answers carry the request's form back, URL-encoded, as some gateways' error
  pages do (`"fields"` in JSON, `<request>` in XML; with `echo_request="unreadable"` the answer
  is an HTML page with the form in it). A connector must never print it unredacted.
- `errors_fail_batch`: a line with an invalid value (bad custom_date, unknown campaign-type
  amount...) fails the whole batch (True, default) or is skipped and reported in the reply's
  `errors` with its line number (False). A line whose field count does not match the headers
  always fails the batch, as the seed's format leaves no other reading.

Undo (seed 003): every customers_batch records an undo state unless `no_undo=yes` is sent
(`allow_undo=yes`, listed as optional, changes nothing). An undo state keeps only what the
batch touched (the earlier copy of each changed customer, the codes it created), so it costs
the size of the batch, not of the account.

The world (`customers` keyed by code, `campaigns`, `custom_fields`, `undo_states`) is plain
Python that tests read and change directly. Test equipment: connectors never import it.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

from emulators.base import Clock, Emulator

STANDARD_FIELDS = (
    "card_number",
    "code",
    "first_name",
    "last_name",
    "email",
    "phone",
    "custom_date",
    "street1",
    "street2",
    "city",
    "state",
    "postal_code",
    "country",
    "customer_username",
    "customer_password",
    "customer_PIN",
)
# auto_add is a header but not a customer field: it is an amount added to the first campaign.
HEADER_FIELDS = STANDARD_FIELDS + ("auto_add",)
DELIMITERS = {"pipe": "|", "comma": ",", "tab": "\t"}
LINE_BREAK = re.compile(r"\r\n|\r|\n")
HEADER_KEY = re.compile(r"^profiles_header_(\d+)$", re.IGNORECASE)


class LoyaltyError(Exception):
    """Answer `status="error"` with this message (always HTTP 200)."""


def default_campaigns() -> list[dict[str, Any]]:
    return [
        {"id": "898989889", "name": "Coffee points", "type": "points"},
        {"id": "13234545", "name": "Tenth visit free", "type": "visits"},
    ]


def default_custom_fields() -> list[dict[str, Any]]:
    return [
        {"name": "custom_field_1", "label": "Favourite store", "type": "text", "required": False},
        {"name": "custom_field_2", "label": "Member tier", "type": "text", "required": False},
    ]


class LoyaltyEmulator(Emulator):
    name = "loyalty"

    def __init__(
        self,
        *,
        user_id: str = "john1970",
        api_key: str = "1959caadac9b13dcb3-emulated-key",
        account_id: str = "greatwidgets",
        campaigns: list[dict[str, Any]] | None = None,
        custom_fields: list[dict[str, Any]] | None = None,
        customers: int = 3,
        max_lines: int | None = None,
        errors_fail_batch: bool = True,
        echo_request: bool | str = False,
        clock: Clock | None = None,
        latency: float = 0.0,
        seed: int = 1,
    ) -> None:
        super().__init__(latency=latency, seed=seed, clock=clock)
        self.user_id = user_id
        self.api_key = api_key
        self.account_id = account_id
        self.campaigns = campaigns if campaigns is not None else default_campaigns()
        self.custom_fields = custom_fields if custom_fields is not None else default_custom_fields()
        self.max_lines = max_lines
        self.errors_fail_batch = errors_fail_batch
        self.echo_request = echo_request
        self.customers: dict[str, dict[str, Any]] = {}
        self.undo_states: list[dict[str, Any]] = []
        self.batches: list[dict[str, Any]] = []  # accepted batches: {lines, new, updated, ignored}
        self._kept: dict[str, dict[str, Any]] | None = None  # sink(): the customers kept
        self.lock = threading.RLock()
        for i in range(1, customers + 1):
            self.add_customer(
                code=f"EXIST{i:03d}",
                card_number=f"5000{i:04d}",
                first_name=f"Existing{i}",
                last_name="Member",
                email=f"existing{i}@example.com",
                phone=f"555-000{i}",
                city="Brno",
                custom_field_1="Main street",
                campaigns={self.campaigns[0]["id"]: 10 * i} if self.campaigns else {},
            )

    # ---- world --------------------------------------------------------------------------
    @property
    def campaign_ids(self) -> list[str]:
        return [c["id"] for c in self.campaigns]

    @property
    def custom_field_names(self) -> list[str]:
        return [f["name"] for f in self.custom_fields]

    def blank_customer(self) -> dict[str, Any]:
        out: dict[str, Any] = {f: "" for f in STANDARD_FIELDS}
        out.update({f: "" for f in self.custom_field_names})
        out["campaigns"] = {}
        return out

    def add_customer(self, **fields: Any) -> dict[str, Any]:
        customer = self.blank_customer()
        customer.update(fields)
        if not customer["code"]:
            customer["code"] = self.new_code()
        self.customers[customer["code"]] = customer
        return customer

    def new_code(self) -> str:
        while True:
            code = str(self.random.randrange(10**15, 10**16))
            if code not in self.customers:
                return code

    def new_card_number(self, digits: int) -> str:
        taken = {c["card_number"] for c in self.customers.values()}
        while True:
            number = "".join(str(self.random.randrange(10)) for _ in range(digits))
            if number[0] != "0" and number not in taken:
                return number

    def find(self, code: str = "", card_number: str = "") -> dict[str, Any] | None:
        if code:
            return self.customers.get(code)
        if card_number:
            for customer in self.customers.values():
                if customer["card_number"] == card_number:
                    return customer
        return None

    def by_email(self, email: str) -> list[dict[str, Any]]:
        return [c for c in self.customers.values() if c["email"].lower() == email.lower()]

    # ---- gateway ------------------------------------------------------------------------
    def label(self, request: web.Request, body: Any) -> str | None:
        if isinstance(body, dict) and body.get("type"):
            return str(body["type"])
        return request.query.get("type") or None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._gateway)

    async def _gateway(self, request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        raw_form = ""
        if request.method == "POST":
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
            raw_form = (await request.read()).decode("utf-8", "replace")
        if self.echo_request == "unreadable":
            page = f"<html><body><h1>Bad gateway</h1><p>request: {escape(raw_form)}</p></body></html>"
            return web.Response(text=page, content_type="text/html")
        header_key = request.headers.get("api_access_key")
        if header_key:
            params["user_api_key"] = header_key
        try:
            self._authenticate(params)
            kind = params.get("type", "")
            handler = {
                "customers_batch": self._customers_batch,
                "manage_fields": self._manage_fields,
                "campaigns_list": self._campaigns_list,
                "customer_search": self._customer_search,
                "customer_info": self._customer_info,
            }.get(kind)
            if handler is None:
                raise LoyaltyError(f"Unknown type '{kind}'")
            with self.lock:
                payload = handler(params)
            if self.echo_request:
                payload["request"] = raw_form
            return self.render({"status": "success", **payload}, params)
        except LoyaltyError as err:
            extra = {"request": raw_form} if self.echo_request else {}
            return self.render({"status": "error", "error": str(err), **extra}, params)

    def _authenticate(self, params: dict[str, str]) -> None:
        if params.get("API") not in ("1.5", "1.6"):
            raise LoyaltyError(f"Unsupported API version '{params.get('API', '')}'")
        if not params.get("user_id") or not params.get("user_api_key"):
            raise LoyaltyError("Missing user_id or user_api_key")
        if params["user_id"] != self.user_id or params["user_api_key"] != self.api_key:
            raise LoyaltyError("Invalid user_id or user_api_key")
        if params.get("account_id") != self.account_id:
            raise LoyaltyError(f"Unknown account_id '{params.get('account_id', '')}'")

    # ---- rendering ----------------------------------------------------------------------
    @staticmethod
    def render(payload: dict[str, Any], params: dict[str, str]) -> web.Response:
        fmt = (params.get("output") or "").upper()
        callback = params.get("callback")
        if fmt == "JSON" or callback:
            condensed = (params.get("condensed") or "").lower() == "yes"
            text = json.dumps(
                payload,
                ensure_ascii=False,
                indent=None if condensed else 2,
                separators=(",", ":") if condensed else None,
            )
            if callback:
                return web.Response(text=f"{callback}({text});", content_type="application/javascript")
            return web.Response(text=text, content_type="application/json")
        return web.Response(text=to_xml(payload), content_type="text/xml")

    # ---- customers_batch ----------------------------------------------------------------
    def headers(self, params: dict[str, str]) -> list[str]:
        numbered = []
        for key, value in params.items():
            m = HEADER_KEY.match(key)
            if m:
                numbered.append((int(m.group(1)), value.strip()))
        if not numbered:
            raise LoyaltyError("At least one profiles_header_## is required")
        numbered.sort()
        previous = 0
        for n, _ in numbered:
            if n - previous > 2:
                raise LoyaltyError(
                    f"profiles_header_{n} follows profiles_header_{previous}: do not skip more than one number"
                )
            previous = n
        allowed = set(HEADER_FIELDS) | set(self.custom_field_names)
        names = [v for _, v in numbered]
        for name in names:
            if name not in allowed:
                raise LoyaltyError(f"Unknown header '{name}'")
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise LoyaltyError(f"Header used more than once: {', '.join(sorted(dupes))}")
        return names

    def sink(self) -> "LoyaltyEmulator":
        """A benchmark's write target: every customers_batch is checked and answered as usual,
        then forgotten (the customers it created, its undo state, its entry in `batches`), so
        every batch costs the same; `lines_received` and `batches_ok` count what was accepted."""
        self._kept = dict(self.customers)
        self.lines_received = 0
        self.batches_ok = 0
        return self

    def _customers_batch(self, params: dict[str, str]) -> dict[str, Any]:
        if self._kept is None:
            return self._import_batch(params)
        try:
            answer = self._import_batch(params)
        finally:
            self.customers = dict(self._kept)
            self.undo_states.clear()
        self.lines_received += self.batches[-1]["lines"]
        self.batches_ok += 1
        self.batches.clear()
        return answer

    def _import_batch(self, params: dict[str, str]) -> dict[str, Any]:
        delimiter_name = params.get("delimiter", "")
        if delimiter_name not in DELIMITERS:
            raise LoyaltyError("delimiter must be pipe, comma or tab")
        delimiter = DELIMITERS[delimiter_name]
        mode = params.get("overwrite_duplicates", "")
        if mode not in ("yes", "update", "ignore"):
            raise LoyaltyError("overwrite_duplicates must be yes, update or ignore")
        campaign_ids = [c.strip(" |") for c in params.get("campaigns_to_include", "").split(",")]
        campaign_ids = [c for c in campaign_ids if c]
        if not campaign_ids:
            raise LoyaltyError("campaigns_to_include: at least one campaign is required")
        for cid in campaign_ids:
            if cid not in self.campaign_ids:
                raise LoyaltyError(f"Campaign '{cid}' not found in account {self.account_id}")
        generate = params.get("card_number_generate", "")
        if generate and (not generate.isdigit() or not 4 <= int(generate) <= 20):
            raise LoyaltyError("card_number_generate must be a number of digits between 4 and 20")
        headers = self.headers(params)
        data = next((v for k, v in params.items() if k.lower() == "profiles_data"), None)
        if data is None:
            raise LoyaltyError("profiles_data is required")
        lines = [(i, line) for i, line in enumerate(LINE_BREAK.split(data), 1) if line.strip()]
        if not lines:
            raise LoyaltyError("profiles_data holds no customer")
        if self.max_lines is not None and len(lines) > self.max_lines:
            raise LoyaltyError(f"Too many lines in batch: {len(lines)} (maximum {self.max_lines})")

        rows: list[tuple[int, dict[str, str]]] = []
        errors: list[dict[str, Any]] = []
        for n, (lineno, line) in enumerate(lines, 1):
            values = line.split(delimiter)
            if len(values) != len(headers):
                raise LoyaltyError(
                    f"Line {n}: {len(values)} fields found, the headers define {len(headers)}; nothing was imported"
                )
            row = dict(zip(headers, (v.strip() for v in values)))
            problem = self.line_problem(row)
            if problem:
                if self.errors_fail_batch:
                    raise LoyaltyError(f"Line {n}: {problem}; nothing was imported")
                errors.append({"line": n, "message": problem})
                continue
            rows.append((n, row))

        before: dict[str, dict[str, Any] | None] = {}  # undo state: what this batch touched
        counts = {"new": 0, "updated": 0, "ignored": 0}
        generated: list[dict[str, Any]] = []
        for n, row in rows:
            amount = row.pop("auto_add", "")
            existing = self.find(row.get("code", ""), row.get("card_number", ""))
            if existing is not None and mode == "ignore":
                counts["ignored"] += 1
                continue
            if existing is None:
                customer = self.blank_customer()
                customer.update(row)
                made: dict[str, Any] = {}
                if not customer["code"]:
                    customer["code"] = made["code"] = self.new_code()
                if generate and not customer["card_number"]:
                    customer["card_number"] = made["card_number"] = self.new_card_number(int(generate))
                before.setdefault(customer["code"], None)
                self.customers[customer["code"]] = customer
                counts["new"] += 1
                if made:
                    generated.append({"line": n, **made})
            else:
                customer = existing
                before.setdefault(customer["code"], _copy(customer))
                if mode == "yes":
                    keep = {"code": customer["code"], "campaigns": customer["campaigns"]}
                    customer.clear()
                    customer.update(self.blank_customer())
                    customer.update(keep)
                row.pop("code", None)
                customer.update(row)
                if generate and not customer["card_number"]:
                    customer["card_number"] = self.new_card_number(int(generate))
                    generated.append({"line": n, "code": customer["code"], "card_number": customer["card_number"]})
                counts["updated"] += 1
            for cid in campaign_ids:
                customer["campaigns"].setdefault(cid, 0)
            if amount:
                first = campaign_ids[0]
                customer["campaigns"][first] = customer["campaigns"][first] + _number(amount)
        # seed 003: "By default, if this parameter is not included, an undo state will be saved."
        if params.get("no_undo", "").strip().lower() != "yes":
            self.undo_states.append({"before": before, "lines": len(lines)})
        self.batches.append({"lines": len(lines), **counts, "errors": len(errors), "mode": mode})
        batch: dict[str, Any] = {"status": "imported", "customers": counts}
        if generated:
            batch["generated"] = generated
        if errors:
            batch["errors"] = errors
        return {"batch": batch}

    def line_problem(self, row: dict[str, str]) -> str | None:
        value = row.get("custom_date", "")
        if value:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return f"custom_date '{value}' is not in YYYY-MM-DD format"
            try:
                date.fromisoformat(value)
            except ValueError:
                return f"custom_date '{value}' is not a valid date"
        amount = row.get("auto_add", "")
        if amount and not re.fullmatch(r"\d+(\.\d+)?", amount):
            return f"auto_add '{amount}' is not an amount"
        email = row.get("email", "")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            return f"email '{email}' is not a valid address"
        return None

    def undo(self) -> None:
        """Roll back the latest undo state (what the admin interface's undo would do)."""
        with self.lock:
            state = self.undo_states.pop()
            for code, customer in state["before"].items():
                if customer is None:
                    self.customers.pop(code, None)
                else:
                    self.customers[code] = customer

    # ---- read calls ---------------------------------------------------------------------
    def _manage_fields(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("action", "list") != "list":
            raise LoyaltyError(f"manage_fields action '{params.get('action')}' is not emulated")
        return {"fields": [dict(f) for f in self.custom_fields]}

    def _campaigns_list(self, params: dict[str, str]) -> dict[str, Any]:
        offset = _int(params.get("offset", "0"), "offset")
        length = _int(params.get("length", "25"), "length")
        page = self.campaigns[offset : offset + length]
        return {"total": len(self.campaigns), "campaigns": [dict(c) for c in page]}

    def public(self, customer: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in customer.items() if k != "campaigns"}
        out["campaigns"] = [{"id": cid, "balance": bal} for cid, bal in customer["campaigns"].items()]
        return out

    def _customer_search(self, params: dict[str, str]) -> dict[str, Any]:
        filters = {k: params[k] for k in STANDARD_FIELDS + tuple(self.custom_field_names) if params.get(k)}
        term = params.get("search", "").lower()
        if not filters and not term:
            raise LoyaltyError("customer_search needs a search term or a field to match")
        found = []
        for customer in self.customers.values():
            if any(customer.get(k, "").lower() != v.lower() for k, v in filters.items()):
                continue
            if term and not any(term in str(customer.get(k, "")).lower() for k in STANDARD_FIELDS):
                continue
            found.append(self.public(customer))
        return {"count": len(found), "customers": found}

    def _customer_info(self, params: dict[str, str]) -> dict[str, Any]:
        customer = self.find(params.get("code", ""), params.get("card_number", ""))
        if customer is None:
            raise LoyaltyError("Customer not found")
        return {"customer": self.public(customer)}


def _copy(customer: dict[str, Any]) -> dict[str, Any]:
    out = dict(customer)
    out["campaigns"] = dict(customer["campaigns"])
    return out


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


def _int(text: str, name: str) -> int:
    if not text.isdigit():
        raise LoyaltyError(f"{name} must be a whole number")
    return int(text)


def to_xml(payload: dict[str, Any]) -> str:
    """`{"status": s, ...}` → `<response status="s">…</response>`; lists repeat the singular tag,
    list items with a `line`/`id` key carry it as an attribute."""
    status = payload.get("status", "success")
    parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<response status={quoteattr(status)}>']
    for key, value in payload.items():
        if key == "status":
            continue
        parts.append(_xml_node(key, value))
    parts.append("</response>")
    return "\n".join(parts)


def _singular(tag: str) -> str:
    return {"customers": "customer", "campaigns": "campaign", "fields": "field", "errors": "error", "generated": "customer"}.get(
        tag, "item"
    )


def _xml_node(tag: str, value: Any) -> str:
    if isinstance(value, dict):
        attrs = ""
        inner = dict(value)
        if tag == "batch" and "status" in inner:
            attrs = f" status={quoteattr(str(inner.pop('status')))}"
        return f"<{tag}{attrs}>" + "".join(_xml_node(k, v) for k, v in inner.items()) + f"</{tag}>"
    if isinstance(value, list):
        items = []
        for item in value:
            if isinstance(item, dict):
                item = dict(item)
                attrs = "".join(f" {k}={quoteattr(str(item.pop(k)))}" for k in ("line", "id") if k in item)
                if tag == "errors" and "message" in item:
                    items.append(f"<error{attrs}>{escape(str(item['message']))}</error>")
                    continue
                inner = "".join(_xml_node(k, v) for k, v in item.items())
                items.append(f"<{_singular(tag)}{attrs}>{inner}</{_singular(tag)}>")
            else:
                items.append(_xml_node(_singular(tag), item))
        return f'<{tag} count="{len(value)}">' + "".join(items) + f"</{tag}>"
    if isinstance(value, bool):
        value = "yes" if value else "no"
    return f"<{tag}>{escape(str(value))}</{tag}>"
