"""The demo: the project's main job, end to end, against the bundled emulators.

1. Starts the three emulators on loopback with a demo world as real shops hold it: about 2,000
   UPgates customers (Czech and Slovak, phones written the local way, missing values, a few
   customers stamped in the future), a Cartum B2B shop (customer groups, price levels, some users
   and orders) and a loyalty account with two campaigns.
2. Runs the connections exactly as the Airbyte platform runs them (source console script
   piped into the destination's, the state the destination echoes stored per connection):
   UPgates customers → Cartum users, then Cartum users → loyalty campaigns, then (when
   destination-upgates-customers is installed) Cartum users → UPgates customers: each Cartum
   user's id written back into the matching UPgates customer's custom field `cartum_user_id`.
3. Changes some customers in UPgates (edits and new sign-ups) and runs the connections again,
   incrementally, from the stored states.
4. Prints a report per run: records read, written, rejected (with reasons and the rejected
   records file), corrected (phones normalised, fields dropped), the source's warnings,
   requests spent per API, time taken; and, for UPgates → Cartum, how many customers were
   rejected for their phone although their country is known (the goal is 0).

Everything it writes (configs, states, rejected records, report.json) goes to --workdir
(default .demo/). The configs it writes there are ordinary connector configs: copy one, point
it at a real shop, and run the same connection with `commerce-pipeline` (see the README).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from emulators.cartum import CartumEmulator
from emulators.loyalty import LoyaltyEmulator
from harness.pipeline import Pipeline, PipelineRun
from harness.runner import BIN
from emulators.upgates import UpgatesEmulator

# Log lines worth showing while a run goes (the connectors' own progress and summaries).
PROGRESS = re.compile(r"progress|summary|page \d+|pages|window|quota|rejected record|future|normalised", re.I)
WRITE_BACK = "destination-upgates-customers"
CARTUM_ID_META = "cartum_user_id"  # the UPgates custom field that receives each Cartum user's id


def write_back_installed() -> bool:
    """The third connection needs destination-upgates-customers in this virtualenv."""
    return (BIN / WRITE_BACK).exists()


@dataclass
class World:
    upgates: UpgatesEmulator
    cartum: CartumEmulator
    loyalty: LoyaltyEmulator

    @property
    def apis(self) -> dict[str, Any]:
        return {"UPgates": self.upgates, "Cartum": self.cartum, "loyalty": self.loyalty}

    def requests(self) -> dict[str, int]:
        return {name: len(api.log.items) for name, api in self.apis.items()}

    def stop(self) -> None:
        for api in self.apis.values():
            api.stop()


def start_world(customers: int = 2000, seed: int = 7) -> World:
    upgates = UpgatesEmulator(customers=customers, seed=seed).start()
    cartum = CartumEmulator(users=40, orders=80, seed=seed).start()
    loyalty = LoyaltyEmulator(customers=0, seed=seed).start()
    return World(upgates, cartum, loyalty)


def connector_configs(world: World, workdir: Path) -> dict[str, dict[str, Any]]:
    up, ca, lo = world.upgates, world.cartum, world.loyalty
    return {
        "source-upgates-customers": {"api_url": f"{up.url}/api/v2", "login": up.login, "api_key": up.api_key},
        "destination-cartum-users": {
            "shop_url": ca.url,
            "login": ca.login,
            "password": ca.password,
            "b2b": True,
            "mapping": {
                "preset": "upgates_customer",
                # UPgates groups/pricelists → Cartum customer groups (seeded in the emulators).
                "group_mapping": [
                    {"upgates": "VIP", "customer_group_id": 4},
                    {"upgates": "Veľkoobchod", "customer_group_id": 3},
                ],
                "default_customer_group_id": 2,
            },
            # Phones written the local way are read in the customer's country (billing address)
            # and, where the customer has none, as Czech numbers; one that still cannot be
            # read is dropped from the user (a correction), never a reason to lose a customer.
            "default_phone_region": "CZ",
            "invalid_phone": "drop_field",
            "rejected_records_path": str(workdir / "rejected" / "upgates-to-cartum.jsonl"),
        },
        "source-cartum": {
            "shop_url": ca.url,
            "login": ca.login,
            "password": ca.password,
            "start_date": "2015-01-01",
        },
        "destination-loyalty-batch": {
            "api_url": lo.url,
            "user_id": lo.user_id,
            "api_key": lo.api_key,
            "account_id": lo.account_id,
            "campaigns": lo.campaign_ids[:2],
            "mapping": {"preset": "cartum_user"},
            "default_phone_region": "UA",  # the Cartum shop is Ukrainian
            "invalid_phone": "drop_field",
            "rejected_records_path": str(workdir / "rejected" / "cartum-to-loyalty.jsonl"),
        },
        WRITE_BACK: {
            "api_url": f"{up.url}/api/v2",
            "login": up.login,
            "api_key": up.api_key,
            "mapping": {"preset": "cartum_user", "user_id_meta_key": CARTUM_ID_META},
            # The Cartum shop's own users (registered there, not imported from UPgates) have no
            # UPgates customer: each is rejected "Customer not found" (kept in the file), which
            # in a small demo world is more than the default 10%.
            "max_rejected_percent": 50,
            "rejected_records_path": str(workdir / "rejected" / "cartum-to-upgates.jsonl"),
        },
    }


def pipelines(world: World, workdir: Path, progress: Callable[[str], None]) -> list[Pipeline]:
    configs = connector_configs(world, workdir)
    cfg_dir = workdir / "configs"
    cfg_dir.mkdir(parents=True, exist_ok=True)
    for name, cfg in configs.items():
        (cfg_dir / f"{name}.json").write_text(json.dumps(cfg, indent=2, ensure_ascii=False))
    common = {"state_dir": workdir / "connections", "progress": progress}
    return [
        Pipeline(
            "upgates-to-cartum",
            "source-upgates-customers",
            configs["source-upgates-customers"],
            "destination-cartum-users",
            configs["destination-cartum-users"],
            streams=["customers"],
            destination_sync_mode="append_dedup",
            destination_object_name="users",
            **common,
        ),
        Pipeline(
            "cartum-to-loyalty",
            "source-cartum",
            configs["source-cartum"],
            "destination-loyalty-batch",
            configs["destination-loyalty-batch"],
            streams=["users"],
            destination_sync_mode="append_dedup",
            destination_object_name="customers",
            **common,
        ),
    ] + ([
        Pipeline(
            "cartum-to-upgates",
            "source-cartum",
            configs["source-cartum"],
            WRITE_BACK,
            configs[WRITE_BACK],
            streams=["users"],
            destination_sync_mode="append_dedup",
            destination_object_name="customers",
            **common,
        )
    ] if write_back_installed() else [])


def change_customers(world: World, edits: int = 60, signups: int = 25) -> str:
    """What happens in the shop between two syncs: edits and new sign-ups."""
    up = world.upgates
    ids = sorted(up.customers)[:: max(1, len(up.customers) // edits)][:edits]
    for cid in ids:
        # a new phone, written the local way as the shop's admins write it
        up.update_customer(cid, communication={"phone": f"777 {cid % 1000:03d} {cid // 1000 % 1000:03d}"})
    for _ in range(signups):
        up.add_customer()
    return f"{len(ids)} UPgates customers edited (new phone, local format), {signups} signed up"


def _lines(path: str | None) -> list[dict[str, Any]]:
    out = []
    if path and Path(path).exists():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                out.append(item)
    return out


def rejected_reasons(path: str | None) -> dict[str, int]:
    """Rejected records in the rejected-records file, by reason (correction notes left out)."""
    out: dict[str, int] = {}
    for item in _lines(path):
        if item.get("kind") == "correction":
            continue
        label = f"code {item.get('code')}: {item.get('reason')}"
        out[label] = out.get(label, 0) + 1
    return out


def corrections(path: str | None) -> dict[str, int]:
    """Field-level corrections in the rejected-records file (`kind: correction`), by field and reason."""
    out: dict[str, int] = {}
    for item in _lines(path):
        if item.get("kind") == "correction":
            label = f"{item.get('field')}: {item.get('reason')}"
            out[label] = out.get(label, 0) + 1
    return out


def _country_known(customer: dict[str, Any]) -> bool:
    billing = (customer.get("addresses") or {}).get("billing") or {}
    return bool(billing.get("country_id"))


def phone_rejects_where_country_known(world: World, pipe: Pipeline) -> dict[str, int]:
    """Issue 13 item 2's measure on the UPgates → Cartum connection: customers rejected for their
    phone although their billing country is known (the goal is 0), beside how many have a
    country and how many were rejected for their phone at all."""
    by_email = {str((c.get("login") or {}).get("email") or "").lower(): c for c in world.upgates.customers.values()}
    rejected_phone = known = 0
    for item in _lines(pipe.destination_config.get("rejected_records_path")):
        if item.get("kind") == "correction" or "phone" not in str(item.get("reason", "")).lower():
            continue
        rejected_phone += 1
        key = item.get("key")
        email = key.get("email") if isinstance(key, dict) else key
        customer = by_email.get(str(email or "").lower())
        if customer is None or _country_known(customer):
            known += 1  # unknown key: counted against the goal, never in its favour
    with_country = sum(1 for c in world.upgates.customers.values() if _country_known(c))
    return {"rejected": known, "rejected_for_phone": rejected_phone, "with_country": with_country}


def summary_numbers(run: PipelineRun) -> dict[str, int]:
    """accepted / rejected from the destination's summary log line."""
    line = run.summary_line() or ""
    out = {}
    for key in ("accepted", "rejected", "requests", "collapsed duplicates", "corrected"):
        m = re.search(rf"\b{key} (\d+)", line)
        if m:
            out[key] = int(m.group(1))
    return out


def run_and_report(pipe: Pipeline, world: World, label: str, out: Callable[[str], None]) -> dict[str, Any]:
    before = world.requests()
    rejected_path = pipe.destination_config.get("rejected_records_path")
    rejected_before = rejected_reasons(rejected_path)
    corrections_before = corrections(rejected_path)
    out(f"\n=== {label}: {pipe.name} ===")
    run = pipe.run()
    after = world.requests()
    spent = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    numbers = summary_numbers(run)
    rejected_now = rejected_reasons(rejected_path)
    new_rejects = {k: v - rejected_before.get(k, 0) for k, v in rejected_now.items() if v - rejected_before.get(k, 0)}
    corrections_now = corrections(rejected_path)
    new_corrections = {k: v - corrections_before.get(k, 0) for k, v in corrections_now.items()
                       if v - corrections_before.get(k, 0)}
    report = {
        "run": label,
        "connection": pipe.name,
        "ok": run.ok,
        "records_read": run.total_read,
        "written": numbers.get("accepted"),
        "rejected": numbers.get("rejected", 0),
        "collapsed_duplicates": numbers.get("collapsed duplicates", 0),
        "rejected_reasons": new_rejects,
        # records with at least one correction, as the destination counted them in this run (the
        # file keeps every run's lines, keyed by record: a difference of distinct keys would
        # miss records corrected again)
        "corrected": numbers.get("corrected", 0),
        "corrections": new_corrections,
        "rejected_file": rejected_path if new_rejects or new_corrections else None,
        "source_warnings": run.source_warnings,
        "requests": spent,
        "states_committed": run.states_committed,
        "seconds": round(run.seconds, 1),
        "errors": run.source_errors + run.destination_errors,
    }
    if pipe.name == "upgates-to-cartum":
        report["phone_rejects_where_country_known"] = phone_rejects_where_country_known(world, pipe)["rejected"]
    out(f"  read {report['records_read']} records, wrote {report['written']}, rejected {report['rejected']}, "
        f"corrected {report['corrected']}"
        + (f", {report['collapsed_duplicates']} duplicates collapsed (same key twice in one batch: the later one is written)"
           if report["collapsed_duplicates"] else ""))
    for reason, n in new_rejects.items():
        out(f"    rejected {n} × {reason}")
    for reason, n in new_corrections.items():
        out(f"    corrected {n} × {reason}")
    if report["rejected_file"]:
        out(f"    rejected records and corrections with their reasons: {rejected_path}")
    if "phone_rejects_where_country_known" in report:
        out(f"  customers rejected for their phone where a country is known: {report['phone_rejects_where_country_known']} (goal 0)")
    if run.source_warnings:
        out(f"  source warnings ({len(run.source_warnings)}):")
        for line in run.source_warnings[:5]:
            out(f"    {line}")
    out(f"  requests: " + ", ".join(f"{k} {v}" for k, v in spent.items()))
    out(f"  {run.states_committed} states committed, {report['seconds']} s, " + ("OK" if run.ok else "FAILED"))
    for err in report["errors"]:
        out(f"  error: {err}")
    return report


def written_back(world: World) -> int:
    """UPgates customers whose custom field holds their Cartum user id."""
    n = 0
    for c in world.upgates.customers.values():
        for meta in c.get("metas") or []:
            if isinstance(meta, dict) and meta.get("key") == CARTUM_ID_META and meta.get("value") not in (None, ""):
                n += 1
                break
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="commerce-demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path(".demo"))
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--quiet", action="store_true", help="no progress lines, only the report")
    args = parser.parse_args(argv)

    def out(line: str) -> None:
        print(line, flush=True)

    def progress(line: str) -> None:
        if not args.quiet and PROGRESS.search(line):
            out(f"  … {line}")

    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True)
    started = time.monotonic()
    out(f"Starting the emulators ({args.customers} UPgates customers as a real shop holds them, a Cartum B2B shop, "
        "a loyalty account) …")
    world = start_world(args.customers)
    try:
        out(f"  UPgates {world.upgates.url}   Cartum {world.cartum.url}   loyalty {world.loyalty.url}")
        pipes = pipelines(world, args.workdir, progress)
        reports = []
        for pipe in pipes:
            reports.append(run_and_report(pipe, world, "full sync", out))
        out(f"\n--- between the syncs: {change_customers(world)} ---")
        if len(pipes) > 2:
            out("    (and the write-back stamped a new last_update_time on every UPgates customer it updated:"
                " the next UPgates → Cartum sync reads those once more)")
        for pipe in pipes:
            reports.append(run_and_report(pipe, world, "incremental sync", out))
        in_cartum = len(world.cartum.shop.users)
        in_loyalty = len(world.loyalty.customers)
        out(f"\nNow: {in_cartum} users in the Cartum shop, {in_loyalty} customers in the loyalty account"
            + (f", {written_back(world)} UPgates customers carry their Cartum user id ({CARTUM_ID_META})."
               if len(pipes) > 2 else "."))
        if len(pipes) < 3:
            out(f"(The third connection, Cartum users → UPgates customers, needs {WRITE_BACK} installed.)")
        out(
            "Note: Cartum's users/export has no updated-since filter, so the incremental Cartum → loyalty"
            " run carries new registrations only; edits reach loyalty with a full refresh."
        )
        (args.workdir / "report.json").write_text(json.dumps(reports, indent=2, ensure_ascii=False))
        out(f"Report: {args.workdir / 'report.json'}; configs: {args.workdir / 'configs'}; "
            f"states: {args.workdir / 'connections'}. Took {time.monotonic() - started:.0f} s.")
        return 0 if all(r["ok"] for r in reports) else 1
    finally:
        world.stop()


if __name__ == "__main__":
    sys.exit(main())
