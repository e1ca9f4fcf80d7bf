"""What the manifest cannot say on its own.

1. `CartumSessionAuthenticator`: Cartum tokens live 600 s and travel in the JSON body. The
   CDK's SessionTokenAuthenticator (wrapped here, built from the manifest) logs in once per
   `expiration_duration`, but each stream would log in on its own, and a token the API
   rejects before its time (AUTHORIZATION_ERROR / UNAUTHORIZED, e.g. after a shop restart)
   would fail the sync. The wrapper shares one login between the streams of a source; the
   manifest maps those statuses to REFRESH_TOKEN_THEN_RETRY, on which the CDK's HTTP client
   calls `refresh_and_set_access_token()` (one fresh login) and re-sends the request once,
   calling this authenticator on it first, which swaps the stale token in the body.

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
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import nullcontext
from dataclasses import InitVar, dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, Mapping, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.migrations.state_migration import StateMigration
from airbyte_cdk.sources.declarative.requesters.paginators.strategies import OffsetIncrement
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.types import Config, Record, StreamSlice, StreamState
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets
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


class _SharedSession:
    """What every stream of one source instance shares: the token provider that logs in, the
    tokens a forced re-login replaced, and when that last happened."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.lock = threading.Lock()
        self.stale: Dict[bytes, None] = {}
        self.last_refresh = float("-inf")
        self.known_token: Optional[str] = None


# id(config) -> (config, shared): the streams of one source are built with the same config
# object, so they log in once between them instead of once per stream.
_SESSIONS: Dict[int, Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _shared_session(config: Config, provider: Any) -> _SharedSession:
    with _SESSIONS_LOCK:
        entry = _SESSIONS.get(id(config))
        if entry is None or entry[0] is not config:
            entry = (config, _SharedSession(provider))
            _SESSIONS[id(config)] = entry
        return entry[1]


@dataclass
class CartumSessionAuthenticator(DeclarativeAuthenticator):
    """Delegates to the manifest's SessionTokenAuthenticator (`session`), shares its login
    between the streams of a source, and adds the forced re-login the CDK's HTTP client asks
    for on REFRESH_TOKEN_THEN_RETRY."""

    session: DeclarativeAuthenticator
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    # A rejection reported within this many seconds of a login reuses that fresh token instead
    # of logging in again: two workers rejected with the same old token need one login, not two.
    refresh_grace_seconds: float = 0.5

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        # ApiKeyAuthenticator -> InterpolatedSessionTokenProvider -> SessionTokenProvider
        outer = getattr(self.session, "token_provider", None)
        inner = getattr(outer, "session_token_provider", outer)
        self._shared = _shared_session(self.config, inner)
        if outer is not None and hasattr(outer, "session_token_provider"):
            outer.session_token_provider = self._shared.provider

    # ---- the token in the body -------------------------------------------------------------
    @property
    def auth_header(self) -> str:
        return ""

    @property
    def token(self) -> str:
        value = self.session.token
        self._register(value)
        return value

    def _register(self, value: Optional[str]) -> None:
        if value and value != self._shared.known_token:
            self._shared.known_token = value
            update_secrets([value])  # a session token is a secret too: keep it out of logs

    def get_request_body_json(self) -> Mapping[str, Any]:
        body = self.session.get_request_body_json()
        if body:
            self._register(self._shared.provider._token)
        return body

    def get_request_params(self) -> Mapping[str, Any]:
        return self.session.get_request_params()

    def get_request_body_data(self) -> Union[Mapping[str, Any], str]:
        return self.session.get_request_body_data()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Called on every prepared request and again before each retry: a request still
        carrying a token that a forced re-login replaced gets the current one."""
        stale = self._shared.stale
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
        shared = self._shared
        # The provider's own lock also guards its time-based login: never both at once.
        with shared.lock, getattr(shared.provider, "_lock", nullcontext()):
            if time.monotonic() - shared.last_refresh < self.refresh_grace_seconds:
                return  # another stream just logged in again: its token is the current one
            old = shared.provider._token
            LOGGER.info("Cartum rejected the session token before its expiry; logging in again.")
            shared.provider._refresh()  # the CDK's own login request, with its error handler
            shared.last_refresh = time.monotonic()
            if old:
                shared.stale[old.encode()] = None
                while len(shared.stale) > 8:
                    shared.stale.pop(next(iter(shared.stale)))
            self._register(shared.provider._token)


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


@dataclass
class ProgressOffsetIncrement(OffsetIncrement):
    """The CDK's OffsetIncrement (stops on a short or empty page, so no request is spent after
    a page that already shows the end) plus one progress line per finished window."""

    stream: str = "stream"  # the stream's name, for the progress line

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Optional[Record],
        last_page_token_value: Optional[Any] = None,
        page_size_override: Optional[int] = None,
        stream_slice: Optional[StreamSlice] = None,
    ) -> Optional[Any]:
        token = super().next_page_token(
            response,
            last_page_size,
            last_record,
            last_page_token_value,
            page_size_override=page_size_override,
            stream_slice=stream_slice,
        )
        if token is None:
            offset = last_page_token_value if isinstance(last_page_token_value, int) else 0
            size = page_size_override or self.get_page_size() or 0
            pages = offset // size + 1 if size else 1
            window = ""
            if stream_slice is not None:
                bounds = stream_slice.cursor_slice
                if bounds:
                    window = " from " + " to ".join(str(v) for v in bounds.values())
            LOGGER.info(f"{self.stream}: window{window} done, {offset + last_page_size} records in {pages} page(s)")
        return token


# ---- the users cursor ------------------------------------------------------------------------
STATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # the manifest's users `datetime_format`


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

    def should_migrate(self, stream_state: Mapping[str, Any]) -> bool:
        if not stream_state or "state_type" in stream_state:  # empty, or the CDK's own per-slice form
            return False
        value = stream_state.get(self.cursor_field)
        return isinstance(value, str) and users_cursor_value(value, self._zone) != value

    def migrate(self, stream_state: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**stream_state, self.cursor_field: users_cursor_value(stream_state[self.cursor_field], self._zone)}
