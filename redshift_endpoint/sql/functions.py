"""Redshift functions, clauses and catalog names that PostgreSQL 15 does not run, rewritten per statement.

Works on the tokens of one statement (tokens.py: quotes, dollar quotes and comments are single
tokens, so nothing inside a literal or comment is touched). Calls are rewritten inside out: the
arguments of a call are rendered first, so ``NVL(DECODE(a, 1, 'x'), LEN(b))`` comes out whole.
Either a plain rewrite (NVL -> COALESCE, LEN -> length, MEDIAN -> percentile_cont, ...) or a call of
the ``redshift_compat`` schema (compat_schema.py / compat_schema.sql), qualified so the client's search_path
does not matter. The redshift_endpoint/docs/sql-compat.md table lists every rule and its documentation page.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from redshift_endpoint.tokens import Token, join, string_value, unquote_ident

SCHEMA = "redshift_compat"
CALLS_NAMES = ("NVL", "NVL2", "DECODE", "LEN", "TEXTLEN", "CHARINDEX", "STRTOL", "DATEDIFF", "DATEADD", "DATE_PART",
               "DATEPART", "PGDATE_PART", "DATE_TRUNC", "EXTRACT", "CONVERT_TIMEZONE", "TRUNC", "LISTAGG", "MEDIAN",
               "ADD_MONTHS", "CONCAT", "SPLIT_PART", "SUBSTRING", "REGEXP_COUNT", "REGEXP_SUBSTR", "REGEXP_INSTR",
               "REGEXP_REPLACE", "COLLATE")

# Redshift date-part names and abbreviations ("Date parts for date or timestamp functions") -> the
# name PostgreSQL's date_part/interval input accepts.
DATE_PARTS = {
    "millennium": "millennium", "millennia": "millennium", "mil": "millennium", "mils": "millennium",
    "century": "century", "centuries": "century", "c": "century", "cent": "century", "cents": "century",
    "decade": "decade", "decades": "decade", "dec": "decade", "decs": "decade", "epoch": "epoch",
    "year": "year", "years": "year", "y": "year", "yr": "year", "yrs": "year",
    "quarter": "quarter", "quarters": "quarter", "qtr": "quarter", "qtrs": "quarter",
    "month": "month", "months": "month", "mon": "month", "mons": "month",
    "week": "week", "weeks": "week", "w": "week",
    "dayofweek": "dow", "dow": "dow", "dw": "dow", "weekday": "dow",
    "dayofyear": "doy", "doy": "doy", "dy": "doy", "yearday": "doy",
    "day": "day", "days": "day", "d": "day",
    "hour": "hour", "hours": "hour", "h": "hour", "hr": "hour", "hrs": "hour",
    "minute": "minute", "minutes": "minute", "m": "minute", "min": "minute", "mins": "minute",
    "second": "second", "seconds": "second", "s": "second", "sec": "second", "secs": "second",
    **dict.fromkeys(("millisecond", "milliseconds", "ms", "msec", "msecs", "msecond", "mseconds", "millisec",
                     "millisecs", "millisecon"), "milliseconds"),
    **dict.fromkeys(("microsecond", "microseconds", "microsec", "microsecs", "usecond", "useconds", "us", "usec",
                     "usecs"), "microseconds"),
}

# Catalog views Redshift has and PostgreSQL does not: created in the compat schema.
CATALOG_VIEWS = {"PG_TABLE_DEF", "SVV_TABLE_INFO"}


class Rendered:
    """Result flags of one statement's rendering."""

    def __init__(self) -> None:
        self.compat = False     # uses the redshift_compat schema: it must exist first


class Refused(Exception):
    """A call Redshift itself refuses: the whole statement is replaced by one raising this error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


# A statement without any of these words has nothing for this module (most DDL and DML).
_WORDS = re.compile(r"\b(?:" + "|".join(sorted(set(CALLS_NAMES))) + r"|APPROXIMATE|TOP|MERGE|PG_TABLE_DEF|"
                    r"SVV_TABLE_INFO|LIKE|ILIKE|SIMILAR)\b", re.IGNORECASE)


def render(tokens: list[Token], flags: Rendered) -> str:
    """The statement's text with every Redshift-only call, clause and catalog name rewritten.

    Raises ``Refused`` for a call Redshift refuses (the caller sends ``refusal_statement`` instead).
    """
    text = join(tokens)
    if not _WORDS.search(text):
        return text
    _rewrite_top(tokens)
    merged = _merge_remove_duplicates(tokens)
    if merged is not None:
        return merged
    return _render(tokens, flags)


def refusal_statement(code: str, message: str) -> str:
    """A statement that fails with this error and shows nothing of the refused one."""
    tag, n = "$redshift_refused$", 0
    while tag in message:
        n += 1
        tag = f"$redshift_refused{n}$"
    return (f"DO {tag} BEGIN RAISE EXCEPTION USING ERRCODE = '{code}', "
            f"MESSAGE = '{message.replace(chr(39), chr(39) * 2)}'; END {tag}")


def _sig_positions(tokens: list[Token]) -> list[int]:
    return [i for i, t in enumerate(tokens) if t.significant]


def _match(tokens: list[Token], open_i: int) -> int:
    """Index of the ')' matching the '(' at open_i (len(tokens) if unbalanced)."""
    depth = 0
    for j in range(open_i, len(tokens)):
        if tokens[j].kind == "punct":
            if tokens[j].text == "(":
                depth += 1
            elif tokens[j].text == ")":
                depth -= 1
                if depth == 0:
                    return j
    return len(tokens)


def _next_sig(tokens: list[Token], i: int) -> int:
    """Index of the first significant token after i (len(tokens) if none)."""
    j = i + 1
    while j < len(tokens) and not tokens[j].significant:
        j += 1
    return j


def _split_args(tokens: list[Token], open_i: int, close_i: int) -> list[list[Token]]:
    args: list[list[Token]] = [[]]
    depth = 0
    for t in tokens[open_i + 1:close_i]:
        if t.kind == "punct" and t.text in "([":
            depth += 1
        elif t.kind == "punct" and t.text in ")]":
            depth -= 1
        if t.kind == "punct" and t.text == "," and depth == 0:
            args.append([])
        else:
            args[-1].append(t)
    if len(args) == 1 and not any(t.significant for t in args[0]):
        return []
    return args


def _part(arg: list[Token]) -> str | None:
    """A date part written as a word or a string literal -> PostgreSQL's name (None: not literal)."""
    sig = [t for t in arg if t.significant]
    if len(sig) != 1 or sig[0].kind not in ("word", "str", "qident"):
        return None
    raw = string_value(sig[0]) if sig[0].kind == "str" else sig[0].text.strip('"')
    return DATE_PARTS.get(raw.lower(), raw.lower())


def _render(tokens: list[Token], flags: Rendered) -> str:
    out: list[str] = []
    meta: list[Token | None] = []   # per out entry: its significant token ("atom": a rewritten call), else None
    i, n = 0, len(tokens)
    prev_sig: Token | None = None
    while i < n:
        t = tokens[i]
        if t.kind == "word" and not (prev_sig is not None and prev_sig.text == "."):
            word = t.upper
            j = _next_sig(tokens, i)
            if word in CALLS and j < n and tokens[j].text == "(":
                close = _match(tokens, j)
                if close < n:
                    done = CALLS[word](tokens, i, j, close, flags)
                    if done is not None:
                        text, end = done
                        out.append(text)
                        meta.append(Token("atom", text))
                        prev_sig = Token("word", "x")
                        i = end
                        continue
            elif word == "COLLATE" and j < n and tokens[j].kind in ("word", "qident") \
                    and unquote_ident(tokens[j]) in _COLLATIONS:
                # COLLATE case_insensitive in a column definition or an expression (r_CREATE_TABLE_NEW).
                flags.compat = True
                out.append(f"COLLATE {_COLLATIONS[unquote_ident(tokens[j])]}")
                meta.append(Token("collate", ""))
                prev_sig = tokens[j]
                i = j + 1
                continue
            elif word in _LIKE_WORDS and _wrap_like_operand(out, meta):
                flags.compat = True
            elif word == "APPROXIMATE" and j < n and tokens[j].upper in ("COUNT", "PERCENTILE_DISC"):
                # APPROXIMATE COUNT(DISTINCT x) and APPROXIMATE PERCENTILE_DISC: the exact result is
                # within the documented error bounds of the estimate.
                i = j
                continue
            elif word in CATALOG_VIEWS and not (j < n and tokens[j].text == "("):
                flags.compat = True
                out.append(f"{SCHEMA}.{word.lower()}")
                meta.append(t)
                prev_sig = t
                i += 1
                continue
            elif word == "PG_CATALOG" and j < n and tokens[j].text == ".":
                k = _next_sig(tokens, j)
                if k < n and tokens[k].upper in CATALOG_VIEWS:
                    flags.compat = True
                    out.append(f"{SCHEMA}.{tokens[k].text.lower()}")
                    meta.append(tokens[k])
                    prev_sig = tokens[k]
                    i = k + 1
                    continue
        out.append(t.text)
        meta.append(t if t.significant else None)
        if t.significant:
            prev_sig = t
        i += 1
    return "".join(out)


# ---------------------------------------------------------------- strings where Redshift reads one
_LIKE_WORDS = {"LIKE", "ILIKE", "SIMILAR"}
# Words that end an expression or are no operand of their own: never taken for the operand of LIKE.
_KEYWORDS = {"END", "NULL", "TRUE", "FALSE", "NOT", "AND", "OR", "WHERE", "SELECT", "WHEN", "THEN", "ELSE", "ON",
             "HAVING", "CASE", "IS", "IN", "BETWEEN", "AS", "BY", "FROM", "DISTINCT", "ALL", "ANY", "SOME", "EXISTS",
             "LIKE", "ILIKE", "SIMILAR", "ESCAPE", "USING", "JOIN", "SET", "VALUES", "RETURNING", "CHECK", "TABLE"}
# An operator before the operand binding tighter than LIKE: the operand is a larger expression, left alone.
_TIGHTER = set("+-*/%^|:.[~&#@")


def _prev(meta: list[Token | None], k: int) -> int:
    """Index of the out entry of the significant token before entry k (-1 if none)."""
    k -= 1
    while k >= 0 and meta[k] is None:
        k -= 1
    return k


def _wrap_like_operand(out: list[str], meta: list[Token | None]) -> bool:
    """``ts LIKE '2008-09%'`` (r_DATE_TRUNC's example): Redshift reads a timestamp operand as its text.

    Wraps the operand just rendered (a column, a function call or a parenthesised expression) in
    ``redshift_compat.as_text``, which leaves strings as they are. Anything else is left alone.
    """
    end = _prev(meta, len(meta))
    if end >= 0 and meta[end].upper == "NOT":
        end = _prev(meta, end)
    if end < 0:
        return False
    last = meta[end]
    if last.kind == "punct" and last.text == ")":
        depth, start = 0, end
        while start >= 0:
            m = meta[start]
            if m is not None and m.kind == "punct" and m.text in "()":
                depth += 1 if m.text == ")" else -1
                if depth == 0:
                    break
            start -= 1
        if start < 0:
            return False
        name = _prev(meta, start)
        if name >= 0 and meta[name].kind in ("word", "qident") and meta[name].upper not in _KEYWORDS:
            start = name
    elif last.kind == "atom" or (last.kind in ("word", "qident") and last.upper not in _KEYWORDS):
        start = end
    else:
        return False
    while True:  # qualified names: schema.table.column, schema.function(...)
        dot = _prev(meta, start)
        owner = _prev(meta, dot) if dot >= 0 else -1
        if dot >= 0 and meta[dot].text == "." and owner >= 0 and meta[owner].kind in ("word", "qident"):
            start = owner
        else:
            break
    before = _prev(meta, start)
    if before >= 0 and ((meta[before].kind == "punct" and meta[before].text in _TIGHTER)
                        or meta[before].upper == "COLLATE"):
        return False
    out[start] = f"{SCHEMA}.as_text(" + out[start]
    out[end] = out[end] + ")"
    return True


def _as_text(arg: str) -> str:
    return f"{SCHEMA}.as_text({arg})"


def _escaped(arg: list[Token], flags: Rendered) -> str:
    """A pattern or replacement argument; a plain literal is read with Redshift's backslash escapes.

    Redshift's string literals take C-style escapes (the REGEXP pages write ``'\\\\w+'`` for ``\\w+``,
    r_QUOTE_LITERAL doubles backslashes): the same literal in PostgreSQL is ``E'...'``.
    """
    sig = [t for t in arg if t.significant]
    if len(sig) == 1 and sig[0].kind == "str" and sig[0].text.startswith("'") and "\\" in sig[0].text:
        return "E" + sig[0].text
    return _render(arg, flags).strip()


def _args_text(tokens, open_i, close_i, flags) -> list[str]:
    return [_render(a, flags).strip() for a in _split_args(tokens, open_i, close_i)]


# ---------------------------------------------------------------- call handlers
# Each gets (tokens, name index, '(' index, ')' index, flags) and returns (text, index after the
# call) or None to leave the call as written.
Handler = Callable[[list[Token], int, int, int, Rendered], "tuple[str, int] | None"]


def _nvl(tokens, i, o, c, flags):
    args = _args_text(tokens, o, c, flags)
    return (f"COALESCE({', '.join(args)})", c + 1) if len(args) >= 2 else None


def _nvl2(tokens, i, o, c, flags):
    args = _args_text(tokens, o, c, flags)
    if len(args) != 3:
        return None
    return f"(CASE WHEN ({args[0]}) IS NOT NULL THEN {args[1]} ELSE {args[2]} END)", c + 1


def _decode(tokens, i, o, c, flags):
    args = _args_text(tokens, o, c, flags)
    if len(args) < 3:
        return None  # decode(text, format): PostgreSQL's own function
    expr, rest = args[0], args[1:]
    whens = " ".join(f"WHEN ({expr}) IS NOT DISTINCT FROM ({rest[k]}) THEN {rest[k + 1]}"
                     for k in range(0, len(rest) - 1, 2))
    default = f" ELSE {rest[-1]}" if len(rest) % 2 else ""
    return f"(CASE {whens}{default} END)", c + 1


def _rename(new: str, arity: tuple[int, ...], compat: bool = False) -> Handler:
    def handler(tokens, i, o, c, flags):
        args = _args_text(tokens, o, c, flags)
        if len(args) not in arity:
            return None
        if compat:
            flags.compat = True
        return f"{new}({', '.join(args)})", c + 1
    return handler


def _charindex(tokens, i, o, c, flags):
    args = _args_text(tokens, o, c, flags)
    return (f"strpos({args[1]}, {args[0]})", c + 1) if len(args) == 2 else None


def _part_first(name: str) -> Handler:
    """NAME(part, x, y) -> redshift_compat.name('part', x, y): DATEDIFF(part, a, b) and DATEADD(part, n, value).

    DATEADD gives a TIMESTAMP for a date or timestamp and a TIME for a time (r_DATEADD_function).
    """
    def handler(tokens, i, o, c, flags):
        raw = _split_args(tokens, o, c)
        if len(raw) != 3:
            return None
        part = _part(raw[0])
        first = f"'{part}'" if part is not None else _render(raw[0], flags).strip()
        rest = [_render(a, flags).strip() for a in raw[1:]]
        flags.compat = True
        return f"{SCHEMA}.{name}({first}, {rest[0]}, {rest[1]})", c + 1
    return handler


def _date_part(tokens, i, o, c, flags):
    raw = _split_args(tokens, o, c)
    if len(raw) != 2 or (part := _part(raw[0])) is None:
        return None
    name = "date_trunc" if tokens[i].upper == "DATE_TRUNC" else "date_part"
    value = _render(raw[1], flags).strip()
    if name == "date_part" and part == "decade":
        # r_Dateparts_for_datetime_functions: decade 1 is the years 1-9, 201 the years 2000-2009
        # (PostgreSQL counts year / 10: 200).
        return f"(date_part('decade', {value}) + 1)", c + 1
    if name == "date_part" and part in ("milliseconds", "microseconds"):
        # r_DATE_PART_function: DATE_PART(microsecond, '... 04:05:06.789') is 789000, without the
        # whole seconds PostgreSQL includes (6789000).
        scale = 1000 if part == "milliseconds" else 1000000
        return (f"(date_part('{part}', {value}) - {scale} * floor(date_part('second', {value})))", c + 1)
    return f"{name}('{part}', {value})", c + 1


def _extract(tokens, i, o, c, flags):
    """EXTRACT(part FROM x) with Redshift's names; second/ms/us give only their own digits as integers.

    "Date parts for date or timestamp functions": EXTRACT(sec ...) of 11:10:03.189717 is 3 (PostgreSQL:
    3.189717); milliseconds leave out seconds and microseconds, microseconds leave out both others.
    """
    inner = tokens[o + 1:c]
    sig = [k for k, t in enumerate(inner) if t.significant]
    if len(sig) < 3 or inner[sig[1]].upper != "FROM" or (part := _part([inner[sig[0]]])) is None:
        return None
    value = _render(inner[sig[1] + 1:], flags).strip()
    if part == "second":
        return f"CAST(trunc(EXTRACT(second FROM {value})) AS integer)", c + 1
    if part == "decade":
        return f"(EXTRACT(decade FROM {value}) + 1)", c + 1
    if part == "milliseconds":
        return f"(CAST(trunc(EXTRACT(milliseconds FROM {value})) AS integer) % 1000)", c + 1
    if part == "microseconds":
        return f"(CAST(EXTRACT(microseconds FROM {value}) AS integer) % 1000)", c + 1
    return f"EXTRACT({part} FROM {value})", c + 1


def _listagg(tokens, i, o, c, flags):
    """LISTAGG([DISTINCT] x [, 'delim']) [WITHIN GROUP (ORDER BY ...)] [OVER (PARTITION BY ...)].

    NULLs and empty strings are skipped and the default delimiter is empty (r_LISTAGG): an array
    aggregate filtered on both, joined with array_to_string.
    """
    raw = _split_args(tokens, o, c)
    if not raw or len(raw) > 2:
        return None
    sig = [t for t in raw[0] if t.significant]
    distinct = bool(sig) and sig[0].upper == "DISTINCT"
    body = raw[0]
    if distinct:
        k = next(k for k, t in enumerate(body) if t.upper == "DISTINCT")
        body = body[k + 1:]
    expr = _render(body, flags).strip()
    delim = _render(raw[1], flags).strip() if len(raw) == 2 else "''"
    end = c + 1
    order = ""
    j = _next_sig(tokens, c)
    if j < len(tokens) and tokens[j].upper == "WITHIN":
        g = _next_sig(tokens, j)
        p = _next_sig(tokens, g)
        if g < len(tokens) and tokens[g].upper == "GROUP" and p < len(tokens) and tokens[p].text == "(":
            close = _match(tokens, p)
            inner = _render(tokens[p + 1:close], flags).strip()
            order = " " + inner                      # "ORDER BY ..."
            end = close + 1
    window = ""
    j = _next_sig(tokens, end - 1)
    if j < len(tokens) and tokens[j].upper == "OVER":
        p = _next_sig(tokens, j)
        if p < len(tokens) and tokens[p].text == "(":
            if distinct:
                return None  # PostgreSQL has no DISTINCT window aggregates: its own error names it
            close = _match(tokens, p)
            partition = _render(tokens[p + 1:close], flags).strip()
            # An aggregate's ORDER BY is not allowed in a window call: order the frame instead.
            window = (f" OVER ({partition}{order} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)")
            order = ""
            end = close + 1
    value = expr
    if distinct:
        # r_LISTAGG: DISTINCT ignores trailing spaces ('a' and 'a ' are duplicates): character values
        # are compared, and written, without them; an ORDER BY of the expression itself follows.
        value = f"{SCHEMA}.listagg_key({expr})"
        flags.compat = True
        order = re.sub(rf"^ ORDER BY {re.escape(expr)}(?=\s+(?:ASC|DESC)\b|\s*$)", f" ORDER BY {value}", order,
                       flags=re.IGNORECASE)
    agg = f"array_agg({'DISTINCT ' if distinct else ''}{value}{order})"
    return (f"array_to_string({agg} FILTER (WHERE ({expr})::text <> ''){window}, {delim})", end)


def _median(tokens, i, o, c, flags):
    args = _args_text(tokens, o, c, flags)
    if len(args) != 1:
        return None
    j = _next_sig(tokens, c)
    if j < len(tokens) and tokens[j].upper == "OVER":
        return None  # window MEDIAN: PostgreSQL has no window percentile_cont (refused by its error)
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {args[0]})", c + 1


def _concat(tokens, i, o, c, flags):
    """CONCAT(a, b) is a || b (r_CONCAT): NULL when either is NULL, and exactly two arguments."""
    args = _args_text(tokens, o, c, flags)
    if len(args) != 2:
        raise Refused("42883", f"function concat with {len(args)} arguments does not exist: Redshift's CONCAT "
                               "takes exactly two (nest CONCAT calls or use ||)")
    return f"(({args[0]}) || ({args[1]}))", c + 1


def _split_part(tokens, i, o, c, flags):
    """SPLIT_PART(x, delimiter, part): a timestamp is split as its text (SPLIT_PART page's LISTTIME example);
    a part below 1 is an error (PostgreSQL would count a negative one from the end)."""
    args = _args_text(tokens, o, c, flags)
    if len(args) != 3:
        return None
    flags.compat = True
    return f"{SCHEMA}.split_part({_as_text(args[0])}, {args[1]}, {args[2]})", c + 1


def _substring(tokens, i, o, c, flags):
    """SUBSTRING(x, start[, n]) / SUBSTRING(x FROM start [FOR n]): non-strings are read as text (r_SUBSTRING)."""
    inner = tokens[o + 1:c]
    depth = 0
    for k, t in enumerate(inner):
        if t.kind == "punct" and t.text in "()":
            depth += 1 if t.text == "(" else -1
        elif depth == 0 and t.upper == "FROM":
            flags.compat = True
            return f"substring({_as_text(_render(inner[:k], flags).strip())} {_render(inner[k:], flags).strip()})", c + 1
    args = _args_text(tokens, o, c, flags)
    if len(args) not in (2, 3):
        return None
    flags.compat = True
    return f"substring({', '.join([_as_text(args[0])] + args[1:])})", c + 1


def _regexp(name: str, arity: tuple[int, int], escaped: tuple[int, ...]) -> Handler:
    """REGEXP_*(source, pattern, ...) -> redshift_compat.regexp_*: Redshift's position, occurrence and parameters."""
    def handler(tokens, i, o, c, flags):
        raw = _split_args(tokens, o, c)
        if not arity[0] <= len(raw) <= arity[1]:
            raise Refused("42883", f"function {name.lower()} with {len(raw)} arguments does not exist: Redshift's "
                                   f"{name} takes {arity[0]} to {arity[1]}")
        args = [_escaped(a, flags) if k in escaped else _render(a, flags).strip() for k, a in enumerate(raw)]
        flags.compat = True
        return f"{SCHEMA}.{name.lower()}({', '.join([_as_text(args[0])] + args[1:])})", c + 1
    return handler


# COLLATE names Redshift has -> PostgreSQL's. case_sensitive is Redshift's binary UTF-8 order
# (c_collation_sequences), "C"; a named collation rather than the default one, so comparing it with a
# case_insensitive value fails as in Redshift instead of taking the case-insensitive side.
_COLLATIONS = {"case_insensitive": f"{SCHEMA}.case_insensitive", "case_sensitive": 'pg_catalog."C"'}


def _collate(tokens, i, o, c, flags):
    """COLLATE(string, 'case_sensitive' | 'case_insensitive') (r_COLLATE) -> (string COLLATE ...)."""
    raw = _split_args(tokens, o, c)
    if len(raw) != 2:
        return None
    sig = [t for t in raw[1] if t.significant]
    name = string_value(sig[0]).lower() if len(sig) == 1 and sig[0].kind == "str" else None
    if name not in _COLLATIONS:
        raise Refused("0A000", "COLLATE function: the collation must be the string constant 'case_sensitive' or "
                               "'case_insensitive'")
    flags.compat = True
    return f"(({_render(raw[0], flags).strip()}) COLLATE {_COLLATIONS[name]})", c + 1


CALLS: dict[str, Handler] = {
    "NVL": _nvl,
    "NVL2": _nvl2,
    "DECODE": _decode,
    "LEN": _rename("length", (1,)),
    "TEXTLEN": _rename("length", (1,)),
    "CHARINDEX": _charindex,
    "STRTOL": _rename(f"{SCHEMA}.strtol", (2,), compat=True),
    "DATEDIFF": _part_first("datediff"),
    "DATEADD": _part_first("dateadd"),
    "DATE_PART": _date_part,
    "DATEPART": _date_part,
    "PGDATE_PART": _date_part,
    "DATE_TRUNC": _date_part,
    "EXTRACT": _extract,
    "CONVERT_TIMEZONE": _rename(f"{SCHEMA}.convert_timezone", (2, 3), compat=True),
    "TRUNC": _rename(f"{SCHEMA}.trunc", (1, 2), compat=True),
    "LISTAGG": _listagg,
    "MEDIAN": _median,
    "ADD_MONTHS": _rename(f"{SCHEMA}.add_months", (2,), compat=True),
    "CONCAT": _concat,
    "SPLIT_PART": _split_part,
    "SUBSTRING": _substring,
    "REGEXP_COUNT": _regexp("REGEXP_COUNT", (2, 4), (1,)),
    "REGEXP_SUBSTR": _regexp("REGEXP_SUBSTR", (2, 5), (1,)),
    "REGEXP_INSTR": _regexp("REGEXP_INSTR", (2, 6), (1,)),
    "REGEXP_REPLACE": _regexp("REGEXP_REPLACE", (2, 5), (1, 2)),
    "COLLATE": _collate,
}


# ---------------------------------------------------------------- SELECT TOP n
_SET_OPS = {"UNION", "INTERSECT", "EXCEPT"}


def _rewrite_top(tokens: list[Token]) -> None:
    """SELECT [ALL|DISTINCT] TOP n ... -> SELECT ... LIMIT n, at the end of that query level."""
    while True:
        sig = _sig_positions(tokens)
        found = None
        for k, idx in enumerate(sig):
            if tokens[idx].upper != "SELECT":
                continue
            # Documented order: SELECT TOP n [ALL|DISTINCT] (r_SELECT_list); the other order is accepted too.
            for m in (k + 1, k + 2):
                if m == k + 2 and not (k + 1 < len(sig) and tokens[sig[k + 1]].upper in ("ALL", "DISTINCT")):
                    continue
                if m + 1 < len(sig) and tokens[sig[m]].upper == "TOP" and tokens[sig[m + 1]].kind == "num":
                    found = (k, m)
                    break
            if found:
                break
        if found is None:
            return
        k, m = found
        limit = tokens[sig[m + 1]].text
        tokens[sig[m]] = Token("ws", "")
        tokens[sig[m + 1]] = Token("ws", "")
        # The end of this SELECT: a ')' closing its level, a ';', a set operator, or the end.
        depth, end, set_op = 0, None, None
        for q in range(m + 2, len(sig)):
            tok = tokens[sig[q]]
            if tok.text == "(" and tok.kind == "punct":
                depth += 1
            elif tok.text == ")" and tok.kind == "punct":
                if depth == 0:
                    end = q
                    break
                depth -= 1
            elif depth == 0 and (tok.text == ";" or tok.upper in _SET_OPS):
                end = q
                set_op = tok.upper in _SET_OPS
                break
        last = sig[(end if end is not None else len(sig)) - 1]
        tokens.insert(last + 1, Token("raw", f" LIMIT {limit}"))
        if set_op:
            # TOP limits its own SELECT, not the whole set operation: parenthesise it.
            tokens[sig[k]] = Token("raw", "(" + tokens[sig[k]].text)
            tokens.insert(last + 2, Token("raw", ")"))


# ---------------------------------------------------------------- MERGE ... REMOVE DUPLICATES
def _merge_remove_duplicates(tokens: list[Token]) -> str | None:
    """MERGE INTO t USING s [[AS] a] ON cond REMOVE DUPLICATES (simplified mode, r_MERGE).

    Matched target rows (duplicates included) are replaced by the source row, unmatched source rows
    are inserted: one statement, a DELETE in a data-modifying WITH and an INSERT of every source row
    (both see the same snapshot, so the INSERT does not see the deleted rows and vice versa).
    """
    sig = [t for t in tokens if t.significant]
    if sig and sig[-1].text == ";":
        sig = sig[:-1]
    if len(sig) < 8 or sig[0].upper != "MERGE" or sig[1].upper != "INTO" \
            or [t.upper for t in sig[-2:]] != ["REMOVE", "DUPLICATES"]:
        return None
    k = 2
    target = []
    while k < len(sig) and sig[k].upper != "USING":
        target.append(sig[k].text)
        k += 1
    k += 1
    source = []
    while k < len(sig) and sig[k].upper not in ("ON", "AS") and not (
            sig[k].kind in ("word", "qident") and source and source[-1] != "."
            and sig[k].text != "."):
        source.append(sig[k].text)
        k += 1
    alias = ""
    if k < len(sig) and sig[k].upper == "AS":
        k += 1
    if k < len(sig) and sig[k].upper != "ON":
        alias = sig[k].text
        k += 1
    if k >= len(sig) or sig[k].upper != "ON" or not target or not source:
        return None
    # The condition keeps its original spacing: everything between ON and REMOVE.
    start = next(i for i, t in enumerate(tokens) if t is sig[k]) + 1
    stop = next(i for i, t in enumerate(tokens) if t is sig[-2])
    cond = _render(tokens[start:stop], Rendered()).strip()
    t, s = "".join(target), "".join(source)
    semicolon = ";" if any(tok.text == ";" for tok in tokens if tok.significant) else ""
    return (f"WITH redshift_merge_matched AS (DELETE FROM {t} USING {s}{' AS ' + alias if alias else ''} "
            f"WHERE {cond}) INSERT INTO {t} SELECT * FROM {s}{semicolon}")

assert set(CALLS) == set(CALLS_NAMES)
