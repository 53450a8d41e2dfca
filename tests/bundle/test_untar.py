"""The self-check's extractor puts on disk what tarfile's data filter would, and refuses the rest."""

import gzip
import hashlib
import io
import os
import tarfile
import zlib

import pytest

from flyte_jupyter.bundle import BundleRequest, make_bundle
from flyte_jupyter.bundle.untar import ArchiveFormatError, extract_archive


def noise(size, seed=0):
    return hashlib.shake_256(str(seed).encode()).digest(size)


def snapshot(root):
    """{relative bytes path: (content or None for a folder, mode, mtime)} of a tree."""
    out = {}
    base = os.fsencode(root)
    for folder, dirs, files in os.walk(base):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            content = None
            if name in files:
                with open(path, "rb") as handle:
                    content = handle.read()
            mode = st.st_mode & 0o7777 if content is not None else None
            out[os.path.relpath(path, base)] = (content, mode, st.st_mtime if content else None)
    return out


def test_a_bundle_extracts_as_tarfile_data_filter_extracts_it(tree, tmp_path):
    files = {f"pkg/sub{i % 3}/m{i}.py": f"v = {i}\n" * i for i in range(40)}
    files["big.bin"] = noise(3 * 1024 * 1024 + 17)  # several output chunks and blocks
    files["empty.py"] = ""
    files["long/" + "n" * 150 + ".py"] = "x = 1\n"
    files["pkg/é.py"] = "y = 2\n"
    files["sp ace/new\nline.py"] = "z = 3\n"
    root = tree(files)
    os.chmod(root / "pkg/sub0/m0.py", 0o755)
    with open(os.fsencode(root) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"not utf-8 name")
    bundle = make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=tmp_path / "c")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    assert extract_archive(bundle.path, ours) == len(bundle.entries)
    with tarfile.open(bundle.path, "r:gz") as tar:
        tar.extractall(theirs, filter="data")
    assert snapshot(ours) == snapshot(theirs)
    assert (ours / "pkg/sub0/m0.py").stat().st_mode & 0o777 == 0o755
    assert (ours / "big.bin").read_bytes() == files["big.bin"]


def archive(tmp_path, members, *, name="a.tar.gz", tail=b""):
    """A gzip'd PAX tar of ``members``: (TarInfo, data or None)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path = tmp_path / name
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0) + tail)
    return path


def regular(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def special(name, kind, target=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ([regular("/etc/evil")], "absolute"),
        ([regular("../evil")], "leaves the folder"),
        ([regular("a/../../evil")], "leaves the folder"),
        ([special("link", tarfile.SYMTYPE, "/etc/passwd")], "regular files only"),
        ([special("hard", tarfile.LNKTYPE, "a")], "regular files only"),
        ([special("dir", tarfile.DIRTYPE)], "regular files only"),
        ([special("fifo", tarfile.FIFOTYPE)], "regular files only"),
    ],
)
def test_what_a_bundle_never_holds_is_refused(tmp_path, members, match):
    path = archive(tmp_path, members)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ArchiveFormatError, match=match):
        extract_archive(path, dest)
    assert not (tmp_path / "evil").exists()


def test_a_name_given_twice_is_refused(tmp_path):
    path = archive(tmp_path, [regular("a.py"), regular("a.py")])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(FileExistsError):
        extract_archive(path, dest)


@pytest.mark.parametrize("damage", ["truncated", "trailing", "checksum", "not gzip", "crc"])
def test_a_damaged_archive_is_refused(tmp_path, damage):
    path = archive(tmp_path, [regular(f"m{i}.py", noise(2000, i)) for i in range(5)])
    data = path.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "trailing":
        data += b"junk"
    elif damage == "checksum":
        tar = bytearray(gzip.decompress(data))
        tar[0] ^= 1  # the first member's name: its header checksum no longer adds up
        data = gzip.compress(bytes(tar), mtime=0)
    elif damage == "not gzip":
        data = b"junk" * 100
    else:
        data = data[:-8] + bytes([data[-8] ^ 1]) + data[-7:]  # the CRC-32 in the trailer
    path.write_bytes(data)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises((ArchiveFormatError, zlib.error)):
        extract_archive(path, dest)


def test_an_archive_cut_anywhere_is_refused(tmp_path):
    members = [regular(f"d{i % 3}/m{i}.py", noise(3000 + 977 * i, i) * 2) for i in range(40)]
    path = archive(tmp_path, members)
    data = path.read_bytes()
    for cut in [1, 10, 11, 100, *range(1000, len(data), len(data) // 23), len(data) - 1]:
        path.write_bytes(data[:cut])
        dest = tmp_path / f"out{cut}"
        dest.mkdir()
        with pytest.raises((ArchiveFormatError, zlib.error)):
            extract_archive(path, dest)


def test_a_huge_pax_header_is_not_read(tmp_path):
    info, data = regular("a.py")
    info.pax_headers = {"comment": "x" * (2 << 20)}
    path = archive(tmp_path, [(info, data)])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ArchiveFormatError, match="pax header of"):
        extract_archive(path, dest)


def test_a_small_tree_is_extracted_in_a_ram_folder_and_a_big_one_is_not(tmp_path, monkeypatch):
    from flyte_jupyter.bundle import untar

    monkeypatch.setattr(untar, "RAM_FOLDERS", (str(tmp_path / "missing"), str(tmp_path)))
    assert untar.scratch_parent(10, 1000) == str(tmp_path)
    assert untar.scratch_parent(1, untar.RAM_TREE_MAX) is None  # too big for any RAM folder
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    monkeypatch.setattr(untar, "RAM_TREE_MAX", 2 * free)
    assert untar.scratch_parent(0, free // 2) is None  # more than a quarter of its free space


def test_the_self_check_extracts_where_scratch_parent_says(tree, cache, tmp_path, monkeypatch):
    from flyte_jupyter.bundle import selfcheck, untar
    from flyte_jupyter.capture import CellLog, build_module

    ram = tmp_path / "ram"
    ram.mkdir()
    monkeypatch.setattr(untar, "RAM_FOLDERS", (str(ram),))
    seen = []
    real = selfcheck.extract_archive

    def spy(archive, dest):
        seen.append(dest.parent)
        return real(archive, dest)

    monkeypatch.setattr(selfcheck, "extract_archive", spy)
    root = tree({"helper.py": "X = 1\n"})
    cell = "import helper\nfrom flytekit import task\n@task\ndef t() -> int:\n    return helper.X\n"
    module = build_module(CellLog().add(None, cell).records, ["t"], "nb_t")
    bundle = make_bundle(BundleRequest(root_dir=root, module=module), cache_dir=cache)
    selfcheck.self_check(bundle, module, cache_dir=cache, loaded_modules={})
    assert seen == [ram]
    assert list(ram.iterdir()) == []  # the tree is gone once checked
