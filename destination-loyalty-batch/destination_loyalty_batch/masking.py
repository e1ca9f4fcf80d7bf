"""The customers' own secrets (passwords, PINs): found in a record or a payload, masked in the
rejected-records file and its log lines."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

from destination_common import RejectLog

# customers_batch fields that are credentials of the customer: never in a log line, masked in the
# rejected-records file (seed 003: customer_password for a customer "hotsite", customer_PIN for terminals)
SECRET_FIELDS = ("customer_password", "customer_PIN")
SECRET_KEYS = {"customer_password", "customer_pin", "password", "pin"}
MASK = "****"


def _secret_keys(value: Any, out: set[str], depth: int = 0) -> None:
    if depth > 5:
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if str(k).lower() in SECRET_KEYS and v not in (None, "") and not isinstance(v, (Mapping, list)):
                out.add(str(v))
            else:
                _secret_keys(v, out, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _secret_keys(v, out, depth + 1)


def mask(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with each secret replaced by **** wherever it occurs in a string (a value equal to
    a secret always; inside longer text when the secret has 4 characters or more)."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if value == secret:
                return MASK
        for secret in secrets:
            if len(secret) >= 4 and secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, Mapping):
        return {k: (MASK if str(k).lower() in SECRET_KEYS and v not in (None, "") else mask(v, secrets)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v, secrets) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and str(value) in secrets:
        return MASK
    return value


class LoyaltyRejectLog(RejectLog):
    """The shared RejectLog, with the customers' passwords and PINs masked in the record, the
    reason and the log line of every rejection and correction."""

    def __init__(self, path: Optional[str], *, secrets_of: Callable[[Mapping[str, Any]], list[str]], log_limit: int = 100) -> None:
        super().__init__(path, log_limit=log_limit)
        self._secrets_of = secrets_of

    def _masked(self, record: Mapping[str, Any], reason: str) -> tuple[Any, str]:
        try:
            secrets = self._secrets_of(record)
        except Exception:  # noqa: BLE001 - masking must never fail a sync
            secrets = []
        masked = mask(record, secrets) if isinstance(record, Mapping) else record
        return masked, mask(str(reason), [s for s in secrets if len(s) >= 4]) if secrets else reason

    def reject(self, stream: str, key: Optional[str], code: Any, reason: str, record: Mapping[str, Any]) -> None:
        record, reason = self._masked(record, reason)
        super().reject(stream, key, code, reason, record)

    def note(self, stream: str, key: Optional[str], field: str, reason: str, record: Mapping[str, Any]) -> None:  # type: ignore[override]
        record, reason = self._masked(record, reason)
        super().note(stream, key, field, reason, record)  # type: ignore[misc]
