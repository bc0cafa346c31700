"""Redshift SQL made runnable on PostgreSQL, in layers.

* ``translate``: whole statements. Splits a query string, rewrites the Redshift-only parts of each
  statement (CREATE TABLE attributes, temp ``#tables``, type spellings) and hands COPY and UNLOAD
  to the endpoint. ``translate.rewrite(sql)`` is the entry point the relay calls.
* ``lateral_alias``: inside a SELECT list, references to its own earlier aliases (Redshift's lateral
  column aliases), inlined unless the FROM clause has a column of that name.
* ``functions``: inside a statement. Redshift function calls and catalog names (NVL, DATEDIFF,
  pg_table_def, ...) rewritten to PostgreSQL calls or to calls of the ``redshift_compat`` schema.
* ``compat_schema`` (with ``compat_schema.sql``): that schema itself, the SQL functions and views
  created in a database before the first statement that needs them runs there.
"""
