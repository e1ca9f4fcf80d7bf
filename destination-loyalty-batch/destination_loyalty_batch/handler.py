"""The loyalty stream handler for destination_common's WriteLoop: map and clean one record,
send a batch through customers_batch, turn the answer into one outcome per record; in a dry
run, plan a batch with read-only look-ups.

`send()` and `plan()` run in the loop's worker threads: everything they change (counters, the
generated-ids file, the look-up budget) is changed under a lock; the learnt line limit is the
core's (`StreamHandler.learn_limit`, thread-safe)."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Hashable, Mapping, Optional, Sequence

from destination_common import (
    BatchRefused,
    Item,
    Outcome,
    Reject,
    Status,
    StreamHandler,
    config_error,
    normalise_phone,
    region_for_country,
)

from destination_loyalty_batch.client import MAX_LINES, ApiError, LoyaltyClient, is_config_error
from destination_loyalty_batch.dry_run import DRY_RUN_LOOKUPS, LookupBudget
from destination_loyalty_batch.generated_ids import GeneratedIds
from destination_loyalty_batch.mapping import CustomFields, resolve_custom_fields
from destination_loyalty_batch.masking import SECRET_FIELDS, _secret_keys
from destination_loyalty_batch.rows import (
    DELIMITERS,
    clean_text,
    clean_value,
    header_params,
    header_sort_key,
    normalise_date,
    plan_requests,
)
from destination_loyalty_batch.stats import LoyaltyStats

logger = logging.getLogger("airbyte")


_DELIMITER_CHARS = tuple(DELIMITERS.values())


class LoyaltyHandler(StreamHandler):
    # every request of send() goes through HttpClient (client.py): the request slot is taken once
    # the request is built, so it leaves the moment the previous answer is in (StreamHandler)
    requests_through_http_client = True

    def __init__(
        self,
        *,
        client: LoyaltyClient,
        mapper: Callable[[Mapping[str, Any]], dict],
        strict_fields: bool,
        custom_fields: Optional[CustomFields],
        mode: str,
        campaigns: Sequence[str],
        delimiter: str = "pipe",
        undo: bool = True,
        card_number_generate: int = 0,
        auto_add: float = 0,
        blank_values_in_update: str = "keep_existing",
        default_phone_region: Optional[str] = None,
        invalid_phone: str = "drop_field",
        generated_ids: Optional[GeneratedIds] = None,
        stats: Optional[LoyaltyStats] = None,
        lookups: Optional[LookupBudget] = None,
    ) -> None:
        self.client = client
        self.mapper = mapper
        self.strict_fields = strict_fields
        self.custom_fields = custom_fields
        self.mode = mode
        self.campaigns = [str(c).strip() for c in campaigns]
        self.delimiter = delimiter
        self.undo = undo
        self.card_number_generate = int(card_number_generate or 0)
        self.auto_add = auto_add
        self.blank_values_in_update = blank_values_in_update
        # update mode with keep_existing: never send a blank, so one request per set of fields
        self.group_by_fields = mode == "update" and blank_values_in_update != "send_blank"
        self.default_phone_region = (default_phone_region or "").strip().upper() or None
        self.invalid_phone = invalid_phone
        self.generated_ids = generated_ids or GeneratedIds(None)
        self.stats = stats or LoyaltyStats()
        self.lookups = lookups or LookupBudget(DRY_RUN_LOOKUPS)
        self.lock = self.stats.lock
        # append_dedup: a later record with the same code replaces an earlier one in a batch.
        self.dedupe = mode == "update"
        self._field_orders: dict[tuple[str, ...], tuple[str, ...]] = {}  # batch_group(): key order → field set

    def summary(self) -> Optional[str]:
        """The "Loyalty summary" line, logged by the core after its "Write summary" (every
        stream's handler shares one LoyaltyStats: the core logs the line once)."""
        return self.stats.line()

    # ---- record → customer --------------------------------------------------------------
    def map(self, data: Mapping[str, Any]) -> dict[str, str]:
        mapped = self.mapper(data)
        customer = resolve_custom_fields(mapped, self.custom_fields, strict=self.strict_fields)
        if self.auto_add and "auto_add" not in customer:
            customer["auto_add"] = self.auto_add
        if customer.get("custom_date") not in (None, ""):
            try:
                customer["custom_date"] = normalise_date(customer["custom_date"])
            except ValueError as exc:
                raise Reject("custom_date", str(exc)) from None
        out: dict[str, str] = {}
        breaks = 0
        for name, value in customer.items():
            if value.__class__ is str and value.isprintable():
                text = value.strip()  # clean_text's first case, without the call (most values)
            else:
                text, n = clean_text(value)
                if n:
                    breaks += n
            if text != "":  # an empty value is "not given": never sent as a blank
                out[name] = text
        if breaks:
            self.stats.add(line_breaks=breaks, records_with_line_breaks=1)
        if "phone" in out:
            self._phone(out)
        return out

    def _phone(self, out: dict[str, str]) -> None:
        """The phone in E.164, read with the record's country, else `default_phone_region`. One
        that cannot be read is dropped (a field-level note) or rejects the record."""
        region = region_for_country(out.get("country")) if out.get("country") else None
        region = region or self.default_phone_region
        result = normalise_phone(out["phone"], region)
        if result.e164:
            if result.e164 != out["phone"]:
                out["phone"] = result.e164
                self.stats.add(phones_normalised=1)
                self._note("phone", "normalised to E.164")
            return
        where = f" (region {region})" if region else " (no country in the record and no default_phone_region)"
        reason = f"{result.reason or 'phone could not be read'}{where}"
        if self.invalid_phone == "reject_record":
            self.stats.add(phones_rejected=1)
            raise Reject("invalid_phone", reason)
        del out["phone"]
        self.stats.add(phones_dropped=1)
        self._note("phone", f"dropped: {reason}")

    def _note(self, field: str, reason: str) -> None:
        self.note(field, reason)  # StreamHandler.note: the loop keeps it in the rejected-records file

    def key(self, payload: Any, data: Mapping[str, Any]) -> Optional[str]:
        if payload is None:  # the record was rejected while mapping: key it from the raw mapping
            try:
                payload = {k: clean_value(v).value for k, v in self.mapper(data).items()}
            except Exception:  # noqa: BLE001 - no key is better than a crash
                return None
        if not payload:
            return None
        if payload.get("code"):
            return str(payload["code"])
        if payload.get("card_number"):
            return f"card_number {payload['card_number']}"
        if payload.get("email"):
            return f"email {payload['email']}"
        return None

    def validate(self, payload: dict[str, str]) -> None:
        if not payload or set(payload) <= {"auto_add"}:
            raise Reject("empty", "the record maps to no customer field")
        # every value in one text, joined by NUL (no delimiter): a delimiter no value contains
        # is one that is not in the text
        text = "\0".join(payload.values())
        if all(char in text for char in _DELIMITER_CHARS):
            raise Reject(
                "delimiters",
                "its values contain a pipe, a comma and a tab: no delimiter the API offers can carry them without corrupting the row",
            )
        self.stats.to_send()

    def batch_group(self, payload: Mapping[str, str]) -> Optional[Hashable]:
        """Update mode with keep_existing: the set of fields the record carries (records of one
        set go in one request). A loop that buffers per group sends one request per field set
        per input window; None: no grouping needed."""
        if not self.group_by_fields:
            return None
        # the mapping gives the same keys in the same order to most records: sort each order once
        order = tuple(payload)
        fields = self._field_orders.get(order)
        if fields is None:
            fields = tuple(sorted(order, key=header_sort_key))
            if len(self._field_orders) < 10_000:  # bounded, as the summary's field sets
                self._field_orders[order] = fields
            self.stats.field_set(fields)
        return fields

    # ---- secrets of the customers --------------------------------------------------------
    def secret_values(self, record: Optional[Mapping[str, Any]] = None, payload: Optional[Mapping[str, Any]] = None) -> list[str]:
        """The customer's password and PIN (as mapped, and any source key that names one)."""
        values: set[str] = set()
        if payload is None and record is not None:
            try:
                payload = self.mapper(record)
            except Exception:  # noqa: BLE001 - masking must never fail
                payload = None
        for name in SECRET_FIELDS:
            if payload and payload.get(name) not in (None, ""):
                values.add(clean_value(payload[name]).value)
                values.add(str(payload[name]))
        if isinstance(record, Mapping):
            _secret_keys(record, values)
        return sorted((v for v in values if v.strip()), key=len, reverse=True)

    def _batch_secrets(self, items: Sequence[Item]) -> list[str]:
        out: set[str] = set()
        for item in items:
            for name in SECRET_FIELDS:
                if item.payload.get(name):
                    out.add(item.payload[name])
        return sorted(out, key=len, reverse=True)

    # ---- dry run --------------------------------------------------------------------------
    def plan(self, items: Sequence[Item]) -> list[Outcome]:
        """What a write would do, with read-only calls only: a customer with a code (else a card
        number) is looked up with customer_search, one request each, within the run's budget of
        DRY_RUN_LOOKUPS; found → update (ignore mode: left as it is), not found → create. Without
        a code and a card number the platform always creates a customer. Over the budget, or when
        the look-up fails: "create or update"."""
        out: list[Outcome] = []
        for item in items:
            payload = item.payload
            match = {k: payload[k] for k in ("code", "card_number") if payload.get(k)}
            if not match:
                out.append(Outcome.planned("create"))
                continue
            field, value = next(iter(match.items()))
            seen = self.lookups.seen(field, value)
            if seen is None:
                if not self.lookups.take():
                    self.stats.add(lookups_skipped=1)
                    out.append(Outcome.planned("create or update"))
                    continue
                seen = self._exists(field, value)
                if seen is None:
                    out.append(Outcome.planned("create or update"))
                    continue
            self.lookups.remember(field, value)  # a later record with this key finds it created
            if not seen:
                out.append(Outcome.planned("create"))
            elif self.mode == "ignore":
                out.append(_planned_skip())
            else:
                out.append(Outcome.planned("update"))
        return out

    def _exists(self, field: str, value: str) -> Optional[bool]:
        self.stats.add(lookups=1)
        try:
            reply = self.client.call("customer_search", {field: value})
        except ApiError as err:
            if self.lookups.fail():
                logger.warning(
                    self.client.scrub(
                        f"Dry run: customer_search failed ({err.message}); customers are counted as 'create or update' from now on."
                    )
                )
            return None
        count = reply.data.get("count")
        try:
            return int(count) > 0
        except (TypeError, ValueError):
            customers = reply.data.get("customers")
            return bool(customers)

    # ---- batch → request(s) → outcomes ---------------------------------------------------
    def prepare(self, items: Sequence[Item]) -> None:
        """The batch's request plans (rows grouped and encoded), made in the loop's main thread
        while the request before is in flight; `send()` of the same items takes them."""
        plans = plan_requests([item.payload for item in items], self.delimiter, group_by_fields=self.group_by_fields)
        for plan in plans:  # the request bodies too: nothing left to encode between an answer and the next request
            plan.body = self.client.encode_form("customers_batch", self.form(plan))
        with self.lock:
            prepared = self.__dict__.setdefault("_prepared", deque())
            prepared.append((tuple(items), plans))
            while len(prepared) > 8:  # batches never sent (the sync stopped): forget the oldest
                prepared.popleft()

    def _take_prepared(self, items: Sequence[Item]) -> Optional[list[Any]]:
        with self.lock:
            prepared = self.__dict__.get("_prepared")
            if not prepared:
                return None
            for entry in prepared:
                kept, plans = entry
                # the same item objects (the entry holds them, so their identity is not reused)
                if len(kept) == len(items) and all(a is b for a, b in zip(kept, items)):
                    prepared.remove(entry)
                    return plans
        return None

    def send(self, items: Sequence[Item]) -> list[Outcome]:
        rows = [item.payload for item in items]
        plans = self._take_prepared(items)
        if plans is None:
            plans = plan_requests(rows, self.delimiter, group_by_fields=self.group_by_fields)
        groups = len({tuple(p.headers) for p in plans}) if self.group_by_fields else 1
        max_lines = self.max_batch  # the learnt line limit (StreamHandler.learn_limit), None until one is learnt
        if max_lines:
            plans = [p for plan in plans for p in _chunks(plan, rows, max_lines, self.delimiter)]
        self.stats.add(delimiter_requests=max(0, len(plans) - groups))
        secrets = self._batch_secrets(items)
        outcomes: list[Optional[Outcome]] = [None] * len(items)
        for plan in plans:
            try:
                plan_outcomes = self._send_plan(items, plan, secrets)
            except BatchRefused as refused:
                if len(plans) == 1:
                    raise
                # Other requests of this batch were written: the core splits this part in
                # halves until the offending lines are isolated, as for a refused batch.
                plan_outcomes = [Outcome.refused(refused.code, refused.reason)] * len(plan.indexes)
            for i, outcome in zip(plan.indexes, plan_outcomes):
                outcomes[i] = outcome
        return [o or Outcome.rejected("internal", "not sent") for o in outcomes]

    def form(self, plan: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "delimiter": plan.delimiter,
            "overwrite_duplicates": self.mode,
            "campaigns_to_include": ",".join(self.campaigns),
            **header_params(plan.headers),
            "profiles_data": plan.data,
        }
        # seed 003: an undo state is saved unless no_undo=yes; allow_undo=yes (listed as
        # optional) says the same as the default.
        if self.undo:
            fields["allow_undo"] = "yes"
        else:
            fields["no_undo"] = "yes"
        if self.card_number_generate:
            fields["card_number_generate"] = self.card_number_generate
        return fields

    def _send_plan(self, items: Sequence[Item], plan: Any, secrets: Sequence[str] = ()) -> list[Outcome]:
        n = len(plan.indexes)
        self.stats.add(requests=1)
        try:
            if plan.body is not None:  # encoded by prepare(), from this same form
                reply = self.client.call("customers_batch", self.form(plan), body=plan.body, secrets=secrets)
            else:
                reply = self.client.call("customers_batch", self.form(plan), secrets=secrets)
        except ApiError as err:
            if is_config_error(err.message):
                raise config_error(
                    f"The loyalty platform refused customers_batch for account '{self.client.account_id}': {err.message}. "
                    "Check the credentials, the account id, the campaign ids and the custom fields used by the mapping."
                ) from None
            m = MAX_LINES.search(err.message)
            if m and int(m.group(1)) >= 1:
                learnt = int(m.group(1))
                # the core's one learnt limit: the loop re-sends the refused items in slices of it, not halves
                self.learn_limit(learnt, f"The loyalty platform accepts at most {learnt} lines per batch")
            raise BatchRefused(err.message, code="batch_error") from None
        if reply.batch_status not in (None, "imported"):
            logger.warning(
                f"customers_batch: batch status '{self.client.scrub(reply.batch_status, secrets)}' (expected 'imported'); "
                "the records are counted as accepted. Run with --debug to log the answer (secrets masked)."
            )
            self.client.log_raw("customers_batch", reply.raw, secrets)
        counts = {k: getattr(reply, k) or 0 for k in ("new", "updated", "ignored")}
        outcomes = [Outcome.accepted()] * n
        line_errors = 0
        for line, message in reply.line_errors:
            if 1 <= line <= n:
                reason = self.client.scrub(message or "refused by the platform", secrets)
                outcomes[line - 1] = Outcome.rejected("line_error", reason)
                line_errors += 1
        no_code = sum(1 for i, o in zip(plan.indexes, outcomes) if o.status == Status.ACCEPTED and not items[i].payload.get("code"))
        self.stats.add(line_errors=line_errors, no_code=no_code, **counts)
        if reply.accounted() != n:
            self.stats.add(unaccounted=1)
            logger.warning(
                f"customers_batch: {n} lines sent but the answer accounts for {reply.accounted()} "
                f"(new {reply.new}, updated {reply.updated}, ignored {reply.ignored}, line errors {len(reply.line_errors)}); "
                "records counted as accepted. Run with --debug to log the answer (secrets masked)."
            )
            self.client.log_raw("customers_batch", reply.raw, secrets)
        self._generated(items, plan, reply)
        return outcomes

    def _generated(self, items: Sequence[Item], plan: Any, reply: Any) -> None:
        """Codes and card numbers the platform made: counted, written with the record's key to the
        generated-ids file, the first 20 of a request logged."""
        if not reply.generated:
            return
        n = len(plan.indexes)
        shown, lines = [], []
        codes = cards = 0
        for gen in reply.generated:
            line = gen.get("line")
            item = items[plan.indexes[line - 1]] if isinstance(line, int) and 1 <= line <= n else None
            made = []
            if gen.get("code") and (item is None or not item.payload.get("code")):
                codes += 1
                made.append("code")
            if gen.get("card_number") and (item is None or not item.payload.get("card_number")):
                cards += 1
                made.append("card_number")
            if not made:
                continue
            who = (item.key if item is not None else None) or f"line {line}"
            payload = item.payload if item is not None else {}
            lines.append(
                {
                    "stream": item.stream if item is not None else None,
                    "key": who,
                    "email": payload.get("email"),
                    "code": gen.get("code") or payload.get("code"),
                    "card_number": gen.get("card_number") or payload.get("card_number"),
                    "generated": made,
                }
            )
            if len(shown) < 20:
                shown.append(f"{who} → code {gen.get('code', '-')}, card {gen.get('card_number', '-')}")
        self.stats.add(generated_codes=codes, generated_cards=cards)
        self.generated_ids.write(lines)
        if shown:
            where = f"; all are in {self.generated_ids.path}" if self.generated_ids.path else ""
            logger.info(
                f"customers_batch: the platform generated identifiers for {len(lines)} customer(s) "
                f"(record them in the sending system{where}): {'; '.join(shown)}"
            )


def _planned_skip() -> Outcome:
    """Append (ignore) mode, customer already there: a real write leaves it untouched."""
    try:
        return Outcome.planned("skip")
    except ValueError:  # a core without the "skip" action
        return Outcome.planned("create or update")


def _chunks(plan: Any, rows: Sequence[Mapping[str, str]], size: int, preferred: str) -> list[Any]:
    if len(plan.indexes) <= size:
        return [plan]
    out = []
    for start in range(0, len(plan.indexes), size):
        part = plan.indexes[start : start + size]
        for sub in plan_requests([rows[i] for i in part], preferred, group_by_fields=False):
            sub.indexes = [part[j] for j in sub.indexes]
            out.append(sub)
    return out
