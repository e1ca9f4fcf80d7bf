"""Loyalty-shaped test data shared by destination-loyalty-batch's tests and the bench."""

from __future__ import annotations

from typing import Any


def mixed_customers(n: int, *, code_digits: int = 4) -> list[dict[str, Any]]:
    """`n` customers as a real shop holds them: phone, city and surname each missing for some
    (every 3rd has no phone, every 4th no city, every 5th no surname: 8 sets of fields).
    Codes are `M` and `code_digits` digits (M0000, M0001, ...)."""
    out = []
    for i in range(n):
        c: dict[str, Any] = {"code": f"M{i:0{code_digits}d}", "first_name": f"N{i}", "email": f"m{i}@example.com"}
        if i % 3:
            c["phone"] = f"+420 777 {i:06d}"
        if i % 4:
            c["city"] = "Brno"
        if i % 5:
            c["last_name"] = "Nováková"
        out.append(c)
    return out
