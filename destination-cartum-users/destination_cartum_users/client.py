"""Cartum API gateway client: login, token in every JSON body, envelope handling, one new
login when the token expires."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any, Optional, Union

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import BatchRefused, HttpClient, add_secret, check_url, config_error, redact

from destination_cartum_users.version import __version__

logger = logging.getLogger("airbyte")

TOKEN_STATUSES = {"AUTHORIZATION_ERROR", "UNAUTHORIZED"}
USER_AGENT = f"airbyte-destination-cartum-users/{__version__}"
JSON_HEADERS = {"Content-Type": "application/json"}


class EncodedBody:
    """A request body `{key: value}` whose value is already JSON text, so the (large) list of
    an import is encoded once, before the request is due (`ImportHandler.prepare`), and a new
    token after a re-login costs no second encoding. `with_token(token)` gives the bytes that
    requests' own `json=` encoding gives for `{key: value, "token": token}` (the standard
    json module, `allow_nan=False`, default separators, ASCII escapes, UTF-8): the request is
    byte for byte the same. `EncodedBody.of` answers None for a value that encoding refuses
    (NaN, an object JSON cannot hold): the caller then sends the mapping, and requests reports
    the problem exactly as it always did."""

    __slots__ = ("key", "value_json")

    def __init__(self, key: str, value_json: str) -> None:
        self.key = key
        self.value_json = value_json

    @classmethod
    def of(cls, key: str, value: Any) -> Optional["EncodedBody"]:
        try:
            return cls(key, json.dumps(value, allow_nan=False))
        except (TypeError, ValueError, RecursionError):
            return None

    def with_token(self, token: Optional[str]) -> bytes:
        return f"{{{json.dumps(self.key)}: {self.value_json}, \"token\": {json.dumps(token)}}}".encode("utf-8")


def b2b_missing(base: str, function: str = "customer-groups/export") -> AirbyteTracedException:
    """The config error for a shop without the B2B module (a FORBIDDEN to a B2B function)."""
    return config_error(
        f"The shop at {base} has no B2B module ({function} answered FORBIDDEN). "
        "Switch 'B2B module' off in the configuration, or enable the module in the shop."
    )


class CartumClient:
    """`call(function, body)` → (status, response) of the envelope, after logging in when needed
    and once more when the token was rejected (expired). Raises config errors for a wrong URL
    and bad credentials; HttpClient raises transient errors after its retries."""

    def __init__(self, config: Mapping[str, Any], http: Optional[HttpClient] = None) -> None:
        self.base = check_url(config.get("shop_url"), field="shop URL")
        self.login = config.get("login", "")
        self.password = config.get("password", "")
        self.http = http or HttpClient(
            timeout=(15.0, float(config.get("request_timeout_seconds", 120))),
            max_retries=int(config.get("http_max_retries", 5)),
            backoff_base=float(config.get("http_backoff_seconds", 2)),
            service=f"Cartum API at {self.base}",
            user_agent=USER_AGENT,
        )
        self.token: Optional[str] = None
        self.logins = 0
        # send() runs in worker threads (max_concurrent_requests): the token and the login
        # counter change under this lock, and only one thread logs in again when the token
        # is rejected (the others reuse the token it got).
        self._lock = threading.RLock()

    def url(self, function: str) -> str:
        return f"{self.base}/api/{function}/"

    def _post(self, function: str, body: Optional[Mapping[str, Any]], *, encoded: Optional[bytes] = None) -> Any:
        """POST `body` as JSON (or `encoded`, a body already encoded as JSON)."""
        try:
            if encoded is None:
                data = self.http.post_json(self.url(function), body, what=function)
            else:
                data = self.http.post_json(self.url(function), None, what=function, data=encoded, headers=JSON_HEADERS)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 413:
                body = (exc.response.text or "")[:200] if exc.response is not None else ""
                raise BatchRefused(f"HTTP 413: the request is too large for the shop ({body})", code="http 413") from None
            if status in (401, 403, 404, 405):
                raise config_error(
                    f"The shop at {self.base} answered HTTP {status} to /api/{function}/: this does not look like "
                    "a Cartum API. Check the shop URL (the shop's own address, without /api)."
                ) from None
            raise BatchRefused(f"HTTP {status} from /api/{function}/", code=f"http {status}") from None
        except requests.exceptions.InvalidURL:
            raise config_error(f"The shop URL {self.base} is not a valid address.") from None
        if not isinstance(data, Mapping) or "status" not in data:
            raise config_error(
                f"The shop at {self.base} answered /api/{function}/ without the Cartum envelope "
                "{status, response}. Check the shop URL."
            )
        return data

    def authenticate(self) -> str:
        """POST /api/auth/; bad credentials and wrong URLs are config errors."""
        with self._lock:
            return self._authenticate()

    def _authenticate(self) -> str:
        try:
            data = self._post("auth", {"login": self.login, "password": self.password})
        except BatchRefused as exc:
            raise config_error(f"The shop at {self.base} refused the login request ({exc.reason}). Check the shop URL.") from None
        status = data.get("status")
        response = data.get("response") or {}
        if status == "OK" and isinstance(response, Mapping) and response.get("token"):
            self.token = str(response["token"])
            add_secret(self.token)
            self.logins += 1
            return self.token
        if status == "UNDEFINED_FUNCTION":
            raise config_error(f"The shop at {self.base} has no API function auth: check the shop URL.")
        message = response.get("message") if isinstance(response, Mapping) else None
        raise config_error(
            f"Cartum refused the login of API user '{self.login}' at {self.base} ({status}: {message or 'no message'}). "
            "Check the API login and password (shop admin: Settings > API access)."
        )

    def call(self, function: str, body: Union[Mapping[str, Any], EncodedBody, None] = None) -> tuple[str, Any]:
        """(status, response) of one gateway call; one new login if the token is rejected.
        `body` is a mapping (the token is added) or an `EncodedBody` (the same request, its
        JSON made ahead)."""
        with self._lock:
            if self.token is None:
                self._authenticate()
            token = self.token
        for attempt in (0, 1):
            if isinstance(body, EncodedBody):
                data = self._post(function, None, encoded=body.with_token(token))
            else:
                data = self._post(function, {**(body or {}), "token": token})
            status = data.get("status")
            if status in TOKEN_STATUSES and attempt == 0:
                with self._lock:
                    if self.token == token:  # nobody has logged in again since this request left
                        logger.info(f"{function}: the API token was rejected ({status}); logging in again")
                        self._authenticate()
                    token = self.token
                continue
            if status in TOKEN_STATUSES:
                raise config_error(
                    f"Cartum rejected a fresh API token for {function} ({status}). "
                    "Check that the API user may use this function."
                )
            response = data.get("response")
            if logger.isEnabledFor(logging.DEBUG):
                # the status and the shape only: answers hold personal data (e-mails, phones)
                size = {k: len(v) for k, v in response.items() if isinstance(v, list)} if isinstance(response, Mapping) else {}
                logger.debug(redact(f"{function}: answered {status} {size or ''}".rstrip()))
            return str(status), response
        raise AssertionError("unreachable")

    # ---- read-only calls of check and write -------------------------------------------------
    def check_access(self, *, b2b: bool) -> None:
        """What `check` proves: the login works (a shop that cannot be reached is a config
        error here: wrong URL or offline) and one read the sync needs answers OK or EMPTY
        (customer-groups/export with B2B, else users/export); else a config error."""
        try:
            self.authenticate()
        except AirbyteTracedException as exc:
            if exc.failure_type == FailureType.transient_error:
                raise config_error(
                    f"Cannot reach a Cartum API at {self.base} ({exc.message}). "
                    "Check the shop URL and that the shop is online."
                ) from None
            raise
        if b2b:
            status, response = self.call("customer-groups/export")
            if status == "FORBIDDEN":
                raise b2b_missing(self.base)
        else:
            status, response = self.call("users/export", {"limit": 1})
        if status not in ("OK", "EMPTY"):
            raise config_error(f"The shop at {self.base} answered {status}: {self.message(response)}")

    def customer_group_ids(self) -> set[int] | None:
        """Ids of customer-groups/export (a FORBIDDEN: no B2B module: config error); None when
        the shop answered something else (customer_group_id is then not checked)."""
        status, response = self.call("customer-groups/export")
        if status == "FORBIDDEN":
            raise b2b_missing(self.base)
        if status == "OK" and isinstance(response, Mapping):
            return {g.get("id") for g in response.get("customer_groups") or [] if isinstance(g, Mapping)}
        if status == "EMPTY":
            return set()
        return None

    def price_level_ids(self) -> set[int]:
        """Ids of price-levels/export (a FORBIDDEN: no B2B module: config error)."""
        status, response = self.call("price-levels/export")
        if status == "FORBIDDEN":
            raise b2b_missing(self.base, "price-levels/export")
        if status == "EMPTY":
            return set()
        if status != "OK" or not isinstance(response, Mapping):
            raise config_error(f"price-levels/export answered {status}: {self.message(response)[:200]}")
        return {lv.get("id") for lv in response.get("price_levels") or [] if isinstance(lv, Mapping)}

    @staticmethod
    def message(response: Any) -> str:
        if isinstance(response, Mapping):
            return str(response.get("message") or response)
        return str(response)
