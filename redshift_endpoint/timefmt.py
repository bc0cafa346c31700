"""COPY's DATEFORMAT and TIMEFORMAT strings, as Redshift documents them.

Page "DATEFORMAT and TIMEFORMAT strings": a format is made of the dateparts/timeparts YY, YYYY,
MM, MON (abbreviated or full month name), DD, HH or HH24, HH12, MI, SS (with up to 6 fractional
digits), AM/PM, and separators; it may not contain a time zone (TZ, OF). Defaults: DATE
'YYYY-MM-DD', TIMESTAMP 'YYYY-MM-DD HH:MI:SS', TIMESTAMPTZ 'YYYY-MM-DD HH:MI:SSOF'. A DATEFORMAT
may contain time parts, which are ignored. 'auto', 'epochsecs' and 'epochmillisecs' are
keywords and case-sensitive; 'auto' is what PostgreSQL's own input parser does here (Redshift's
"Using automatic recognition" page describes the same CAST behaviour), and it does not accept
epoch numbers.

A value is parsed into ISO text (``2018-11-02``, ``2018-11-02 18:45:05.123456``) for PostgreSQL,
so PostgreSQL's DateStyle never gets to guess the order of day and month.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from redshift_endpoint.copy_spec import CopySyntaxError

KEYWORDS = ("auto", "epochsecs", "epochmillisecs")
DEFAULT_DATE = "YYYY-MM-DD"
DEFAULT_TIMESTAMP = "YYYY-MM-DD HH:MI:SS"

_MONTHS = {name: i for i, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
     ("nov", "november"), ("dec", "december")], start=1) for name in names}
# Longest first, so that MON is not read as MM + ..., HH24 not as HH + 24.
_PARTS = [
    ("YYYY", "year4", r"(\d{4})"), ("YY", "year2", r"(\d{2})"), ("MON", "mon", r"([A-Za-z]+)"),
    ("MM", "month", r"(\d{1,2})"), ("MI", "minute", r"(\d{1,2})"), ("DD", "day", r"(\d{1,2})"),
    ("HH24", "hour", r"(\d{1,2})"), ("HH12", "hour12", r"(\d{1,2})"), ("HH", "hour", r"(\d{1,2})"),
    ("SS", "second", r"(\d{1,2})(?:\.(\d{1,6}))?"), ("AM", "ampm", r"([AaPp][Mm])"), ("PM", "ampm", r"([AaPp][Mm])"),
]


class FormatError(ValueError):
    """The format string itself is not valid (the COPY is refused before anything is loaded)."""


def validate(fmt: str, option: str) -> None:
    """Raise CopySyntaxError (naming the option) when ``fmt`` cannot be honoured exactly."""
    if fmt == "auto" or (option == "TIMEFORMAT" and fmt in ("epochsecs", "epochmillisecs")):
        return
    if fmt.lower() in KEYWORDS and fmt not in KEYWORDS:
        raise CopySyntaxError(f"Invalid {option} '{fmt}': the keywords 'auto', 'epochsecs' and "
                              "'epochmillisecs' are case-sensitive")
    if option == "DATEFORMAT" and fmt in ("epochsecs", "epochmillisecs"):
        raise CopySyntaxError(f"Invalid DATEFORMAT '{fmt}': epochsecs/epochmillisecs are TIMEFORMAT arguments")
    try:
        compile_format(fmt)
    except FormatError as e:
        raise CopySyntaxError(f"Invalid {option} '{fmt}': {e}") from None


@lru_cache(maxsize=64)
def compile_format(fmt: str) -> tuple[re.Pattern, tuple[tuple[str, ...], ...]]:
    """The format as a regular expression plus, per group run, which part it captures."""
    if re.search(r"(?i)tz|\bof\b|SSOF|OF$", fmt):
        raise FormatError("a time zone specifier (TZ, tz or OF) is not allowed")
    pattern, parts, pos, seen = [], [], 0, set()
    upper = fmt.upper()
    while pos < len(fmt):
        for token, name, rx in _PARTS:
            if upper.startswith(token, pos):
                if name in seen or (name.startswith("year") and seen & {"year2", "year4"}) or \
                        (name in ("month", "mon") and seen & {"month", "mon"}) or \
                        (name.startswith("hour") and seen & {"hour", "hour12"}):
                    raise FormatError(f"{token} appears twice")
                seen.add(name)
                pattern.append(rx)
                parts.append((name, "fraction") if name == "second" else (name,))
                pos += len(token)
                break
        else:
            ch = fmt[pos]
            if ch.isalnum():
                raise FormatError(f"'{fmt[pos:pos + 8]}' is not a datepart or timepart "
                                  "(YY, YYYY, MM, MON, DD, HH, HH24, HH12, MI, SS, AM, PM)")
            pattern.append(r"\s+" if ch.isspace() else re.escape(ch))
            pos += 1
            while ch.isspace() and pos < len(fmt) and fmt[pos].isspace():
                pos += 1
    if not seen & {"year2", "year4", "month", "mon", "day", "hour", "hour12", "minute", "second"}:
        raise FormatError("no datepart or timepart")
    if "ampm" in seen and "hour12" not in seen and "hour" not in seen:
        raise FormatError("AM/PM without an hour")
    return re.compile("".join(pattern)), tuple(parts)


def _fields(fmt: str, value: str) -> dict[str, str | None]:
    rx, parts = compile_format(fmt)
    m = rx.fullmatch(value.strip())
    if not m:
        raise ValueError(value)
    names = [n for p in parts for n in p]
    return dict(zip(names, m.groups(), strict=True))


def _datetime(fmt: str, value: str) -> datetime:
    f = _fields(fmt, value)
    if f.get("year4") is not None:
        year = int(f["year4"])
    elif f.get("year2") is not None:
        yy = int(f["year2"])
        year = 2000 + yy if yy < 70 else 1900 + yy   # as PostgreSQL's to_date 'YY'
    else:
        year = 1900
    if f.get("mon") is not None:
        month = _MONTHS.get(f["mon"].lower())
        if month is None:
            raise ValueError(value)
    else:
        month = int(f.get("month") or 1)
    day = int(f.get("day") or 1)
    if f.get("hour12") is not None:
        hour = int(f["hour12"])
        if not 1 <= hour <= 12:
            raise ValueError(value)
        hour %= 12
        if (f.get("ampm") or "").lower() == "pm":
            hour += 12
    else:
        hour = int(f.get("hour") or 0)
        ampm = (f.get("ampm") or "").lower()
        if ampm and 1 <= hour <= 12:
            hour = hour % 12 + (12 if ampm == "pm" else 0)
    minute, second = int(f.get("minute") or 0), int(f.get("second") or 0)
    micro = int((f.get("fraction") or "0").ljust(6, "0"))
    return datetime(year, month, day, hour, minute, second, micro)


def parse_date(fmt: str | None, value: str) -> str:
    """'02/11/2018' with 'DD/MM/YYYY' -> '2018-11-02'. Raises ValueError."""
    d = _datetime(fmt or DEFAULT_DATE, value)
    return date(d.year, d.month, d.day).isoformat()


def parse_timestamp(fmt: str | None, value: str) -> str:
    """A TIMESTAMP value in ISO text. Raises ValueError."""
    return _datetime(fmt or DEFAULT_TIMESTAMP, value).isoformat(" ")


_OFFSET = re.compile(r"\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?|(Z|UTC|GMT))$", re.IGNORECASE)


def parse_timestamptz(value: str) -> str:
    """The default TIMESTAMPTZ format 'YYYY-MM-DD HH:MI:SSOF' (no offset: UTC). Raises ValueError."""
    s = value.strip()
    m = _OFFSET.search(s)
    offset = "+00:00"
    if m and not (m.group(1) and s[:m.start()].count("-") < 2):
        s = s[:m.start()]
        if m.group(1):
            hours, minutes = int(m.group(2)), int(m.group(3) or 0)
            if hours > 15 or minutes > 59:
                raise ValueError(value)
            offset = f"{m.group(1)}{hours:02d}:{minutes:02d}"
    return _datetime(DEFAULT_TIMESTAMP, s).isoformat(" ") + offset
