"""Staging as a cache of S3: fingerprint a source from its listing, skip the COPY when unchanged.

The staging tasks are the amazon provider's own ``S3ToRedshiftOperator``, unmodified; this module
gives them a ``pre_execute`` and a ``post_execute`` hook (plain BaseOperator arguments), so the check,
the COPY and the bookkeeping run inside one task instance:

* ``pre_execute`` lists the source's objects with the ``S3Hook`` (keys, ETags, sizes) and hashes the
  listing into a fingerprint. A day file must be exactly one non-empty object: COPY loads *every*
  object whose key starts with the given key (a stray ``...-events.json.bak`` would double the day),
  so more than one object, or an empty one, fails here, before any COPY, naming the objects. When the
  fingerprint equals the one recorded in ``staging_state`` and the staging table still holds the
  recorded number of rows, the task is skipped (``AirflowSkipException`` with a one-line reason),
  unless the run's param ``force_restage`` is true. Skip and failure reasons are top-level log lines
  (:mod:`sparkify.reasons`). A catalog prefix without any object fails at once, saying so. An empty day
  file is refused unless the run's param ``accept_smaller_hour`` is true (a deliberate correction).
* An optional file (the next day's file, staged for a day's late events) that does not exist yet empties
  its table and skips, saying so: the table then holds exactly what S3 holds, nothing.
* ``post_execute`` runs only after the COPY committed: it records (source, table, fingerprint,
  objects, bytes, rows) in ``staging_state``. A failed COPY therefore never counts as staged.

Writers of one staging table are serialised by the DAG (``max_active_tis_per_dag=1`` on the staging
tasks): the provider's REPLACE is ``BEGIN; DELETE; COPY; COMMIT``, and two of them at once under
PostgreSQL's READ COMMITTED would both commit and duplicate the rows.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sparkify import reasons
from sparkify.sqltext import now_literal, quote_literal

log = logging.getLogger(__name__)

STATE_TABLE = "staging_state"


@dataclass(frozen=True)
class Listing:
    """The objects of one S3 source and their fingerprint."""

    source: str  # s3://bucket/key-or-prefix
    objects: tuple[tuple[str, str, int], ...]  # (key, etag, size), sorted by key

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for key, etag, size in self.objects:
            digest.update(f"{key}\t{etag}\t{size}\n".encode())
        return digest.hexdigest()

    @property
    def total_bytes(self) -> int:
        return sum(size for _, _, size in self.objects)


def list_source(s3_hook, bucket: str, prefix: str) -> Listing:
    """Every object whose key starts with ``prefix`` (what COPY would load), with ETag and size."""
    paginator = s3_hook.get_conn().get_paginator("list_objects_v2")
    objects = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects.append((item["Key"], item["ETag"].strip('"'), int(item["Size"])))
    return Listing(source=f"s3://{bucket}/{prefix}", objects=tuple(sorted(objects)))


def check_single_file(listing: Listing, *, allow_empty: bool = False) -> None:
    """A day file must be exactly one non-empty object: fail (no retry) naming what was found.

    ``allow_empty``: a 0-byte file is a deliberate correction (param ``accept_smaller_hour``), staged.
    """
    if not listing.objects:
        # Retried: the log shipper may not have written the day's file yet.
        reasons.fail(f"no object at {listing.source}: the day file the run needs is missing", retry=True)
    if len(listing.objects) > 1:
        names = ", ".join(key for key, _, _ in listing.objects)
        reasons.fail(
            f"{len(listing.objects)} objects match {listing.source} and COPY would load them all: {names}. "
            "Remove the extra objects (or move them out of the day's key prefix); nothing was copied."
        )
    key, _, size = listing.objects[0]
    if size == 0:
        if allow_empty:
            log.info("%s is empty (0 bytes): staged because of param accept_smaller_hour", listing.source)
            return
        reasons.fail(
            f"s3://{listing.source.split('/')[2]}/{key} is empty (0 bytes): not a legitimate day of events; "
            "nothing was copied and the published hours are kept (a deliberate correction: run the hour "
            "with param accept_smaller_hour)"
        )


def check_catalog(listing: Listing) -> None:
    """A catalog prefix without objects fails at once: COPY would fail the same way on every retry."""
    if not listing.objects:
        reasons.fail(f"song catalog prefix {listing.source} holds no objects")


class StagingCache:
    """``pre_execute`` / ``post_execute`` hooks for an ``S3ToRedshiftOperator`` with ``method='REPLACE'``.

    :param single_file: the key names one file (the day's events), not a prefix (the catalog).
    :param require_published: also restage while the recorded fingerprint has not been published yet
        (the catalog: an unchanged catalog skips the ``songs``/``artists`` rebuild downstream, so a
        staged but never published catalog must be staged, audited and published again).
    :param optional: the file may not exist yet (the next day's file): then its table is emptied, its
        ``staging_state`` row deleted, and the task skipped with the reason.
    :param keyed_by_table: the same S3 file also has a staging table of its own (the next day's file is
        the next day's own day file too), so its ``staging_state`` row is ``"<source> into <table>"``:
        the two copies keep separate rows and neither invalidates the other's cache.
    """

    def __init__(self, *, single_file: bool, require_published: bool = False, optional: bool = False,
                 keyed_by_table: bool = False) -> None:
        self.single_file = single_file
        self.require_published = require_published
        self.optional = optional
        self.keyed_by_table = keyed_by_table

    def state_source(self, task, listing: Listing) -> str:
        """The ``staging_state.source`` of this copy."""
        return state_source(listing.source, self.qualified(task) if self.keyed_by_table else None)

    # -- hooks -----------------------------------------------------------------------------------
    def pre_execute(self, context) -> None:
        task = context["task"]
        params = context.get("params") or {}
        listing = self.listing(task)
        task.sparkify_listing = listing  # read by post_execute in the same task instance
        if self.optional and not listing.objects:
            self.forget(task, listing)
            reasons.skip(f"no object at {listing.source} yet: {self.qualified(task)} emptied, nothing to stage")
        if self.single_file:
            check_single_file(listing, allow_empty=bool(params.get("accept_smaller_hour")))
        else:
            check_catalog(listing)
        if params.get("force_restage"):
            log.info("force_restage: copying %s again", listing.source)
            return
        reason = self.unchanged_reason(task, listing)
        if reason:
            reasons.skip(reason)
        log.info("%s changed or not staged yet (fingerprint %s): copying", listing.source, listing.fingerprint[:12])

    def post_execute(self, context, result=None) -> None:
        task = context["task"]
        listing: Listing = task.sparkify_listing
        table = self.qualified(task)
        hook = self.db_hook(task)
        source, fingerprint = quote_literal(self.state_source(task, listing)), quote_literal(listing.fingerprint)
        hook.run(
            [
                f"DELETE FROM {STATE_TABLE} WHERE source = {source}",
                f"INSERT INTO {STATE_TABLE} (source, target_table, fingerprint, objects, bytes, rows_staged, "
                f"staged_at) SELECT {source}, {quote_literal(table)}, {fingerprint}, {len(listing.objects)}, "
                f"{listing.total_bytes}, COUNT(*), {now_literal()} FROM {table}",
            ],
            autocommit=False,
        )
        rows = self.table_rows(hook, table)
        log.info("staged %s into %s: %s rows, fingerprint %s recorded in %s",
                 listing.source, table, rows, listing.fingerprint[:12], STATE_TABLE)

    # -- pieces ----------------------------------------------------------------------------------
    @staticmethod
    def qualified(task) -> str:
        return f"{task.schema}.{task.table}" if task.schema else task.table

    @staticmethod
    def db_hook(task):
        from airflow.sdk import BaseHook

        return BaseHook.get_hook(task.redshift_conn_id)

    def listing(self, task) -> Listing:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return list_source(S3Hook(aws_conn_id=task.aws_conn_id, verify=task.verify), task.s3_bucket, task.s3_key)

    @staticmethod
    def table_rows(hook, table: str) -> int | None:
        try:
            return int(hook.get_first(f"SELECT COUNT(*) FROM {table}")[0])
        except Exception:  # the table does not exist (yet): not staged
            return None

    def forget(self, task, listing: Listing) -> None:
        """Empty the table and delete its ``staging_state`` row: S3 holds nothing for it (yet)."""
        table = self.qualified(task)
        self.db_hook(task).run(
            [f"DELETE FROM {table}",
             f"DELETE FROM {STATE_TABLE} WHERE source = {quote_literal(self.state_source(task, listing))}"],
            autocommit=False,
        )

    def unchanged_reason(self, task, listing: Listing) -> str | None:
        """The one-line skip reason when staging already holds ``listing``; None to copy."""
        hook = self.db_hook(task)
        table = self.qualified(task)
        row = hook.get_first(
            f"SELECT fingerprint, rows_staged, target_table, published_fingerprint FROM {STATE_TABLE} "
            f"WHERE source = {quote_literal(self.state_source(task, listing))}"
        )
        if not row:
            return None
        fingerprint, rows_staged, target, published = row
        if fingerprint != listing.fingerprint or target != table:
            return None
        if self.require_published and published != fingerprint:
            log.info("%s was staged but not published yet: staging it again", listing.source)
            return None
        rows = self.table_rows(hook, table)
        if rows != rows_staged:
            log.info("%s holds %s rows, %s recorded: staging again", table, rows, rows_staged)
            return None
        return (
            f"unchanged source: {listing.source} ({len(listing.objects)} objects, {listing.total_bytes} bytes, "
            f"fingerprint {fingerprint[:12]}) is already in {table} ({rows} rows)"
        )


def state_source(source: str, table: str | None = None) -> str:
    """``staging_state.source`` of a copy: the S3 source, or ``"<source> into <table>"`` for a second copy."""
    return f"{source} into {table}" if table else source


def mark_published_sql(source: str) -> str:
    """Statement recording that the staged copy of ``source`` has been published."""
    return f"UPDATE {STATE_TABLE} SET published_fingerprint = fingerprint WHERE source = {quote_literal(source)}"
