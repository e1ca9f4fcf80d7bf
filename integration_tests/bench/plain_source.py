"""Run bench/plain_upgates.yaml as a source: `python plain_source.py read --config … --catalog …`.

The stock YamlDeclarativeSource and the CDK's entrypoint, nothing of ours. BENCH_MANIFEST
names another manifest (bench item 3 uses a variant with bench.fast_components.KeyExtractor)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

MANIFEST = Path(os.environ.get("BENCH_MANIFEST") or Path(__file__).resolve().parent / "plain_upgates.yaml")


def main() -> None:
    args = sys.argv[1:]
    config_path = AirbyteEntrypoint.extract_config(args)
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    source = YamlDeclarativeSource(
        path_to_yaml=str(MANIFEST),
        config=YamlDeclarativeSource.read_config(config_path) if config_path else None,
        catalog=YamlDeclarativeSource.read_catalog(catalog_path) if catalog_path else None,
    )
    launch(source, args)


if __name__ == "__main__":
    main()
