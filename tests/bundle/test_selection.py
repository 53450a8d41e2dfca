"""Which files ship, which do not, and why."""

import os

import pytest

from flyte_jupyter.bundle import BundleLimits, BundleRequest, make_bundle
from flyte_jupyter.bundle.ignore import OUTPUT_MARKER, mark_output_folder
from flyte_jupyter.bundle.model import PrivateDir
from flyte_jupyter.capture import CellLog, build_module
from flyte_jupyter.errors import (
    BundleError,
    BundleTooLargeError,
    FileChangedError,
    IgnoredModuleError,
)

JUNK = {
    "main.py": "x = 1\n",
    ".git/HEAD": "ref\n",
    "__pycache__/main.cpython-311.pyc": b"\x00",
    "pkg/__pycache__/m.pyc": b"\x00",
    ".venv/lib/site.py": "",
    ".ipynb_checkpoints/nb-checkpoint.ipynb": "{}",
    "build/lib/x.py": "",
    ".env": "TOKEN=1\n",
    ".env.example": "TOKEN=\n",
    "keys/id_rsa": "-----BEGIN",
    "certs/server.pem": "-----BEGIN",
    ".aws/credentials": "[default]\n",
    "run.log": "log\n",
    "notes/.flyteignore": "*.md\n",
    "notes/a.md": "# a\n",
    "notes/b.txt": "b\n",
    ".gitignore": "# logs\n*.log\n",
}


def excluded_of(bundle):
    return {e.path: e.reason for e in bundle.excluded}


def test_all_applies_standard_gitignore_flyteignore_and_secret_rules(tree, cache):
    b = make_bundle(BundleRequest(root_dir=tree(JUNK), copy_style="all"), cache_dir=cache)
    assert b.files == [".env.example", ".gitignore", "main.py", "notes/.flyteignore", "notes/b.txt"]
    why = excluded_of(b)
    assert why[".git/"] == "standard ignore (.git/)"
    assert why[".venv/"] == "standard ignore (.venv/)"
    assert why["run.log"] == "ignored by .gitignore:2 (*.log)"
    assert why["notes/a.md"] == "ignored by notes/.flyteignore:1 (*.md)"
    for secret in (".env", "keys/id_rsa", "certs/server.pem", ".aws/credentials"):
        assert "looks like a secret" in why[secret]


CREDENTIAL_FILES = {
    ".envrc": ".envrc",
    ".streamlit/secrets.toml": ".streamlit/secrets.toml",
    "service_account.json": "*service[-_]account*.json",
    "gcp/my-service-account-key.json": "*service[-_]account*.json",
    "client_secret_1234.apps.googleusercontent.com.json": "client_secret*.json",
    ".s3cfg": ".s3cfg",
    ".boto": ".boto",
    ".vault-token": ".vault-token",
    "infra/terraform.tfstate": "*.tfstate",
    "infra/terraform.tfstate.backup": "*.tfstate.backup",
    "putty.ppk": "*.ppk",
    ".ENV": ".env",
    "keys/ID_RSA": "id_rsa*",
    ".AWS/Credentials": ".aws/credentials",
}


def test_all_keeps_out_credential_files_of_any_case_and_names_the_rule(tree, cache):
    spec = dict.fromkeys(CREDENTIAL_FILES, "hunter2\n") | {
        "main.py": "x = 1\n",
        ".env.EXAMPLE": "TOKEN=\n",
        "accounts.json": "{}",
    }
    b = make_bundle(BundleRequest(root_dir=tree(spec), copy_style="all"), cache_dir=cache)
    assert b.files == [".env.EXAMPLE", "accounts.json", "main.py"]
    why = excluded_of(b)
    for path, rule in CREDENTIAL_FILES.items():
        assert why[path] == (
            f"looks like a secret (rule {rule}); add it to include_secrets to ship it"
        ), path


def test_secrets_ship_when_explicitly_included(tree, cache):
    request = BundleRequest(root_dir=tree(JUNK), copy_style="all", include=(".env",))
    b = make_bundle(request, cache_dir=cache)
    assert ".env" in b.files
    assert "keys/id_rsa" not in b.files


def module_for(source, name="nb_t", target="t"):
    log = CellLog().add(None, source)
    return build_module(log.records, [target], name)


def test_auto_ships_loaded_and_lazily_imported_local_modules_only(tree, cache):
    root = tree(
        {
            "helpers/__init__.py": "",
            "helpers/util.py": "from . import deep\n",
            "helpers/deep.py": "",
            "lazy.py": "",
            "unused.py": "",
            "data.csv": "1\n",
        }
    )
    module = module_for("from helpers import util\ndef t():\n    import lazy\n    return util\n")
    loaded = {"helpers.util": str(root / "helpers/util.py"), "json": "/usr/lib/python3/json.py"}
    request = BundleRequest(root_dir=root, module=module, loaded_modules=loaded)
    b = make_bundle(request, cache_dir=cache)
    assert b.files == [
        "helpers/__init__.py",
        "helpers/deep.py",
        "helpers/util.py",
        "lazy.py",
        "nb_t.py",
    ]
    assert b.module == "nb_t"
    assert b.source == module.source


def test_auto_refuses_a_needed_module_excluded_by_a_rule(tree, cache):
    root = tree({"secret_stuff.py": "", ".flyteignore": "secret_stuff.py\n"})
    module = module_for("def t():\n    import secret_stuff\n")
    with pytest.raises(IgnoredModuleError, match=r"secret_stuff\.py.*\.flyteignore:1"):
        make_bundle(BundleRequest(root_dir=root, module=module), cache_dir=cache)


def test_bundle_root_is_first_folder_without_init(tree, cache):
    root = tree({"pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/m.py": ""})
    b = make_bundle(BundleRequest(root_dir=root / "pkg/sub", copy_style="all"), cache_dir=cache)
    assert b.root == root
    assert b.files == ["pkg/sub/__init__.py", "pkg/sub/m.py"]


def test_generated_module_name_clash_is_an_error(tree, cache):
    root = tree({"nb_t.py": "x = 1\n"})
    with pytest.raises(BundleError, match="has the name of the module generated"):
        make_bundle(
            BundleRequest(root_dir=root, module=module_for("def t(): pass\n")), cache_dir=cache
        )


def test_symlinks_inside_are_followed_escaping_ones_reported(tree, cache):
    outside = tree({"secret.py": "x = 1\n"}, "outside")
    root = tree({"real/m.py": "y = 2\n"})
    os.symlink(root / "real", root / "alias")
    os.symlink(outside / "secret.py", root / "escape.py")
    os.symlink(root / "nowhere", root / "broken.py")
    os.symlink(root, root / "real/loop")
    b = make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)
    assert b.files == ["alias/m.py", "real/m.py"]
    why = excluded_of(b)
    assert why["escape.py"].startswith("symlink escapes root_dir")
    assert why["broken.py"].startswith("broken symlink")


@pytest.mark.parametrize("bad", ["missing", "file.txt"])
def test_bad_root_dir(tree, cache, bad):
    root = tree({"file.txt": "x"})
    with pytest.raises(BundleError, match=r"root_dir .* (does not exist|is not a folder)"):
        make_bundle(BundleRequest(root_dir=root / bad, copy_style="all"), cache_dir=cache)


def test_size_limits_warn_then_refuse_naming_largest_files(tree, cache):
    root = tree({"big.bin": b"x" * 5000, "small.py": "x"})
    warn = BundleLimits(warn_bytes=1000, max_bytes=10_000)
    b = make_bundle(BundleRequest(root_dir=root, copy_style="all", limits=warn), cache_dir=cache)
    assert "big.bin" in b.warnings[0]
    refuse = BundleLimits(warn_bytes=1000, max_bytes=2000)
    other = cache.parent / "other-cache"
    with pytest.raises(BundleTooLargeError, match=r"over the limit.*big\.bin"):
        make_bundle(BundleRequest(root_dir=root, copy_style="all", limits=refuse), cache_dir=other)
    assert not list((other / "bundles").glob("*"))


def test_a_file_that_keeps_changing_never_yields_a_lying_archive(tree, cache, monkeypatch):
    from flyte_jupyter.bundle import tarball

    root = tree({"a.py": "a = 1\n", "b.py": "b = 2\n"})
    original = tarball._readinto

    def grow(fd, view):
        got = original(fd, view)
        with open(root / "a.py", "a") as f:
            f.write("more = 1\n")
        return got

    monkeypatch.setattr(tarball, "_readinto", grow)
    with pytest.raises(FileChangedError, match=r"a\.py changed while it was being bundled"):
        make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)
    assert not list((cache / "bundles").glob("*"))


def test_a_file_that_vanishes_is_reported(tree, cache, monkeypatch):
    from flyte_jupyter.bundle import walk

    root = tree({"a.py": "a = 1\n"})
    original = walk.select

    def select_then_delete(request):
        (root / "a.py").write_text("a = 1\n")
        selection = original(request)
        (root / "a.py").unlink()
        return selection

    monkeypatch.setattr("flyte_jupyter.bundle.build.select", select_then_delete)
    with pytest.raises(FileChangedError, match="vanished"):
        make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)


def test_copy_style_none_makes_no_bundle(tree, cache):
    root = tree({"a.py": ""})
    with pytest.raises(BundleError, match="copy style 'none'"):
        make_bundle(BundleRequest(root_dir=root, copy_style="none"), cache_dir=cache)


def test_a_file_that_shrinks_while_read_is_reported(tree, cache, monkeypatch):
    from flyte_jupyter.bundle import tarball

    root = tree({"a.py": "a = 1\n" * 1000})
    original = tarball._readinto

    def shrink(fd, view):
        os.truncate(root / "a.py", 10)
        return original(fd, view)

    monkeypatch.setattr(tarball, "_readinto", shrink)
    with pytest.raises(FileChangedError, match=r"a\.py changed while it was being bundled"):
        make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)
    assert not list((cache / "bundles").glob("*"))


def test_excluded_paths_are_named_from_the_bundle_root_like_files(tree, cache):
    root = tree({"pkg/__init__.py": "", "pkg/m.py": "", "pkg/.env": "T=1\n", "pkg/build/x.py": ""})
    b = make_bundle(BundleRequest(root_dir=root / "pkg", copy_style="all"), cache_dir=cache)
    assert b.files == ["pkg/__init__.py", "pkg/m.py"]
    assert sorted(excluded_of(b)) == ["pkg/.env", "pkg/build/"]


def test_flyte_jupyter_home_under_root_dir_never_ships(tree, cache):
    root = tree(
        {
            "main.py": "x = 1\n",
            "state/home/store/fastabc.tar.gz": b"\x1f\x8b",
            "state/keep.txt": "k",
        }
    )
    home = PrivateDir.home(root / "state/home")
    request = BundleRequest(root_dir=root, copy_style="all", private_dirs=(home,))
    b = make_bundle(request, cache_dir=cache)
    assert b.files == ["main.py", "state/keep.txt"]
    assert "FLYTE_JUPYTER_HOME" in {e.path: e.reason for e in b.excluded}["state/home/"]


def test_a_local_store_and_marked_output_folders_never_ship(tree, cache):
    root = tree({"main.py": "x = 1\n", "out/0_nb.t_1.pb": b"pb", "my store/f.tar.gz": b"gz"})
    mark_output_folder(root / "out")
    store = PrivateDir.store(root / "my store")
    request = BundleRequest(root_dir=root, copy_style="all", private_dirs=(store,))
    b = make_bundle(request, cache_dir=cache)
    assert b.files == ["main.py"]
    why = excluded_of(b)
    assert "bundle store" in why["my store/"]
    assert OUTPUT_MARKER in why["out/"]


def test_the_size_limit_hint_names_a_setting_that_raises_the_limit(tree, cache):
    import re

    from flyte_jupyter.settings import resolve_settings

    root = tree({"big.bin": b"x" * 5000})
    refuse = BundleLimits(warn_bytes=1000, max_bytes=2000)
    with pytest.raises(BundleTooLargeError) as info:
        make_bundle(BundleRequest(root_dir=root, copy_style="all", limits=refuse), cache_dir=cache)
    key = re.search(r"raise the limit: (\w+)", str(info.value)).group(1)
    variable = re.search(r"(FLYTE_JUPYTER_\w+)", str(info.value)).group(1)
    # following the hint, as a user would, really raises the limit
    settings = resolve_settings(start_dir=root, environ={}, options={key: "2GiB"})
    assert settings.limits.max_bytes == 2 * 1024**3
    settings = resolve_settings(start_dir=root, environ={variable: "3GiB"})
    assert settings.limits.max_bytes == 3 * 1024**3
    # the %config form it shows is Python that the (integer) trait accepts
    trait_value = re.search(r"%config FlyteJupyter\.\w+ = ([^,]+),", str(info.value)).group(1)
    traits = {key: eval(trait_value)}  # noqa: S307 - the message's own example
    assert resolve_settings(start_dir=root, environ={}, traits=traits).limits.max_bytes == 2**31
    limits = BundleLimits(warn_bytes=10_000, max_bytes=settings.limits.max_bytes)
    make_bundle(BundleRequest(root_dir=root, copy_style="all", limits=limits), cache_dir=cache)


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (os.mkfifo, "is a FIFO (named pipe), not a regular file"),
        (lambda path: path.symlink_to("/dev/zero"), "is a symlink leaving root_dir (-> /dev/zero)"),
        (lambda path: path.write_bytes(b"#" * (2 << 20)), "is larger than 1024 KiB"),
    ],
    ids=["fifo", "dev-zero", "huge"],
)
def test_an_ignore_file_that_is_not_a_small_regular_file_is_refused_by_name(
    tree, cache, make, problem
):
    # a FIFO hung bundling forever; /dev/zero read until MemoryError
    root = tree({"main.py": "x = 1\n", "sub/m.py": ""})
    make(root / "sub" / ".gitignore")
    with pytest.raises(BundleError) as info:
        make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)
    assert f"The ignore file sub/.gitignore {problem}." in str(info.value)
    assert "replace it with such a file or remove it" in str(info.value)


def test_an_ignore_file_linked_inside_root_dir_applies(tree, cache):
    root = tree({"main.py": "x = 1\n", "shared/ignore": "*.log\n", "sub/a.log": "", "sub/m.py": ""})
    (root / "sub" / ".gitignore").symlink_to(root / "shared" / "ignore")
    b = make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)
    assert "sub/a.log" not in b.files
    assert excluded_of(b)["sub/a.log"] == "ignored by sub/.gitignore:1 (*.log)"
