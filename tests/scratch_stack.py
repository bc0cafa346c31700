"""A throw-away local stack in a scratch folder, for the fixtures that need a whole stack of their own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.stack import Stack


@contextmanager
def scratch_stack(prefix: str, stack_class: type[Stack] = Stack) -> Iterator[tuple[Stack, Path]]:
    """Start ``stack_class`` under a new scratch folder; yield it and the folder; stop and remove both.

    ``SPARKIFY_DEVSTACK_DIR`` points at the stack meanwhile, so the CLI and helpers find it too.
    """
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    scratch.chmod(0o755)  # PostgreSQL runs as another account when we are root
    saved = os.environ.get("SPARKIFY_DEVSTACK_DIR")
    os.environ["SPARKIFY_DEVSTACK_DIR"] = str(scratch / "stack")
    stack = stack_class(scratch / "stack")
    try:
        stack.up()
        yield stack, scratch
    finally:
        stack.down()
        if saved is None:
            os.environ.pop("SPARKIFY_DEVSTACK_DIR", None)
        else:
            os.environ["SPARKIFY_DEVSTACK_DIR"] = saved
        shutil.rmtree(scratch, ignore_errors=True)
