"""Writing a file so that nobody ever reads half of it.

A program can die in the middle of writing (Ctrl-C, a full disk, a crash).  If it was writing
over a checkpoint, the old file is gone and the new one is truncated: the next ``load`` fails,
or worse, reads garbage.  The cure is to write to a temporary name in the same folder and, only
once every byte is there, ``os.replace`` it onto the real name — a rename is atomic, so a reader
sees the old file or the new one, never a mixture.  Every file minitorch writes (checkpoints,
downloads, data files, figures, results tables) goes through :func:`atomic_write`.
"""
import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """``with atomic_write(path) as file: ...`` writes ``file`` and then renames it to ``path``.

    If the block raises, the temporary file is deleted and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".part")
    try:
        with os.fdopen(descriptor, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
