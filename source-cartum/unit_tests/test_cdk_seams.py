"""Canary: the CDK attributes the login session relies on (components.CDK_SEAMS) are where it
expects them, in the airbyte-cdk installed here.

The manifest's `definitions.authenticator.session` is built with the CDK's own factory, exactly as
the source builds it; a failure names the installed airbyte-cdk version and the attribute that
moved, so a CDK upgrade that breaks the session fails here first, not in a sync."""

from __future__ import annotations

import copy
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from airbyte_cdk.sources.declarative.auth.token_provider import SessionTokenProvider, TokenProvider
from airbyte_cdk.sources.declarative.models import SessionTokenAuthenticator as SessionTokenAuthenticatorModel
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import ManifestComponentTransformer
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import ManifestReferenceResolver
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from source_cartum import components
from source_cartum.components import CDK_SEAMS, CartumSessionAuthenticator, SourceShared, bound_to_source
from source_cartum.source import _own_components

CDK = version("airbyte-cdk")
MANIFEST = yaml.safe_load((Path(components.__file__).parent / "manifest.yaml").read_text())


def _session_definition() -> dict[str, Any]:
    """The manifest's SessionTokenAuthenticator definition, references resolved and component
    types propagated as the CDK does before building."""
    manifest = _own_components(ManifestReferenceResolver().preprocess_manifest(copy.deepcopy(MANIFEST)))
    manifest = ManifestComponentTransformer().propagate_types_and_parameters("", manifest, {})
    return manifest["definitions"]["authenticator"]["session"]


def _build_cdk_session(config: dict[str, Any]) -> Any:
    return ModelToComponentFactory().create_component(
        SessionTokenAuthenticatorModel, _session_definition(), config, name="users"
    )


def _config(url: str = "http://127.0.0.1:9") -> dict[str, Any]:
    return {"shop_url": url, "login": "api-user", "password": "api-password", "start_date": "2026-01-01"}


def _walk(root: Any) -> dict[str, Any]:
    """The CDK objects CDK_SEAMS names, found by the attributes the session uses."""
    outer = getattr(root, "token_provider", None)
    inner = getattr(outer, "session_token_provider", None)
    return {"ApiKeyAuthenticator": root, "InterpolatedSessionTokenProvider": outer, "SessionTokenProvider": inner}


@pytest.mark.parametrize("owner,attribute", CDK_SEAMS, ids=[f"{o}.{a}" for o, a in CDK_SEAMS])
def test_the_cdk_attribute_the_session_relies_on_is_still_there(owner: str, attribute: str) -> None:
    built = _walk(_build_cdk_session(_config()))
    holder = built[owner]
    assert holder is not None and type(holder).__name__ == owner, (
        f"airbyte-cdk {CDK}: the manifest's SessionTokenAuthenticator is no longer built with a {owner} "
        f"where source_cartum/components.py (CartumSession, CDK_SEAMS) expects one (found {type(holder).__name__}); "
        "adapt _adopt_login to this CDK or pin the CDK version the connector was tested with."
    )
    assert hasattr(holder, attribute), (
        f"airbyte-cdk {CDK}: {owner}.{attribute} moved; source_cartum/components.py (_adopt_login, CDK_SEAMS) "
        "reads it to take over the login. Adapt it to this CDK or pin the CDK version the connector was tested with."
    )


def test_the_session_takes_the_cdk_login_over_and_owns_its_token() -> None:
    cdk_session = _build_cdk_session(_config())
    cdk_provider = _walk(cdk_session)["SessionTokenProvider"]
    assert isinstance(cdk_provider, SessionTokenProvider), f"airbyte-cdk {CDK}: {type(cdk_provider).__name__}"
    shared = SourceShared()
    with bound_to_source(shared):
        authenticator = CartumSessionAuthenticator(session=cdk_session, config=_config(), parameters={})
    session = shared.login
    assert isinstance(session, TokenProvider)
    assert authenticator._session is session
    assert cdk_session.token_provider.session_token_provider is session  # the CDK's provider is out of the way
    login_requester, token_path, expiration, _decoder = session._login
    assert login_requester is cdk_provider.login_requester
    assert token_path == ["response", "token"] and expiration.total_seconds() == 540


def test_the_session_logs_in_once_through_the_cdk_requester(cartum: Any) -> None:
    """With the real CDK objects: one login for two streams, the token in the body."""
    config = _config(cartum.url)
    shared = SourceShared()
    session = shared.login
    with bound_to_source(shared):
        users = CartumSessionAuthenticator(session=_build_cdk_session(config), config=config, parameters={})
        orders = CartumSessionAuthenticator(session=_build_cdk_session(config), config=config, parameters={})
    body = users.get_request_body_json()
    assert set(body) == {"token"} and body == orders.get_request_body_json()
    assert session.logins == 1 and cartum.log.count(function="auth") == 1
    users.refresh_and_set_access_token()
    assert orders.get_request_body_json()["token"] != body["token"] and session.logins == 2


def test_a_moved_attribute_stops_the_connector_with_the_cdk_version_and_its_name() -> None:
    """At run time too: a CDK whose SessionTokenProvider lost a field fails at start-up with a
    message naming the installed version and the attribute, never a bare AttributeError mid-sync."""
    from airbyte_cdk.models import FailureType
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    cdk_session = _build_cdk_session(_config())
    provider = cdk_session.token_provider.session_token_provider

    class Moved:  # the CDK's provider without `decoder`
        login_requester = provider.login_requester
        session_token_path = provider.session_token_path
        expiration_duration = provider.expiration_duration

    cdk_session.token_provider.session_token_provider = Moved()
    with pytest.raises(AirbyteTracedException) as err, bound_to_source(SourceShared()):
        CartumSessionAuthenticator(session=cdk_session, config=_config(), parameters={})
    assert err.value.failure_type == FailureType.system_error
    assert f"airbyte-cdk {CDK}" in err.value.message and "SessionTokenProvider.decoder" in err.value.message
