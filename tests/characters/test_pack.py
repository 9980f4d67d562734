"""Pack names, reading a pack folder (sidecars, limits, symlinks) and building its registry."""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Mapping
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from unmute_server.characters.diagnostics import Diagnostic
from unmute_server.characters.folders import OpenFolder
from unmute_server.characters.limits import DEFAULT_LIMITS, LoadLimits
from unmute_server.characters.pack import (
    PACK_PATH,
    PackFile,
    PackNameError,
    PackNameProblem,
    PackSnapshot,
    build_registry,
    load_pack,
    pack_fingerprint,
    read_bounded,
    read_pack,
    resolve_pack,
)


def character_toml(name: str, *, good: bool = False, text: str = "Hello there.") -> str:
    # Each character its own voice file (a shared one is a CHR409 warning).
    voice_file = f"voices/{zlib.crc32(name.encode()):08x}.wav"
    return tomli_w.dumps(
        {
            "name": name,
            "good": good,
            "voice": {"source_type": "file", "path_on_server": voice_file},
            "instructions": {"type": "constant", "text": text},
        }
    )


def character_py(name: str) -> str:
    return (
        f'"""{name}, in the restricted Python form."""\n'
        f"CHARACTER_NAME = {name!r}\n"
        'VOICE_SOURCE = {"source_type": "file", "path_on_server": "voices/p.wav"}\n'
        'INSTRUCTIONS = {"type": "constant", "text": "Hi."}\n'
    )


def codes(diagnostics: tuple[Diagnostic, ...]) -> list[str]:
    return [diagnostic.code for diagnostic in diagnostics]


def only(diagnostics: tuple[Diagnostic, ...], code: str) -> Diagnostic:
    found = [diagnostic for diagnostic in diagnostics if diagnostic.code == code]
    assert len(found) == 1, diagnostics
    return found[0]


def write_pack(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def read_chars() -> int:
    """Bytes this process has passed through read(2) and friends so far (Linux only)."""
    with open("/proc/self/io", encoding="ascii") as counters:
        for line in counters:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar line in /proc/self/io")


needs_read_chars = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="read_chars is a Linux /proc counter"
)


# --------------------------------------------------------------------------- resolve_pack


@pytest.fixture
def packs_root(tmp_path: Path) -> Path:
    root = tmp_path / "packs"
    (root / "default").mkdir(parents=True)
    (root / "other.pack-1_x").mkdir()
    return root


def is_folder(opened: OpenFolder, path: Path) -> bool:
    """Whether ``opened`` is the folder at ``path`` (by identity, as the kernel sees it)."""
    return os.path.samestat(os.fstat(opened.fd), os.stat(path))


def test_resolve_pack_opens_the_folder_directly_under_the_root(packs_root: Path) -> None:
    with resolve_pack(packs_root, "default") as default:
        assert is_folder(default, packs_root / "default")
    with OpenFolder.open(packs_root) as root, resolve_pack(root, "other.pack-1_x") as other:
        assert is_folder(other, packs_root / "other.pack-1_x")
    assert default.fd == other.fd == -1  # closed by their owners


def test_resolve_pack_accepts_a_root_that_is_itself_a_symlink(
    packs_root: Path, tmp_path: Path
) -> None:
    link = tmp_path / "root-link"
    link.symlink_to(packs_root)
    with resolve_pack(link, "default") as default:
        assert is_folder(default, packs_root / "default")


def test_the_folder_checked_is_the_folder_read_when_it_is_swapped_for_a_link_after(
    packs_root: Path, tmp_path: Path
) -> None:
    write_pack(packs_root / "p", {"inside.toml": character_toml("Inside")})
    outside = write_pack(tmp_path / "outside", {"secret.toml": character_toml("OutsideSecret")})
    with OpenFolder.open(packs_root) as root, resolve_pack(root, "p") as pack:
        (packs_root / "p").rename(tmp_path / "parked")
        (packs_root / "p").symlink_to(outside, target_is_directory=True)
        assert list(load_pack(pack, "p")) == ["Inside"]
        assert pack_fingerprint(pack) == pack_fingerprint(tmp_path / "parked")


@pytest.mark.parametrize(
    "name",
    [
        "..",
        ".",
        "../x",
        "a/../../b",
        "/etc",
        "",
        "x" * 1000,
        "x" * 129,
        "a\x00b",
        ".hidden",
        "C:\\x",
        "C:x",
        "default/",
        "a b",
        "default\n",
        "-rf",
        "caf\u00e9",
        "%2e%2e",
    ],
)
def test_hostile_pack_names_are_invalid_and_messages_hold_no_server_path(
    packs_root: Path, name: str
) -> None:
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, name)
    assert caught.value.problem is PackNameProblem.INVALID_NAME
    assert str(packs_root) not in caught.value.message
    assert str(caught.value) == caught.value.message
    assert len(caught.value.message) < 200


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One packs root for every hypothesis example, with an alias and two escaping links."""
    base = tmp_path_factory.mktemp("hypothesis")
    root = base / "packs"
    (root / "default").mkdir(parents=True)
    (base / "outside").mkdir()
    (root / "alias").symlink_to("default")
    (root / "escape").symlink_to(base / "outside")
    (root / "self").symlink_to(root)
    return root


@settings(max_examples=300)
@given(
    name=st.one_of(
        st.text(max_size=140),
        st.text(alphabet="./\\\x00~:aA0-_ ", max_size=12),
        st.sampled_from(["default", "alias", "escape", "self", "..", "default/..", "./default"]),
    )
)
def test_any_name_resolves_directly_under_the_root_or_is_refused(
    shared_root: Path, name: str
) -> None:
    outcome: OpenFolder | PackNameError
    try:
        outcome = resolve_pack(shared_root, name)
    except PackNameError as error:
        outcome = error
    if isinstance(outcome, PackNameError):
        assert isinstance(outcome.problem, PackNameProblem)
        assert str(shared_root) not in outcome.message
    else:
        with outcome:
            folders = [child for child in shared_root.iterdir() if not child.is_symlink()]
            assert [child.name for child in folders if is_folder(outcome, child)] == ["default"]


def test_pack_name_of_128_characters_is_allowed_and_then_looked_up(packs_root: Path) -> None:
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "x" * 128)
    assert caught.value.problem is PackNameProblem.NOT_FOUND


def test_invalid_name_message_names_the_pack_as_given(packs_root: Path) -> None:
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "../secret")
    assert "'../secret'" in caught.value.message


def test_missing_pack_is_not_found_without_the_server_path(packs_root: Path) -> None:
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "nope")
    assert caught.value.problem is PackNameProblem.NOT_FOUND
    assert "'nope'" in caught.value.message
    assert str(packs_root) not in caught.value.message


def test_a_file_under_the_root_is_not_found_as_a_pack(packs_root: Path) -> None:
    (packs_root / "notes.txt").write_text("not a pack")
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "notes.txt")
    assert caught.value.problem is PackNameProblem.NOT_FOUND


def test_missing_packs_root_makes_every_pack_not_found(tmp_path: Path) -> None:
    with pytest.raises(PackNameError) as caught:
        resolve_pack(tmp_path / "absent", "default")
    assert caught.value.problem is PackNameProblem.NOT_FOUND


def test_symlinked_pack_folder_leaving_the_root_is_refused(
    packs_root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (packs_root / "escape").symlink_to(outside)
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "escape")
    assert caught.value.problem is PackNameProblem.OUTSIDE_ROOT
    assert str(tmp_path) not in caught.value.message


def test_symlink_to_the_root_itself_is_refused(packs_root: Path) -> None:
    (packs_root / "self").symlink_to(packs_root)
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "self")
    assert caught.value.problem is PackNameProblem.OUTSIDE_ROOT


def test_symlink_to_a_nested_folder_of_another_pack_is_refused(packs_root: Path) -> None:
    nested = packs_root / "default" / "nested"
    nested.mkdir()
    (packs_root / "deep").symlink_to(nested)
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "deep")
    assert caught.value.problem is PackNameProblem.OUTSIDE_ROOT


@pytest.mark.parametrize("spelling", ["default", "./default", "default/", "ABSOLUTE", "UP"])
def test_symlink_to_a_sibling_pack_resolves_to_that_pack(packs_root: Path, spelling: str) -> None:
    text = {
        "ABSOLUTE": str(packs_root / "default"),
        "UP": f"../{packs_root.name}/default",
    }.get(spelling, spelling)
    (packs_root / "alias").symlink_to(text)
    with resolve_pack(packs_root, "alias") as alias:
        assert is_folder(alias, packs_root / "default")


def test_symlink_into_a_sibling_of_the_root_named_like_it_is_refused(
    packs_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "packs-x" / "p").mkdir(parents=True)
    (packs_root / "near").symlink_to(tmp_path / "packs-x" / "p")
    (packs_root / "near2").symlink_to(Path("..") / "packs-x" / "p")
    for name in ("near", "near2"):
        with pytest.raises(PackNameError) as caught:
            resolve_pack(packs_root, name)
        assert caught.value.problem is PackNameProblem.OUTSIDE_ROOT


def test_dangling_symlink_inside_the_root_is_not_found(packs_root: Path) -> None:
    (packs_root / "dangling").symlink_to("missing")
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "dangling")
    assert caught.value.problem is PackNameProblem.NOT_FOUND
    assert "does not exist" in caught.value.message


def test_dangling_symlink_out_of_the_root_is_outside_root_like_any_link_out(
    packs_root: Path, tmp_path: Path
) -> None:
    """Decided by the link's text alone, so the answer tells nothing of what exists outside."""
    (tmp_path / "exists").mkdir()
    (packs_root / "there").symlink_to(tmp_path / "exists")
    (packs_root / "gone").symlink_to(tmp_path / "missing")
    problems = []
    for name in ("there", "gone"):
        with pytest.raises(PackNameError) as caught:
            resolve_pack(packs_root, name)
        problems.append((caught.value.problem, caught.value.message.replace(name, "X")))
    assert problems[0] == problems[1]
    assert problems[0][0] is PackNameProblem.OUTSIDE_ROOT


def test_a_link_to_a_link_is_followed_one_level_only(packs_root: Path) -> None:
    (packs_root / "alias").symlink_to("default")
    (packs_root / "alias2").symlink_to("alias")
    (packs_root / "loop").symlink_to("loop")
    for name in ("alias2", "loop"):
        with pytest.raises(PackNameError) as caught:
            resolve_pack(packs_root, name)
        assert caught.value.problem is PackNameProblem.NOT_FOUND
        assert "link to another link" in caught.value.message


def test_a_link_to_a_file_under_the_root_is_not_found(packs_root: Path) -> None:
    (packs_root / "notes.txt").write_text("not a pack")
    (packs_root / "notes").symlink_to("notes.txt")
    with pytest.raises(PackNameError) as caught:
        resolve_pack(packs_root, "notes")
    assert caught.value.problem is PackNameProblem.NOT_FOUND
    assert "is not a folder" in caught.value.message


# --------------------------------------------------------------------------- read_pack


def test_reads_python_and_toml_files_in_name_order(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {"b.toml": character_toml("B"), "a.py": character_py("A"), "c.toml": character_toml("C")},
    )
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["a.py", "b.toml", "c.toml"]
    assert snapshot.files[1].data == (pack / "b.toml").read_bytes()
    assert snapshot.diagnostics == ()
    assert len(snapshot.content_key) == 64


def test_toml_sidecar_shadows_python_file_which_is_never_read(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {
            "charles.toml": character_toml("Charles"),
            # Invalid as a character file: reading it would produce CHR1xx diagnostics.
            "charles.py": "import os\nclass PromptGenerator:\n    pass\n",
        },
    )
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["charles.toml"]
    warning = only(snapshot.diagnostics, "CHR401")
    assert warning.path == "charles.py"
    assert "shadowed by charles.toml" in warning.message
    assert not warning.is_error
    registry = build_registry(snapshot, "p")
    assert list(registry) == ["Charles"]
    assert codes(registry.diagnostics) == ["CHR401"]
    assert registry.error_count == 0


def test_python_file_without_sidecar_is_read(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.py": character_py("A"), "b.toml": character_toml("B")})
    assert [pack_file.name for pack_file in read_pack(pack).files] == ["a.py", "b.toml"]


def test_subfolders_dotfiles_and_other_files_are_ignored(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {
            "a.toml": character_toml("A"),
            "README.md": "# notes",
            "voice.wav": b"RIFF\x00\x00",
            ".hidden.toml": character_toml("Hidden"),
            ".toml": character_toml("NoStem"),
            "upper.TOML": character_toml("Upper"),
            "a.toml.bak": "junk",
        },
    )
    write_pack(pack / "sub", {"s.toml": character_toml("Sub")})
    write_pack(pack / "__pycache__", {"x.py": "junk"})
    (pack / "folder.toml").mkdir()
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml"]
    assert snapshot.diagnostics == ()


def test_fifo_named_like_a_character_file_is_chr003_and_does_not_block(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    os.mkfifo(pack / "pipe.toml")
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml"]
    diagnostic = only(snapshot.diagnostics, "CHR003")
    assert diagnostic.path == "pipe.toml"
    assert "not a regular file" in diagnostic.message


def test_file_name_that_is_not_utf8_is_chr003_with_its_bytes_escaped(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    with open(os.path.join(os.fsencode(pack), b"bad\xff.toml"), "wb") as bad:
        bad.write(character_toml("Bad").encode())
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml"]
    diagnostic = only(snapshot.diagnostics, "CHR003")
    assert diagnostic.path == "bad\\xff.toml"
    # The message quotes the name exactly as the path shows it, escaped once.
    assert diagnostic.message == "file name 'bad\\xff.toml' is not valid UTF-8; rename it"
    str(diagnostic).encode("utf-8")


def test_symlink_loop_is_chr003(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    (pack / "loop.toml").symlink_to("loop2.toml")
    (pack / "loop2.toml").symlink_to("loop.toml")
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml"]
    assert [d.path for d in snapshot.diagnostics if d.code == "CHR003"] == [
        "loop.toml",
        "loop2.toml",
    ]


def test_more_files_than_the_limit_is_chr403_and_nothing_is_read(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {f"c{i}.toml": character_toml(f"C{i}") for i in range(4)})
    snapshot = read_pack(pack, LoadLimits(max_files_per_pack=3))
    assert snapshot.files == ()
    assert codes(snapshot.diagnostics) == ["CHR403"]
    assert snapshot.diagnostics[0].path == PACK_PATH
    assert "3" in snapshot.diagnostics[0].message


def test_file_count_limit_counts_a_sidecar_pair_once(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {
            "a.toml": character_toml("A"),
            "a.py": character_py("A"),
            "b.toml": character_toml("B"),
            "b.py": character_py("B"),
        },
    )
    snapshot = read_pack(pack, LoadLimits(max_files_per_pack=2))
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml", "b.toml"]
    assert codes(snapshot.diagnostics) == ["CHR401", "CHR401"]


def test_listing_stops_early_on_a_huge_folder_and_reports_chr403(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {f"c{i:03}.py": "x" for i in range(50)})
    snapshot = read_pack(pack, LoadLimits(max_files_per_pack=5))
    assert snapshot.files == ()
    assert codes(snapshot.diagnostics) == ["CHR403"]


def test_file_over_the_size_limit_is_chr001_and_the_rest_is_read(tmp_path: Path) -> None:
    big = character_toml("Big", text="x" * 500)
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A"), "big.toml": big})
    snapshot = read_pack(pack, LoadLimits(max_file_bytes=300))
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml"]
    diagnostic = only(snapshot.diagnostics, "CHR001")
    assert diagnostic.path == "big.toml"
    assert f"is {len(big.encode())} bytes" in diagnostic.message
    assert "300" in diagnostic.message


@needs_read_chars
def test_50_megabyte_file_is_chr001_without_being_read(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    with open(pack / "huge.toml", "wb") as huge:
        huge.truncate(50 * 1024 * 1024)
    before = read_chars()
    snapshot = read_pack(pack)
    read = read_chars() - before
    assert read < 1024 * 1024
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml"]
    assert only(snapshot.diagnostics, "CHR001").path == "huge.toml"


def test_read_bounded_reads_one_byte_past_the_limit_and_no_more(tmp_path: Path) -> None:
    path = tmp_path / "grown.toml"
    path.write_bytes(b"y" * 10_000)
    assert read_bounded(str(path), 100) == b"y" * 101
    assert read_bounded(str(path), 20_000) == b"y" * 10_000


def test_read_bounded_refuses_to_follow_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target.toml"
    target.write_text("x")
    link = tmp_path / "link.toml"
    link.symlink_to(target)
    with pytest.raises(OSError, match=r"loop|symbolic"):
        read_bounded(str(link), 100)


def test_pack_over_the_total_size_limit_is_chr405_and_reading_stops(tmp_path: Path) -> None:
    files = {f"c{i}.toml": character_toml(f"C{i}") for i in range(5)}
    pack = write_pack(tmp_path / "p", files)
    size = len(files["c0.toml"].encode())
    snapshot = read_pack(pack, LoadLimits(max_pack_bytes=2 * size + size // 2))
    assert [pack_file.name for pack_file in snapshot.files] == ["c0.toml", "c1.toml"]
    diagnostic = only(snapshot.diagnostics, "CHR405")
    assert diagnostic.path == PACK_PATH
    assert "3 files from c2.toml on were not read" in diagnostic.message


def test_symlink_to_a_file_inside_the_pack_is_read(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    write_pack(pack / "shared", {"b.txt": character_toml("B")})
    (pack / "b.toml").symlink_to(Path("shared") / "b.txt")
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml", "b.toml"]
    assert snapshot.files[1].data == character_toml("B").encode()


def test_symlink_leaving_the_pack_is_chr004_and_not_read(tmp_path: Path) -> None:
    outside = write_pack(tmp_path / "outside", {"evil.toml": character_toml("OUTSIDE_MARKER")})
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    (pack / "evil.toml").symlink_to(outside / "evil.toml")
    snapshot = read_pack(pack)
    assert [pack_file.name for pack_file in snapshot.files] == ["a.toml"]
    diagnostic = only(snapshot.diagnostics, "CHR004")
    assert diagnostic.path == "evil.toml"
    assert str(tmp_path) not in diagnostic.message


def test_dangling_symlink_is_chr003(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    (pack / "gone.toml").symlink_to("missing.txt")
    snapshot = read_pack(pack)
    diagnostic = only(snapshot.diagnostics, "CHR003")
    assert diagnostic.path == "gone.toml"
    assert str(tmp_path) not in diagnostic.message


@pytest.mark.parametrize("make", ["missing", "file"])
def test_pack_folder_that_cannot_be_listed_is_chr406(tmp_path: Path, make: str) -> None:
    pack = tmp_path / "p"
    if make == "file":
        pack.write_text("not a folder")
    snapshot = read_pack(pack)
    assert snapshot.files == ()
    diagnostic = only(snapshot.diagnostics, "CHR406")
    assert diagnostic.path == PACK_PATH
    assert str(tmp_path) not in diagnostic.message


def test_diagnostic_paths_are_file_names_relative_to_the_pack(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {"a.toml": "name = [", "b.py": "import os\n", "c.toml": character_toml("C", text="")},
    )
    registry = load_pack(pack, "p")
    paths = {diagnostic.path for diagnostic in registry.diagnostics}
    assert paths == {"a.toml", "b.py", "c.toml", PACK_PATH}
    for diagnostic in registry.diagnostics:
        assert str(tmp_path) not in str(diagnostic)


# --------------------------------------------------------------------------- content key


def test_same_names_and_bytes_in_two_folders_have_one_content_key(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"a.toml": character_toml("A"), "b.py": character_py("B")}
    first = read_pack(write_pack(tmp_path / "one", files))
    second = read_pack(write_pack(tmp_path / "two", files))
    assert first.content_key == second.content_key


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"a.toml": "x"}, {"a.toml": "y"}),
        ({"a.toml": "x"}, {"b.toml": "x"}),
        ({"a.toml": "x"}, {"a.toml": "x", "b.toml": ""}),
        # Naive concatenation of names and bytes would make these two equal.
        ({"a.py": "1", "b.py": "2"}, {"a.py": "1b.py2"}),
    ],
)
def test_different_names_or_bytes_have_different_content_keys(
    tmp_path: Path, left: dict[str, str | bytes], right: dict[str, str | bytes]
) -> None:
    assert (
        read_pack(write_pack(tmp_path / "left", left)).content_key
        != read_pack(write_pack(tmp_path / "right", right)).content_key
    )


def test_read_diagnostics_are_part_of_the_content_key(tmp_path: Path) -> None:
    plain = write_pack(tmp_path / "plain", {"a.toml": character_toml("A")})
    with_dangling = write_pack(tmp_path / "dangling", {"a.toml": character_toml("A")})
    (with_dangling / "b.toml").symlink_to("missing")
    assert read_pack(plain).content_key != read_pack(with_dangling).content_key


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_changes_when_a_file_is_rewritten_with_the_same_size(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    before = pack_fingerprint(pack)
    (pack / "a.toml").write_text(character_toml("B"))
    stamp = os.stat(pack / "a.toml").st_mtime_ns
    os.utime(pack / "a.toml", ns=(stamp, stamp + 1_000))
    assert pack_fingerprint(pack) != before


def test_fingerprint_follows_symlink_targets(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"shared.txt": "x"})
    (pack / "a.toml").symlink_to("shared.txt")
    before = pack_fingerprint(pack)
    assert before is not None
    (pack / "shared.txt").write_text("y")
    stamp = os.stat(pack / "shared.txt").st_mtime_ns
    os.utime(pack / "shared.txt", ns=(stamp, stamp + 1_000))
    assert pack_fingerprint(pack) != before


def test_fingerprint_is_none_for_a_folder_that_cannot_be_listed(tmp_path: Path) -> None:
    assert pack_fingerprint(tmp_path / "missing") is None


# --------------------------------------------------------------------------- build_registry


def test_registry_holds_characters_in_file_name_order(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {
            "b.toml": character_toml("Zed"),
            "a.toml": character_toml("Amy"),
            "c.py": character_py("Cy"),
        },
    )
    registry = load_pack(pack, "my-pack")
    assert list(registry) == ["Amy", "Zed", "Cy"]
    assert [character.name for character in registry.characters] == ["Amy", "Zed", "Cy"]
    assert registry.pack == "my-pack"
    assert registry.total_files == 3
    assert registry.diagnostics == ()


def test_duplicate_character_name_is_chr400_naming_the_first_file(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {
            "a.toml": character_toml("Same", text="first"),
            "b.toml": character_toml("Same", text="second"),
        },
    )
    registry = load_pack(pack, "p")
    assert list(registry) == ["Same"]
    assert registry["Same"].instructions.text == "first"  # type: ignore[union-attr]
    diagnostic = only(registry.diagnostics, "CHR400")
    assert diagnostic.path == "b.toml"
    assert "a.toml" in diagnostic.message
    assert "'Same'" in diagnostic.message


def test_a_broken_file_keeps_its_name_so_a_later_copy_does_not_take_the_character(
    tmp_path: Path,
) -> None:
    """The first file (in name order) that names a character owns the name even while it
    fails validation: a copy in a later file is CHR400 and not loaded, so fixing or breaking
    a.toml never silently swaps which file speaks as 'Same'."""
    broken = character_toml("Same", text="first").replace('type = "constant"', 'type = "x"')
    pack = write_pack(
        tmp_path / "p",
        {
            "a.toml": broken,
            "b.toml": character_toml("Same", text="second"),
            "c.toml": character_toml("Other"),
        },
    )
    registry = load_pack(pack, "p")
    assert list(registry) == ["Other"]
    diagnostic = only(registry.diagnostics, "CHR400")
    assert diagnostic.path == "b.toml"
    assert diagnostic.message == (
        "character 'Same' is already defined in a.toml, which has errors; fix that file or "
        "rename one of them; this file is not loaded"
    )


def test_a_broken_python_file_keeps_its_name_too(tmp_path: Path) -> None:
    broken = character_py("Same").replace('"constant"', '"konstant"')
    pack = write_pack(
        tmp_path / "p", {"a.py": broken, "b.toml": character_toml("Same", text="second")}
    )
    registry = load_pack(pack, "p")
    assert list(registry) == []
    assert only(registry.diagnostics, "CHR400").path == "b.toml"


def test_a_file_whose_name_cannot_be_read_does_not_hold_one(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {"a.toml": 'name = "Same\n', "b.toml": character_toml("Same", text="second")},
    )
    registry = load_pack(pack, "p")
    assert list(registry) == ["Same"]
    assert "CHR400" not in codes(registry.diagnostics)


#: "Papa" spelt with Cyrillic letters only: one script, so only the look-alike check sees it.
CYRILLIC_PAPA = "\u0420\u0430\u0440\u0430"


def test_names_that_look_alike_are_chr407_warnings_at_the_later_name_naming_the_first(
    tmp_path: Path,
) -> None:
    """A pack must not show a user one character and load another that looks the same."""
    pack = write_pack(
        tmp_path / "p",
        {"papa.toml": character_toml("Papa"), "rapa.py": character_py(CYRILLIC_PAPA)},
    )
    registry = load_pack(pack, "p")
    assert list(registry) == ["Papa", CYRILLIC_PAPA]  # a warning: both still load
    assert registry.diagnostics == (
        Diagnostic(
            "rapa.py",
            2,
            18,
            "CHR407",
            f"character name {CYRILLIC_PAPA!r} looks like 'Papa' in papa.toml "
            "(U+0420 CYRILLIC CAPITAL LETTER ER, U+0430 CYRILLIC SMALL LETTER A, "
            "U+0440 CYRILLIC SMALL LETTER ER); rename one of them",
        ),
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Ivy", "lvy"),  # capital I and small l: one Latin script, still alike
        ("Arno", "Amo"),  # 'rn' and 'm'
        ("Nova", "N\u043eva"),  # a Cyrillic o
        ("Zoe", "Zo\u0435"),  # a Cyrillic e
        ("Ana", "\u0391na"),  # a Greek capital alpha
    ],
)
def test_tr39_lookalikes_are_warned_once_on_the_later_file(
    tmp_path: Path, first: str, second: str
) -> None:
    pack = write_pack(
        tmp_path / "p", {"a.toml": character_toml(first), "b.toml": character_toml(second)}
    )
    warning = only(load_pack(pack, "p").diagnostics, "CHR407")
    assert (warning.path, warning.line, warning.col) == ("b.toml", 1, 1)
    assert f"looks like {first!r} in a.toml" in warning.message


@pytest.mark.parametrize(
    "names",
    [
        ("Nova", "nova", "NOVA"),  # case tells them apart
        ("Ines", "In\u00e8s"),  # an accent tells them apart
        ("Guide", "Guido", "Pip", "Pippa"),
        ("\u6771\u4eac\u30bf\u30ef\u30fc", "\ud55c\uad6d\u8a9e"),  # Japanese, Korean
    ],
)
def test_names_that_differ_visibly_give_no_warning(tmp_path: Path, names: tuple[str, ...]) -> None:
    pack = write_pack(
        tmp_path / "p", {f"c{index}.toml": character_toml(name) for index, name in enumerate(names)}
    )
    assert load_pack(pack, "p").diagnostics == ()


def test_more_characters_than_the_limit_is_chr404(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {f"c{i}.toml": character_toml(f"C{i}") for i in range(5)})
    registry = load_pack(pack, "p", LoadLimits(max_characters_per_pack=3))
    assert list(registry) == ["C0", "C1", "C2"]
    diagnostic = only(registry.diagnostics, "CHR404")
    assert diagnostic.path == PACK_PATH
    assert "2 files from c3.toml on" in diagnostic.message


def test_empty_pack_is_chr402_and_an_empty_registry_is_returned(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"README.md": "nothing here"})
    registry = load_pack(pack, "p")
    assert len(registry) == 0
    assert registry.total_files == 0
    assert codes(registry.diagnostics) == ["CHR402"]
    assert registry.diagnostics[0].path == PACK_PATH


def test_pack_of_only_bad_files_is_chr402_with_each_file_reported(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": "name = [", "b.toml": b"\xff\xfe"})
    registry = load_pack(pack, "p")
    assert len(registry) == 0
    assert set(codes(registry.diagnostics)) == {"CHR200", "CHR002", "CHR402"}
    assert registry.total_files == 2
    assert registry.error_count == 3


def test_bad_files_are_reported_and_good_ones_still_load(tmp_path: Path) -> None:
    pack = write_pack(
        tmp_path / "p",
        {"a.toml": character_toml("A"), "b.toml": "name = [", "empty.toml": ""},
    )
    registry = load_pack(pack, "p")
    assert list(registry) == ["A"]
    assert set(codes(registry.diagnostics)) == {"CHR200", "CHR007"}
    assert registry.total_files == 3


def test_total_files_counts_files_that_could_not_be_read(tmp_path: Path) -> None:
    pack = write_pack(tmp_path / "p", {"a.toml": character_toml("A")})
    (pack / "gone.toml").symlink_to("missing")
    registry = load_pack(pack, "p")
    assert registry.total_files == 2
    assert registry.loaded_count == 1


def test_build_registry_is_pure_over_a_hand_made_snapshot() -> None:
    snapshot = PackSnapshot(
        files=(
            PackFile("b.toml", character_toml("B").encode()),
            PackFile("a.toml", character_toml("A", good=True).encode()),
        ),
        diagnostics=(),
        content_key="ab" * 32,
    )
    first = build_registry(snapshot, "made", DEFAULT_LIMITS)
    second = build_registry(snapshot, "made", DEFAULT_LIMITS)
    assert list(first) == ["A", "B"]
    assert first is not second
    assert first.characters == second.characters
    assert first.content_key == "ab" * 32
    assert first.version == "ab" * 6
