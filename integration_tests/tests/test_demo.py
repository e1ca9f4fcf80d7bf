"""The README's demo command works: every connection, full then incremental, on the real-shop
world (local phones, nulls, a customer stamped in the future), with the report the issue asks
for: rejects and corrections side by side, warnings, phones rejected where a country is known."""

import json

import demo.run as demo


def test_demo_runs_every_connection_twice_and_reports(tmp_path, capsys):
    workdir = tmp_path / "demo"
    assert demo.main(["--workdir", str(workdir), "--customers", "300", "--quiet"]) == 0
    report = json.loads((workdir / "report.json").read_text())
    names = ["upgates-to-cartum", "cartum-to-loyalty"] + (["cartum-to-upgates"] if demo.write_back_installed() else [])
    assert [(r["run"], r["connection"]) for r in report] == [("full sync", n) for n in names] + [
        ("incremental sync", n) for n in names
    ]
    assert all(r["ok"] for r in report), [r["errors"] for r in report if not r["ok"]]
    runs = {(r["run"], r["connection"]): r for r in report}
    full_up = runs["full sync", "upgates-to-cartum"]
    incr_up = runs["incremental sync", "upgates-to-cartum"]
    full_cartum = runs["full sync", "cartum-to-loyalty"]
    incr_cartum = runs["incremental sync", "cartum-to-loyalty"]

    # Every record read ends written, rejected with a reason, or collapsed into a later one.
    assert full_up["records_read"] == 300
    assert full_up["written"] + full_up["rejected"] + full_up["collapsed_duplicates"] == 300, full_up
    assert full_up["requests"]["UPgates"] == 3  # ceil(300 / 100)
    # The real-shop world: phones written the local way are normalised (corrections, not
    # rejects), and nobody whose country is known is rejected for the phone (issue 13 item 2).
    assert full_up["corrected"] > 0 and any(k.startswith("phone:") for k in full_up["corrections"]), full_up["corrections"]
    assert full_up["phone_rejects_where_country_known"] == 0
    assert not any("phone" in reason.lower() for reason in full_up["rejected_reasons"]), full_up["rejected_reasons"]
    # The world holds a customer stamped in the future: the source warns about it by name.
    assert any("future" in w.lower() or "after the time" in w.lower() for w in full_up["source_warnings"]), full_up[
        "source_warnings"
    ]

    # Between the runs 60 customers are edited and 25 sign up. The incremental run carries those,
    # the customer stamped in the future (read again until its time passes), the customers that
    # the write-back (third connection) updated, and a few at the cursor's boundary; never the
    # whole shop when nothing wrote back.
    written_back = runs["full sync", "cartum-to-upgates"]["written"] if "cartum-to-upgates" in names else 0
    assert 85 <= incr_up["records_read"] <= 85 + 1 + written_back + 15, (incr_up["records_read"], written_back)
    assert incr_up["phone_rejects_where_country_known"] == 0
    # Cartum → loyalty: the 25 sign-ups are the new registrations (issue 16 item 4: no re-reads).
    assert 25 <= incr_cartum["records_read"] < full_cartum["records_read"]

    printed = capsys.readouterr().out
    for text in ("requests:", "Report:", "corrected", "customers rejected for their phone where a country is known: 0",
                 "source warnings"):
        assert text in printed, text
    for name in ("source-upgates-customers", "destination-cartum-users", "source-cartum", "destination-loyalty-batch"):
        assert (workdir / "configs" / f"{name}.json").exists()
    cartum_config = json.loads((workdir / "configs" / "destination-cartum-users.json").read_text())
    assert cartum_config["default_phone_region"] == "CZ"
