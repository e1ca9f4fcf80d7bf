"""Reading the platform's answers: XML (default), JSON, JSONP; success or status="error".

The JSON shape is undocumented and the seed's own XML sample is not well-formed
(`<new>2<new>`), so parsing is tolerant: a strict parse first, then a lenient one that looks
for the known element names. Whatever cannot be read is `Reply.unreadable` with the raw text
kept for the log.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Optional

JSONP = re.compile(r"^\s*[A-Za-z_$][\w$.]*\s*\((.*)\)\s*;?\s*$", re.S)


@dataclass
class Reply:
    status: str  # success | error | unreadable
    raw: str = field(repr=False)
    error: Optional[str] = None
    batch_status: Optional[str] = None
    new: Optional[int] = None
    updated: Optional[int] = None
    ignored: Optional[int] = None
    line_errors: list[tuple[int, str]] = field(default_factory=list)  # (1-based line, message)
    generated: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # the decoded payload (JSON or XML as dict)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def accounted(self) -> int:
        return (self.new or 0) + (self.updated or 0) + (self.ignored or 0) + len(self.line_errors)


def parse_reply(text: str) -> Reply:
    body = (text or "").strip()
    if not body:
        return Reply("unreadable", text, error="empty answer")
    if body.startswith("<"):
        return _parse_xml(text)
    m = JSONP.match(body) if not body.startswith(("{", "[")) else None
    payload = m.group(1) if m else body
    try:
        data = json.loads(payload)
    except ValueError:
        return Reply("unreadable", text, error="answer is neither XML nor JSON")
    if not isinstance(data, dict):
        return Reply("unreadable", text, error="answer is not an object")
    return _from_dict(data, text)


def _int(value: Any) -> Optional[int]:
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _from_dict(data: dict[str, Any], raw: str) -> Reply:
    status = str(data.get("status", "")).lower()
    if status not in ("success", "error"):
        return Reply("unreadable", raw, error=f"unknown status '{data.get('status')}'", data=data)
    error = data.get("error")
    if isinstance(error, dict):
        error = error.get("message") or json.dumps(error)
    if status == "error":
        return Reply("error", raw, error=str(error or data.get("message") or "error without a message"), data=data)
    reply = Reply("success", raw, data=data)
    batch = data.get("batch")
    if isinstance(batch, dict):
        reply.batch_status = batch.get("status")
        customers = batch.get("customers") if isinstance(batch.get("customers"), dict) else batch
        reply.new = _int(customers.get("new"))
        reply.updated = _int(customers.get("updated"))
        reply.ignored = _int(customers.get("ignored"))
        for err in _as_list(batch.get("errors")):
            if isinstance(err, dict):
                line = _int(err.get("line"))
                if line is not None:
                    reply.line_errors.append((line, str(err.get("message") or err.get("error") or "")))
        reply.generated = [g for g in _as_list(batch.get("generated")) if isinstance(g, dict)]
    return reply


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        # XML-ish JSON: {"error": [...]} or {"customer": {...}}
        inner = [v for k, v in value.items() if k != "count"]
        if len(inner) == 1:
            return inner[0] if isinstance(inner[0], list) else [inner[0]]
    return [value]


def _parse_xml(text: str) -> Reply:
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError:
        return _parse_xml_leniently(text)
    if root.tag != "response":
        return Reply("unreadable", text, error=f"unexpected XML root <{root.tag}>")
    status = (root.get("status") or "").lower()
    if status == "error":
        return Reply("error", text, error=(root.findtext("error") or "error without a message").strip())
    if status != "success":
        return Reply("unreadable", text, error=f"unknown status '{root.get('status')}'")
    reply = Reply("success", text, data=_xml_to_dict(root))
    batch = root.find("batch")
    if batch is not None:
        reply.batch_status = batch.get("status")
        reply.new = _int(batch.findtext("customers/new"))
        reply.updated = _int(batch.findtext("customers/updated"))
        reply.ignored = _int(batch.findtext("customers/ignored"))
        for err in batch.findall("errors/error"):
            line = _int(err.get("line"))
            if line is not None:
                reply.line_errors.append((line, (err.text or "").strip()))
        for gen in batch.findall("generated/customer"):
            item: dict[str, Any] = {child.tag: (child.text or "") for child in gen}
            if gen.get("line"):
                item["line"] = _int(gen.get("line"))
            reply.generated.append(item)
    return reply


def _xml_to_dict(elem: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = dict(elem.attrib)
    for child in elem:
        value: Any = _xml_to_dict(child) if len(child) or child.attrib else (child.text or "")
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


def _parse_xml_leniently(text: str) -> Reply:
    """For answers like the seed's sample, where closing tags lack their slash."""
    m = re.search(r"<response\b[^>]*\bstatus\s*=\s*[\"']([^\"']+)[\"']", text)
    if not re.search(r"</?response>\s*$", text):
        return Reply("unreadable", text, error="XML answer cut short (no closing </response>)")
    if not m:
        return Reply("unreadable", text, error="XML answer without <response status=...>")
    status = m.group(1).lower()
    if status == "error":
        em = re.search(r"<error>(.*?)</?error>", text, re.S)
        return Reply("error", text, error=(em.group(1).strip() if em else "error without a message"))
    if status != "success":
        return Reply("unreadable", text, error=f"unknown status '{m.group(1)}'")
    reply = Reply("success", text)
    bm = re.search(r"<batch\b[^>]*\bstatus\s*=\s*[\"']([^\"']+)[\"']", text)
    reply.batch_status = bm.group(1) if bm else None
    for name in ("new", "updated", "ignored"):
        nm = re.search(rf"<{name}>\s*(\d+)\s*</?{name}>", text)
        setattr(reply, name, int(nm.group(1)) if nm else None)
    return reply
