"""Phone numbers to E.164 with `phonenumbers` (the maintained Python port of Google's
libphonenumber), and the region (ISO 3166 alpha-2) a record's country field names.

    region = region_for_country(record.get("country_id")) or config.get("default_phone_region")
    result = normalise_phone(record.get("phone"), region)
    if result.e164:            payload["phone"] = result.e164     # result.changed: note it
    elif result.reason:        drop the field or reject the record (config `invalid_phone`)

Reasons never quote the phone itself (they reach logs; record contents appear in logs only
as keys). `phonenumbers` is imported on first use, so `spec` does not pay for it.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

INVALID_PHONE_CHOICES = ("drop_field", "reject_record")

# Longer than any phone written by a person; phonenumbers itself refuses > 250 characters.
_MAX_INPUT = 64


@dataclass(frozen=True)
class PhoneResult:
    """`e164`: the number as `+<country><number>` or None; `changed`: e164 differs from the
    text given; `reason`: why there is no e164 (None for an empty input)."""

    e164: Optional[str]
    changed: bool
    reason: Optional[str]


_PHONENUMBERS: Any = None


def _phonenumbers() -> Any:
    """The `phonenumbers` module, imported on first use (not by `spec`) and then bound here: an
    import statement per phone (the import machinery's lookups) cost a few microseconds of
    every record's mapping."""
    global _PHONENUMBERS
    if _PHONENUMBERS is None:
        import phonenumbers

        _PHONENUMBERS = phonenumbers
    return _PHONENUMBERS


# "+" then ASCII digits only: a first digit of 1-9 (no calling code starts with 0), 3 to 20 digits
# (a calling code of 1-3 and a national number of 2-17, libphonenumber's bounds)
_E164_FORM = re.compile(r"\+[1-9][0-9]{2,19}")
# calling code → its main region's `national_prefix_for_parsing` compiled (None: the region has
# none), or False: a calling code the fast path leaves to `parse` (non-geographic, unknown)
_PREFIX_FOR_PARSING: dict[int, Any] = {}


_CALLING_CODES: dict[str, int] = {}  # "420" → 420, every calling code phonenumbers knows


def _calling_codes(phonenumbers: Any) -> dict[str, int]:
    if not _CALLING_CODES:
        _CALLING_CODES.update({str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE})
    return _CALLING_CODES


_UNSET = object()


def _prefix_for_parsing(country_code: int, phonenumbers: Any) -> Any:
    region = phonenumbers.region_code_for_country_code(country_code)
    if region in ("ZZ", "001"):
        entry: Any = False
    else:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        prefix = metadata.national_prefix_for_parsing if metadata is not None else None
        entry = False if metadata is None else (re.compile(prefix) if prefix else None)
    _PREFIX_FOR_PARSING[country_code] = entry
    return entry


def _already_e164(text: str, phonenumbers: Any) -> Optional[str]:
    """The E.164 form of `text` when it is already written so (`+420785206025`: the usual case
    of a source that normalised its phones) and `phonenumbers.parse` would read it as the same
    number of a possible length; None sends the text to the full path below, which gives the
    answer and the reason. Same answer as `parse` + `is_possible_number_with_reason` +
    `format_number`, by the steps `parse` takes for such a text (phonenumbers 9.x):

    - a `+` followed by ASCII digits only: nothing to extract, normalise or strip (no
      extension, no RFC 3966 context, no letters, no second `+`);
    - the calling code: the shortest prefix of 1-3 digits that is a known calling code, as
      `parse` takes it; a geographic one only (non-geographic 800, 870... go the full way);
    - the national number: 2-17 digits (parse's bounds), not starting with 0 (parse marks an
      "Italian leading zero", which normalise_phone treats apart), and not starting with what the
      region's `national_prefix_for_parsing` matches (parse may strip a national prefix
      written after the country code, as in +44 0..., +7 8..., +1 1...): where it does not
      match, parse keeps the national number as written;
    - then the same public check as below (`is_possible_number_with_reason`); what
      `format_number(…, E164)` makes of that number is the text itself.

    unit_tests/test_phones.py compares this path with the full one over every calling code,
    national-prefix cases, leading zeros and every length."""
    if _E164_FORM.fullmatch(text) is None:
        return None
    codes = _CALLING_CODES or _calling_codes(phonenumbers)
    for size in (2, 3, 4):
        country_code = codes.get(text[1:size])
        if country_code is not None:
            break
    else:
        return None
    national = text[size:]
    if not 2 <= len(national) <= 17 or national[0] == "0":
        return None
    prefix = _PREFIX_FOR_PARSING.get(country_code, _UNSET)
    if prefix is _UNSET:
        prefix = _prefix_for_parsing(country_code, phonenumbers)
    if prefix is False or (prefix is not None and prefix.match(national)):
        return None
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    # format_number(number, E164) is "+", the calling code and the national number as digits:
    # `text` itself (neither part has a leading zero, every digit is ASCII)
    return text


def _region_code(region: Any) -> Optional[str]:
    if region in (None, ""):
        return None
    return region_for_country(region)


def normalise_phone(value: Any, region: Optional[str] = None) -> PhoneResult:
    """`value` (a phone as written: `785 206 025`, `0631234567`, `+420 785 206 025`,
    `00420785206025`, an int) as E.164. `region` (ISO alpha-2, e.g. the record's country or
    the config's `default_phone_region`; a country name is accepted too) is used for a number
    written without its country code. A number counts when its length is possible for its
    country (libphonenumber's `is_possible_number`): the numbering plans change faster than
    any library, and a customer must not lose a phone for a newly opened prefix. A text
    already in E.164 form (`+420785206025`) takes a shorter path with the same answer
    (`_already_e164`: a quarter of the time of `phonenumbers.parse`).
    Empty/None → `PhoneResult(None, False, None)`; unparseable → e164 None with a reason."""
    if value is None or isinstance(value, bool):
        return PhoneResult(None, False, None if value is None else "phone is not text or a number")
    if isinstance(value, float):
        if not value.is_integer():
            return PhoneResult(None, False, "phone is a fractional number")
        value = int(value)
    if not isinstance(value, (str, int)):
        return PhoneResult(None, False, f"phone is a {type(value).__name__}, not text")
    original = str(value)
    text = original.strip()
    if not text:
        return PhoneResult(None, False, None)
    if len(text) > _MAX_INPUT:
        return PhoneResult(None, False, f"phone is longer than {_MAX_INPUT} characters")
    if isinstance(value, int) and not original.startswith("0") and region is None:
        text = "+" + text  # a bare number with no region can only be international
    phonenumbers = _PHONENUMBERS or _phonenumbers()
    if text[:1] == "+":
        e164 = _already_e164(text, phonenumbers)
        if e164 is not None:
            return PhoneResult(e164, e164 != original, None)
    NumberParseException = phonenumbers.NumberParseException
    PhoneNumberFormat, ValidationResult = phonenumbers.PhoneNumberFormat, phonenumbers.ValidationResult

    code = _region_code(region)
    candidates = [text]
    compact = re.sub(r"[\s().\-/]", "", text)
    if compact.startswith("00") and code is None:
        candidates.append("+" + compact[2:])  # the international prefix of most of Europe
    # "380501234567": the country code written without its +. Read so only when the result is
    # a valid number (not merely one of a possible length), and preferred over the record's
    # region only when the number is not valid there (a Ukrainian phone of a Czech customer).
    guessed = "+" + compact if compact.isdigit() and compact[:1] != "0" and len(compact) >= 10 else None
    if guessed:
        candidates.append(guessed)
    reason = "phone could not be read"
    found: list[Any] = []  # numbers of a possible length, in the order of the candidates
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, code)
        except NumberParseException as exc:
            if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
                if code is None and not candidate.lstrip().startswith("+"):
                    reason = (
                        "phone has no country code (+…) and the record's country is unknown; "
                        "set default_phone_region or write the number with its +country code"
                    )
                else:
                    reason = "phone has an unknown country code"
            elif exc.error_type == NumberParseException.NOT_A_NUMBER:
                reason = "phone is not a phone number"
            elif exc.error_type == NumberParseException.TOO_SHORT_NSN or exc.error_type == NumberParseException.TOO_SHORT_AFTER_IDD:
                reason = "phone is too short"
            elif exc.error_type == NumberParseException.TOO_LONG:
                reason = "phone is too long"
            continue
        if number.italian_leading_zero and not phonenumbers.is_valid_number(number):
            # "0785 206 025" in CZ: a trunk 0 written out of habit (Slovak, Ukrainian) where the
            # country has none. Kept only where numbers really start with 0 (Italy: valid).
            stripped = copy.copy(number)
            stripped.italian_leading_zero = None
            stripped.number_of_leading_zeros = None
            if phonenumbers.is_possible_number(stripped):
                number = stripped
        if candidate is guessed and not phonenumbers.is_valid_number(number):
            continue
        verdict = phonenumbers.is_possible_number_with_reason(number)
        if verdict != ValidationResult.IS_POSSIBLE:
            where = phonenumbers.region_code_for_number(number) or code or "its country"
            if verdict in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
                reason = f"phone is too short for {where}"
            elif verdict == ValidationResult.TOO_LONG:
                reason = f"phone is too long for {where}"
            elif verdict == ValidationResult.INVALID_COUNTRY_CODE:
                reason = "phone has an unknown country code"
            else:
                reason = f"phone has an impossible length for {where}"
            continue
        found.append(number)
    if found:
        # one number found (the usual case): it is the answer, valid or not; checking its validity
        # (a third of this function's time) decides nothing
        best = found[0] if len(found) == 1 else next((n for n in found if phonenumbers.is_valid_number(n)), found[0])
        e164 = phonenumbers.format_number(best, PhoneNumberFormat.E164)
        return PhoneResult(e164, e164 != original, None)
    return PhoneResult(None, False, reason)


# ---- countries ---------------------------------------------------------------------------
_LANGUAGES = ("en", "cs", "sk", "uk", "ru", "de", "pl", "hu")
# Names people write that libphonenumber's locale table lacks (it has one name per language).
_ALIASES: dict[str, str] = {
    "česko": "CZ", "czechia": "CZ", "czech republic": "CZ", "czech rep": "CZ", "česká republika": "CZ",
    "čr": "CZ", "čechy": "CZ", "чехія": "CZ", "чеська республіка": "CZ", "чехия": "CZ",
    "чешская республика": "CZ", "tschechien": "CZ", "czechy": "CZ", "csehország": "CZ",
    "slovensko": "SK", "slovakia": "SK", "slovak republic": "SK", "slovenská republika": "SK",
    "словаччина": "SK", "словакия": "SK", "slowakei": "SK", "słowacja": "SK", "szlovákia": "SK",
    "ukrajina": "UA", "україна": "UA", "украина": "UA", "ukraine": "UA",
    "ukraina": "UA", "ukrajna": "UA", "polsko": "PL", "poľsko": "PL", "польща": "PL", "польша": "PL",
    "polska": "PL", "poland": "PL", "německo": "DE", "nemecko": "DE", "німеччина": "DE", "германия": "DE",
    "deutschland": "DE", "germany": "DE", "rakousko": "AT", "rakúsko": "AT", "австрія": "AT",
    "австрия": "AT", "österreich": "AT", "austria": "AT", "maďarsko": "HU", "угорщина": "HU",
    "венгрия": "HU", "magyarország": "HU", "hungary": "HU", "usa": "US", "u.s.a.": "US",
    "united states": "US", "united states of america": "US", "spojené státy": "US", "сша": "US",
    "uk": "GB", "great britain": "GB", "united kingdom": "GB", "england": "GB", "velká británie": "GB",
    "veľká británia": "GB", "велика британія": "GB", "великобритания": "GB",
    "moldavsko": "MD", "молдова": "MD", "rumunsko": "RO", "румунія": "RO", "румыния": "RO",
    "bělorusko": "BY", "bielorusko": "BY", "білорусь": "BY", "беларусь": "BY",
    "rusko": "RU", "росія": "RU", "россия": "RU", "russia": "RU",
}
_ALPHA3: dict[str, str] = {
    "CZE": "CZ", "SVK": "SK", "UKR": "UA", "POL": "PL", "DEU": "DE", "AUT": "AT", "HUN": "HU",
    "ROU": "RO", "MDA": "MD", "BLR": "BY", "RUS": "RU", "LTU": "LT", "LVA": "LV", "EST": "EE",
    "GBR": "GB", "USA": "US", "CAN": "CA", "FRA": "FR", "ITA": "IT", "ESP": "ES", "PRT": "PT",
    "NLD": "NL", "BEL": "BE", "LUX": "LU", "CHE": "CH", "DNK": "DK", "SWE": "SE", "NOR": "NO",
    "FIN": "FI", "IRL": "IE", "GRC": "GR", "BGR": "BG", "HRV": "HR", "SVN": "SI", "SRB": "RS",
    "TUR": "TR", "ISR": "IL", "GEO": "GE", "ARM": "AM", "AZE": "AZ", "KAZ": "KZ",
}
_TWO_LETTER_ALIASES = {"UK": "GB", "EL": "GR"}  # common non-ISO codes (EU usage)
_NAMES: Optional[dict[str, str]] = None


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[\s.]+", " ", text).strip()


def build_names_table() -> dict[str, str]:
    """Folded country name -> region, in `_LANGUAGES`, from phonenumbers' locale data. That
    module holds every region's name in ~250 languages and costs ~95 MB of memory once
    imported, so the table is built ahead (`python -m destination_common.phones` writes
    `country_names.json`) and a unit test checks it still equals this function's answer."""
    from phonenumbers.geodata.locale import LOCALE_DATA

    names: dict[str, str] = {}
    for region, by_lang in sorted(LOCALE_DATA.items()):
        for lang in _LANGUAGES:
            name = by_lang.get("aa" if lang == "en" else lang)
            while isinstance(name, str) and name.startswith("*"):
                name = by_lang.get(name[1:])
            if name:
                names.setdefault(_fold(name), region)
    return names


_NAMES_FILE = Path(__file__).with_name("country_names.json")


def _names() -> dict[str, str]:
    global _NAMES
    if _NAMES is None:
        names = json.loads(_NAMES_FILE.read_text(encoding="utf-8"))
        for alias, region in _ALIASES.items():
            names[_fold(alias)] = region
        _NAMES = names
    return _NAMES


_SUPPORTED: Optional[frozenset] = None


def _supported() -> frozenset:
    global _SUPPORTED
    if _SUPPORTED is None:  # built once: a set of ~245 regions per phone was a tenth of the mapping's time
        import phonenumbers

        _SUPPORTED = frozenset(phonenumbers.SUPPORTED_REGIONS)
    return _SUPPORTED


def region_for_country(value: Any) -> Optional[str]:
    """The ISO 3166 alpha-2 region a country field names, or None: an alpha-2 code in any case
    (a UPgates `country_id` such as `CZ`, `sk`), an alpha-3 code (`CZE`), a calling code
    (`+420`), or a country name in Czech, Slovak, Ukrainian, Russian, English (also German,
    Polish, Hungarian), diacritics and case ignored (`Česká republika`, `Slovensko`, `Україна`)."""
    if value is None or isinstance(value, bool):
        return None
    return _region_for_text(str(value))


@functools.lru_cache(maxsize=4096)
def _region_for_text(value: str) -> Optional[str]:
    """region_for_country of a text, remembered: a sync has few distinct country values and
    folding a name (Unicode normalisation) for every record's phone cost more than the lookup."""
    text = value.strip()
    if not text or len(text) > 80:
        return None
    upper = text.upper()
    if re.fullmatch(r"[A-Z]{2}", upper):
        upper = _TWO_LETTER_ALIASES.get(upper, upper)
        return upper if upper in _supported() else None
    if re.fullmatch(r"[A-Z]{3}", upper) and upper in _ALPHA3:
        return _ALPHA3[upper]
    if re.fullmatch(r"\+?\d{1,3}", text):
        import phonenumbers

        region = phonenumbers.region_code_for_country_code(int(text.lstrip("+")))
        return region if region and region != "ZZ" else None
    return _names().get(_fold(text))


if __name__ == "__main__":  # regenerate the shipped country-name table after a phonenumbers upgrade
    _NAMES_FILE.write_text(json.dumps(build_names_table(), ensure_ascii=False, sort_keys=True, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {_NAMES_FILE}")
