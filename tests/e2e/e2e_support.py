"""Names shared by the end-to-end fixtures and tests."""

from datetime import UTC, datetime

from sparkify.tables import PUBLISHED

TABLES = {table.sql_name: table.key for table in PUBLISHED}  # fact and dimension tables -> their key


def hour(text: str) -> datetime:
    """'2018-11-01T21' as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
