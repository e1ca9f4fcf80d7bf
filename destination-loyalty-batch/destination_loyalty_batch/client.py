"""The loyalty platform over HTTP: form-encoded POSTs with credentials, answers parsed as XML or
JSON, errors classified into "fix your configuration" and "this batch was refused"."""

from __future__ import annotations

import logging
import re
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import quote, quote_plus

import requests
from requests.models import RequestEncodingMixin

from destination_common import HttpClient, TransientResponse, add_secret, check_url, config_error, redact

from destination_loyalty_batch import __version__
from destination_loyalty_batch.reply import Reply, parse_reply

logger = logging.getLogger("airbyte")

DEFAULT_URL = "https://api.clienttoolbox.com"
API_VERSION = "1.5"
FIELDS_API_VERSION = "1.6"  # manage_fields appeared in API 1.6

# Error messages that no split of the batch can cure: stop the sync with a config error.
# A message that names a line ("Line 3: ...") is about data, whatever else it says.
CONFIG_ERRORS = re.compile(
    r"user_id|api_key|api key|credential|authori[sz]|permission|not allowed|access denied|"
    r"account_id|unknown account|account not found|invalid account|"
    r"campaign|header|delimiter|overwrite_duplicates|card_number_generate|API version|unknown type",
    re.IGNORECASE,
)
FORM = "application/x-www-form-urlencoded"
LINE_ERROR = re.compile(r"^\s*line\s+\d+", re.IGNORECASE)
MAX_LINES = re.compile(r"too many lines.*?maximum\D*(\d+)", re.IGNORECASE | re.S)


def encodings(value: Any) -> list[str]:
    """A secret as it can appear in what the platform sends back: raw, and URL-encoded the way a
    form body carries it (quote_plus) or a URL does (quote)."""
    text = str(value or "")
    if not text:
        return []
    return sorted({text, quote(text, safe=""), quote_plus(text, safe=""), quote(text)}, key=len, reverse=True)


def scrub(text: Any, secrets: Iterable[Any] = ()) -> str:
    """`redact()` (every registered secret) plus every encoding of each of `secrets`."""
    extra = [e for value in secrets for e in encodings(value)]
    return redact(text, extra=extra)


def is_config_error(message: str) -> bool:
    return bool(CONFIG_ERRORS.search(message)) and not LINE_ERROR.match(message) and not MAX_LINES.search(message)


class ApiError(Exception):
    """The platform answered status="error" (HTTP 200)."""

    def __init__(self, message: str, reply: Reply) -> None:
        super().__init__(message)
        self.message = message
        self.reply = reply


class LoyaltyClient:
    def __init__(self, config: Mapping[str, Any], *, sleep: Any = None) -> None:
        given = str(config.get("api_url") or "").strip()
        self.url = check_url(given or DEFAULT_URL, "API URL")
        if not given:
            logger.info(f"The API URL is empty: using the platform's public endpoint {self.url}.")
        self.user_id = str(config["user_id"])
        self.api_key = str(config["api_key"])
        add_secret(self.api_key)  # with its encoded forms (raw, URL-encoded, base64): every log line masks them
        self.account_id = str(config["account_id"])
        self.output = str(config.get("response_format") or "XML").upper()
        self.key_in_header = bool(config.get("api_key_in_header", False))
        kwargs: dict[str, Any] = {}
        if sleep is not None:
            kwargs["sleep"] = sleep
        timeout = float(config.get("request_timeout_seconds") or 120)
        self.http = HttpClient(
            timeout=(min(10.0, timeout), timeout),
            max_retries=int(config.get("http_max_retries", 5)),
            backoff_base=float(config.get("http_backoff_seconds", 2)),
            backoff_max=60.0,
            user_agent=f"airbyte-destination-loyalty-batch/{__version__}",
            service=f"The loyalty platform at {self.url}",
            **kwargs,
        )

    def form(self, kind: str, fields: Mapping[str, Any], api: str = API_VERSION) -> dict[str, Any]:
        out: dict[str, Any] = {"API": api, "user_id": self.user_id, "account_id": self.account_id, "type": kind}
        if not self.key_in_header:
            out["user_api_key"] = self.api_key
        if self.output == "JSON":
            out["output"] = "JSON"
        out.update(fields)
        return out

    def encode_form(self, kind: str, fields: Mapping[str, Any], api: str = API_VERSION) -> str:
        """The request body of `call(kind, fields)`, byte for byte what requests makes of the form
        (`data=` a dict), so a handler can encode it ahead of the call (prepare())."""
        return RequestEncodingMixin._encode_params(self.form(kind, fields, api))

    def scrub(self, text: Any, secrets: Iterable[Any] = ()) -> str:
        """Text fit for a log line: the API key and `secrets` (a batch's passwords and PINs, from 4
        characters: a shorter one would mask line numbers and counts) masked raw and URL-encoded,
        besides every secret the CDK knows."""
        return scrub(text, [self.api_key, *(s for s in secrets if len(str(s)) >= 4)])

    def log_raw(self, what: str, raw: str, secrets: Iterable[Any] = ()) -> None:
        """The raw answer, for diagnosis, at DEBUG only and scrubbed: an answer may echo the
        request form (the key URL-encoded, customers' passwords and PINs)."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(self.scrub(f"{what}: raw answer (first 2000 characters, secrets masked): {raw[:2000]!r}", secrets))

    def call(
        self,
        kind: str,
        fields: Optional[Mapping[str, Any]],
        *,
        api: str = API_VERSION,
        secrets: Iterable[Any] = (),
        body: Optional[str] = None,
    ) -> Reply:
        """One call (`body`: the form already encoded by `encode_form(kind, fields, api)`, then
        `fields` is not used); returns a success Reply, raises ApiError on status="error", a config_error
        AirbyteTracedException on a 4xx, a transient_error one when retries run out (5xx,
        timeouts, dropped connections and unreadable answers are retried). `secrets`: values of
        the request (passwords, PINs) that a log line must never show."""
        holder: dict[str, Reply] = {}
        secrets = list(secrets)

        def check(response: requests.Response) -> None:
            reply = parse_reply(response.text)
            if reply.status == "unreadable":
                logger.warning(
                    f"{kind}: unreadable answer ({reply.error}; {len(response.text)} characters, "
                    f"Content-Type {response.headers.get('Content-Type', '-')!r}); retried. "
                    "Run with --debug to log the answer (secrets masked)."
                )
                self.log_raw(kind, response.text, secrets)
                raise TransientResponse(f"unreadable answer: {reply.error}")
            holder["reply"] = reply

        headers = {"api_access_key": self.api_key} if self.key_in_header else None
        if body is None:
            data: Any = self.form(kind, fields or {}, api)
        else:
            data = body
            headers = {**(headers or {}), "Content-Type": FORM}  # what requests sets for a dict, not for a text
        response = self.http.request("POST", self.url, what=kind, validate=check, data=data, headers=headers)
        if response.status_code in (413, 414):
            # The request is too large: a smaller batch can pass, so this is a batch refusal.
            raise ApiError(f"HTTP {response.status_code}: the request is too large for the platform", parse_reply(""))
        if response.status_code >= 400:
            raise config_error(
                f"The loyalty platform at {self.url} answered HTTP {response.status_code} to {kind}. "
                "Check the API URL (it is the platform's endpoint, e.g. https://api.clienttoolbox.com) and the credentials."
            )
        reply = holder["reply"]
        if reply.status == "error":
            raise ApiError(self.scrub(reply.error or "error", secrets), reply)
        return reply

    # ---- read calls ---------------------------------------------------------------------
    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign of the account (campaigns_list, paged by 100)."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            reply = self.call_or_config_error("campaigns_list", {"offset": offset, "length": 100})
            page = _items(reply.data.get("campaigns"), "campaign")
            out.extend(page)
            total = _int(reply.data.get("total"))
            offset += len(page)
            if not page or len(page) < 100 or (total is not None and offset >= total):
                return out

    def custom_fields(self) -> list[dict[str, Any]]:
        reply = self.call_or_config_error("manage_fields", {"action": "list"}, api=FIELDS_API_VERSION)
        return [f for f in _items(reply.data.get("fields"), "field") if f.get("name")]

    def call_or_config_error(self, kind: str, fields: Mapping[str, Any], *, api: str = API_VERSION) -> Reply:
        try:
            return self.call(kind, fields, api=api)
        except ApiError as err:
            raise config_error(
                f"The loyalty platform refused {kind} for account '{self.account_id}': {err.message}. "
                "Check the user id, API key and account id."
            ) from None


def _items(value: Any, singular: str) -> list[dict[str, Any]]:
    """A JSON list, or the XML-as-dict form {"count": n, singular: item-or-list}."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        inner = value.get(singular)
        if isinstance(inner, list):
            return [v for v in inner if isinstance(v, dict)]
        if isinstance(inner, dict):
            return [inner]
    return []


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
