"""Folders held open, and files reached from them without a path being looked up twice.

A path that is checked and then used is looked up twice, and a pack author who can rename
folders can swap a real folder for a symlink in between: the check sees one place and the
read another. So nothing here checks a path and then uses it. A folder is opened once
(:class:`OpenFolder`) and everything in it is reached relative to that descriptor, one
component at a time, with ``O_NOFOLLOW``: what was checked is what is read, whatever is
renamed meanwhile. A symlink is never followed by the kernel; where a link is allowed, its
text is read and walked here, component by component, from the folder it must stay inside.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

#: Opening a folder: never a terminal, never kept across ``exec``.
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)

#: Opening a character file: never through a link; a FIFO swapped in after the type check
#: must not block the reader on open.
FILE_FLAGS = (
    os.O_RDONLY
    | os.O_NOFOLLOW
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
)

#: The most symlinks one file's path may pass through (its own and its folders'), so a
#: loop of links ends as an error instead of going round.
MAX_LINKS = 8

#: The errors ``open(name, O_DIRECTORY | O_NOFOLLOW)`` gives when ``name`` is a symlink
#: (Linux says ENOTDIR, the BSDs ELOOP) or another thing that is not a folder.
NOT_A_FOLDER = frozenset({errno.ENOTDIR, errno.ELOOP})

#: (device, inode): what a folder is, whatever it is called now.
Identity = tuple[int, int]


class OpenFolder:
    """A folder opened once; its contents are reached through this descriptor only.

    ``identity`` says which folder it is (a folder renamed or moved keeps it). ``path`` is
    how it was named when opened, for an operator's messages only: it is never used to
    reach the folder again, and it is never sent to a client.
    """

    __slots__ = ("fd", "identity", "path")

    def __init__(self, fd: int, path: str) -> None:
        try:
            info = os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.path = path
        self.identity: Identity = (info.st_dev, info.st_ino)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> OpenFolder:
        """Open the folder at ``path``, following links on the way: for a path an operator or
        an author gave (the packs root, a folder given to ``lint``), not a client's name."""
        shown = os.fspath(path)
        return cls(os.open(shown, DIR_FLAGS), shown)

    def open_child(self, name: str) -> OpenFolder:
        """The folder ``name`` directly in this one; a symlink there is an ``OSError`` (one
        of :data:`NOT_A_FOLDER`), never followed."""
        fd = os.open(name, DIR_FLAGS | os.O_NOFOLLOW, dir_fd=self._fd())
        return OpenFolder(fd, os.path.join(self.path, name))

    def reopen(self) -> OpenFolder:
        """The same folder again, with a descriptor (and a listing position) of its own, for
        a reader that may outlive this object: the folder itself, even if it was moved."""
        return OpenFolder(os.open(".", DIR_FLAGS, dir_fd=self._fd()), self.path)

    @contextmanager
    def listing(self) -> Iterator[Iterator[os.DirEntry[str]]]:
        """The folder's entries, read through a fresh descriptor: two listings of one folder
        (two threads, or two objects sharing a descriptor) never share a read position."""
        fresh = os.open(".", DIR_FLAGS, dir_fd=self._fd())
        try:
            with os.scandir(fresh) as entries:
                yield entries
        finally:
            os.close(fresh)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=self._fd(), follow_symlinks=False)

    def readlink(self, name: str) -> str:
        return os.readlink(name, dir_fd=self._fd())

    def close(self) -> None:
        """Close the descriptor; closing twice is harmless."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def _fd(self) -> int:
        if self.fd < 0:
            raise ValueError("the folder has been closed")
        return self.fd

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A safety net for a folder handed to work that never started: its owner closes it.
        if getattr(self, "fd", -1) >= 0:
            self.close()

    def __repr__(self) -> str:
        return f"<OpenFolder fd={self.fd} path={self.path!r}>"


class OutsideFolderError(Exception):
    """A link whose path leaves the folder it must stay in (absolute, or climbing out)."""


class NotRegularFileError(OSError):
    """What a path names is not a regular file (a FIFO, device, socket or folder)."""

    def __init__(self) -> None:
        super().__init__(errno.EINVAL, "not a regular file")


def open_file_inside(
    folder: OpenFolder, name: str, *, listed_regular: bool = False
) -> tuple[int, os.stat_result]:
    """Open the regular file ``name`` of ``folder``: its descriptor and ``fstat``.

    A symlink (``name`` itself, or a folder on the way to its target) is followed only
    while its path stays inside ``folder``: the link's text must be relative, and ``..``
    may not climb above ``folder``. It is walked here one component at a time from
    descriptors already open, never by the kernel, so a folder swapped for a link while
    this runs makes it fail (``OSError``) instead of leaving ``folder``. Raises
    :class:`OutsideFolderError` for a link out of ``folder``, :class:`NotRegularFileError`
    for anything but a regular file (checked before opening, since opening a device can
    have effects of its own, and again on the open descriptor). ``listed_regular`` says the
    folder's listing already gave ``name``'s type as a regular file, which saves the
    ``stat``: if it was swapped since, ``O_NOFOLLOW`` and ``fstat`` still refuse it.
    """
    if listed_regular:
        return _open_regular_at(folder, name)
    return _walk(folder, name, open_file=True)


def stat_file_inside(folder: OpenFolder, name: str) -> os.stat_result:
    """What :func:`open_file_inside` would open, by ``stat``, without opening it."""
    return _walk(folder, name, open_file=False)[1]


def _walk(folder: OpenFolder, name: str, *, open_file: bool) -> tuple[int, os.stat_result]:
    # ``opened`` holds the sub-folders entered so far; ``..`` leaves the last one, so going
    # up is by what was entered, not by what the parent is called now.
    opened: list[OpenFolder] = []
    # The components still to walk, the next one last.
    pending = [name]
    links = 0
    try:
        while pending:
            part = pending.pop()
            here = opened[-1] if opened else folder
            if part in ("", "."):
                continue
            if part == "..":
                if not opened:
                    raise OutsideFolderError
                opened.pop().close()
                continue
            info = here.lstat(part)
            if stat.S_ISLNK(info.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                text = here.readlink(part)
                if os.path.isabs(text):
                    raise OutsideFolderError
                pending.extend(reversed(text.split("/")))
                continue
            if pending:
                opened.append(here.open_child(part))
                continue
            if not stat.S_ISREG(info.st_mode):
                raise NotRegularFileError
            if not open_file:
                return -1, info
            return _open_regular_at(here, part)
        # The path ended on a folder (``sub/``, ``.``, ``..``).
        raise NotRegularFileError
    finally:
        for entered in opened:
            entered.close()


def _open_regular_at(folder: OpenFolder, name: str) -> tuple[int, os.stat_result]:
    fd = os.open(name, FILE_FLAGS, dir_fd=folder.fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def same_folder(folder: OpenFolder, path: str) -> bool:
    """Whether ``path`` (relative to ``folder``, or absolute; links followed) names
    ``folder`` itself: compared by identity, so no spelling of a path can fool it."""
    if path == "":
        return True
    try:
        info = os.stat(path, dir_fd=folder.fd)
    except (OSError, ValueError):
        return False
    return stat.S_ISDIR(info.st_mode) and (info.st_dev, info.st_ino) == folder.identity
