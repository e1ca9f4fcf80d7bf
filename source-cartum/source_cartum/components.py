"""What the manifest cannot say on its own.

This file is loaded two ways: by the packaged source (`source_cartum.components`, which
SourceCartum puts where the manifest says `source_declarative_manifest.components`) and, as
text, by the Connector Builder (the CDK runs it as module `components`). So it stands alone
(imports only the CDK, requests and the standard library) and has no `from __future__ import
annotations` (the Builder runs it before registering the module, and dataclasses then cannot
resolve string annotations). The manifest-only runtime (`source-declarative-manifest`) is refused
with a config_error before any request (`MANIFEST_ONLY_REFUSAL`): a sync needs source.py too.

1. `CartumSessionAuthenticator` + `CartumSession`: Cartum tokens live 600 s and travel in the
   JSON body. The manifest declares the login as the CDK's SessionTokenAuthenticator (login
   request, token path, expiry, token injection); `CartumSession`, a `TokenProvider` that owns
   its token, expiry and lock, takes that login over (`_adopt_login`, the only code that reads
   the CDK's session-token wiring: `CDK_SEAMS`, pinned by unit_tests/test_cdk_seams.py). The
   source holds one (in a `SourceShared`) and binds it while the CDK builds its streams
   (`bound_to_source`), so the streams log in once between them. A token the API rejects before its time
   (AUTHORIZATION_ERROR / UNAUTHORIZED, e.g. after a shop restart) would fail the sync: the
   manifest maps those statuses to REFRESH_TOKEN_THEN_RETRY, on which the CDK's HTTP client calls
   `refresh_and_set_access_token()` (one fresh login) and re-sends the request once, calling this
   authenticator on it first, which swaps the stale token in the body. `SourceShared` also holds
   what the answers teach during the sync (page caps, the users skip, the shop's clock).

2. `ShopLocalDatetime`: API dates carry no offset ('YYYY-MM-DD HH:MM:SS' in the shop's time
   zone). The transformation adds an ISO 8601 value with the offset beside the raw field
   (`registered` -> `registered_at`), which is also the cursor. Ambiguous local times of the
   autumn DST change resolve to the first occurrence (fold=0); nonexistent spring times keep
   the offset before the change.

3. `ProgressOffsetIncrement`: the CDK's OffsetIncrement plus one progress line per window.

4. `UsersCursorStateMigration`: the users cursor is the latest `registered_at` (ISO 8601 with
   the shop's offset, to the second) and users/export gets `from` = its shop-local wall time,
   inclusive. Before the cursor reaches the CDK, the saved state is normalised: a legacy
   date-only state (0.1.0: `{"registered_at": "2026-11-22"}`) becomes that day's local
   midnight; a value whose wall time lies in the repeated hour of an autumn DST change is moved
   one hour back, because the API compares naive local times and the second pass of that hour
   sorts below the first (see `users_cursor_value`).

5. `PhpLooseValues`: one JSON type per field. Every stream's record selector has
   `schema_normalization: Default` (the CDK's TypeTransformer casts each value to its field's one
   declared type: "3" -> 3, "122.00" -> 122.0, 380994565789 -> "380994565789", 0/1/"0"/"1" ->
   false/true). Casting cannot turn PHP's `[]` (json_encode of an empty associative array) into
   an object, nor "" into a number or boolean; this transformation, which runs before the
   normalization, does: in the `objects` fields a list becomes an object (`[]` -> `{}`, a
   non-empty list -> `{"0": first, "1": second, ...}`, PHP's keys), in the `blanks` fields ""
   becomes null.
"""

import json
import logging
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import InitVar, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Union
from urllib.parse import quote, quote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.auth.token_provider import TokenProvider
from airbyte_cdk.sources.declarative.exceptions import ReadException
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.declarative.requesters.paginators.strategies import OffsetIncrement
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.offset_increment import extracted_record_count
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.http_logger import format_http_message
from airbyte_cdk.sources.types import Config, Record, StreamSlice, StreamState
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

LOGGER = logging.getLogger("airbyte")
DEFAULT_TIMEZONE = "Europe/Kyiv"


def shop_zone(config: Mapping[str, Any]) -> ZoneInfo:
    name = config.get("shop_timezone") or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AirbyteTracedException(
            message=f"Unknown shop time zone '{name}'. Use an IANA name such as Europe/Kyiv.",
            internal_message=f"ZoneInfo({name!r}) failed",
            failure_type=FailureType.config_error,
        ) from None


# ---- credentials go only to the configured host ------------------------------------------------
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def _without_userinfo(url: str) -> str:
    """`url` with any `user:password@` removed (for messages): parsed as requests parses it."""
    from urllib3.util import parse_url

    try:
        parts = parse_url(url)
    except Exception:
        return "(an address that cannot be parsed)"
    if parts.auth:
        parts = parts._replace(auth=None)
    return parts.url


def check_shop_url(value: Any) -> str:
    """The shop URL as requests will contact it, or a config_error that never quotes user-info.

    Parsed with urllib3's `parse_url`, the parser requests uses to pick the host it connects to
    (urllib.parse disagrees on e.g. `http://a\\@127.0.0.1`). Refused: user-info, backslashes,
    whitespace, a path, query or fragment, and plain http to anything but this machine."""
    from urllib3.util import parse_url

    def refuse(why: str) -> AirbyteTracedException:
        return AirbyteTracedException(
            message=f"The shop_url is not usable: {why}. Use the shop's address, e.g. https://myshop.cartum.io.",
            internal_message=f"shop_url refused: {why}",
            failure_type=FailureType.config_error,
        )

    if not isinstance(value, str) or not value:
        raise refuse("it is empty")
    if any(ch.isspace() for ch in value) or "\\" in value:
        raise refuse("it contains whitespace or a backslash")
    try:
        parts = parse_url(value)
    except Exception:
        raise refuse("it cannot be parsed") from None
    if parts.auth is not None or "@" in value:
        raise refuse("it contains a user name or password (user:password@); put the credentials in login and password")
    if parts.query is not None or parts.fragment is not None or (parts.path or "/") != "/":
        raise refuse("it has a path, query or fragment; give only https://host[:port]")
    if not parts.host:
        raise refuse("it has no host")
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and parts.host in LOOPBACK_HOSTS:
        return value
    raise refuse("HTTPS is required (plain http only for a shop on this machine)")


def answer_date(response: requests.Response) -> Optional[datetime]:
    """The answer's `Date` header (the shop's clock), None when absent or unreadable."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        from email.utils import parsedate_to_datetime

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else None


def refuse_redirect(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A `requests` response hook, run before requests would follow a redirect: any 3xx ends the
    sync with a config_error naming the new location (never its user-info). Following it would
    send the login body (password) or the token to wherever the Location points."""
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location")
        if location:
            from urllib.parse import urljoin

            target = _without_userinfo(urljoin(response.url or "", location))
            message = (
                f"The Cartum shop answered HTTP {response.status_code}: the shop moved to {target}; "
                "update the API URL (shop_url) in the connector configuration. The connector never "
                "follows a redirect, so the credentials go only to the configured host."
            )
        else:
            message = (
                f"The Cartum shop answered HTTP {response.status_code} without a new location; check "
                "the API URL (shop_url) in the connector configuration."
            )
        response.close()
        raise AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.config_error)
    return response


def no_redirects(request: requests.PreparedRequest, session: Optional["SourceShared"] = None) -> requests.PreparedRequest:
    """Registers `refuse_redirect` on a prepared request (once), after the session's note of the
    answer's `Date` header (the shop's clock, for the cursors' future guard in source.py)."""
    hooks = request.hooks.setdefault("response", [])
    if session is not None and session.note_answer_date not in hooks:
        hooks.append(session.note_answer_date)
    if refuse_redirect not in hooks:
        hooks.append(refuse_redirect)
    return request


def register_login_token(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A response hook of the login: the new session token becomes a secret before anything
    (the CDK's debug log of the answer included) can print it."""
    try:
        token = response.json().get("response", {}).get("token")
    except (ValueError, AttributeError):
        return response
    if isinstance(token, str) and token:
        add_to_secrets(token)
    return response


_SPELLINGS_REGISTERED: set = set()


def register_password_spellings(config: Mapping[str, Any]) -> None:
    """The CDK masks the password as written; its --debug line of the login request quotes the
    body as `str(bytes)` of the JSON inside a JSON document, so a quote, a backslash or a
    non-ASCII letter changes the password's spelling there (escaped two or three times), and
    a URL-encoded form may appear in an error: register those spellings too (once per
    password; called when the login request is prepared, after the entrypoint set up its
    filter)."""
    password = str(config.get("password") or "")
    if not password or password in _SPELLINGS_REGISTERED:
        return
    _SPELLINGS_REGISTERED.add(password)
    forms = {quote(password, safe=""), quote_plus(password)}
    for ascii_only in (True, False):
        once = json.dumps(password, ensure_ascii=ascii_only)[1:-1]  # the body's JSON
        in_bytes = repr(once.encode("utf-8"))[2:-1]  # str(bytes) in the debug line
        forms |= {once, in_bytes, json.dumps(once)[1:-1], json.dumps(in_bytes)[1:-1]}
    for form in sorted(forms - {password}, key=len, reverse=True):
        if len(form) >= 4:
            add_to_secrets(form)


@dataclass
class NoRedirectAuthenticator(DeclarativeAuthenticator):
    """The login requester's authenticator: adds nothing to the request (the login sends its
    credentials in the body) but refuses redirects (see `refuse_redirect`)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._shared = _BOUND.get()  # what the source's streams share (None in the Connector Builder)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        register_password_spellings(self.config)  # before the CDK's debug line of this request
        no_redirects(request, self._shared)
        hooks = request.hooks.setdefault("response", [])
        if register_login_token not in hooks:
            hooks.append(register_login_token)
        return request

    @property
    def auth_header(self) -> str:
        return ""

    @property
    def token(self) -> str:
        return ""


# ---- the login session: the one place that touches the CDK's session-token internals ----------
# The manifest declares the login as the CDK's SessionTokenAuthenticator (login request, token
# path, expiry, token injected into every JSON body). The factory builds it as
# ApiKeyAuthenticator.token_provider -> InterpolatedSessionTokenProvider.session_token_provider ->
# SessionTokenProvider(login_requester, session_token_path, expiration_duration, decoder).
# `CartumSession` takes those four public fields (`_adopt_login`) and replaces the CDK's
# provider: it owns the token, its expiry, the lock and the login itself, so nothing here reads
# or calls a private CDK attribute. The attributes below are all it relies on; the canary test
# (unit_tests/test_cdk_seams.py) fails naming the installed airbyte-cdk version if one moves.
CDK_SEAMS = (
    ("ApiKeyAuthenticator", "token_provider"),
    ("InterpolatedSessionTokenProvider", "session_token_provider"),
    ("SessionTokenProvider", "login_requester"),
    ("SessionTokenProvider", "session_token_path"),
    ("SessionTokenProvider", "expiration_duration"),
    ("SessionTokenProvider", "decoder"),
)

# SourceCartum binds what its streams share here while the CDK builds them (`bound_to_source`);
# every component built meanwhile uses it, so the streams of one source log in once between them.
# Built outside SourceCartum (the Connector Builder), each component has its own.
_BOUND: ContextVar[Optional["SourceShared"]] = ContextVar("cartum_source_shared", default=None)


def cdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("airbyte-cdk")
    except Exception:  # not installed as a distribution (e.g. a vendored copy)
        return "unknown"


class CartumSession(TokenProvider):
    """The login session of one source instance: a `TokenProvider` that owns the token, its
    expiry and the lock.

    - `get_token()` logs in (the manifest's login request) when there is no token yet or it has
      expired (`expiration_duration`, PT540S for 600 s tokens).
    - `refresh(grace)` is the forced re-login after the API rejected a token before its expiry;
      a rejection reported within `grace` seconds of a login reuses that fresh token. The token
      it replaced is remembered (`stale`) so that requests still carrying it get the new one.
    - A login that failed for good (retries exhausted, credentials refused) and `give_up(error)`
      (an outage the source detected) make every later request of the sync fail at once with
      that error instead of logging in again on its own.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._token: Optional[str] = None
        self._expires_at: Optional[datetime] = None
        self._login: Optional[tuple] = None  # (login_requester, token_path, expiration, decoder)
        self.host = ""
        self.logins = 0
        self.stale: Dict[bytes, None] = {}
        self.last_refresh = float("-inf")
        self.failure: Optional[AirbyteTracedException] = None
        self.known_token: Optional[str] = None  # the last token registered as a secret

    @property
    def token(self) -> Optional[str]:
        """The current token (None before the first login)."""
        return self._token

    def adopt(self, login_requester: Any, token_path: Any, expiration: Any, decoder: Any, host: str) -> None:
        """Takes the manifest's login (the first authenticator built brings it; later ones are
        built from the same manifest and bring the same)."""
        with self._lock:
            if self._login is None:
                self._login = (login_requester, list(token_path), expiration, decoder)
                self.host = host

    def get_token(self) -> str:
        with self._lock:
            if self.failure is not None:
                raise self.failure
            if self._token is None or (self._expires_at is not None and self._expires_at < datetime.now(timezone.utc)):
                self._guarded(self._log_in)
            return self._token  # type: ignore[return-value]  # _log_in sets it or raises

    def refresh(self, grace_seconds: float) -> None:
        with self._lock:
            if self.failure is not None:
                raise self.failure
            if time.monotonic() - self.last_refresh < grace_seconds:
                return  # another stream just logged in again: its token is the current one
            old = self._token
            LOGGER.info("Cartum rejected the session token before its expiry; logging in again.")
            self._guarded(self._log_in)
            self.last_refresh = time.monotonic()
            if old:
                self.stale[old.encode()] = None
                while len(self.stale) > 8:
                    self.stale.pop(next(iter(self.stale)))

    def give_up(self, error: AirbyteTracedException) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = error

    def _guarded(self, login: Callable[[], None]) -> None:
        try:
            login()
        except Exception as error:  # AirbyteTracedException or anything the CDK raises while logging in
            self.failure = _login_failure(error, self.host)
            raise self.failure from error

    def _log_in(self) -> None:
        """The manifest's login request, sent by the CDK's requester (retries, error handler,
        timeouts, the --debug line), and the token read at `session_token_path`."""
        if self._login is None:
            raise AirbyteTracedException(
                message="source-cartum could not log in: no login request was configured.",
                internal_message="CartumSession used before an authenticator adopted the manifest's login",
                failure_type=FailureType.system_error,
            )
        requester, path, expiration, decoder = self._login
        response = requester.send_request(
            log_formatter=lambda answer: format_http_message(
                answer, "Login request", "Obtains session token", None, is_auxiliary=True, type="AUTH"
            ),
        )
        if response is None:
            raise ReadException("Failed to get session token, response got ignored by requester")
        token: Any = next(iter(decoder.decode(response)), None)
        for key in path:
            token = token.get(key) if isinstance(token, Mapping) else None
        if not isinstance(token, str) or not token:
            raise ReadException("Failed to get session token, token is None")
        self._token = token
        self.logins += 1
        if expiration is not None:
            self._expires_at = datetime.now(timezone.utc) + expiration


class SourceShared:
    """What the streams of one source instance share, held by the source (`SourceCartum`) and
    bound while the CDK builds its streams (`bound_to_source`): the login (`login`, a
    `CartumSession`) and what the answers teach during the sync: `paging(stream)` (the largest
    page the server gave and its page cap once learnt, shared by the stream's windows:
    `ProgressOffsetIncrement`), the users skip (`register_users_skip`) and the shop's clock
    (`latest_answer_date`, from the answers' `Date` header: `note_answer_date`, a response hook).
    """

    def __init__(self) -> None:
        self.login = CartumSession()
        self._learnt_lock = threading.Lock()
        self._paging: Dict[str, Dict[str, Any]] = {}
        self.users_skip: Optional[Dict[str, Any]] = None
        self.latest_answer_date: Optional[datetime] = None

    def paging(self, stream: str) -> Dict[str, Any]:
        with self._learnt_lock:
            return self._paging.setdefault(stream, {"proven": 0, "cap": None, "confirming": {}, "lock": threading.Lock()})

    def register_users_skip(self, wall: str, ids: list) -> None:
        """Lets the users paginator start at offset len(ids)-1 instead of 0: `users/export` answers
        users in id order (the emulator does; the docs do not say), and the users of the saved
        second `wall` that an earlier sync emitted are the first len(ids) of them. The first record
        of that first page must be the last of `ids` at `wall`, else the read restarts from 0."""
        with self._learnt_lock:
            self.users_skip = {"wall": wall, "ids": sorted(ids), "state": "ready"} if len(ids) >= MIN_SKIP else None

    def take_users_skip(self, from_state: str, to_state: str, offset: Optional[int] = None) -> Optional[Dict[str, Any]]:
        """The users skip moved from `from_state` to `to_state` (None when it is not in
        `from_state`, or, with `offset`, when that is not the probe's offset)."""
        with self._learnt_lock:
            skip = self.users_skip
            if skip is None or skip["state"] != from_state or (offset is not None and offset != len(skip["ids"]) - 1):
                return None
            skip["state"] = to_state
            return skip

    def reset_answer_dates(self) -> None:
        self.latest_answer_date = None

    def note_answer_date(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        """A response hook: keeps the latest `Date` header of the shop's answers."""
        when = answer_date(response)
        if when is not None:
            with self._learnt_lock:
                if self.latest_answer_date is None or when > self.latest_answer_date:
                    self.latest_answer_date = when
        return response


def _login_failure(error: Exception, host: str) -> AirbyteTracedException:
    """The error that ends the sync after a failed login: a refused login keeps its own message
    and type (config_error); anything else (HTTP 5xx, timeouts, dropped connections after the
    retries) is a transient_error naming the host."""
    if isinstance(error, AirbyteTracedException) and error.failure_type == FailureType.config_error:
        return error
    return AirbyteTracedException(
        message=(
            f"Could not log in to the Cartum shop at {host}: the login failed after its retries "
            "(the shop's API is down, slow or unreachable). The sync stops here; run it again later."
        ),
        internal_message=f"login to {host} failed: {getattr(error, 'internal_message', None) or error}",
        failure_type=FailureType.transient_error,
    )


@contextmanager
def bound_to_source(shared: SourceShared) -> Iterator[SourceShared]:
    """While the CDK builds a source's streams: their components share `shared`."""
    token = _BOUND.set(shared)
    try:
        yield shared
    finally:
        _BOUND.reset(token)


def _seam_error(owner: str, attribute: str) -> AirbyteTracedException:
    message = (
        f"source-cartum does not work with the installed airbyte-cdk {cdk_version()}: "
        f"{owner}.{attribute} moved. Install the CDK version the connector pins (pyproject.toml)."
    )
    return AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType.system_error)


def _adopt_login(session_authenticator: Any, session: CartumSession, host: str) -> None:
    """Reads the CDK-built SessionTokenAuthenticator's login (see CDK_SEAMS) into `session` and
    puts `session` in place of the CDK's SessionTokenProvider, so that the CDK's token injection
    (`request_authentication`) asks `session` for the token."""
    outer = getattr(session_authenticator, "token_provider", None)
    if outer is None:
        raise _seam_error("ApiKeyAuthenticator", "token_provider")
    if not hasattr(outer, "session_token_provider"):
        raise _seam_error("InterpolatedSessionTokenProvider", "session_token_provider")
    inner = outer.session_token_provider
    if not isinstance(inner, CartumSession):
        fields = {}
        for name in ("login_requester", "session_token_path", "expiration_duration", "decoder"):
            if not hasattr(inner, name):
                raise _seam_error("SessionTokenProvider", name)
            fields[name] = getattr(inner, name)
        session.adopt(fields["login_requester"], fields["session_token_path"], fields["expiration_duration"], fields["decoder"], host)
    outer.session_token_provider = session


# The Connector Builder runs the manifest and this file for test reads. A sync needs source.py as
# well (the shop URL check, the config's timeouts, the users ids and the future guard in the
# state), so the manifest-only runtime (`source-declarative-manifest`, the platform's
# manifest-only image) is refused before any request instead of reading part of the job.
_MANIFEST_ONLY_LAUNCHER = "airbyte_cdk.cli.source_declarative_manifest._run"
MANIFEST_ONLY_REFUSAL = (
    "source-cartum does not run as a manifest-only connector: besides manifest.yaml and components.py "
    "it needs its Python source (source.py), which checks the shop URL before any request, applies the "
    "configured timeouts and keeps the users cursor's ids and the future-date guard in the state. Run the "
    "source-cartum image or the `source-cartum` console script instead. (The Connector Builder's test reads "
    "of this manifest and components.py are supported.)"
)


def _refuse_manifest_only() -> None:
    import sys

    if _MANIFEST_ONLY_LAUNCHER in sys.modules:
        raise AirbyteTracedException(
            message=MANIFEST_ONLY_REFUSAL, internal_message=MANIFEST_ONLY_REFUSAL, failure_type=FailureType.config_error
        )


@dataclass
class CartumSessionAuthenticator(DeclarativeAuthenticator):
    """Wraps the manifest's SessionTokenAuthenticator (`session`): its login and token injection
    run through a `CartumSession` (the source's, see `bound_to_source`), which shares one login
    between the streams and adds the forced re-login the CDK's HTTP client asks for on
    REFRESH_TOKEN_THEN_RETRY."""

    session: DeclarativeAuthenticator
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    # A rejection reported within this many seconds of a login reuses that fresh token instead
    # of logging in again: two workers rejected with the same old token need one login, not two.
    refresh_grace_seconds: float = 0.5

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        shared = _BOUND.get()
        if shared is None:  # not built by SourceCartum (which checks the URL itself): the Connector Builder
            _refuse_manifest_only()
            check_shop_url(self.config.get("shop_url"))
            shared = SourceShared()
        self._shared = shared
        self._session = shared.login
        _adopt_login(self.session, self._session, self._host)

    # ---- the token in the body -------------------------------------------------------------
    @property
    def auth_header(self) -> str:
        return ""

    @property
    def token(self) -> str:
        register_password_spellings(self.config)
        value = self._session.get_token()
        self._register(value)
        return value

    @property
    def _host(self) -> str:
        return _without_userinfo(str(self.config.get("shop_url") or ""))

    def _register(self, value: Optional[str]) -> None:
        if value and value != self._session.known_token:
            self._session.known_token = value
            # A session token is a secret too. add_to_secrets ADDS it to the CDK's filter;
            # update_secrets would replace the filter and unmask the password from then on.
            add_to_secrets(value)

    def get_request_body_json(self) -> Mapping[str, Any]:
        body = self.session.get_request_body_json()
        if body:
            self._register(self._session.token)
        return body

    def get_request_params(self) -> Mapping[str, Any]:
        return self.session.get_request_params()

    def get_request_body_data(self) -> Union[Mapping[str, Any], str]:
        return self.session.get_request_body_data()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Called on every prepared request and again before each retry: a request still
        carrying a token that a forced re-login replaced gets the current one. Redirects are
        refused (`refuse_redirect`)."""
        no_redirects(request, self._shared)
        stale = self._session.stale
        if stale and request.body:
            raw = request.body if isinstance(request.body, bytes) else str(request.body).encode()
            for old in list(stale):
                if old in raw:
                    raw = raw.replace(old, self.token.encode())
                    request.body = raw
                    request.headers["Content-Length"] = str(len(raw))
                    break
        return request

    # ---- the forced re-login ---------------------------------------------------------------
    def refresh_and_set_access_token(self) -> None:
        self._session.refresh(self.refresh_grace_seconds)
        self._register(self._session.token)



@dataclass
class ShopLocalDatetime(RecordTransformation):
    """Adds `target` = ISO 8601 with the shop's offset of the shop-local `source` field."""

    source: str
    target: str
    config: Config
    parameters: InitVar[Mapping[str, Any]]

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._zone = shop_zone(self.config)

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        record[self.target] = to_iso(record.get(self.source), self._zone)


@dataclass
class PhpLooseValues(RecordTransformation):
    """PHP's loose values made one type before the schema normalization (see the module doc).
    `objects` and `blanks` are field paths, dotted for nested fields (`manager.phone`)."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    objects: Optional[list] = None
    blanks: Optional[list] = None

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._objects = [str(p).split(".") for p in self.objects or []]
        self._blanks = [str(p).split(".") for p in self.blanks or []]

    def transform(
        self,
        record: Dict[str, Any],
        config: Optional[Config] = None,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> None:
        for path in self._objects:
            parent = _parent(record, path)
            if parent is not None and isinstance(parent.get(path[-1]), list):
                parent[path[-1]] = {str(i): v for i, v in enumerate(parent[path[-1]])}
        for path in self._blanks:
            parent = _parent(record, path)
            if parent is not None and isinstance(parent.get(path[-1]), str) and not parent[path[-1]].strip():
                parent[path[-1]] = None


def _parent(record: Dict[str, Any], path: list) -> Optional[Dict[str, Any]]:
    """The object holding the last field of `path` (None when a step is missing or not an object)."""
    node: Any = record
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def to_iso(raw: Any, zone: ZoneInfo) -> Optional[str]:
    """'2024-03-31 03:30:00' -> '2024-03-31T03:30:00+03:00' (None for an empty or odd value)."""
    if not raw or not isinstance(raw, str):
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if local.tzinfo is not None:
        return local.isoformat()
    return local.replace(tzinfo=zone).isoformat()


# A saved second with fewer emitted users than this is read again in full (cheaper than a wrong guess).
MIN_SKIP = 2


class _OffsetZero(int):
    """Offset 0 as a next-page token: an int the CDK's paginator does not take for "no page"."""

    def __bool__(self) -> bool:
        return True


@dataclass
class ProgressOffsetIncrement(OffsetIncrement):
    """The CDK's OffsetIncrement that does not trust a short page, plus a progress line per window.

    The largest `limit` the API serves is undocumented, and an API that silently caps it answers
    a page shorter than asked although more records follow. So a short page ends the window only
    when it cannot be a capped page: when it is shorter than a page this sync already got (a cap
    would give at least that many), or when the next offset comes back empty (one extra request,
    only on a window's last page). If the next offset does bring records, the short page was the
    server's cap: it is logged and asked for (`limit`) for the rest of the sync."""

    stream: str = "stream"  # the stream's name, for the progress line

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        # What the pages of this sync taught, shared by every window of the stream through the
        # source's SourceShared (see `bound_to_source`; built outside a source, this paginator's own).
        self._shared = _BOUND.get() or SourceShared()
        self._paging = self._shared.paging(self.stream)

    @property
    def initial_token(self) -> Optional[Any]:
        """0, or for users the number of already emitted users of the saved second minus one (see
        `SourceShared.register_users_skip`): those users are not asked for again; the first record
        of the first page must be the last of them, else the read starts again from offset 0."""
        token = super().initial_token
        if self.stream != "users":
            return token
        skip = self._shared.take_users_skip("ready", "probing")
        return token if skip is None else len(skip["ids"]) - 1

    def _probe(self, response: requests.Response, offset: int) -> Optional[int]:
        """None when this page is no probe or the probe holds; else the offset to read from (0)."""
        if self.stream != "users":
            return None
        skip = self._shared.take_users_skip("probing", "done", offset)
        if skip is None:
            return None
        try:
            users = response.json().get("response") or {}
            first = users.get("users", [None])[0] if isinstance(users, dict) else None
        except (ValueError, AttributeError, IndexError):
            first = None
        if isinstance(first, dict) and first.get("id") == skip["ids"][-1] and str(first.get("registered") or "") >= skip["wall"]:
            LOGGER.info(f"users: {offset} users of the saved second {skip['wall']} were emitted before; not asked for again.")
            return None
        LOGGER.warning(
            f"users: the API's answer does not start with the last user emitted at the saved second {skip['wall']} "
            "(users deleted, or not sorted by id): reading that second again from its start (no user is emitted twice)."
        )
        return 0

    def get_page_size(self) -> Optional[int]:
        size = super().get_page_size()
        cap = self._paging["cap"]
        return min(size, cap) if size and cap else size

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        count = extracted_record_count(response, default=last_page_size)
        offset = last_page_token_value if isinstance(last_page_token_value, int) else 0
        restart = self._probe(response, offset) if offset else None
        if restart is not None:
            return _OffsetZero(0)  # the CDK's paginator reads a plain 0 as "no next page"
        asked = page_size_override or self._asked(response) or self.get_page_size() or 0
        paging = self._paging
        window = repr(sorted((stream_slice.cursor_slice or {}).items())) if stream_slice is not None else ""
        with paging["lock"]:
            short_before = paging["confirming"].pop((window, offset), None)
            if short_before is not None and count > 0 and not paging["cap"]:
                paging["cap"] = short_before
                LOGGER.warning(
                    f"{self.stream}: the API answered {short_before} records where {short_before_asked(short_before, asked)} "
                    f"were asked, and more followed: it caps its pages at {short_before}. Asking {short_before} per page "
                    "for the rest of this sync."
                )
            cap = paging["cap"]
            full = min(asked, cap) if asked and cap else asked
            if count == 0:
                token = None
            elif full and count >= full:
                token = offset + count
            elif count < paging["proven"] or cap:
                token = None  # shorter than a page the server already gave: really the end
            else:
                paging["confirming"][(window, offset + count)] = count
                token = offset + count  # not trusted yet: the next offset tells
            paging["proven"] = max(paging["proven"], count)
        if token is None:
            size = full or 1
            pages = offset // size + 1 if offset else 1
            bounds = ""
            if stream_slice is not None and stream_slice.cursor_slice:
                bounds = " from " + " to ".join(str(v) for v in stream_slice.cursor_slice.values())
            LOGGER.info(f"{self.stream}: window{bounds} done, {offset + count} records in {pages} page(s)")
        return token

    @staticmethod
    def _asked(response: requests.Response) -> Optional[int]:
        """The `limit` this very request sent (the JSON body), if readable."""
        try:
            import json

            body = response.request.body if response is not None and response.request is not None else None
            if isinstance(body, bytes):
                body = body.decode()
            limit = json.loads(body).get("limit") if body else None
            return int(limit) if limit is not None else None
        except (ValueError, TypeError, AttributeError):
            return None


def short_before_asked(short: int, asked: int) -> str:
    return str(asked) if asked and asked > short else "more"


# ---- the users cursor ------------------------------------------------------------------------
STATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # the manifest's users `datetime_format`
# A saved users cursor at most this far ahead of this machine's clock is trusted (a shop clock a
# little ahead); one further ahead is moved back to now.
FUTURE_TOLERANCE = timedelta(minutes=10)


def _offsets(wall: datetime, zone: ZoneInfo) -> tuple[Any, Any]:
    """The shop's UTC offsets of a naive local time at its first and second pass (equal unless
    the time lies in the repeated hour of an autumn DST change)."""
    return wall.replace(fold=0, tzinfo=zone).utcoffset(), wall.replace(fold=1, tzinfo=zone).utcoffset()


def is_ambiguous(wall: datetime, zone: ZoneInfo) -> bool:
    """True when the naive shop-local `wall` time occurs twice (the autumn fall-back hour; a
    spring-forward gap time, which never occurs, has the opposite order of offsets)."""
    first, second = _offsets(wall, zone)
    return first > second


def _wall_time(value: str, zone: ZoneInfo) -> Optional[datetime]:
    """The naive shop-local time a saved users cursor stands for (None if unreadable).

    The state's wall time is what the API filters on, so it is read as shop-local: the
    connector's own values carry the shop's offset (from a record) or +0000 (from `start_date`,
    a shop-local date). A date alone is its midnight. Only another offset (a hand-written state)
    is taken as an instant and shown in shop time."""
    text = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        wall = parsed.replace(tzinfo=None)
        offset = parsed.utcoffset()
        if offset is not None and offset and offset not in _offsets(wall, zone):
            return parsed.astimezone(zone).replace(tzinfo=None)
        return wall
    return None


def users_cursor_value(value: Any, zone: ZoneInfo) -> Any:
    """The saved users cursor as the next sync must start from it: ISO 8601 with the shop's
    offset, whose wall time is the `from` sent to users/export (inclusive).

    DST: in the repeated autumn hour (Europe/Kyiv, last Sunday of October, 03:00-03:59 twice)
    the API's naive times of the second pass sort below those of the first, and records there
    resolve to the first pass (`to_iso`). A cursor whose wall time lies in that hour therefore
    starts one repeated hour earlier (03:40 -> 02:40): users of the second pass registered
    after the cursor have wall times from 03:00 on and are read; users already read there are
    read again (deduped on `id`), none is lost. Outside that hour wall times grow with real
    time and the cursor's own wall time is exact. Values it cannot read are returned as they are."""
    if not isinstance(value, str):
        return value
    wall = _wall_time(value, zone)
    if wall is None:
        return value
    first, second = _offsets(wall, zone)
    if first > second:
        wall = wall - (first - second)  # a naive shift: before the repeated hour starts
        LOGGER.info(f"users: the saved cursor {value} lies in the repeated DST hour; reading from {wall} (shop time).")
    return wall.replace(tzinfo=zone).strftime(STATE_FORMAT)


@dataclass
class UsersCursorStateMigration(StateMigration):
    """Normalises a saved users state before the CDK's cursor reads it (see `users_cursor_value`).
    Legacy (0.1.0) date-only states keep their meaning: read from that shop-local day on."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    cursor_field: str = "registered_at"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._zone = shop_zone(self.config)

    def _value(self, value: str) -> Any:
        fixed = users_cursor_value(value, self._zone)
        wall = _wall_time(fixed, self._zone) if isinstance(fixed, str) else None
        now = datetime.now(self._zone).replace(tzinfo=None, microsecond=0)
        if wall is not None and wall > now + FUTURE_TOLERANCE:
            LOGGER.warning(
                f"users: the saved cursor {value} lies in the future (shop time now {now}); "
                f"reading from now on instead of waiting for it."
            )
            return now.replace(tzinfo=self._zone).strftime(STATE_FORMAT)
        return fixed

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        if not stream_state or "state_type" in stream_state:  # empty, or the CDK's own per-slice form
            return False
        value = stream_state.get(self.cursor_field)
        return isinstance(value, str) and self._value(value) != value

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**stream_state, self.cursor_field: self._value(stream_state[self.cursor_field])}


@dataclass
class OrdersCursorStateMigration(StateMigration):
    """A saved orders state (a shop-local date) in the future would read nothing for good: it is
    moved back to today (shop time) with a warning."""

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    cursor_field: str = "stat_created_at"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._zone = shop_zone(self.config)

    def _value(self, value: Any) -> Any:
        if not isinstance(value, str) or len(value) < 10:
            return value
        try:
            day = datetime.strptime(value[:10], "%Y-%m-%d").date()
        except ValueError:
            return value
        today = datetime.now(self._zone).date()
        if day > today:
            LOGGER.warning(f"orders: the saved cursor {value} lies in the future (shop date today {today}); reading from today on.")
            return today.isoformat()
        return value

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        if not stream_state or "state_type" in stream_state:
            return False
        value = stream_state.get(self.cursor_field)
        return self._value(value) != value

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**stream_state, self.cursor_field: self._value(stream_state[self.cursor_field])}
