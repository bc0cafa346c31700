"""Lateral column alias references: a SELECT-list alias used later in the same SELECT list.

r_SELECT_list: "the alias is recognized right after it is defined in the target list" and "if there is
a column with the same name defined in the FROM clause as the previously aliased expression, the column
in the FROM clause takes priority". PostgreSQL has no such references, so a later bare reference to an
earlier alias is replaced by the aliased expression (in parentheses), unless the FROM clause has a
column of that name. Which columns the FROM clause has needs the catalog: ``resolve`` first reports the
tables it must know (the relay looks them up and rewrites again with their columns). A FROM item whose
columns cannot be told (a function, ``SELECT *`` in a subquery) makes the statement fail with an error
naming the reference, rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redshift_endpoint.sql.functions import Refused
from redshift_endpoint.tokens import Token, unquote_ident

Columns = Mapping[tuple[str, ...], Sequence[str] | None]   # table name parts -> its columns (None: no table)

_LIST_END = {"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "WINDOW", "INTO", "UNION",
             "INTERSECT", "EXCEPT", "QUALIFY", "FETCH", "FOR"}
_FROM_END = _LIST_END - {"FROM", "INTO"}
_JOIN_WORDS = {"NATURAL", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "CROSS", "JOIN"}
# Words that end an expression without being an alias (``CASE ... END``, ``x IS NULL``, ...).
_NOT_ALIAS = {"END", "NULL", "TRUE", "FALSE", "ASC", "DESC", "AND", "OR", "NOT", "IS", "IN", "LIKE", "ILIKE",
              "BETWEEN", "THEN", "ELSE", "WHEN", "CASE", "DISTINCT", "ALL", "AS", "COLLATE", "ZONE", "SIMILAR",
              "ESCAPE", "OVER", "FILTER", "WITHIN", "UNKNOWN", "ISNULL", "NOTNULL"}
_NOT_REFERENCE = _NOT_ALIAS | {"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "SESSION_USER",
                               "LOCALTIMESTAMP", "LOCALTIME", "USER", "SYSDATE", "INTERVAL", "DATE", "TIMESTAMP",
                               "TIME", "AT", "FROM", "FOR", "SELECT", "PARTITION", "BY", "ORDER", "ROWS", "RANGE",
                               "PRECEDING", "FOLLOWING", "UNBOUNDED", "CURRENT", "ROW", "INT", "INTEGER", "TEXT",
                               "VARCHAR", "CHAR", "NUMERIC", "DECIMAL", "BIGINT", "SMALLINT", "REAL", "FLOAT",
                               "DOUBLE", "PRECISION", "BOOLEAN", "NULLS", "FIRST", "LAST", "GROUP", "WITH"}


_DATE_PART_CALLS = {"EXTRACT", "DATEADD", "DATEDIFF", "DATE_PART", "DATEPART", "PGDATE_PART", "DATE_TRUNC"}


class _Unknown(Exception):
    """A FROM item whose columns the rewrite cannot tell."""


def resolve(tokens: list[Token], columns: Columns | None) -> list[tuple[str, ...]]:
    """Replace lateral alias references in ``tokens`` (one statement), innermost SELECT first.

    Returns the tables whose columns are needed and missing from ``columns``; a SELECT that needs
    one is left as written until they are given. Raises ``Refused`` where the FROM clause's columns
    cannot be told.
    """
    needed: list[tuple[str, ...]] = []
    sig = [i for i, t in enumerate(tokens) if t.significant]
    if not any(tokens[i].upper == "AS" for i in sig) and len(sig) < 4:
        return needed
    ctes = _ctes(tokens)
    starts = [i for i in sig if tokens[i].upper == "SELECT"]
    for start in reversed(starts):
        _resolve_level(tokens, start, columns, ctes, needed)
    return list(dict.fromkeys(needed))


def _sig_after(tokens: list[Token], i: int) -> int:
    j = i + 1
    while j < len(tokens) and not tokens[j].significant:
        j += 1
    return j


def _level(tokens: list[Token], start: int) -> tuple[list[list[int]], list[int]]:
    """The SELECT list items (significant token indices each) and the FROM clause's indices."""
    i = _sig_after(tokens, start)
    if i < len(tokens) and tokens[i].upper == "TOP":
        i = _sig_after(tokens, _sig_after(tokens, i))
    if i < len(tokens) and tokens[i].upper in ("ALL", "DISTINCT"):
        i = _sig_after(tokens, i)
        if i < len(tokens) and tokens[i].upper == "ON":
            i = _sig_after(tokens, _close(tokens, _sig_after(tokens, i)))
    items: list[list[int]] = [[]]
    from_: list[int] = []
    depth, in_from = 0, False
    while i < len(tokens):
        t = tokens[i]
        if t.significant:
            if t.kind == "punct" and t.text in "([":
                depth += 1
            elif t.kind == "punct" and t.text in ")]":
                depth -= 1
                if depth < 0:
                    break
            elif depth == 0 and (t.text == ";" or (t.upper in (_FROM_END if in_from else _LIST_END))):
                if t.upper != "FROM" or in_from:
                    break
                in_from = True
                i += 1
                continue
            if in_from:
                from_.append(i)
            elif depth == 0 and t.text == ",":
                items.append([])
            else:
                items[-1].append(i)
        i += 1
    return [it for it in items if it], from_


def _close(tokens: list[Token], open_i: int) -> int:
    depth = 0
    for j in range(open_i, len(tokens)):
        if tokens[j].kind == "punct" and tokens[j].text in "([":
            depth += 1
        elif tokens[j].kind == "punct" and tokens[j].text in ")]":
            depth -= 1
            if depth == 0:
                return j
    return len(tokens) - 1


def _alias(tokens: list[Token], item: list[int]) -> tuple[str | None, list[int]]:
    """(alias, the expression's indices) of one SELECT-list item."""
    if len(item) >= 3 and tokens[item[-2]].upper == "AS" and tokens[item[-1]].kind in ("word", "qident"):
        return unquote_ident(tokens[item[-1]]), item[:-2]
    if len(item) >= 2:
        last, prev = tokens[item[-1]], tokens[item[-2]]
        if (last.kind == "qident" or (last.kind == "word" and last.upper not in _NOT_ALIAS)) \
                and (prev.kind in ("word", "qident", "num", "str") or prev.text in (")", "]")) \
                and prev.upper not in _NOT_ALIAS | {"COLLATE"} and not last.text.startswith("#"):
            return unquote_ident(last), item[:-1]
    return None, item


def _references(tokens: list[Token], expr: list[int], names: set[str]) -> list[int]:
    """Indices of bare words in ``expr`` naming one of ``names`` (not in subqueries, calls, or after '.')."""
    found = []
    skip_to = -1
    for n, i in enumerate(expr):
        if i <= skip_to:
            continue
        t = tokens[i]
        if t.kind == "punct" and t.text == "(" and n + 1 < len(expr) and tokens[expr[n + 1]].upper in ("SELECT",
                                                                                                     "WITH"):
            skip_to = _close(tokens, i)   # a subquery has its own SELECT list
            continue
        if t.kind not in ("word", "qident") or (t.kind == "word" and t.upper in _NOT_REFERENCE):
            continue
        before = tokens[expr[n - 1]] if n else None
        after = tokens[expr[n + 1]] if n + 1 < len(expr) else None
        if (before is not None and (before.text in (".", ":") or before.upper == "AS")) \
                or (after is not None and after.text in (".", "(")):
            continue   # t.x, x::type, CAST(y AS x), x(...) are no references
        if n >= 2 and before is not None and before.text == "(" and tokens[expr[n - 2]].upper in _DATE_PART_CALLS:
            continue   # DATEADD(day, ...), EXTRACT(hour FROM ...): a date part, whatever an alias is called
        if unquote_ident(t) in names:
            found.append(i)
    return found


def _resolve_level(tokens: list[Token], start: int, columns: Columns | None, ctes: dict[str, list[str] | None],
                   needed: list[tuple[str, ...]]) -> None:
    items, from_ = _level(tokens, start)
    aliases: dict[str, list[Token]] = {}
    twice: set[str] = set()                  # aliases defined more than once so far
    ambiguous: set[str] = set()              # referenced after being defined twice
    plan: list[tuple[int, str]] = []         # (reference index, alias)
    for item in items:
        alias, expr = _alias(tokens, item)
        refs = _references(tokens, expr, set(aliases))
        plan.extend((i, unquote_ident(tokens[i])) for i in refs)
        ambiguous.update(unquote_ident(tokens[i]) for i in refs if unquote_ident(tokens[i]) in twice)
        if alias is not None:
            if alias in aliases:
                twice.add(alias)
            aliases[alias] = _expanded(tokens, expr, {i: a for i, a in plan}, aliases)
    if not plan:
        return
    try:
        sources = _from_sources(tokens, from_, ctes)
    except _Unknown as e:
        name = plan[0][1]
        raise Refused("0A000", f'lateral column alias reference "{name}": cannot tell whether the FROM clause has a '
                               f"column \"{name}\" ({e}); repeat the expression instead") from None
    known: set[str] = set()
    for source in sources:
        if isinstance(source, list):
            known.update(source)
        elif columns is None or source not in columns:
            needed.append(source)
        else:
            known.update(columns[source] or ())
    if any(isinstance(s, tuple) and (columns is None or s not in columns) for s in sources):
        return
    for name in sorted(ambiguous - known):
        raise Refused("42702", f'lateral column alias reference "{name}" is ambiguous: the SELECT list defines '
                               f'"{name}" more than once before it')
    # A FROM column of the same name takes priority over the alias (r_SELECT_list).
    for i, alias in sorted(plan, reverse=True):
        if alias in known:
            continue
        tokens[i:i + 1] = [Token("punct", "("), *aliases[alias], Token("punct", ")")]


def _expanded(tokens: list[Token], expr: list[int], refs: dict[int, str], aliases: dict[str, list[Token]]) -> list[Token]:
    """The expression's tokens (from its first to last significant one) with earlier references expanded."""
    out: list[Token] = []
    for i in range(expr[0], expr[-1] + 1):
        if i in refs and refs[i] in aliases:
            out.extend([Token("punct", "("), *aliases[refs[i]], Token("punct", ")")])
        else:
            out.append(tokens[i])
    return out


def _from_sources(tokens: list[Token], from_: list[int], ctes: dict[str, list[str] | None]):
    """Each FROM item: a table's name parts (tuple) or the column names of a subquery / CTE (list)."""
    sources: list[tuple[str, ...] | list[str]] = []
    k = 0
    while k < len(from_):
        t = tokens[from_[k]]
        if t.text == "," or t.upper in _JOIN_WORDS or t.upper == "LATERAL":
            k += 1
            continue
        if t.upper in ("ON", "USING"):
            k = _skip_condition(tokens, from_, k)
            continue
        if t.text == "(":
            close = _close(tokens, from_[k])
            inner = [i for i in from_ if from_[k] < i < close]
            k = _index_after(from_, close)
            alias_cols, k = _alias_columns(tokens, from_, k)
            if alias_cols is not None:
                sources.append(alias_cols)
            elif inner and tokens[inner[0]].upper in ("SELECT", "WITH"):
                sources.append(_output_names(tokens, inner[0]))
            else:
                raise _Unknown("a parenthesised join")
            continue
        if t.kind in ("word", "qident"):
            parts = [unquote_ident(t)]
            k += 1
            while k + 1 < len(from_) and tokens[from_[k]].text == ".":
                parts.append(unquote_ident(tokens[from_[k + 1]]))
                k += 2
            if k < len(from_) and tokens[from_[k]].text == "(":
                close = _close(tokens, from_[k])
                k = _index_after(from_, close)
                alias_cols, k = _alias_columns(tokens, from_, k)
                if alias_cols is None:
                    raise _Unknown(f"the function {'.'.join(parts)}")
                sources.append(alias_cols)
                continue
            alias_cols, k = _alias_columns(tokens, from_, k)
            if alias_cols is not None:
                sources.append(alias_cols)
            elif len(parts) == 1 and parts[0] in ctes:
                cte = ctes[parts[0]]
                if cte is None:
                    raise _Unknown(f"the WITH query {parts[0]}")
                sources.append(cte)
            else:
                sources.append(tuple(parts))
            continue
        raise _Unknown(f"near {t.text!r}")
    return sources


def _index_after(from_: list[int], token_index: int) -> int:
    return next((n for n, i in enumerate(from_) if i > token_index), len(from_))


def _alias_columns(tokens: list[Token], from_: list[int], k: int) -> tuple[list[str] | None, int]:
    """Skip ``[AS] alias [(c1, c2)]``; the column list when given."""
    if k < len(from_) and tokens[from_[k]].upper == "AS":
        k += 1
    if k < len(from_) and tokens[from_[k]].kind in ("word", "qident") \
            and tokens[from_[k]].upper not in _JOIN_WORDS | {"ON", "USING", "LATERAL"}:
        k += 1
        if k < len(from_) and tokens[from_[k]].text == "(":
            close = _close(tokens, from_[k])
            cols = [unquote_ident(tokens[i]) for i in from_ if from_[k] < i < close
                    and tokens[i].kind in ("word", "qident")]
            return cols, _index_after(from_, close)
    return None, k


def _skip_condition(tokens: list[Token], from_: list[int], k: int) -> int:
    """Skip an ON condition / USING list up to the next join or comma at this level."""
    depth = 0
    k += 1
    while k < len(from_):
        t = tokens[from_[k]]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth == 0 and (t.text == "," or t.upper in _JOIN_WORDS):
            break
        k += 1
    return k


def _output_names(tokens: list[Token], select_i: int) -> list[str]:
    """The column names a subquery gives (raises _Unknown for ``*``)."""
    items, _ = _level(tokens, select_i)
    names = []
    for item in items:
        alias, expr = _alias(tokens, item)
        if alias is not None:
            names.append(alias)
        elif tokens[expr[-1]].text == "*":
            raise _Unknown("a subquery selecting *")
        elif tokens[expr[-1]].kind in ("word", "qident"):
            names.append(unquote_ident(tokens[expr[-1]]))
        elif len(expr) > 1 and tokens[expr[0]].kind == "word" and tokens[expr[1]].text == "(":
            names.append(tokens[expr[0]].text.lower())   # f(...) is named f
        else:
            names.append("?column?")
    return names


def _ctes(tokens: list[Token]) -> dict[str, list[str] | None]:
    """WITH name [(cols)] AS (query), ... at the start of the statement -> each one's column names."""
    sig = [i for i, t in enumerate(tokens) if t.significant]
    if not sig or tokens[sig[0]].upper != "WITH":
        return {}
    out: dict[str, list[str] | None] = {}
    k = 1
    if k < len(sig) and tokens[sig[k]].upper == "RECURSIVE":
        k += 1
    while k < len(sig) and tokens[sig[k]].kind in ("word", "qident"):
        name = unquote_ident(tokens[sig[k]])
        k += 1
        cols = None
        if k < len(sig) and tokens[sig[k]].text == "(":
            close = _close(tokens, sig[k])
            cols = [unquote_ident(tokens[i]) for i in sig if sig[k] < i < close and tokens[i].kind in ("word", "qident")]
            k = _index_after(sig, close)
        if k < len(sig) and tokens[sig[k]].upper == "AS":
            k += 1
        if k >= len(sig) or tokens[sig[k]].text != "(":
            break
        close = _close(tokens, sig[k])
        if cols is None:
            first = _sig_after(tokens, sig[k])
            try:
                cols = _output_names(tokens, first) if tokens[first].upper == "SELECT" else None
            except _Unknown:
                cols = None
        out[name] = cols
        k = _index_after(sig, close)
        if k < len(sig) and tokens[sig[k]].text == ",":
            k += 1
        else:
            break
    return out
