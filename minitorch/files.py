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

**What a crash leaves.**  An error inside the block deletes the temporary file.  A process
killed outright (SIGKILL, the out-of-memory killer, a power cut) cannot clean up, and its
temporary file, ``.NAME.XXXXXXXX.part`` beside the target (as large as the checkpoint), would
stay for good.  So the next write of the same target removes the parts of that target whose
writer is gone.  A part that another writer is still filling must be spared, and a file's age
or size cannot tell the two apart; a lock can: every writer holds an exclusive ``flock`` on its
part from the moment it exists until it is renamed, and the kernel drops the lock when the
process dies, however it dies.  A part that can be locked is therefore stale.  (Where there is
no ``fcntl``, on Windows, nothing is cleaned; the parts of other targets are never touched.)
"""
import contextlib
import os
import re
import secrets
import stat
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock, so stale parts are left alone
    fcntl = None


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


def _part_name(target_name):
    """The pattern of the temporary names of ``target_name``: ``.NAME.`` + 8 random characters +
    ``.part`` (the characters ``tempfile`` used before, so older parts are recognised too)."""
    return re.compile(re.escape(f".{target_name}.") + r"[a-z0-9_]{8}\.part")


def _lock(descriptor, wait):
    """An exclusive flock on ``descriptor``: True when taken, False when another writer holds
    it (and ``wait`` is off), None where the file system has no locks (then no part is ever
    taken for stale, and nothing is cleaned)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _still_named(descriptor, name):
    """Whether ``name`` is still the file open at ``descriptor`` (not deleted or replaced)."""
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(name))
    except FileNotFoundError:
        return False


def remove_stale_parts(path):
    """Delete the temporary files of ``path`` left by writers that died (see the module
    docstring): those nobody holds a lock on.  Returns the names removed."""
    if fcntl is None:
        return []
    pattern, removed = _part_name(path.name), []
    try:
        candidates = [entry.path for entry in os.scandir(path.parent)
                      if pattern.fullmatch(entry.name)]
    except OSError:
        return []
    for part in candidates:
        try:
            descriptor = os.open(part, os.O_RDONLY)
        except OSError:
            continue  # gone already, or not ours to read
        try:
            if _lock(descriptor, wait=False) and _still_named(descriptor, part):
                os.unlink(part)
                removed.append(part)
        except OSError:
            pass  # a part we may not delete stays; the write itself goes on
        finally:
            os.close(descriptor)  # (drops the lock)
    return removed


def _new_part(path, permissions):
    """Create and lock a new temporary file beside ``path``: ``(descriptor, name)``.

    The lock is taken just after the file appears, so a cleaner may, in that instant, find it
    unlocked and delete it; the writer then sees that its name no longer leads to its file
    and starts again with a new one."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        name = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            descriptor = os.open(name, flags, 0o600)
        except FileExistsError:
            continue
        if fcntl is not None:
            _lock(descriptor, wait=True)
        if _still_named(descriptor, name):
            os.fchmod(descriptor, permissions)
            return descriptor, name
        os.close(descriptor)


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """``with atomic_write(path) as file: ...`` writes ``file`` and then renames it to ``path``.

    If the block raises, the temporary file is deleted and ``path`` is left as it was.  The
    folder is created when missing.  A new file gets the umask's permissions, an existing one
    keeps its own, and a symbolic link's target is replaced.  Temporary files of ``path`` left
    by a writer that was killed are removed first (see the module docstring).
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))  # follows every link in a chain; may not exist yet
    path.parent.mkdir(parents=True, exist_ok=True)
    permissions = _mode_for(path)
    remove_stale_parts(path)
    descriptor, temporary = _new_part(path, permissions)
    try:
        # closefd=False: the descriptor, and with it the lock that marks this part as alive,
        # is kept until the part has been renamed.
        with os.fdopen(descriptor, mode, closefd=False) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    finally:
        os.close(descriptor)
