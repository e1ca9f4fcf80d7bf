"""SourceCartum: the declarative manifest, built with its config, catalog and state.

Around the CDK's read this class adds what a manifest cannot say:

- the manifest names its custom components as the Connector Builder does
  (`source_declarative_manifest.components.X`); this package's own `source_cartum.components`
  provides them (`COMPONENTS_MODULES`);
- the streams of one source share one login and what the answers teach: the source holds a
  `components.SourceShared` and binds it while the CDK builds the streams
  (`components.bound_to_source`);
- built without a config (as `airbyte-cdk connector test` and other generic harnesses build a
  source: `SourceCartum()`), check, discover and read build the source from the config, catalog
  and state they are given;
- the shop URL is checked before anything is sent (`components.check_shop_url`);
- the requesters' connect/read timeouts come from the config (the manifest's fields are numbers,
  not templates);
- users: the ids emitted at the cursor's last second are kept in the state (`ids_at_cursor`,
  at most `MAX_IDS_AT_CURSOR`) and not emitted again by the next sync, which still asks from that
  second on (a user registered in that second after the read is never lost);
- users and orders: an emitted cursor never passes the sync's start (or the shop's clock, from the
  answers' `Date` header); a record stamped in the future is still emitted, with a warning.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Dict, Iterator, List, Mapping, MutableMapping, Optional

from airbyte_cdk.models import (
    FailureType,
    AirbyteCatalog,
    AirbyteMessage,
    AirbyteStateBlob,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    Status,
    AirbyteConnectionStatus,
    Type,
)
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.source import TState
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_cartum import components

LOGGER = logging.getLogger("airbyte")

# At most this many user ids of the cursor's second are kept in the state (about 8 bytes each
# in the state JSON). A second holding more users than this re-emits the rest once.
MAX_IDS_AT_CURSOR = 10_000
IDS_KEY = "ids_at_cursor"
AHEAD_KEY = "ids_ahead"
MAX_IDS_AHEAD = 1_000  # users stamped in the future remembered in the state
USERS_CURSOR = "registered_at"
ORDERS_CURSOR = "stat_created_at"
# The manifest's module for custom components (the Connector Builder's and the manifest-only
# runtime's name for components.py) -> this package's module.
COMPONENTS_MODULES = {"source_declarative_manifest.components.": "source_cartum.components."}
TIMEOUTS = {"connect_timeout_seconds": ("connect_timeout_in_seconds", 10), "read_timeout_seconds": ("read_timeout_in_seconds", 60)}


def _stream_states(state: Optional[List[Any]]) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for message in state or []:
        try:
            dumped = AirbyteStateMessageSerializer.dump(message) if not isinstance(message, dict) else message
            stream = dumped.get("stream") or {}
            name = (stream.get("stream_descriptor") or {}).get("name")
            if name:
                out[name] = dict(stream.get("stream_state") or {})
        except Exception:  # an odd state is the CDK's (and run.py's) to report
            continue
    return out


def _aware(value: Any) -> Optional[datetime]:
    """An ISO 8601 value with offset ('...T..:..:..+03:00' or '+0300'); None if not one."""
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z",):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class SourceCartum(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[TState]] = None,
        **kwargs: Any,
    ) -> None:
        self._cartum_config = config or {}
        self._shared = components.SourceShared()
        self._url_error: Optional[AirbyteTracedException] = None
        if config and "shop_url" in config:
            try:
                components.check_shop_url(config["shop_url"])
            except AirbyteTracedException as error:
                self._url_error = error
        self._saved = _stream_states(state)
        self._users_incremental = any(
            s.stream.name == "users" and getattr(s.sync_mode, "value", s.sync_mode) == "incremental" for s in (catalog.streams if catalog else [])
        )
        super().__init__(path_to_yaml="manifest.yaml", catalog=catalog, config=config, state=state, **kwargs)
        self._needs_config = not config
        self._register_users_skip()

    def _register_users_skip(self) -> None:
        """Only when the next users request starts exactly at the saved second (not moved back for
        the DST hour or from the future, precision `second`)."""
        users = self._saved.get("users") or {}
        value, ids = users.get(USERS_CURSOR), users.get(IDS_KEY)
        ahead = users.get(AHEAD_KEY)
        if isinstance(ids, list) and isinstance(ahead, dict):
            ids = ids + [int(k) for k in ahead if str(k).isdigit()]
        config = getattr(self, "_config", None)
        if not isinstance(value, str) or not isinstance(ids, list) or config is None or not self._users_incremental:
            return
        if (config.get("users_filter_precision") or "second") != "second":
            return
        try:
            zone = components.shop_zone(config)
        except AirbyteTracedException:
            return
        at = _aware(value)
        if at is None or components.users_cursor_value(value, zone) != value:
            return
        if at > datetime.now(zone) + components.FUTURE_TOLERANCE:
            return
        wall = at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        self._shared.register_users_skip(wall, [i for i in ids if isinstance(i, int)])

    # ---- the manifest, with the config's timeouts ---------------------------------------------
    def _read_and_parse_yaml_file(self, path_to_yaml_file: str) -> Any:
        manifest = _own_components(super()._read_and_parse_yaml_file(path_to_yaml_file))
        config = getattr(self, "_cartum_config", None) or {}
        definitions = manifest.get("definitions", {})
        requesters = [definitions.get("requester"), definitions.get("authenticator", {}).get("session", {}).get("login_requester")]
        for option, (field, default) in TIMEOUTS.items():
            value = config.get(option)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                value = default
            for requester in requesters:
                if isinstance(requester, dict):
                    requester[field] = value
        return manifest

    # ---- check / discover / read ----------------------------------------------------------------
    def streams(self, config: Mapping[str, Any]) -> List[Any]:
        """The CDK's streams, built with this source's login session (one login for all)."""
        with components.bound_to_source(self._shared):
            return super().streams(config)

    def _built_for(self, config: Mapping[str, Any], catalog: Optional[ConfiguredAirbyteCatalog] = None, state: Optional[List[Any]] = None) -> Optional["SourceCartum"]:
        """This source built with `config` when it was built without one (else None)."""
        if not self._needs_config or not config:
            return None
        return type(self)(catalog=catalog, config=config, state=state)

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        built = self._built_for(config)
        if built is not None:
            return built.check(logger, config)
        if self._url_error is not None:
            return AirbyteConnectionStatus(status=Status.FAILED, message=self._url_error.message)
        return super().check(logger, config)

    def _retries_exhausted(self, error: Any) -> None:
        config = self._cartum_config or {}
        host = components._without_userinfo(str(config.get("shop_url") or ""))
        if _retries_exhausted_message(error, host, config.get("max_retries", 5)):
            # the shop is down: the other windows and streams stop at once instead of each
            # retrying on its own (issue 12.3)
            self._shared.login.give_up(
                AirbyteTracedException(
                    message=f"The sync stopped after the Cartum shop at {host} failed a request through all its retries; run it again later.",
                    failure_type=FailureType.transient_error,
                ),
            )

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        built = self._built_for(config)
        if built is not None:
            return built.discover(logger, config)
        return super().discover(logger, config)

    def read(self, logger: logging.Logger, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog, state: Optional[List[Any]] = None) -> Iterator[AirbyteMessage]:
        built = self._built_for(config, catalog, state)
        if built is not None:
            yield from built.read(logger, config, catalog, state)
            return
        if self._url_error is not None:
            raise self._url_error
        # A full refresh of users ignores the saved state: nothing is dropped then.
        guard = _CursorGuard(self._cartum_config or config, self._saved if self._users_incremental else {}, self._shared)
        for message in super().read(logger, config, catalog, state):
            if message.type == Type.RECORD and message.record is not None:
                if not guard.keep(message.record.stream, message.record.data):
                    continue
            elif message.type == Type.STATE and message.state is not None and message.state.stream is not None:
                guard.fix_state(message.state.stream)
            elif message.type == Type.TRACE and message.trace is not None and message.trace.error is not None:
                self._retries_exhausted(message.trace.error)
            yield message
        guard.summary()


def _own_components(node: Any) -> Any:
    """The manifest with each `class_name` of the Builder's components module pointing at this
    package's module (see COMPONENTS_MODULES); changes the parsed manifest in place."""
    if isinstance(node, dict):
        name = node.get("class_name")
        if isinstance(name, str):
            for theirs, ours in COMPONENTS_MODULES.items():
                if name.startswith(theirs):
                    node["class_name"] = ours + name[len(theirs):]
        for value in node.values():
            _own_components(value)
    elif isinstance(node, list):
        for value in node:
            _own_components(value)
    return node


def _retries_exhausted_message(error: Any, host: str, retries: Any) -> bool:
    """The CDK reports a request that failed through all its retries (timeouts, dropped
    connections, HTTP 5xx) as "Exhausted available request attempts" (a system_error for
    timeouts): it is an outage, so a transient_error that names the shop."""
    text = error.message or ""
    if error.failure_type != FailureType.config_error and text.startswith("Exhausted available request attempts"):
        stream = error.stream_descriptor.name if error.stream_descriptor is not None else "a stream"
        error.internal_message = (error.internal_message or "") + " | " + text
        error.message = (
            f"The Cartum shop at {host} did not answer {stream}'s request after {retries} retries (timeouts, "
            "dropped connections or HTTP 5xx answers). Check that the shop is up, raise read_timeout_seconds if "
            "it is slow, and run the sync again."
        )
        error.failure_type = FailureType.transient_error
        return True
    return False


class _CursorGuard:
    """The users ids already emitted at or after the cursor, and the future guard of users and
    orders. The users state holds `ids_at_cursor` (ids emitted at the cursor's second) and
    `ids_ahead` ({id: registered} of users emitted with a registration after the cursor: stamped
    in the future). Both are asked for again by the next sync (`from` = the cursor's second) and
    not emitted again while their registration is unchanged."""

    def __init__(self, config: Mapping[str, Any], saved: Mapping[str, Mapping[str, Any]], session: components.SourceShared) -> None:
        self.zone = components.shop_zone(config)
        self.session = session
        session.reset_answer_dates()
        self.started = datetime.now(self.zone).replace(microsecond=0)
        users = saved.get("users") or {}
        self.saved_at = _aware(users.get(USERS_CURSOR))
        ids = users.get(IDS_KEY)
        self.saved_ids = {i for i in ids if isinstance(i, int)} if isinstance(ids, list) and self.saved_at else set()
        ahead = users.get(AHEAD_KEY)
        self.saved_ahead: Dict[int, str] = {}
        if isinstance(ahead, dict) and self.saved_at:
            for key, raw in ahead.items():
                if str(key).isdigit() and isinstance(raw, str):
                    self.saved_ahead[int(key)] = raw
        self.top: Optional[datetime] = None  # the latest registration seen at or before the sync's start
        self.ids_at_top: set = set()
        self.future: Dict[int, tuple] = {}  # id -> (aware, raw) of users seen registered after the start
        self.skipped = 0
        self.emitted: set = set()
        self.warned: set = set()
        self.clamped: set = set()

    def limit(self) -> datetime:
        """The latest a cursor may be: this sync's start, or the shop's clock if it is ahead."""
        shop_now = self.session.latest_answer_date
        return max(self.started, shop_now.astimezone(self.zone)) if shop_now else self.started

    def _warn_future(self, stream: str, key: Any, value: Any) -> None:
        if len(self.warned) < 20 and (stream, key) not in self.warned:
            self.warned.add((stream, key))
            LOGGER.warning(
                f"{stream}: record {key} is stamped in the future ({value}, the sync started at "
                f"{self.started.isoformat()} shop time). It is emitted, but the cursor does not move past the sync's start."
            )

    def _seen_user(self, uid: Any, at: datetime, raw: Any) -> None:
        if not isinstance(uid, int):
            return
        if at > self.started:
            if len(self.future) < MAX_IDS_AHEAD:
                self.future[uid] = (at, raw)
        elif self.top is None or at > self.top:
            self.top, self.ids_at_top = at, {uid}
        elif at == self.top:
            self.ids_at_top.add(uid)

    def keep(self, stream: str, data: MutableMapping[str, Any]) -> bool:
        if stream == "users":
            at = _aware(data.get(USERS_CURSOR))
            uid = data.get("id")
            if at is None:
                return True
            self._seen_user(uid, at, data.get("registered"))
            if self.saved_at is not None and (
                (at == self.saved_at and uid in self.saved_ids)
                or (uid in self.saved_ahead and self.saved_ahead[uid] == data.get("registered"))
            ):
                self.skipped += 1
                return False  # emitted by an earlier sync, registration unchanged
            if uid in self.emitted:
                return False  # emitted by this sync already (a page read again)
            self.emitted.add(uid)
            if at > self.started + timedelta(minutes=10):
                self._warn_future("users", f"id {uid}", data.get("registered"))
        elif stream == "orders":
            at = _aware(data.get(ORDERS_CURSOR))
            if at is not None and at > self.started + timedelta(minutes=10):
                self._warn_future("orders", f"order_id {data.get('order_id')}", data.get("stat_created"))
        return True

    def _wall(self, raw: str) -> Optional[datetime]:
        try:
            return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=self.zone)
        except (TypeError, ValueError):
            return None

    def fix_state(self, stream_state: Any) -> None:
        name = stream_state.stream_descriptor.name
        if name not in ("users", "orders") or stream_state.stream_state is None:
            return
        values = dict(vars(stream_state.stream_state))
        if name == "users":
            at = _aware(values.get(USERS_CURSOR))
            if at is None:
                return
            limit = self.limit()
            if at > limit:
                if "users" not in self.clamped:  # once per sync; each such record had its own warning
                    self.clamped.add("users")
                    LOGGER.info(f"users: the cursor would move to {at.isoformat()} (a user stamped in the future); it stays at {limit.isoformat()}.")
                at = limit
                values[USERS_CURSOR] = at.strftime(components.STATE_FORMAT)
            at_cursor: set = set()
            ahead: Dict[int, str] = {}
            if self.top is not None and at == self.top:
                at_cursor |= self.ids_at_top
            if self.saved_at is not None and at == self.saved_at:
                at_cursor |= self.saved_ids
            # users registered after the cursor (stamped in the future): seen now, or remembered
            remembered = {uid: (self._wall(raw), raw) for uid, raw in self.saved_ahead.items()}
            for uid, (when, raw) in list(remembered.items()) + list(self.future.items()):
                if when is None or not isinstance(raw, str):
                    continue
                if when == at:
                    at_cursor.add(uid)
                elif when > at:
                    ahead[uid] = raw
            kept = sorted(i for i in at_cursor if isinstance(i, int))
            if len(kept) > MAX_IDS_AT_CURSOR:
                LOGGER.info(f"users: {len(kept)} users share the cursor's second; the state keeps {MAX_IDS_AT_CURSOR} of their ids, the next sync emits the others again.")
                kept = kept[-MAX_IDS_AT_CURSOR:]
            values[IDS_KEY] = kept
            if ahead:
                values[AHEAD_KEY] = {str(k): ahead[k] for k in sorted(ahead)[:MAX_IDS_AHEAD]}
            else:
                values.pop(AHEAD_KEY, None)
        else:
            value = values.get(ORDERS_CURSOR)
            today = self.limit().date()
            if isinstance(value, str) and len(value) >= 10:
                try:
                    day = datetime.strptime(value[:10], "%Y-%m-%d").date()
                except ValueError:
                    return
                if day > today:
                    if "orders" not in self.clamped:
                        self.clamped.add("orders")
                        LOGGER.info(f"orders: the cursor would move to {value} (an order stamped in the future); it stays at {today.isoformat()}.")
                    values[ORDERS_CURSOR] = today.isoformat()
        stream_state.stream_state = AirbyteStateBlob(**values)

    def summary(self) -> None:
        if self.skipped:
            LOGGER.info(f"users: {self.skipped} users of the saved cursor's second (or stamped after it) were emitted by an earlier sync and are not emitted again.")
