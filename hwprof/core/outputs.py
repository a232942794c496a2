"""Where a command may write: never over one of its inputs, never over an existing file unasked.

Every front end checks an output path here *before* it does any work (a run, a study, a
report), so a bad ``--html``, ``--csv``, ``--png`` or ``--save`` is refused in a second, not
after minutes of measuring. The rules:

- the folder must exist (hwprof never creates folders the user did not ask for);
- an output is never one of the command's inputs, whatever ``--force`` says (``report a.json --html
  a.json`` would destroy the data it reads);
- an output that exists is overwritten only with ``--force``;
- a symbolic link is written through to its target; a dangling link or a loop of links is refused,
  since writing "through" it would silently make a file somewhere the user did not expect.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


class OutputPathError(ValueError):
    """An output path that must not be written. ``str()`` is a message for the user."""


def resolve_link(path: Path) -> Path:
    """The file a write to ``path`` should replace: the link's target, or ``path`` itself.

    Raises :class:`OutputPathError` for a dangling link or a loop of links.
    """
    if not path.is_symlink():
        return path
    try:
        target = path.resolve(strict=True)
    except RuntimeError as err:  # Python 3.10-3.12 raise RuntimeError for a loop
        raise OutputPathError(f"{path} is a symbolic link in a loop of links; "
                              "choose another file") from err
    except FileNotFoundError as err:
        raise OutputPathError(f"{path} is a symbolic link to {os.readlink(path)}, which does not "
                              "exist; choose another file or mend the link") from err
    except OSError as err:  # ELOOP on newer Pythons, permissions
        raise OutputPathError(f"{path} is a symbolic link that cannot be followed "
                              f"({err.strerror or err}); choose another file") from err
    return target


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same existing file (links and ``..`` followed)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (),
                 force: bool = False, flag: str = "") -> Path:
    """Check that ``path`` may be written now; the path to write (a link's target).

    ``inputs`` are the files the command reads; ``flag`` (e.g. ``"--html"``) names the option in
    messages. Raises :class:`OutputPathError` with a message that says what to do.
    """
    p = Path(path)
    name = f"{flag} {p}" if flag else str(p)
    try:
        target = resolve_link(p)
    except OutputPathError as err:
        raise OutputPathError(f"{flag} {err}" if flag else str(err)) from err
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        if folder.exists():
            raise OutputPathError(f"{name}: {folder} is a file, not a folder")
        raise OutputPathError(f"{name}: the folder {folder} does not exist")
    for source in inputs:
        if same_file(target, Path(source)):
            raise OutputPathError(f"{name}: that is an input of this command ({source}); "
                                  "writing there would destroy it, so choose another file")
    if target.exists() or target.is_symlink():
        if target.is_dir():
            raise OutputPathError(f"{name}: that is a folder, not a file")
        if not force:
            raise OutputPathError(f"{name}: the file exists; choose another name, or pass "
                                  "--force to overwrite it")
        if not target.is_file():
            raise OutputPathError(f"{name}: that is not a regular file (a device or a pipe?)")
    return target


def check_output_folder(path: str | os.PathLike[str], names: Iterable[str], *,
                        inputs: Iterable[str | os.PathLike[str]] = (), force: bool = False,
                        flag: str = "") -> Path:
    """Check a folder that will receive the files ``names`` (made if missing; its parent exists).

    Each file is checked as :func:`check_output` checks one. Returns the folder.
    """
    folder = resolve_link(Path(path))
    label = f"{flag} {folder}" if flag else str(folder)
    if folder.exists():
        if not folder.is_dir():
            raise OutputPathError(f"{label}: exists and is not a folder")
    elif not (folder.parent if str(folder.parent) else Path(".")).is_dir():
        raise OutputPathError(f"{label}: its parent folder {folder.parent} does not exist")
    sources = list(inputs)
    if folder.is_dir():
        for n in names:
            check_output(folder / n, inputs=sources, force=force, flag=flag)
    return folder
