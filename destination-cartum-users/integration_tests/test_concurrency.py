"""send() in the loop's worker threads (max_concurrent_requests, issue 16): the token refresh,
the learnt batch limit and the counters are shared safely."""

from __future__ import annotations

from cartum_write_helpers import export_users, record, state, user, write


def test_an_expired_token_is_renewed_once_for_every_request_in_flight(cartum_write_factory):
    # every request spends 0.2 s in the shop, so 4 are in flight when the token dies
    api = cartum_write_factory(latency=0.2, switches={"import_expire_tokens_after": 1})
    result = write(api, [record(user(i)) for i in range(40)] + [state(1)], batch_size=5, max_concurrent_requests=4)
    assert result.error is None and result.states == [1]
    assert api.log.count(function="auth") == 2  # the first login, and ONE new login for all threads
    shop = export_users(api)
    assert all(f"user{i}@example.com" in shop for i in range(40))


def test_a_limit_learnt_by_one_thread_is_used_by_all(cartum_write_factory, caplog):
    api = cartum_write_factory(latency=0.1, switches={"import_max_users": 10})
    with caplog.at_level("WARNING", logger="airbyte"):
        result = write(api, [record(user(i)) for i in range(160)] + [state(1)], batch_size=40, max_concurrent_requests=4)
    assert result.error is None and result.states == [1]
    assert len(export_users(api)) == 5 + 160
    learnt = [m for m in caplog.messages if "sending at most 10 per request" in m]
    assert len(learnt) == 1, learnt
    sizes = [len(r.body["users"]) for r in api.log.select(function="users/import")]
    # at most the 4 requests already in flight (or sent before the limit was known) were refused
    assert sum(1 for s in sizes if s > 10) <= 4 and sum(s for s in sizes if s <= 10) == 160
