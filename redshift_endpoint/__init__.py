"""A local Redshift-compatible endpoint: a PostgreSQL v3 wire relay in front of a real PostgreSQL.

It rewrites the Redshift-only SQL it sees (DDL attributes, ``#temp`` tables, GETDATE, ...) and turns
``COPY t FROM 's3://...'`` into ``COPY t FROM STDIN`` whose rows it reads from S3 and injects itself.
Run it with ``python -m redshift_endpoint``; see the README section "The local Redshift endpoint".
"""
