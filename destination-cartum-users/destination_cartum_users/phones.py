"""Phones into E.164 before Cartum sees them (issue 13 item 2).

The parsing is destination_common.phones (the `phonenumbers` library); this module decides
which region a record's phone is read in and what happens to a phone that cannot be read:

- region: the record's own country first (UPgates `addresses.billing.country_id` /
  `country_id`, Cartum `country` as a code or a name), then the mapped `country`, then the
  config's `default_phone_region`; none of them: only numbers written with `+`/`00` parse;
- `invalid_phone`: `drop_field` (default: the user is written without the phone, a
  field-level note goes to the rejected-records file) or `reject_record` (code 2, no request).

Only the policy lives here; `normalise_phone` and `region_for_country` are the core's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Optional

from destination_common import INVALID_PHONE_CHOICES, Reject, config_error, normalise_phone, region_for_country

COUNTRY_PATHS = ("addresses.billing.country_id", "addresses.delivery.country_id", "country_id", "country")
_COUNTRY_STEPS = tuple(tuple(path.split(".")) for path in COUNTRY_PATHS)


def at_path(record: Mapping[str, Any], steps: tuple[str, ...]) -> Any:
    """`get_path(record, path)` for a path of object keys (no list indexes), without splitting
    the path for every record (`steps`: the path split once; mapping.py uses it too)."""
    cur: Any = record
    for step in steps:
        if isinstance(cur, Mapping) and step in cur:
            cur = cur[step]
        else:
            return None
    return cur


def phone_policy(config: Mapping[str, Any]) -> "PhonePolicy":
    """The configured policy; config errors for a `default_phone_region` the phone library does
    not know and an unknown `invalid_phone` (check and write both call this)."""
    region = (config.get("default_phone_region") or "").strip()
    if region and (len(region) != 2 or region_for_country(region) != region.upper()):
        raise config_error(
            f"default_phone_region '{region[:20]}' is not an ISO 3166 alpha-2 country code known to the phone "
            "library (e.g. CZ, SK, UA)."
        )
    try:
        return PhonePolicy(config)
    except ValueError as exc:
        raise config_error(str(exc)) from None


class PhonePolicy:
    """`apply(payload, record, note)` rewrites payload["phone"] in place: E.164, dropped
    (with `note(field, reason)`) or a Reject, following `invalid_phone`."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        region = (config.get("default_phone_region") or "").strip().upper() or None
        self.default_region = region
        self.invalid = config.get("invalid_phone") or "drop_field"
        if self.invalid not in INVALID_PHONE_CHOICES:
            raise ValueError(f"invalid_phone must be one of {', '.join(INVALID_PHONE_CHOICES)}")
        self.normalised = 0
        self.dropped = 0

    def region_of(self, payload: Mapping[str, Any], record: Mapping[str, Any]) -> Optional[str]:
        is_mapping = isinstance(record, Mapping)
        for steps in _COUNTRY_STEPS:
            value = at_path(record, steps) if is_mapping else None
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                region = region_for_country(value)
                if region:
                    return region
        country = payload.get("country") if isinstance(payload, Mapping) else None
        if isinstance(country, str) and country.strip():
            region = region_for_country(country)
            if region:
                return region
        return self.default_region

    def apply(self, payload: dict, record: Mapping[str, Any], note: Callable[[str, str], None]) -> None:
        phone = payload.get("phone")
        if phone is None:
            return
        if isinstance(phone, bool) or not isinstance(phone, (str, int, float)):
            return  # a wrong type: validation reports it
        if isinstance(phone, str) and not phone.strip():
            payload.pop("phone")  # an empty phone is no phone (not a blank sent over the shop's one)
            return
        region = self.region_of(payload, record)
        result = normalise_phone(phone, region)
        if result.e164:
            payload["phone"] = result.e164
            if result.changed:
                self.normalised += 1
                note("phone", f"normalised to E.164 (region {region or 'from the number'})")
            return
        reason = result.reason or "phone could not be read"
        if region:
            reason += f" (read in region {region})"
        if self.invalid == "reject_record":
            raise Reject(2, reason)
        payload.pop("phone")
        self.dropped += 1
        note("phone", f"dropped: {reason}")
