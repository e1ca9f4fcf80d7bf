"""Issue 11 items 1, 2 and 4 in destination-common's HTTP helpers: no redirect is followed,
the URL rule parses like urllib3, secrets are redacted in every encoding."""

import base64
import logging
from urllib.parse import quote, quote_plus

import pytest
import requests
from airbyte_cdk.logger import AirbyteLogFormatter
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from emulators.capture import CaptureServer
from harness.secrets_scan import assert_no_secrets

from destination_common import HttpClient, add_secret, check_url, redact
from destination_common.http import add_basic_secret, register_secret_forms, url_for_message

PASSWORD = "Pw-HSEC-redirect-8kQ"
LOC_PASSWORD = "LocPw-HSEC-91x"


@pytest.fixture
def trap():
    with CaptureServer() as server:
        yield server


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_and_names_the_new_location(trap, status):
    with CaptureServer(status=status, headers={"Location": f"http://shop:{LOC_PASSWORD}@{trap.url[7:]}/stolen"}) as shop:
        client = HttpClient(max_retries=0, service="The shop")
        with pytest.raises(AirbyteTracedException) as info:
            client.post_json(shop.url + "/login", {"login": "me", "password": PASSWORD}, what="login",
                             headers={"api_access_key": "Hdr-HSEC-key-55"})
        assert len(shop.requests) == 1
    assert trap.requests == []  # nothing went to the new location
    exc = info.value
    assert exc.failure_type.value == "config_error"
    assert f"the shop moved to http://…@{trap.url[7:]}/stolen; update the API URL" in exc.message
    assert_no_secrets([PASSWORD, LOC_PASSWORD, "Hdr-HSEC-key-55"], texts=[exc.message, exc.internal_message])
    assert "shop:" not in exc.message


def test_a_relative_location_is_resolved_and_no_location_is_still_an_error():
    with CaptureServer(status=302, headers={"Location": "/new/api"}) as shop:
        with pytest.raises(AirbyteTracedException, match=r"moved to http://127\.0\.0\.1:\d+/new/api; update the API URL"):
            HttpClient(max_retries=0).request("GET", shop.url + "/old")
    with CaptureServer(status=301) as shop:
        with pytest.raises(AirbyteTracedException, match="redirect without a new location"):
            HttpClient(max_retries=0).request("GET", shop.url + "/old")


def test_the_session_itself_refuses_to_follow(trap):
    """A connector that uses client.session directly does not follow either."""
    with CaptureServer(status=307, headers={"Location": trap.url + "/x"}) as shop:
        client = HttpClient()
        answer = client.session.post(shop.url + "/login", data={"password": PASSWORD}, timeout=5)
        assert answer.status_code == 307
    assert trap.requests == []


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://example.invalid\\@127.0.0.1:8802", "backslash"),  # urllib3 connects to example.invalid
        ("https://shop.example.com\\x", "backslash"),
        ("https://user:UrlPw-HSEC-77@shop.example.com", "user-info"),
        ("http://user:UrlPw-HSEC-77@127.0.0.1:8802/api", "user-info"),
        ("https://UrlPw-HSEC-77@shop.example.com", "user-info"),
        ("https://shop .example.com", "space"),
        ("https://shop.example.com/a\tb", "space"),
        ("https://shop.example.com/\x00", "control"),
        ("https://shop.example.com\u200b/", "control"),
        ("https://shop.example.com:99999", "not a valid URL"),
        ("ftp://shop.example.com", "not a valid URL"),
        ("http://shop.example.com", "plain http"),
    ],
)
def test_check_url_refuses_what_urllib3_would_read_otherwise(url, words):
    with pytest.raises(AirbyteTracedException) as info:
        check_url(url, field="API URL")
    msg = info.value.message
    assert words in msg and "API URL" in msg
    assert "UrlPw-HSEC-77" not in msg and "user:" not in msg


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://shop.example.com/", "https://shop.example.com"),
        ("  https://shop.example.com/api/v2/  ", "https://shop.example.com/api/v2"),
        ("http://127.0.0.1:8802/", "http://127.0.0.1:8802"),
        ("http://localhost:1", "http://localhost:1"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("https://shop.example.com/path?x=a@b", "https://shop.example.com/path?x=a@b"),
        ("https://obchod-ěščř.cz/api", "https://obchod-ěščř.cz/api"),  # an IDN host: both parsers agree once encoded
        ("HTTPS://Shop.Example.COM/", "HTTPS://Shop.Example.COM"),
    ],
)
def test_check_url_keeps_accepting_plain_addresses(url, expected):
    assert check_url(url) == expected


def test_url_for_message_hides_user_info():
    assert url_for_message("https://u:p4ss-word@shop.cz/x") == "https://…@shop.cz/x"
    assert url_for_message("http://a\\@127.0.0.1:1") == "http://…@127.0.0.1:1"
    assert url_for_message("https://shop.cz/x") == "https://shop.cz/x"


def test_redact_covers_url_encoded_json_and_base64_forms():
    token = "Tok-HSEC/4f9a+b=c&d é"
    add_secret(token)
    texts = [
        f"raw {token}",
        f"quote {quote(token, safe='')} and {quote(token)}",
        f"form key={quote_plus(token)}",
        "json " + '"' + token.replace("/", "\\/") + '"',
        "b64 " + base64.b64encode(token.encode()).decode(),
    ]
    assert_no_secrets([token], texts=[redact(t) for t in texts])
    # the CDK's own log filter masks them too (add_secret registers every form)
    assert_no_secrets([token], texts=[filter_secrets(t) for t in texts])


def test_add_basic_secret_masks_the_basic_header():
    login, key = "shop-login", "ApiKey-HSEC-basic-3"
    add_basic_secret(login, key)
    header = "Authorization: Basic " + base64.b64encode(f"{login}:{key}".encode()).decode()
    assert redact(header) == "Authorization: Basic ****"
    record = logging.LogRecord("airbyte", logging.DEBUG, __file__, 1, header, None, None)
    formatted = AirbyteLogFormatter().format(record)
    assert_no_secrets([(login, key)], texts=[redact(header), formatted])


def test_config_secrets_get_their_encoded_forms_registered_by_the_client():
    """The CDK registers a config's airbyte_secret values raw; HttpClient() adds the encoded
    forms so that the CDK's log formatter masks a URL-encoded echo of them too."""
    secret = "CfgPw-HSEC+x/y=z"
    add_to_secrets(secret)  # what Destination.run_cmd does for the config
    HttpClient()
    echoed = f"answer: user_api_key={quote_plus(secret)}&x={quote(secret, safe='')}"
    assert_no_secrets([secret], texts=[filter_secrets(echoed), redact(echoed)])
    register_secret_forms()  # idempotent


def test_adding_never_replaces_earlier_secrets():
    add_secret("First-HSEC-secret-1")
    add_secret("Second-HSEC-secret-2")
    assert redact("First-HSEC-secret-1 Second-HSEC-secret-2") == "**** ****"


def test_registering_again_adds_no_forms_of_forms():
    import airbyte_cdk.utils.airbyte_secrets_utils as utils

    add_secret("Grow-HSEC-secret/+1")
    register_secret_forms()
    before = len(vars(utils)["__SECRETS_FROM_CONFIG"])
    for _ in range(3):
        HttpClient()
        register_secret_forms()
        add_secret("Grow-HSEC-secret/+1")
    assert len(vars(utils)["__SECRETS_FROM_CONFIG"]) == before


def test_counters_are_exact_under_threads():
    import threading

    with CaptureServer() as server:
        client = HttpClient(max_retries=0)
        threads = [threading.Thread(target=lambda: [client.request("GET", server.url + "/x") for _ in range(20)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.stats() == {"requests": 80, "retries": 0} and len(server.requests) == 80
