"""The song catalog (song_data) and the songs played outside it.

The catalog holds `songs` songs by `artists` artists. An artist with several songs appears in
several song files with identical attributes (the real data has 2 such artist ids). Plays that
do not match the catalog use the *outside* pool, which never equals a catalog
(title, artist_name, duration) triple but deliberately shares a title, an artist or a
title+artist with it, so a join that forgets one of the three columns is caught.
"""

from __future__ import annotations

import itertools
import random
import string
from dataclasses import dataclass

from devstack.datagen import words
from devstack.datagen.config import GenConfig

_ID_CHARS = string.ascii_uppercase + string.digits
_NON_ASCII_WORDS = ("Tú", "Björk", "Dónde", "Santafè", "Corazón", "Mañana", "Zoë", "Déjà", "Straße")


@dataclass(frozen=True)
class Artist:
    artist_id: str
    name: str
    latitude: float | None
    longitude: float | None
    location: str


@dataclass(frozen=True)
class Song:
    track_id: str
    song_id: str
    title: str
    artist: Artist
    duration: float
    year: int


@dataclass(frozen=True)
class PlayedSong:
    """What a NextSong event shows: song title, artist name, length."""

    title: str
    artist: str
    length: float


@dataclass
class Catalog:
    songs: list[Song]
    artists: list[Artist]
    outside: list[PlayedSong]

    @property
    def played_in_catalog(self) -> list[PlayedSong]:
        return [PlayedSong(s.title, s.artist.name, s.duration) for s in self.songs]


def _fill(rng: random.Random, pattern: str, pools: dict[str, tuple[str, ...]]) -> str:
    return pattern.format(**{key: rng.choice(pool) for key, pool in pools.items() if "{" + key + "}" in pattern})


def _unique(rng: random.Random, make, taken: set[str]) -> str:
    """A fresh value from `make`; numbered suffixes once the word space runs out."""
    for _ in range(20):
        value = make()
        if value not in taken:
            break
    else:
        value = f"{make()} {rng.randrange(2, 10**6)}"
        while value in taken:
            value = f"{make()} {rng.randrange(2, 10**6)}"
    taken.add(value)
    return value


def _random_id(rng: random.Random, prefix: str, taken: set[str], head: str = "") -> str:
    while True:
        value = prefix + head + "".join(rng.choices(_ID_CHARS, k=16 - len(head)))
        if value not in taken:
            taken.add(value)
            return value


def _duration(rng: random.Random) -> float:
    # Log-normal around 4 minutes, clamped to the real range (29.5 s .. 600 s in song_data).
    return round(min(599.9, max(29.5, rng.lognormvariate(5.45, 0.35))), 5)


def title(rng: random.Random) -> str:
    pools = {"a": tuple(words.TITLE_WORDS), "b": tuple(words.TITLE_WORDS), "c": tuple(words.TITLE_WORDS)}
    return _fill(rng, rng.choice(words.TITLE_PATTERNS), pools)


def artist_name(rng: random.Random) -> str:
    pools = {
        "f": tuple(words.ARTIST_FIRST), "l": tuple(words.ARTIST_LAST), "g": tuple(words.ARTIST_FIRST),
        "m": tuple(words.ARTIST_LAST), "b": tuple(words.BAND_WORDS), "c": tuple(words.BAND_WORDS),
    }
    return _fill(rng, rng.choice(words.ARTIST_PATTERNS), pools)


def _artist(rng: random.Random, ids: set[str], names: set[str]) -> Artist:
    name = _unique(rng, lambda: artist_name(rng), names)
    # Real song_data: 40% of locations are "" (never null); lat/long are null on every empty
    # location and on some non-empty ones, and always null together.
    location = "" if rng.random() < 0.4 else rng.choice(words.ARTIST_LOCATIONS)
    if location and rng.random() < 0.72:
        latitude, longitude = round(rng.uniform(-40, 65), 5), round(rng.uniform(-125, 40), 5)
    else:
        latitude = longitude = None
    return Artist(_random_id(rng, "AR", ids), name, latitude, longitude, location)


def build_catalog(config: GenConfig) -> Catalog:
    """The catalog and the outside pool, determined by the seed alone."""
    rng = random.Random(f"{config.seed}:catalog")
    artist_ids: set[str] = set()
    artist_names: set[str] = set()
    n_artists = min(config.artists, config.songs)  # every catalog artist has at least one song
    artists = [_artist(rng, artist_ids, artist_names) for _ in range(n_artists)]

    # Spread track ids over A/<x>/<y> directories of ~12 files, like the real A/A/A..A/B/C.
    n_dirs = max(1, -(-config.songs // 12))
    dirs = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase][:n_dirs]
    track_ids: set[str] = set()
    song_ids: set[str] = set()
    triples: set[tuple[str, str]] = set()
    # Zipf-like artist popularity for the songs beyond the first one per artist.
    artist_cum_weights = list(itertools.accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(n_artists)))
    songs: list[Song] = []
    for index in range(config.songs):
        artist = artists[index] if index < n_artists else rng.choices(artists, cum_weights=artist_cum_weights)[0]
        song_title = title(rng)
        while (song_title, artist.name) in triples:  # (title, artist) unique: joins stay 1:1
            song_title = title(rng) + f" {rng.randrange(2, 100)}"
        triples.add((song_title, artist.name))
        year = 0 if rng.random() < 0.6 else rng.randint(1955, 2010)
        songs.append(
            Song(
                track_id=_random_id(rng, "TR", track_ids, head="A" + rng.choice(dirs)),
                song_id=_random_id(rng, "SO", song_ids),
                title=song_title,
                artist=artist,
                duration=_duration(rng),
                year=year,
            )
        )
    outside = _outside_pool(rng, config, songs, artist_names)
    return Catalog(songs=songs, artists=artists, outside=outside)


def mojibake(text: str) -> str:
    """Double-encoded UTF-8, as in the real log (`"Tú"` -> `"TÃ\\u0083Âº"`)."""
    for _ in range(2):
        text = text.encode("utf-8").decode("latin-1")
    return text


def _outside_pool(
    rng: random.Random, config: GenConfig, songs: list[Song], artist_names: set[str]
) -> list[PlayedSong]:
    catalog_triples = {(s.title, s.artist.name, s.duration) for s in songs}
    pool: list[PlayedSong] = []
    outside_artists = [artist_name(rng) for _ in range(max(10, config.n_outside_songs // 3))]
    while len(pool) < config.n_outside_songs:
        roll = rng.random()
        near = rng.choice(songs)
        if roll < 0.02:  # same title, another artist ("Intro" by somebody else)
            played = PlayedSong(near.title, rng.choice(outside_artists), _duration(rng))
        elif roll < 0.04:  # a catalog artist, another song
            played = PlayedSong(title(rng), near.artist.name, _duration(rng))
        elif roll < 0.05:  # same title and artist, another length (another recording)
            played = PlayedSong(near.title, near.artist.name, round(near.duration + rng.uniform(1, 30), 5))
        else:
            # Log lengths range wider than the catalog (15 s .. 43 min in the real log).
            length = round(min(2594.0, max(15.8, rng.lognormvariate(5.45, 0.45))), 5)
            played = PlayedSong(title(rng), rng.choice(outside_artists), length)
        played = _quirks(rng, config, played)
        if (played.title, played.artist, played.length) not in catalog_triples:
            pool.append(played)
    return pool


def _quirks(rng: random.Random, config: GenConfig, played: PlayedSong) -> PlayedSong:
    roll = rng.random()
    if roll < config.mojibake_rate:
        # Mojibake hits titles or artists holding non-ASCII text; make sure there is some.
        if rng.random() < 0.5:
            text = played.title if not played.title.isascii() else f"{played.title} {rng.choice(_NON_ASCII_WORDS)}"
            return PlayedSong(mojibake(text), played.artist, played.length)
        text = played.artist if not played.artist.isascii() else f"{rng.choice(_NON_ASCII_WORDS)} {played.artist}"
        return PlayedSong(played.title, mojibake(text), played.length)
    if roll < config.mojibake_rate + config.control_char_rate:
        # U+0019 where an apostrophe was ("Howlin\u0019 For You").
        text = played.title if "'" in played.title else f"{played.title} Howlin' For You"
        return PlayedSong(text.replace("'", "\x19"), played.artist, played.length)
    return played
