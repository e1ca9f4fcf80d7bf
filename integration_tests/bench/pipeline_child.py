"""One pipeline run in its own process (so that the platform stand-in's JSON work does not
share the bench process with the emulators): `python pipeline_child.py spec.json`.

The spec names the source and destination commands (already prefixed with /usr/bin/time -v),
their configs, the streams and the state folder; the child runs harness.pipeline's
Pipeline once and prints one JSON line with what it saw."""

from __future__ import annotations

import json
import resource
import sys

from harness.pipeline import Pipeline


def _self_usage() -> dict[str, float]:
    """This process alone (its children's figures are in their own /usr/bin/time reports)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"maxrss_mb": usage.ru_maxrss / 1024.0, "user": usage.ru_utime, "sys": usage.ru_stime}


def main() -> int:
    spec = json.loads(open(sys.argv[1]).read())
    pipeline = Pipeline(
        spec["name"],
        spec["source"],
        spec["source_config"],
        spec["destination"],
        spec["destination_config"],
        streams=spec.get("streams"),
        destination_sync_mode=spec.get("destination_sync_mode", "append_dedup"),
        destination_object_name=spec.get("destination_object_name"),
        state_dir=spec["state_dir"],
    )
    pipeline.reset()
    run = pipeline.run()
    print(json.dumps({
        "ok": run.ok,
        "records_read": run.records_read,
        "states_committed": run.states_committed,
        "states_from_source": run.states_from_source,
        "seconds": run.seconds,
        "source_errors": run.source_errors[-3:],
        "destination_errors": run.destination_errors[-3:],
        "summary": run.summary_line(),
        "runner": _self_usage(),
    }))
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
