"""Look for secrets in every byte a connector wrote, in every encoding a leak takes.

    assert_no_secrets(["S3cr3t-pw-7Qx", ("shop-login", "Api-Key-9Zr")],
                      texts=[proc.stdout, proc.stderr], paths=[tmp_path])

Each secret is looked for raw, URL-encoded (`quote` with and without `/` safe,
`quote_plus`), JSON-escaped, base64 (standard and URL-safe, with and without padding), and
base64 of `login:secret` for a `(login, secret)` pair. Besides, every base64-looking token in
the scanned bytes is decoded and searched for the raw secret, which also finds a Basic header
built from a login the caller did not name. `paths` are files or folders (scanned
recursively, every file, every byte). The failure message names the secret by position and
its first two characters only, the form and where it was found, never the secret itself.

Test equipment: connectors never import it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Iterable, Sequence, Union
from urllib.parse import quote, quote_plus

Secret = Union[str, Sequence[str]]  # a value, or a (login, secret) pair

_B64_TOKEN = re.compile(rb"[A-Za-z0-9+/_-]{8,}={0,2}")
MIN_SECRET_LENGTH = 6


def _b64_forms(raw: bytes) -> list[tuple[str, bytes]]:
    std = base64.b64encode(raw)
    url = base64.urlsafe_b64encode(raw)
    return [("base64", std), ("base64 (unpadded)", std.rstrip(b"=")), ("base64url", url.rstrip(b"="))]


def secret_forms(secret: Secret) -> list[tuple[str, bytes]]:
    """(form name, bytes) for every encoding looked for."""
    if isinstance(secret, str):
        login, value = None, secret
    else:
        login, value = secret[0], secret[1]
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(f"a secret for the scan must have at least {MIN_SECRET_LENGTH} characters to be distinctive")
    forms: list[tuple[str, bytes]] = [("raw", value.encode("utf-8"))]
    forms += [
        ("url-encoded", quote(value, safe="").encode()),
        ("url-encoded (/ kept)", quote(value).encode()),
        ("form-encoded", quote_plus(value).encode()),
        ("json-escaped", json.dumps(value)[1:-1].encode()),
        ("json-escaped ascii", json.dumps(value, ensure_ascii=True)[1:-1].encode()),
    ]
    forms += _b64_forms(value.encode("utf-8"))
    # A plain part of the secret (8+ letters, digits, '-' or '_'): it shows unchanged inside any
    # escaping (JSON in bytes' repr in JSON...) that spells the rest of the secret differently.
    forms += [("plain part", run.encode()) for run in re.findall(r"[A-Za-z0-9_-]{8,}", value) if run != value]
    if login is not None:
        forms += [(f"{name} of login:secret", enc) for name, enc in _b64_forms(f"{login}:{value}".encode("utf-8"))]
    seen: set[bytes] = set()
    unique = []
    for name, enc in forms:
        if enc not in seen:
            seen.add(enc)
            unique.append((name, enc))
    return unique


def _decoded_tokens(data: bytes) -> Iterable[bytes]:
    for match in _B64_TOKEN.finditer(data):
        token = match.group(0)
        for candidate in (token, token.replace(b"-", b"+").replace(b"_", b"/")):
            stripped = candidate.rstrip(b"=")
            for offset in range(4):  # the token may start mid-way through an encoded group
                chunk = stripped[offset:]
                chunk += b"=" * (-len(chunk) % 4)
                try:
                    yield base64.b64decode(chunk, validate=True)
                except (binascii.Error, ValueError):
                    continue


def find_secrets(secrets: Iterable[Secret], texts: Iterable[object] = (), paths: Iterable[object] = ()) -> tuple[list[str], int]:
    """Every finding as a line, and the number of bytes scanned."""
    secrets = list(secrets)
    table = [(i, s, secret_forms(s)) for i, s in enumerate(secrets)]
    sources: list[tuple[str, bytes]] = []
    for n, text in enumerate(texts):
        if text is None:
            continue
        data = text if isinstance(text, (bytes, bytearray)) else str(text).encode("utf-8", "surrogatepass")
        sources.append((f"text #{n}", bytes(data)))
    for root in paths:
        root = Path(str(root))
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
        for file in files:
            try:
                sources.append((str(file), file.read_bytes()))
            except OSError as exc:
                sources.append((f"{file} (unreadable: {exc.strerror})", b""))
    findings: list[str] = []
    scanned = 0
    for where, data in sources:
        scanned += len(data)
        decoded = list(_decoded_tokens(data))
        for i, secret, forms in table:
            value = secret if isinstance(secret, str) else secret[1]
            label = f"secret #{i} ({value[:2]}…)"
            for name, enc in forms:
                at = data.find(enc)
                if at >= 0:
                    findings.append(f"{label} found {name} in {where} at byte {at}")
            raw = value.encode("utf-8")
            if any(raw in d for d in decoded):
                findings.append(f"{label} found inside a base64 token in {where}")
    return findings, scanned


def assert_no_secrets(secrets: Iterable[Secret], texts: Iterable[object] = (), paths: Iterable[object] = ()) -> int:
    """Fail (AssertionError) when any secret appears in any form in any text or any file
    under `paths`. Returns the number of bytes scanned, so a test can assert it scanned
    something."""
    findings, scanned = find_secrets(secrets, texts, paths)
    if findings:
        raise AssertionError("secrets leaked:\n" + "\n".join(sorted(set(findings))))
    return scanned
