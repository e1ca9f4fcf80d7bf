"""Figures on the realistic worlds (issue 13): UPgates customers of the emulator's real-world
seed written with the upgates_customer preset, and a real-world Cartum shop copied with the
cartum_user preset; for each `invalid_phone` choice: records in, accepted, rejected (for the
phone: with / without a country), phones normalised and dropped, requests vs ceil(N/batch).

    .venv/bin/python destination-cartum-users/integration_tests/measure_realistic.py [N]

Prints figures; not a pass/fail test (test_phones.py asserts the invariant)."""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cartum_write_helpers import catalog_dict, export_users, record, state, write  # noqa: E402

from emulators.cartum import CartumEmulator  # noqa: E402
from emulators.upgates import UpgatesEmulator  # noqa: E402


def measure(records: list[dict], stream: str, mapping: dict, country_of, invalid_phone: str, batch: int = 100) -> dict:
    api = CartumEmulator(users=0, orders=0).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rejects = Path(tmp) / "rejected.jsonl"
            result = write(api, [record(r, stream=stream) for r in records] + [state(1)],
                           catalog=catalog_dict(stream=stream), mapping=mapping, invalid_phone=invalid_phone,
                           rejected_records_path=str(rejects), max_rejected_percent=100, batch_size=batch)
            lines = [json.loads(x) for x in rejects.read_text().splitlines()] if rejects.exists() else []
        assert result.error is None, result.error
        keys = {}
        for r in records:
            keys.setdefault(r.get("email") or (r.get("login") or {}).get("email"), r)
        rejected = [x for x in lines if x["kind"] == "rejected"]
        phone = [x for x in rejected if "phone" in x["reason"]]
        notes = [x for x in lines if x["kind"] == "correction"]
        return {
            "invalid_phone": invalid_phone,
            "records": len(records),
            "users in shop": len(export_users(api)),
            "rejected": len(rejected),
            "rejected for phone, country known": sum(1 for x in phone if country_of(keys.get(x["key"], {}))),
            "rejected for phone, no country": sum(1 for x in phone if not country_of(keys.get(x["key"], {}))),
            "phones normalised": sum(1 for x in notes if x["reason"].startswith("normalised")),
            "phones dropped": sum(1 for x in notes if x["reason"].startswith("dropped")),
            "import requests": api.log.count(function="users/import"),
            "ideal ceil(N/batch)": math.ceil(len(records) / batch),
        }
    finally:
        api.stop()


def main(n: int) -> None:
    world = UpgatesEmulator(customers=n)
    customers = [world.render_customer(c) for c in world.customers.values()]

    def upgates_country(c):
        return ((c.get("addresses") or {}).get("billing") or {}).get("country_id")

    shop = CartumEmulator(users=n, orders=0)
    users = list(shop.shop.users.values())
    for choice in ("drop_field", "reject_record"):
        print("UPgates real world ->", measure(customers, "customers", {"preset": "upgates_customer"}, upgates_country, choice))
        print("Cartum real world  ->", measure(users, "users", {"preset": "cartum_user"}, lambda u: u.get("country"), choice))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
