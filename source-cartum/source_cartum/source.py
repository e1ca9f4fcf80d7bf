"""SourceCartum: the declarative manifest, built with its config, catalog and state."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import ConfiguredAirbyteCatalog
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.source import TState


class SourceCartum(YamlDeclarativeSource):
    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[TState]] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(path_to_yaml="manifest.yaml", catalog=catalog, config=config, state=state, **kwargs)
