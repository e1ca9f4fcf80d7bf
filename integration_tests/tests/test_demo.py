"""The README's demo command works: both connections, full then incremental, report written."""

import json

from commerce_emulators import demo


def test_demo_runs_both_connections_twice_and_reports(tmp_path, capsys):
    workdir = tmp_path / "demo"
    assert demo.main(["--workdir", str(workdir), "--customers", "300", "--quiet"]) == 0
    report = json.loads((workdir / "report.json").read_text())
    assert [(r["run"], r["connection"]) for r in report] == [
        ("full sync", "upgates-to-cartum"),
        ("full sync", "cartum-to-loyalty"),
        ("incremental sync", "upgates-to-cartum"),
        ("incremental sync", "cartum-to-loyalty"),
    ]
    assert all(r["ok"] for r in report)
    full_up, full_cartum, incr_up, incr_cartum = report
    assert full_up["records_read"] == 300 and full_up["written"] == 300
    assert full_up["requests"]["UPgates"] == 3  # ceil(300 / 100)
    # Between the runs 60 customers are edited and 25 sign up: the incremental run carries
    # those (plus the few that share the cursor's timestamp), not the whole shop.
    assert 85 <= incr_up["records_read"] < 100
    assert incr_cartum["records_read"] < full_cartum["records_read"]
    printed = capsys.readouterr().out
    assert "requests:" in printed and "Report:" in printed
    for name in ("source-upgates-customers", "destination-cartum-users", "source-cartum", "destination-loyalty-batch"):
        assert (workdir / "configs" / f"{name}.json").exists()
