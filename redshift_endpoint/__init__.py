"""A local Redshift-compatible endpoint: a PostgreSQL v3 wire relay in front of a real PostgreSQL.

It rewrites the Redshift-only SQL it sees (DDL attributes, ``#temp`` tables, GETDATE, ...) and turns
``COPY t FROM 's3://...'`` into ``COPY t FROM STDIN`` whose rows it reads from S3 and injects itself.
Run it with ``python -m redshift_endpoint``; see redshift_endpoint/docs/reference.md.

Modules, from the socket inwards:

* server.py (the listener, and the ``SessionServices`` its sessions share), relay.py (one client
  session), startup.py, protocol.py, limits.py; process.py starts the endpoint as a subprocess.
* sql/: Redshift SQL made runnable on PostgreSQL (translate.py, functions.py, compat_schema.py).
* COPY: copy_spec.py (what the statement asks for), copy_parse.py, timefmt.py, loader.py (one load),
  load_spec.py (what a worker gets), convert.py (CSV rows), binary.py (binary COPY rows),
  worker.py, s3source.py. UNLOAD: unload.py.
* The endpoint's own PostgreSQL connections: backend.py, used by catalog.py, load_errors.py
  (stl_load_errors) and sortkey_index.py.
"""
