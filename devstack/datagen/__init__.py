"""Realistic, deterministic Sparkify sample data in the layout of the real `s3://udacity-dend`.

    from devstack.datagen import GenConfig, generate
    generate(Path(".devstack/data"), GenConfig(seed=7, days=2))

Modules: config (knobs), words (name lists), catalog (song_data), users, events (session
simulation), writer (exact file formats), truth (expected warehouse contents), generator, cli.
"""

from devstack.datagen.config import GenConfig
from devstack.datagen.generator import generate

__all__ = ["GenConfig", "generate"]
