"""Names shared by the end-to-end fixtures and tests."""

from datetime import UTC, datetime

TABLES = {  # fact and dimension tables -> their key
    "songplays": "songplay_id",
    "users": "user_id",
    "songs": "song_id",
    "artists": "artist_id",
    '"time"': "start_time",
}


def hour(text: str) -> datetime:
    """'2018-11-01T21' as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=UTC)
