"""The destinations' console script start-up (destination_common.console.run_destination)."""

import gc
import logging

from destination_common import run_destination


class Recorder:
    seen: list = []

    def run(self, args):
        Recorder.seen.append((list(args), gc.get_freeze_count(), logging.getLogger("airbyte").level))
        Recorder.thresholds = gc.get_threshold()


def test_start_up_is_frozen_out_of_full_collections_and_args_pass_through(monkeypatch):
    import airbyte_cdk  # noqa: F401  (the CDK's models: what a real start-up has loaded)

    Recorder.seen = []
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        run_destination(Recorder, ["check", "--config", "c.json"])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    (args, frozen, _), = Recorder.seen
    assert args == ["check", "--config", "c.json"]
    assert frozen > 10_000  # the start-up's objects, frozen before the command runs
    # the youngest generation is collected far less often than Python's default (every 700)
    assert Recorder.thresholds[0] >= 10_000


def test_debug_flag_anywhere_turns_on_debug_logs_and_is_not_passed_on(monkeypatch):
    Recorder.seen = []
    thresholds = gc.get_threshold()
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    airbyte_logger = logging.getLogger("airbyte")
    monkeypatch.setattr(airbyte_logger, "level", airbyte_logger.level)
    try:
        run_destination(Recorder, ["write", "--debug", "--config", "c.json"])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    (args, _, level), = Recorder.seen
    assert args == ["write", "--config", "c.json"]
    assert level == logging.DEBUG
