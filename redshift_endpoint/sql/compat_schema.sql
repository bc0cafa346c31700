-- Redshift functions and catalog views that PostgreSQL 15 lacks, in schema redshift_compat.
--
-- The endpoint's rewriter qualifies calls and view names (datediff( -> redshift_compat.datediff(,
-- pg_table_def -> redshift_compat.pg_table_def), so nothing depends on the client's search_path.
-- Created by compat_schema.py over the endpoint's own connection (the database owner is enough: no
-- superuser needed), in one transaction under an advisory lock; the schema comment carries the
-- version so an unchanged schema is not re-created. Simple rewrites (NVL, NVL2, DECODE, LEN,
-- CHARINDEX, LISTAGG, MEDIAN, TOP, ...) need nothing here: see functions.py.

CREATE SCHEMA IF NOT EXISTS redshift_compat;
GRANT USAGE ON SCHEMA redshift_compat TO PUBLIC;

-- Date part names and abbreviations ("Date parts for date or timestamp functions") -> one name.
CREATE OR REPLACE FUNCTION redshift_compat.datepart(part text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE p text := lower(btrim(part));
BEGIN
    RETURN CASE
        WHEN p IN ('millennium', 'millennia', 'mil', 'mils') THEN 'millennium'
        WHEN p IN ('century', 'centuries', 'c', 'cent', 'cents') THEN 'century'
        WHEN p IN ('decade', 'decades', 'dec', 'decs') THEN 'decade'
        WHEN p IN ('epoch') THEN 'epoch'
        WHEN p IN ('year', 'years', 'y', 'yr', 'yrs') THEN 'year'
        WHEN p IN ('quarter', 'quarters', 'qtr', 'qtrs') THEN 'quarter'
        WHEN p IN ('month', 'months', 'mon', 'mons') THEN 'month'
        WHEN p IN ('week', 'weeks', 'w') THEN 'week'
        WHEN p IN ('dayofweek', 'dow', 'dw', 'weekday') THEN 'dow'
        WHEN p IN ('dayofyear', 'doy', 'dy', 'yearday') THEN 'doy'
        WHEN p IN ('day', 'days', 'd') THEN 'day'
        WHEN p IN ('hour', 'hours', 'h', 'hr', 'hrs') THEN 'hour'
        WHEN p IN ('minute', 'minutes', 'm', 'min', 'mins') THEN 'minute'
        WHEN p IN ('second', 'seconds', 's', 'sec', 'secs') THEN 'second'
        WHEN p IN ('millisecond', 'milliseconds', 'ms', 'msec', 'msecs', 'msecond', 'mseconds',
                   'millisec', 'millisecs', 'millisecon') THEN 'milliseconds'
        WHEN p IN ('microsecond', 'microseconds', 'microsec', 'microsecs', 'usecond', 'useconds',
                   'us', 'usec', 'usecs') THEN 'microseconds'
        ELSE redshift_compat._fail('22023', format('"%s" is not a valid date part', part))
    END;
END $$;

CREATE OR REPLACE FUNCTION redshift_compat._fail(code text, message text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message;
END $$;

-- DATEDIFF counts the date-part boundaries crossed between the two values (r_DATEDIFF_function).
CREATE OR REPLACE FUNCTION redshift_compat.datediff(part text, a timestamp, b timestamp) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT (CASE redshift_compat.datepart(part)
    WHEN 'millennium' THEN extract(millennium FROM b) - extract(millennium FROM a)
    WHEN 'century' THEN extract(century FROM b) - extract(century FROM a)
    WHEN 'decade' THEN extract(decade FROM b) - extract(decade FROM a)
    WHEN 'year' THEN extract(year FROM b) - extract(year FROM a)
    WHEN 'quarter' THEN (extract(year FROM b) * 4 + extract(quarter FROM b))
                      - (extract(year FROM a) * 4 + extract(quarter FROM a))
    WHEN 'month' THEN (extract(year FROM b) * 12 + extract(month FROM b))
                    - (extract(year FROM a) * 12 + extract(month FROM a))
    WHEN 'week' THEN (date_trunc('week', b)::pg_catalog.date - date_trunc('week', a)::pg_catalog.date) / 7
    WHEN 'day' THEN b::pg_catalog.date - a::pg_catalog.date
    WHEN 'hour' THEN extract(epoch FROM date_trunc('hour', b) - date_trunc('hour', a)) / 3600
    WHEN 'minute' THEN extract(epoch FROM date_trunc('minute', b) - date_trunc('minute', a)) / 60
    WHEN 'second' THEN extract(epoch FROM date_trunc('second', b) - date_trunc('second', a))
    WHEN 'milliseconds' THEN extract(epoch FROM date_trunc('milliseconds', b)
                                              - date_trunc('milliseconds', a)) * 1000
    WHEN 'microseconds' THEN extract(epoch FROM b - a) * 1000000
    ELSE redshift_compat._fail('22023', format('DATEDIFF does not support the date part "%s"', part))::numeric
END)::bigint $$;

CREATE OR REPLACE FUNCTION redshift_compat.datediff(part text, a timestamptz, b timestamptz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT redshift_compat.datediff(part, a::timestamp, b::timestamp) $$;

CREATE OR REPLACE FUNCTION redshift_compat.datediff(part text, a date, b date) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT redshift_compat.datediff(part, a::timestamp, b::timestamp) $$;

CREATE OR REPLACE FUNCTION redshift_compat.datediff(part text, a time, b time) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT redshift_compat.datediff(part, pg_catalog.date '2000-01-01' + a, pg_catalog.date '2000-01-01' + b) $$;

-- DATEADD(part, n, value) (r_DATEADD_function): a date or timestamp gives a TIMESTAMP, a time a TIME
-- (wrapping past midnight); months past the end of the shorter month stop at its last day.
CREATE OR REPLACE FUNCTION redshift_compat.interval_of(part text, n bigint) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE redshift_compat.datepart(part)
    WHEN 'quarter' THEN make_interval(months => 3 * n::integer)
    WHEN 'week' THEN make_interval(weeks => n::integer)
    WHEN 'dow' THEN redshift_compat._fail('22023', format('DATEADD does not support the date part "%s"', part))::interval
    WHEN 'doy' THEN redshift_compat._fail('22023', format('DATEADD does not support the date part "%s"', part))::interval
    WHEN 'epoch' THEN redshift_compat._fail('22023', format('DATEADD does not support the date part "%s"', part))::interval
    ELSE n * ('1 ' || redshift_compat.datepart(part))::interval
END $$;

-- Years (and decades, centuries, millennia) move Feb 29 to Mar 1 of a year without one, while months
-- stop at the last day (the page's usage notes: dateadd(year, 1, '2016-02-29') is 2017-03-01,
-- dateadd(month, 12, '2016-02-29') is 2017-02-28).
CREATE OR REPLACE FUNCTION redshift_compat.dateadd(part text, n bigint, ts timestamp) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN redshift_compat.datepart(part) IN ('year', 'decade', 'century', 'millennium')
                 AND extract(month FROM ts) = 2 AND extract(day FROM ts) = 29
                 AND extract(day FROM ts + redshift_compat.interval_of(part, n)) = 28
            THEN ts + redshift_compat.interval_of(part, n) + interval '1 day'
            ELSE ts + redshift_compat.interval_of(part, n) END $$;
CREATE OR REPLACE FUNCTION redshift_compat.dateadd(part text, n bigint, ts timestamptz) RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT redshift_compat.dateadd(part, n, ts::timestamp) $$;
CREATE OR REPLACE FUNCTION redshift_compat.dateadd(part text, n bigint, d date) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT redshift_compat.dateadd(part, n, d::timestamp) $$;
CREATE OR REPLACE FUNCTION redshift_compat.dateadd(part text, n bigint, t time) RETURNS time
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT t + redshift_compat.interval_of(part, n) $$;
-- TIMETZ results are shown in UTC, as the page's examples (timetz '13:24:55 PST' + 2 hours = 23:24:55+00).
CREATE OR REPLACE FUNCTION redshift_compat.dateadd(part text, n bigint, t timetz) RETURNS timetz
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT (t + redshift_compat.interval_of(part, n)) AT TIME ZONE 'UTC' $$;

-- TRUNC(timestamp) returns a date (r_TRUNC_date); the numeric forms behave as PostgreSQL's.
-- (pg_catalog.date: a session's temp table named "date", like TICKIT's, would shadow the type.)
CREATE OR REPLACE FUNCTION redshift_compat.trunc(ts timestamp) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ts::pg_catalog.date $$;
CREATE OR REPLACE FUNCTION redshift_compat.trunc(ts timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT ts::pg_catalog.date $$;
CREATE OR REPLACE FUNCTION redshift_compat.trunc(x double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT pg_catalog.trunc(x) $$;
CREATE OR REPLACE FUNCTION redshift_compat.trunc(x numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT pg_catalog.trunc(x) $$;
CREATE OR REPLACE FUNCTION redshift_compat.trunc(x numeric, places integer) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT pg_catalog.trunc(x, places) $$;

-- STRTOL(num_string, base): C strtol semantics (leading blanks, sign, 0x for base 16, stops at
-- the first character that is not a digit of the base) into a BIGINT (r_STRTOL).
CREATE OR REPLACE FUNCTION redshift_compat.strtol(num_string text, base integer) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    s text := ltrim(num_string, E' \t\n\r\f\v');
    negative boolean := false;
    result numeric := 0;
    digit integer;
    ch text;
BEGIN
    IF base < 2 OR base > 36 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('STRTOL base %s is not between 2 and 36', base);
    END IF;
    IF left(s, 1) IN ('+', '-') THEN
        negative := left(s, 1) = '-';
        s := substr(s, 2);
    END IF;
    IF base = 16 AND lower(left(s, 2)) = '0x' THEN
        s := substr(s, 3);
    END IF;
    FOREACH ch IN ARRAY regexp_split_to_array(lower(s), '') LOOP
        digit := strpos('0123456789abcdefghijklmnopqrstuvwxyz', ch) - 1;
        EXIT WHEN digit < 0 OR digit >= base;
        result := result * base + digit;
    END LOOP;
    RETURN (CASE WHEN negative THEN -result ELSE result END)::bigint;
END $$;

-- CONVERT_TIMEZONE([source,] target, timestamp) (CONVERT_TIMEZONE page): names follow DST, abbreviations
-- are fixed offsets, and a zone ending in an offset ('GMT+2', 'NEWZONE -2:15', 'America/Los_Angeles+2')
-- is POSIX style: hours WEST of UTC, whatever name comes before it.
CREATE OR REPLACE FUNCTION redshift_compat.tz(zone text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN zone ~ '^\s*[A-Za-z][A-Za-z_/]*\s*[+-]\d{1,2}(:\d{2})?\s*$'
            THEN 'UTC' || substring(zone FROM '[+-]\d{1,2}(?::\d{2})?\s*$')
            ELSE zone END $$;

CREATE OR REPLACE FUNCTION redshift_compat.convert_timezone(source text, target text, ts timestamp)
RETURNS timestamp LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT (ts AT TIME ZONE redshift_compat.tz(source)) AT TIME ZONE redshift_compat.tz(target) $$;

CREATE OR REPLACE FUNCTION redshift_compat.convert_timezone(target text, ts timestamp)
RETURNS timestamp LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT redshift_compat.convert_timezone('UTC', target, ts) $$;

-- PG_TABLE_DEF (r_PG_TABLE_DEF): columns of the tables in the schemas on the search_path. encoding is
-- 'none' and distkey false (PostgreSQL stores neither); sortkey is the column's position in the
-- sort-key index the endpoint builds for a SORTKEY (negative for INTERLEAVED), else 0.
CREATE OR REPLACE VIEW redshift_compat.pg_table_def AS
SELECT n.nspname AS schemaname, c.relname AS tablename, a.attname AS "column",
       format_type(a.atttypid, a.atttypmod) AS type, 'none'::varchar(32) AS encoding, false AS distkey,
       coalesce((SELECT CASE WHEN i.relname = c.relname || '_sortkey' THEN k.n::integer
                             ELSE -(SELECT count(*) FROM pg_index x2 JOIN pg_class i2 ON i2.oid = x2.indexrelid
                                    WHERE x2.indrelid = c.oid AND i2.relname LIKE c.relname || '\_sortkey\_%'
                                      AND i2.oid <= i.oid)::integer END
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                 CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, n)
                 WHERE x.indrelid = c.oid AND k.attnum = a.attnum
                   AND (i.relname = c.relname || '_sortkey' OR i.relname = c.relname || '_sortkey_' || a.attname)
                 LIMIT 1), 0) AS sortkey,
       a.attnotnull AS "notnull"
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'redshift_compat');

-- SVV_TABLE_INFO (r_SVV_TABLE_INFO): the columns that have a local meaning; like Redshift it
-- lists user tables only and no empty table. size is in 1 MB blocks; tbl_rows and
-- estimated_visible_rows are exact counts (PostgreSQL has no deleted-but-unvacuumed rows to show).
CREATE OR REPLACE VIEW redshift_compat.svv_table_info AS
SELECT t.database, t.schema, t.table_id, t."table", t.encoded, t.sortkey1, t.sortkey_num, t.size,
       t.tbl_rows, t.tbl_rows AS estimated_visible_rows
FROM (
    SELECT current_database()::text AS database, n.nspname::text AS schema, c.oid::integer AS table_id,
           c.relname::text AS "table", 'N'::char(1) AS encoded,
           (SELECT a.attname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
             WHERE x.indrelid = c.oid AND i.relname LIKE c.relname || '\_sortkey%'
             ORDER BY i.relname = c.relname || '_sortkey' DESC, i.oid LIMIT 1) AS sortkey1,
           coalesce((SELECT max(x.indnkeyatts) FILTER (WHERE i.relname = c.relname || '_sortkey')
                            + count(*) FILTER (WHERE i.relname <> c.relname || '_sortkey')
                     FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                     WHERE x.indrelid = c.oid AND i.relname LIKE c.relname || '\_sortkey%'), 0)::integer
               AS sortkey_num,
           ceil(pg_total_relation_size(c.oid) / 1048576.0)::bigint AS size,
           (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                                 false, true, '')))[1]::text::bigint AS tbl_rows
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'redshift_compat')
      AND n.nspname NOT LIKE 'pg\_%' AND has_table_privilege(c.oid, 'SELECT')
) t
WHERE t.tbl_rows > 0;

GRANT SELECT ON redshift_compat.pg_table_def, redshift_compat.svv_table_info TO PUBLIC;

-- dates and strings ---------------------------------------------------------------------------------

-- ADD_MONTHS(date|timestamp, n) (r_ADD_MONTHS): TIMESTAMP; the last day of a month stays the last day
-- of the result month (April 30 + 1 month = May 31), other days keep their number or stop at the end
-- of a shorter month (March 31 + 1 month = April 30).
CREATE OR REPLACE FUNCTION redshift_compat.add_months(ts timestamp, n bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN extract(day FROM ts + interval '1 day') = 1
            THEN date_trunc('month', ts) + make_interval(months => n::integer + 1) - interval '1 day'
                 + (ts - date_trunc('day', ts))
            ELSE ts + make_interval(months => n::integer) END $$;
CREATE OR REPLACE FUNCTION redshift_compat.add_months(ts timestamptz, n bigint) RETURNS timestamp
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$ SELECT redshift_compat.add_months(ts::timestamp, n) $$;
CREATE OR REPLACE FUNCTION redshift_compat.add_months(d date, n bigint) RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT redshift_compat.add_months(d::timestamp, n) $$;

-- DATEDIFF on TIMETZ (r_DATEDIFF_function): both values as UTC times of day, so
-- datediff(hours, timetz '20:00:00 PST', timetz '00:58:00 EST') is 1 (04:00 to 05:58 UTC).
CREATE OR REPLACE FUNCTION redshift_compat.datediff(part text, a timetz, b timetz) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT redshift_compat.datediff(part, (a AT TIME ZONE 'UTC')::time, (b AT TIME ZONE 'UTC')::time) $$;

-- A value where Redshift reads a string (SPLIT_PART, SUBSTRING, LIKE, REGEXP_*: "non-character data
-- types are treated like a string", r_SUBSTRING): strings and VARBYTE unchanged, dates and
-- timestamps in Redshift's text form ('2008-01-24 06:43:29', fractions only when present), whatever
-- the session's DateStyle.
CREATE OR REPLACE FUNCTION redshift_compat.as_text(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT s $$;
CREATE OR REPLACE FUNCTION redshift_compat.as_text(s bpchar) RETURNS bpchar
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT s $$;
CREATE OR REPLACE FUNCTION redshift_compat.as_text(b bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT b $$;
CREATE OR REPLACE FUNCTION redshift_compat.as_text(ts timestamp) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT to_char(ts, 'YYYY-MM-DD HH24:MI:SS')
       || CASE WHEN date_trunc('second', ts) = ts THEN '' ELSE rtrim(to_char(ts, '.US'), '0') END $$;
CREATE OR REPLACE FUNCTION redshift_compat.as_text(ts timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT redshift_compat.as_text(ts::timestamp) || to_char(ts, 'OF') $$;
CREATE OR REPLACE FUNCTION redshift_compat.as_text(d date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT to_char(d, 'YYYY-MM-DD') $$;
CREATE OR REPLACE FUNCTION redshift_compat.as_text(v anynonarray) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT v::text $$;

-- SPLIT_PART(string, delimiter, part): part "must be an integer greater than 0" (SPLIT_PART page);
-- PostgreSQL 15 would count a negative part from the end instead.
CREATE OR REPLACE FUNCTION redshift_compat.split_part(s text, delimiter text, part bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN part < 1 THEN redshift_compat._fail('22023', format('SPLIT_PART: the part must be an integer '
                                                                      'greater than 0, not %s', part))
            ELSE pg_catalog.split_part(s, delimiter, part::integer) END $$;

-- REGEXP_* parameters (REGEXP_COUNT, REGEXP_INSTR, REGEXP_REPLACE, REGEXP_SUBSTR pages): c (case
-- sensitive, the default), i (case insensitive), e (the first subexpression; SUBSTR and INSTR only),
-- p (PCRE). Only c and i reach PostgreSQL, whose own letters mean other things ('p' is partial newline
-- sensitivity there).
CREATE OR REPLACE FUNCTION redshift_compat._regex_flags(fn text, parameters text, allowed text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    flags text := '';
    ch text;
BEGIN
    FOREACH ch IN ARRAY regexp_split_to_array(coalesce(parameters, ''), '') LOOP
        IF strpos(allowed, ch) = 0 THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('%s: invalid regular expression parameter "%s" (Redshift accepts %s)', fn, ch,
                                 array_to_string(regexp_split_to_array(allowed, ''), ', '));
        END IF;
        IF ch IN ('c', 'i') THEN
            flags := flags || ch;
        END IF;
    END LOOP;
    RETURN flags;
END $$;

-- With 'p' the pattern is PCRE. PostgreSQL's engine (ARE) shares its escapes, classes, greedy
-- quantifiers, groups, backreferences and lookarounds; anything whose PCRE meaning ARE lacks or
-- reads differently is refused by name rather than matched differently: alternation and lazy
-- quantifiers (PCRE takes the first alternative and the shortest lazy match, ARE the longest overall
-- match), \b (a backspace in ARE), atomic/named/branch-reset groups, possessive quantifiers, \K,
-- \z/\Z/\G, \Q..\E, \h/\v/\R/\X/\N, \p{..}, recursion, inline options.
CREATE OR REPLACE FUNCTION redshift_compat._regex_pattern(fn text, pattern text, parameters text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    plain text;
    found text;
BEGIN
    IF pattern IS NULL OR strpos(coalesce(parameters, ''), 'p') = 0 THEN
        RETURN pattern;
    END IF;
    -- Escaped characters and bracket expressions are single atoms: look at the rest.
    plain := regexp_replace(regexp_replace(pattern, '\\.', '', 'g'), '\[\^?\]?[^]]*\]', '', 'g');
    found := coalesce(substring(pattern FROM '(\\[bBKzZGQEhHvVRXNpP])'),
                      substring(plain FROM '(\|)'),
                      substring(plain FROM '([*+?}][?+])'),
                      substring(plain FROM '(\(\?[^:=!<])'),
                      substring(plain FROM '(\(\?<[^=!])'));
    IF found IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '0A000',
            MESSAGE = format('%s with the PCRE parameter ''p'': the construct "%s" is not supported by the local '
                             'endpoint (PostgreSQL''s regular expressions would match it differently)', fn, found);
    END IF;
    RETURN pattern;
END $$;

-- Whether the pattern has a capturing group, for 'e' ("if the pattern doesn't have a subexpression,
-- the 'e' parameter is ignored"): an unescaped '(' not followed by '?', outside brackets.
CREATE OR REPLACE FUNCTION redshift_compat._regex_subexpr(pattern text, parameters text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN strpos(coalesce(parameters, ''), 'e') > 0
                 AND regexp_replace(regexp_replace(pattern, '\\.', '', 'g'), '\[\^?\]?[^]]*\]', '', 'g') ~ '\((?!\?)'
            THEN 1 ELSE 0 END $$;

-- REGEXP_COUNT(source, pattern [, position [, parameters]]): position < 1 searches from the start,
-- past the end counts 0.
CREATE OR REPLACE FUNCTION redshift_compat.regexp_count(s text, pattern text, pos bigint DEFAULT 1,
                                                        parameters text DEFAULT 'c') RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN pos > length(s) THEN 0
            ELSE pg_catalog.regexp_count(s, redshift_compat._regex_pattern('REGEXP_COUNT', pattern, parameters),
                                         greatest(pos, 1)::integer,
                                         redshift_compat._regex_flags('REGEXP_COUNT', parameters, 'cip')) END $$;

-- REGEXP_SUBSTR(source, pattern [, position [, occurrence [, parameters]]]): an occurrence below 1 or
-- above the length is NULL, a position past the end or no match the empty string (PostgreSQL: NULL).
CREATE OR REPLACE FUNCTION redshift_compat.regexp_substr(s text, pattern text, pos bigint DEFAULT 1,
                                                         occurrence bigint DEFAULT 1, parameters text DEFAULT 'c')
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN occurrence < 1 OR occurrence > length(s) THEN NULL
            WHEN pos > length(s) THEN ''
            ELSE coalesce(pg_catalog.regexp_substr(s, redshift_compat._regex_pattern('REGEXP_SUBSTR', pattern,
                                                                                     parameters),
                                                   greatest(pos, 1)::integer, occurrence::integer,
                                                   redshift_compat._regex_flags('REGEXP_SUBSTR', parameters, 'ciep'),
                                                   redshift_compat._regex_subexpr(pattern, parameters)),
                          CASE WHEN num_nulls(s, pattern, pos, occurrence, parameters) = 0 THEN '' END) END $$;

-- REGEXP_INSTR(source, pattern [, position [, occurrence [, option [, parameters]]]]): 0 when not
-- found, for an occurrence below 1 or above the length, or a position past the end; option nonzero:
-- the position after the match.
CREATE OR REPLACE FUNCTION redshift_compat.regexp_instr(s text, pattern text, pos bigint DEFAULT 1,
                                                        occurrence bigint DEFAULT 1, opt bigint DEFAULT 0,
                                                        parameters text DEFAULT 'c') RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN occurrence < 1 OR occurrence > length(s) OR pos > length(s) THEN 0
            ELSE pg_catalog.regexp_instr(s, redshift_compat._regex_pattern('REGEXP_INSTR', pattern, parameters),
                                         greatest(pos, 1)::integer, occurrence::integer,
                                         CASE WHEN opt <> 0 THEN 1 ELSE 0 END,
                                         redshift_compat._regex_flags('REGEXP_INSTR', parameters, 'ciep'),
                                         redshift_compat._regex_subexpr(pattern, parameters)) END $$;

-- REGEXP_REPLACE(source, pattern [, replace_string [, position [, parameters]]]): every occurrence is
-- replaced (PostgreSQL's default is the first only), the default replacement is empty, a position
-- past the end returns the source.
CREATE OR REPLACE FUNCTION redshift_compat.regexp_replace(s text, pattern text, replacement text DEFAULT '',
                                                          pos bigint DEFAULT 1, parameters text DEFAULT 'c')
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN pos > length(s) THEN s
            ELSE pg_catalog.regexp_replace(s, redshift_compat._regex_pattern('REGEXP_REPLACE', pattern, parameters),
                                           replacement, greatest(pos, 1)::integer, 0,
                                           redshift_compat._regex_flags('REGEXP_REPLACE', parameters, 'cip')) END $$;

-- COLLATE case_insensitive (r_CREATE_TABLE_NEW, r_COLLATE): an ICU collation comparing without case
-- (strength 2: accents still count). Nondeterministic, so PostgreSQL 15 refuses LIKE, regular
-- expressions and substring searches on such values (sql-compat.md). Without ICU the collation is
-- missing and its use fails naming it.
DO $$
BEGIN
    CREATE COLLATION IF NOT EXISTS redshift_compat.case_insensitive
        (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'PostgreSQL has no ICU: COLLATE case_insensitive is not available';
END $$;

-- Character lengths are bytes in Redshift (r_Character_types): the DDL translation keeps
-- varchar(n)/char(n) (n characters, never narrower than n bytes) and adds, per column,
-- CHECK (octet_length(c) <= n OR redshift_compat.<one below>(c, n)). The call runs only for a value
-- over n bytes and raises Redshift's error, so the common case costs one octet_length(). STRICT:
-- NULL passes the CHECK without the call.
CREATE OR REPLACE FUNCTION redshift_compat.varchar_too_long(v text, n integer) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '22001', MESSAGE = format('value too long for type character varying(%s)', n);
END $$;

-- A char(n) value is padded to n characters: over n bytes means a multibyte character, which
-- CHAR refuses ("Multibyte character load errors" gives the message COPY records).
CREATE OR REPLACE FUNCTION redshift_compat.char_not_single_byte(v text, n integer) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '22021',
        MESSAGE = format('Multibyte character not supported for CHAR (Hint: Try using VARCHAR). Invalid char: %s',
                         (SELECT string_agg(encode(convert_to(ch, 'UTF8'), 'hex'), ' ')
                          FROM regexp_split_to_table(v, '') AS ch WHERE octet_length(ch) > 1));
END $$;

-- LISTAGG(DISTINCT x) ignores trailing spaces (r_LISTAGG): the key of a character value is the value
-- without them; any other type is its own key (numbers keep their order).
CREATE OR REPLACE FUNCTION redshift_compat.listagg_key(v anyelement) RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF pg_typeof(v) IN ('text'::regtype, 'character varying'::regtype, 'character'::regtype) THEN
        RETURN rtrim(v::text, ' ');
    END IF;
    RETURN v;
END $$;
