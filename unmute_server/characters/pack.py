"""Packs on disk: resolve a pack name safely, read a pack's bytes once, build its registry.

A pack is a folder directly under the packs root holding one character file per character
(DESIGN 3). This module is the only place that touches the pack's files, and it touches them
in one pass (:func:`read_pack`) that returns plain bytes; everything after that
(:func:`build_registry`) is a pure function of those bytes, so the cache can key a registry by
what was read and tests can build registries from bytes they made up.

Nothing here imports, executes or compiles a character file: bytes go to
:func:`~unmute_server.characters.charfile.parse_character_file`, which only parses them.
"""

from __future__ import annotations

import enum
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from unmute_server.characters.charfile import CHARACTER_SUFFIXES, parse_character_file
from unmute_server.characters.confusables import NameSite, lookalike_warnings
from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.document import FieldPath, Position
from unmute_server.characters.folders import (
    FILE_FLAGS,
    NOT_A_FOLDER,
    NotRegularFileError,
    OpenFolder,
    OutsideFolderError,
    open_file_inside,
    same_folder,
    stat_file_inside,
)
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.model import Character
from unmute_server.characters.voice_paths import voice_path_warnings

if TYPE_CHECKING:
    from unmute_server.characters.registry import CharacterRegistry

#: The ``path`` of a diagnostic about the pack as a whole rather than one of its files.
PACK_PATH = "."

#: Longest pack name :func:`resolve_pack` accepts.
MAX_PACK_NAME_LENGTH = 128

#: Conservative on purpose: no separators, no leading dot, nothing a shell, URL or Windows
#: path would read specially. ``\Z`` rather than ``$`` so a trailing newline is refused too.
_PACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z", re.ASCII)

#: Read-time codes that are about one file; each such file still counts towards
#: ``CharacterRegistry.total_files``.
FILE_READ_CODES = frozenset({"CHR001", "CHR003", "CHR004"})

#: A pack folder: open already (a pack from :func:`resolve_pack`), or a path to open.
PackSource = OpenFolder | str | os.PathLike[str]

_READ_CHUNK = 1 << 20


# --------------------------------------------------------------------------- pack names


class PackNameProblem(enum.StrEnum):
    """Why a pack name was refused; the server maps each to its own error code."""

    INVALID_NAME = "invalid_name"
    OUTSIDE_ROOT = "outside_root"
    NOT_FOUND = "not_found"


class PackNameError(Exception):
    """A pack name a client may not use. ``message`` names the pack, never a server path."""

    def __init__(self, problem: PackNameProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


def _shown(name: str, limit: int = 40) -> str:
    """The name as the user gave it, quoted and cut short, for an error message."""
    if len(name) <= limit:
        return repr(name)
    return repr(name[:limit]) + "..."


def _invalid(name: str, why: str) -> PackNameError:
    return PackNameError(PackNameProblem.INVALID_NAME, f"pack name {_shown(name)} {why}")


def _check_pack_name(name: str) -> None:
    if not isinstance(name, str):
        raise PackNameError(PackNameProblem.INVALID_NAME, "pack name must be a string")
    if not name:
        raise PackNameError(PackNameProblem.INVALID_NAME, "pack name is empty")
    if len(name) > MAX_PACK_NAME_LENGTH:
        raise _invalid(name, f"is longer than {MAX_PACK_NAME_LENGTH} characters")
    if "\x00" in name:
        raise _invalid(name, "contains a NUL character")
    if "/" in name or "\\" in name:
        raise _invalid(name, "contains a path separator; name a folder directly under the root")
    if name in (".", ".."):
        raise _invalid(name, "is not a pack; name a folder directly under the packs root")
    if name.startswith("."):
        raise _invalid(name, "starts with '.'; hidden folders are not packs")
    if not _PACK_NAME.match(name):
        raise _invalid(
            name,
            "may only use letters, digits, '_', '-' and '.', starting with a letter or digit",
        )


def resolve_pack(packs_root: OpenFolder | str | os.PathLike[str], name: str) -> OpenFolder:
    """Open pack ``name``: a folder directly under ``packs_root``. The caller closes it.

    This is the one gate between a name a client sent and the file system. The name must be
    a plain folder name (see :class:`PackNameProblem`). The pack is opened relative to the
    open packs root with no link followed, so the folder returned is the one that was
    checked: read it through the returned descriptor, never by a path.

    A pack that is a symlink (an alias) is followed one level: its text is read, and it
    must name a folder directly under the packs root (the root is recognised by identity,
    however the link spells it), which is then opened relative to the root without
    following any further link. A link that names any other place is ``OUTSIDE_ROOT``
    whether or not that place exists, so the answer says nothing about what is outside the
    root; a link to a missing pack, to a file or to another link is ``NOT_FOUND``. A server
    holds its packs root open (an :class:`OpenFolder`); given a path, it is opened for this
    call only (tools and tests).
    """
    _check_pack_name(name)
    if not isinstance(packs_root, OpenFolder):
        try:
            root = OpenFolder.open(packs_root)
        except OSError:
            raise PackNameError(
                PackNameProblem.NOT_FOUND, f"pack {_shown(name)} does not exist"
            ) from None
        with root:
            return resolve_pack(root, name)
    try:
        return _open_pack(packs_root, name)
    except OSError as error:
        raise PackNameError(PackNameProblem.NOT_FOUND, _not_found(name, error)) from None


def _not_found(name: str, error: OSError) -> str:
    if error.errno == errno.ENOENT:
        return f"pack {_shown(name)} does not exist"
    if error.errno in NOT_A_FOLDER:
        return f"pack {_shown(name)} is not a folder"
    return f"pack {_shown(name)} cannot be opened: {_reason(error)}"


def _open_pack(root: OpenFolder, name: str) -> OpenFolder:
    # Twice: a folder swapped for a link (or back) between the open and the readlink is
    # looked at once more; a name that is neither twice running is not a folder.
    for _ in range(2):
        try:
            return root.open_child(name)
        except OSError as error:
            if error.errno not in NOT_A_FOLDER:
                raise
        try:
            text = root.readlink(name)
        except OSError as error:
            if error.errno != errno.EINVAL:  # EINVAL: not a link (now)
                raise
            continue
        return _open_alias(root, name, text)
    raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))


def _open_alias(root: OpenFolder, name: str, text: str) -> OpenFolder:
    """The pack folder the link ``name`` (whose text is ``text``) names, one level only."""
    head, target = os.path.split(text.rstrip("/"))
    if target in ("", ".", "..") or not same_folder(root, head):
        raise PackNameError(
            PackNameProblem.OUTSIDE_ROOT,
            f"pack {_shown(name)} is a link to a folder outside the packs root",
        )
    try:
        return root.open_child(target)
    except OSError as error:
        if error.errno in NOT_A_FOLDER and _is_link(root, target):
            raise PackNameError(
                PackNameProblem.NOT_FOUND,
                f"pack {_shown(name)} is a link to another link; "
                "an alias must name a pack folder itself",
            ) from None
        raise


def _is_link(folder: OpenFolder, name: str) -> bool:
    try:
        return stat.S_ISLNK(folder.lstat(name).st_mode)
    except OSError:
        return False


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class PackFile:
    """One character file's name (relative to the pack) and its bytes, as read."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class PackSnapshot:
    """Everything :func:`read_pack` saw: the files it read, what went wrong, and a key.

    ``content_key`` is a SHA-256 over the file names and bytes (and the read diagnostics), so
    two snapshots with the same key build the same registry.
    """

    files: tuple[PackFile, ...]
    diagnostics: tuple[Diagnostic, ...]
    content_key: str


def _read_open_file(fd: int, expected: int, limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes from ``fd``, asking first for ``expected + 1``.

    Asking for the size ``fstat`` reported (plus one, to notice growth) rather than for the
    limit keeps the buffer small: a limit-sized buffer per file was most of the cost of
    reading a large pack. A short read of a regular file means its end.
    """
    chunks: list[bytes] = []
    remaining = limit + 1
    want = min(remaining, expected + 1, _READ_CHUNK)
    while remaining > 0:
        chunk = os.read(fd, want)
        chunks.append(chunk)
        remaining -= len(chunk)
        if len(chunk) < want:
            break
        want = min(remaining, _READ_CHUNK)
    return b"".join(chunks)


def read_bounded(path: str, limit: int) -> bytes:
    """Read at most ``limit + 1`` bytes of the regular file at ``path``, never following a link.

    Reading one byte past ``limit`` is how a file that grew after it was checked is caught:
    the caller sees ``len(data) > limit`` without the file ever being read whole.
    Raises ``OSError`` (``ELOOP`` if ``path`` is a symlink, or when it is not a regular file).
    """
    fd = os.open(path, FILE_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError
        return _read_open_file(fd, info.st_size, limit)
    finally:
        os.close(fd)


def _reason(error: OSError) -> str:
    """An OS error's reason without its file name (which would be a server path)."""
    if isinstance(error, NotRegularFileError):
        return "it is not a regular file"
    return error.strerror or type(error).__name__


@dataclass(frozen=True, slots=True)
class _Candidate:
    name: str
    #: The listing said it is a regular file: no need to ``stat`` it before opening.
    listed_regular: bool


def _list_candidates(
    folder: OpenFolder, limits: LoadLimits
) -> tuple[list[_Candidate], list[Diagnostic], int]:
    """Character file names directly in ``folder`` after the sidecar rule, sorted.

    Returns the candidates, the CHR401 warnings for shadowed Python files, and the number of
    candidates seen (which is more than ``limits.max_files_per_pack`` when listing stopped
    early). Raises ``OSError`` if the folder cannot be listed.
    """
    by_name: dict[str, bool] = {}
    undecodable: list[Diagnostic] = []
    # More raw entries than this means more stems than the limit, whatever pairs up.
    raw_cap = 2 * limits.max_files_per_pack
    with folder.listing() as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or not name.endswith(CHARACTER_SUFFIXES):
                continue
            stem = name.rsplit(".", 1)[0]
            if not stem:
                continue
            # Sub-folders are not searched, whatever they are called.
            if entry.is_dir(follow_symlinks=False):
                continue
            if not _is_utf8(name):
                undecodable.append(_bad_name(name))
                continue
            by_name[name] = entry.is_file(follow_symlinks=False)
            if len(by_name) > raw_cap:
                break
    warnings = undecodable
    candidates: list[_Candidate] = []
    for name in sorted(by_name):
        if name.endswith(".py") and name[: -len(".py")] + ".toml" in by_name:
            sidecar = name[: -len(".py")] + ".toml"
            warnings.append(
                Diagnostic(
                    name,
                    0,
                    0,
                    "CHR401",
                    f"{name} is shadowed by {sidecar} and is not read; edit {sidecar} instead",
                )
            )
            continue
        candidates.append(_Candidate(name, by_name[name]))
    return candidates, warnings, len(candidates)


def _is_utf8(name: str) -> bool:
    """Whether a listed file name was valid UTF-8 (Python keeps other bytes as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_name(name: str) -> Diagnostic:
    """CHR003 for a file name that is not UTF-8, shown with its bad bytes escaped."""
    shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return Diagnostic(shown, 0, 0, "CHR003", f"file name '{shown}' is not valid UTF-8; rename it")


def _content_key(files: Iterable[PackFile], diagnostics: Iterable[Diagnostic]) -> str:
    """SHA-256 over length-prefixed names and bytes, so no two packs' inputs concatenate alike.

    Read diagnostics are part of the key because they are part of what the registry reports:
    a pack with an unreadable extra file is not the same pack as one without that file.
    """
    digest = hashlib.sha256(b"unmute-pack-v1\x00")

    def put(part: bytes) -> None:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)

    for pack_file in files:
        put(b"F")
        put(pack_file.name.encode("utf-8", "surrogateescape"))
        put(pack_file.data)
    for diagnostic in diagnostics:
        put(b"D")
        for text in (diagnostic.path, diagnostic.code, diagnostic.message):
            put(text.encode("utf-8", "surrogateescape"))
        put(f"{diagnostic.line}:{diagnostic.col}".encode())
    return digest.hexdigest()


def _snapshot(files: list[PackFile], diagnostics: list[Diagnostic]) -> PackSnapshot:
    diagnostics.sort(key=lambda d: (d.path != PACK_PATH, d.path, d.line, d.col, d.code))
    return PackSnapshot(tuple(files), tuple(diagnostics), _content_key(files, diagnostics))


@contextmanager
def _opened(pack: PackSource) -> Iterator[OpenFolder]:
    """``pack`` as an open folder: itself (left open), or the folder at a path (closed after)."""
    if isinstance(pack, OpenFolder):
        yield pack
        return
    with OpenFolder.open(pack) as folder:
        yield folder


def read_pack(pack: PackSource, limits: LoadLimits = DEFAULT_LIMITS) -> PackSnapshot:
    """Read every character file directly in the pack folder once, within ``limits``.

    This is the only function that reads a pack's files. ``pack`` is an open folder (from
    :func:`resolve_pack`), or a path, opened once here (``lint`` and tools); either way
    every file is reached relative to that one descriptor. It lists the folder once,
    applies the sidecar rule (``x.toml`` beside ``x.py`` is read and ``x.py`` is not,
    CHR401), and checks every limit before the work it protects: the file count before any
    file is opened (CHR403), each file's size before it is read (CHR001), the running total
    before the next read (CHR405). A symlink is read only if its relative path stays inside
    the pack folder (CHR004; see :func:`~unmute_server.characters.folders.open_file_inside`).
    Problems become diagnostics; this function does not raise for anything the file system
    does.
    """
    diagnostics: list[Diagnostic] = []
    files: list[PackFile] = []
    try:
        with _opened(pack) as folder:
            candidates, warnings, count = _list_candidates(folder, limits)
            diagnostics.extend(warnings)
            if count > limits.max_files_per_pack:
                diagnostics.append(_too_many_files(limits))
            else:
                _read_candidates(folder, candidates, limits, files, diagnostics)
    except OSError as error:
        diagnostics.append(
            Diagnostic(PACK_PATH, 0, 0, "CHR406", f"pack folder cannot be read: {_reason(error)}")
        )
    return _snapshot(files, diagnostics)


def _too_many_files(limits: LoadLimits) -> Diagnostic:
    return Diagnostic(
        PACK_PATH,
        0,
        0,
        "CHR403",
        f"pack has more than {limits.max_files_per_pack} character files (the limit); "
        "no file was read",
    )


def _read_candidates(
    folder: OpenFolder,
    candidates: list[_Candidate],
    limits: LoadLimits,
    files: list[PackFile],
    diagnostics: list[Diagnostic],
) -> None:
    """Read ``candidates`` into ``files`` in order; what goes wrong into ``diagnostics``."""
    total = 0
    for index, candidate in enumerate(candidates):
        name = candidate.name
        try:
            fd, info = open_file_inside(folder, name, listed_regular=candidate.listed_regular)
        except OutsideFolderError:
            diagnostics.append(
                Diagnostic(name, 0, 0, "CHR004", f"{name} is a symlink to a file outside the pack")
            )
            continue
        except OSError as error:
            diagnostics.append(_unreadable(name, error))
            continue
        size = info.st_size
        try:
            # Limits are checked on the size fstat reports, before a byte is read.
            if size > limits.max_file_bytes:
                diagnostics.append(file_too_large(name, size, limits))
                continue
            if total + size > limits.max_pack_bytes:
                diagnostics.append(_pack_too_large(name, len(candidates) - index, limits))
                break
            data = _read_open_file(fd, size, limits.max_file_bytes)
        except OSError as error:
            diagnostics.append(_unreadable(name, error))
            continue
        finally:
            os.close(fd)
        if len(data) > limits.max_file_bytes:
            diagnostics.append(file_too_large(name, len(data), limits, grew=True))
            continue
        if total + len(data) > limits.max_pack_bytes:
            diagnostics.append(_pack_too_large(name, len(candidates) - index, limits))
            break
        total += len(data)
        files.append(PackFile(name, data))


def _unreadable(name: str, error: OSError) -> Diagnostic:
    return Diagnostic(name, 0, 0, "CHR003", f"{name} cannot be read: {_reason(error)}")


def file_too_large(name: str, size: int, limits: LoadLimits, *, grew: bool = False) -> Diagnostic:
    """CHR001 for ``name`` with the size ``fstat`` gave, or "more than" the limit when the
    file grew past it while it was read (its real size is then unknown)."""
    shown = f"more than {limits.max_file_bytes}" if grew else str(size)
    return Diagnostic(
        name,
        0,
        0,
        "CHR001",
        f"{name} is {shown} bytes; the file size limit is {limits.max_file_bytes}",
    )


def _pack_too_large(name: str, unread: int, limits: LoadLimits) -> Diagnostic:
    return Diagnostic(
        PACK_PATH,
        0,
        0,
        "CHR405",
        f"pack is larger than the pack size limit of {limits.max_pack_bytes} bytes; "
        f"{unread} files from {name} on were not read",
    )


# --------------------------------------------------------------------------- fingerprint


@dataclass(frozen=True, slots=True)
class PackFingerprint:
    """What ``stat`` says about every entry :func:`read_pack` would look at.

    Any write to a file moves its ctime to the present, and no user can set a ctime, so two
    equal fingerprints mean no file changed in between, provided the first was taken once
    the files had settled: ``newest_change_ns`` (the latest ctime seen) lies before the
    current tick of the file system's clock. ``whole_seconds`` says every ctime was a whole
    second, the sign of a file system that keeps coarse timestamps.
    """

    entries: tuple[tuple[object, ...], ...]
    newest_change_ns: int
    whole_seconds: bool


def _stat_fields(info: os.stat_result) -> tuple[int, ...]:
    return (
        info.st_mode,
        info.st_ino,
        info.st_dev,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )


def pack_fingerprint(
    pack: PackSource, limits: LoadLimits = DEFAULT_LIMITS
) -> PackFingerprint | None:
    """Stat every character file entry in the pack folder without reading any of them.

    Covers the entries :func:`read_pack` considers (and sub-folders with a character file
    name, in case one turns into a file), and for a symlink its text and the stat of what
    :func:`read_pack` would open through it (or why it would not). ``None`` when the folder
    cannot be listed or has too many entries to be worth it.
    """
    raw_cap = 2 * limits.max_files_per_pack
    entries: list[tuple[object, ...]] = []
    changes: list[int] = []
    try:
        with _opened(pack) as folder, folder.listing() as listing:
            for entry in listing:
                name = entry.name
                if name.startswith(".") or not name.endswith(CHARACTER_SUFFIXES):
                    continue
                info = entry.stat(follow_symlinks=False)
                fields: tuple[object, ...] = (name, *_stat_fields(info))
                changes.append(info.st_ctime_ns)
                if stat.S_ISLNK(info.st_mode):
                    fields = (*fields, *_link_fields(folder, name, changes))
                entries.append(fields)
                if len(entries) > raw_cap:
                    return None
    except OSError:
        return None
    entries.sort(key=lambda fields: str(fields[0]))
    return PackFingerprint(
        tuple(entries),
        max(changes, default=0),
        all(change % 1_000_000_000 == 0 for change in changes),
    )


def _link_fields(folder: OpenFolder, name: str, changes: list[int]) -> tuple[object, ...]:
    """A symlinked entry's text and its target's stat, or why there is no target."""
    try:
        text = folder.readlink(name)
        target = stat_file_inside(folder, name)
    except OutsideFolderError:
        return ("outside",)
    except OSError as error:
        return ("unreadable", error.errno)
    changes.append(target.st_ctime_ns)
    return (text, *_stat_fields(target))


class PackChangedError(Exception):
    """The pack folder changed while it was read, on every try: no one version of its files
    could be read, and a registry mixing two versions is not built."""


#: How many times :func:`read_pack_whole` reads a pack that keeps changing before giving up.
READ_ATTEMPTS = 2


def read_pack_whole(
    folder: OpenFolder, limits: LoadLimits = DEFAULT_LIMITS
) -> tuple[PackSnapshot, PackFingerprint | None]:
    """:func:`read_pack`, with proof that no file changed while it was read.

    The folder's fingerprint is taken before and after the read; if they differ, a file
    was written, replaced, added or removed meanwhile, and the bytes read may mix two
    versions of the pack, so it is read again, up to :data:`READ_ATTEMPTS` times in all,
    then :class:`PackChangedError`. Returns the snapshot and the fingerprint it matches.
    (A file written twice within one tick of the file system's clock, the second time
    during the read, can keep its stat; the cache's settle time covers that gap for the
    fast path, and here it can only mix a file that was itself being rewritten.)
    """
    for _ in range(READ_ATTEMPTS):
        before = pack_fingerprint(folder, limits)
        snapshot = read_pack(folder, limits)
        after = pack_fingerprint(folder, limits)
        if before == after:
            return snapshot, after
    raise PackChangedError


# --------------------------------------------------------------------------- building


def build_registry(
    snapshot: PackSnapshot, pack_name: str, limits: LoadLimits = DEFAULT_LIMITS
) -> CharacterRegistry:
    """Parse every file of ``snapshot`` into one registry; pure, so it runs anywhere.

    Files are parsed in name order, and that order is the registry's order. A character
    name defined by a second file is CHR400 (the first file wins, even when it fails: a copy
    never stands in for a broken character, so which file speaks for a name does not
    depend on which files validate), one that looks like an
    earlier name is a CHR407 warning (``confusables``), one whose voice path an earlier
    character has is a CHR409 warning (``voice_paths``); characters beyond
    ``limits.max_characters_per_pack`` are CHR404 and not parsed; a pack left with no
    character is CHR402. The registry is returned even when empty: whether an empty or
    partly broken pack replaces a session's registry is the caller's decision.
    """
    from unmute_server.characters.registry import CharacterRegistry

    diagnostics = list(snapshot.diagnostics)
    characters: dict[str, Character] = {}
    defined_in: dict[str, str] = {}  # a name to the first file that states it
    broken_files: set[str] = set()  # files that state a name but failed
    names: list[NameSite] = []
    voice_sites: list[tuple[Character, str, Mapping[FieldPath, Position]]] = []
    files = sorted(snapshot.files, key=lambda pack_file: pack_file.name)
    for index, pack_file in enumerate(files):
        if len(characters) >= limits.max_characters_per_pack:
            diagnostics.append(
                Diagnostic(
                    PACK_PATH,
                    0,
                    0,
                    "CHR404",
                    f"pack has more than {limits.max_characters_per_pack} characters "
                    f"(the limit); {len(files) - index} files from {pack_file.name} on "
                    "were not loaded",
                )
            )
            break
        result = parse_character_file(pack_file.name, pack_file.data, limits)
        diagnostics.extend(result.diagnostics)
        character = result.character
        name = character.name if character is not None else result.declared_name
        if name is None:
            continue
        first = defined_in.get(name)
        if first is not None:
            broken = (
                ""
                if first not in broken_files
                else ", which has errors; fix that file or rename one of them"
            )
            diagnostics.append(
                Diagnostic(
                    pack_file.name,
                    0,
                    0,
                    "CHR400",
                    f"character {name!r} is already defined in {first}{broken}; "
                    "this file is not loaded",
                )
            )
            continue
        defined_in[name] = pack_file.name
        if character is None:
            broken_files.add(pack_file.name)
            continue
        characters[character.name] = character
        names.append(NameSite(character.name, pack_file.name, result.positions))
        voice_sites.append((character, pack_file.name, result.positions))
    diagnostics.extend(lookalike_warnings(names))
    diagnostics.extend(voice_path_warnings(voice_sites))
    if not characters:
        diagnostics.append(Diagnostic(PACK_PATH, 0, 0, "CHR402", "pack has no valid characters"))
    read_failures = {d.path for d in snapshot.diagnostics if d.code in FILE_READ_CODES}
    return CharacterRegistry(
        pack=pack_name,
        content_key=snapshot.content_key,
        characters=tuple(characters.values()),
        diagnostics=tuple(diagnostics),
        total_files=len(files) + len(read_failures),
    )


def load_pack(
    pack: PackSource, pack_name: str, limits: LoadLimits = DEFAULT_LIMITS
) -> CharacterRegistry:
    """Read and build in one call, with no cache: for lint, tools and tests."""
    return build_registry(read_pack(pack, limits), pack_name, limits)
