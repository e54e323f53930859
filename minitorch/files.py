"""Writing a file so that nobody ever reads half of it.

A program can die in the middle of writing (Ctrl-C, a full disk, a crash).  If it was writing
over a checkpoint, the old file is gone and the new one is truncated: the next ``load`` fails,
or worse, reads garbage.  The cure is to write to a temporary name in the same folder and, only
once every byte is there, ``os.replace`` it onto the real name — a rename is atomic, so a reader
sees the old file or the new one, never a mixture.  Every file minitorch writes (checkpoints,
downloads, data files, figures, results tables) goes through :func:`atomic_write`.

Two details make the result look like a file written the ordinary way:

* **Permissions.**  ``tempfile.mkstemp`` creates its file readable by its owner only (mode
  0600), which is right for a secret but wrong for a checkpoint in a shared folder.  A new file
  gets what ``open(path, 'w')`` would give it, ``0o666`` less the process's umask; a file that
  already exists keeps its mode.
* **Symbolic links.**  Renaming onto a link would replace the link itself with a plain file.
  When ``path`` is a link, the file it points to is the one rewritten (the temporary file goes
  beside that target, so the rename stays within one folder and one file system), and the link
  keeps pointing at it.
"""
import contextlib
import os
import stat
import tempfile
from pathlib import Path


def _umask():
    """The process's umask.  Linux shows it in /proc/self/status; elsewhere the only way to read
    it is to set it and put it back (for an instant another thread could see the other one)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path):
    """The permission bits ``path`` should end up with: its own when it exists, else a new
    file's (0o666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """``with atomic_write(path) as file: ...`` writes ``file`` and then renames it to ``path``.

    If the block raises, the temporary file is deleted and ``path`` is left as it was.  The
    folder is created when missing.  A new file gets the umask's permissions, an existing one
    keeps its own, and a symbolic link's target is replaced (see the module docstring).
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # follows every link in a chain; may not exist yet
    path.parent.mkdir(parents=True, exist_ok=True)
    permissions = _mode_for(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".part")
    try:
        os.fchmod(descriptor, permissions)
        with os.fdopen(descriptor, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
