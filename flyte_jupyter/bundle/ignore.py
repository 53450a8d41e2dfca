"""Which paths never ship: a standard list, ``.gitignore``/``.flyteignore`` files, secrets.

Every rule applies to every copy style, ``auto`` included (flytekit's ``--copy auto`` ignores
``.flyteignore``; this does not). A rule that excludes a path also says which rule it was, so
the Bundle can show why a file is missing.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flyte_jupyter.errors import BundleError

if TYPE_CHECKING:
    from pathlib import Path

    import pathspec

# Directories that never hold code to ship, matched by name at any depth.
STANDARD_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        ".ipynb_checkpoints",
        "build",
        "dist",
        ".eggs",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".cache",
        "node_modules",
        ".flyte_jupyter",
    }
)
STANDARD_FILES = ("*.pyc", "*.pyo", "*.egg-info", ".DS_Store", "*.swp", "*~")
# Files that look like credentials: kept out unless a pattern in ``include`` names them.
# Names and paths match case-insensitively (``.ENV`` and ``ID_RSA`` are secrets too).
SECRET_FILES = (
    ".env",
    ".env.*",
    ".envrc",
    "*.pem",
    "*.key",
    "*.ppk",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.p12",
    "*.pfx",
    "*.jks",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".dockercfg",
    ".s3cfg",
    ".boto",
    ".vault-token",
    "credentials.json",
    "application_default_credentials.json",
    "*service[-_]account*.json",
    "client_secret*.json",
    "*.tfstate",
    "*.tfstate.backup",
    "kubeconfig",
)
SECRET_PATHS = (
    ".aws/credentials",
    ".aws/config",
    ".docker/config.json",
    ".kube/config",
    ".streamlit/secrets.toml",
)
NOT_SECRET = (".env.example", ".env.sample", ".env.template")
IGNORE_FILES = (".gitignore", ".flyteignore")
# An ignore file larger than this is refused: pattern files are a few KiB, and a link to an
# endless file (``/dev/zero``) must not be read until memory runs out.
MAX_IGNORE_FILE_BYTES = 1024 * 1024
# A folder holding this file is flyte_jupyter's own output (``%flyte_serialize --folder``):
# it never ships, or every bundle would carry the .pb files and archives of the one before.
OUTPUT_MARKER = ".flyte-jupyter-output"
_OUTPUT_MARKER_TEXT = (
    "This folder holds output written by flyte_jupyter (%flyte_serialize).\n"
    "Bundles never include a folder that holds this file; delete it to ship the folder.\n"
)


def mark_output_folder(folder: Path) -> None:
    """Mark ``folder`` as flyte_jupyter output, so no bundle picks up what is written there."""
    marker = folder / OUTPUT_MARKER
    if not marker.exists():
        marker.write_text(_OUTPUT_MARKER_TEXT, encoding="utf-8")


def _any_of(patterns: tuple[str, ...], *, fold: bool = False) -> re.Pattern[str]:
    flags = "(?i:{})" if fold else "{}"
    return re.compile("|".join(flags.format(fnmatch.translate(p)) for p in patterns))


_STANDARD_FILE_RE = _any_of(STANDARD_FILES)
_SECRET_FILE_RES = tuple((p, _any_of((p,), fold=True)) for p in SECRET_FILES)
_NOT_SECRET_RE = _any_of(NOT_SECRET, fold=True)
# one regex tells the usual file (no standard or secret rule applies) apart, quickly
_SPECIAL_FILE_RE = re.compile(
    f"{_STANDARD_FILE_RE.pattern}|{_any_of(SECRET_FILES, fold=True).pattern}"
)
_SECRET_PATH_SET = frozenset(SECRET_PATHS)
_SECRET_PATH_ENDS = tuple("/" + p for p in SECRET_PATHS)


def _secret_path_rule(rel_path: str) -> str | None:
    folded = rel_path.lower()
    if folded in _SECRET_PATH_SET:
        return folded
    if not folded.endswith(_SECRET_PATH_ENDS):  # the usual case, in one C call
        return None
    return next(p for p in SECRET_PATHS if folded.endswith("/" + p))


def _secret_rule(rel_path: str, name: str) -> str | None:
    """The secret rule (a pattern of SECRET_FILES or SECRET_PATHS) ``rel_path`` matches."""
    if _NOT_SECRET_RE.match(name):
        return None
    rule = next((p for p, regex in _SECRET_FILE_RES if regex.match(name)), None)
    return rule or _secret_path_rule(rel_path)


@dataclass
class _Spec:
    source: str  # e.g. "sub/.gitignore"
    spec: pathspec.GitIgnoreSpec
    lines: list[str]


@dataclass
class IgnoreRules:
    """The ignore rules for one ``root_dir``.

    ``load(rel_dir, abs_dir)`` reads the ignore files of a folder as the walk reaches it;
    ``reason(rel_path, is_dir)`` returns why a path is excluded, or None to keep it.
    Paths are POSIX and relative to ``root_dir``.
    """

    include: tuple[str, ...] = ()
    private: dict[str, str] = field(default_factory=dict)  # folder (rel) -> why it never ships
    _specs: dict[str, list[_Spec]] = field(default_factory=dict)
    _include: pathspec.GitIgnoreSpec | None = None

    def __post_init__(self) -> None:
        if self.include:
            import pathspec

            self._include = pathspec.GitIgnoreSpec.from_lines(self.include)

    def load(self, rel_dir: str, abs_dir: Path, real_root: str | None = None) -> None:
        """Read ``.gitignore`` and ``.flyteignore`` in a folder, if present.

        Raises
        ------
        BundleError
            An ignore file is not a regular file inside ``real_root`` (the resolved root_dir),
            or is larger than :data:`MAX_IGNORE_FILE_BYTES`.
        """
        specs = []
        for name in IGNORE_FILES:
            source = f"{rel_dir}/{name}" if rel_dir else name
            data = read_ignore_file(abs_dir / name, source, real_root)
            if data is None:
                continue
            import pathspec

            lines = data.decode("utf-8", errors="replace").splitlines()
            specs.append(_Spec(source, pathspec.GitIgnoreSpec.from_lines(lines), lines))
        if specs:
            self._specs[rel_dir] = specs

    def reason(self, rel_path: str, *, is_dir: bool) -> str | None:
        """Why ``rel_path`` is excluded, or None when it ships."""
        name = rel_path.rpartition("/")[2]
        if is_dir:
            fixed = f"standard ignore ({name}/)" if name in STANDARD_DIRS else None
            fixed = fixed or self.private.get(rel_path)
            if fixed:
                return fixed
            special = False
        else:  # one regex tells the usual file (no standard or secret rule applies) apart
            special = bool(_SPECIAL_FILE_RE.match(name)) or bool(_secret_path_rule(rel_path))
            if special and _STANDARD_FILE_RE.match(name):
                return f"standard ignore ({name})"
        if self._include is not None and self._included(rel_path, is_dir=is_dir):
            return None
        ignored = self._ignore_file_reason(rel_path, is_dir=is_dir) if self._specs else None
        if ignored:
            return ignored
        rule = _secret_rule(rel_path, name) if special else None
        if rule:
            return f"looks like a secret (rule {rule}); add it to include_secrets to ship it"
        return None

    @staticmethod
    def is_secret(rel_path: str) -> bool:
        """True for files that look like credentials (``.env``, private keys, cloud creds)."""
        return _secret_rule(rel_path, rel_path.rpartition("/")[2]) is not None

    def _included(self, rel_path: str, *, is_dir: bool) -> bool:
        if self._include is None:
            return False
        return bool(self._include.match_file(rel_path + ("/" if is_dir else "")))

    def _ignore_file_reason(self, rel_path: str, *, is_dir: bool) -> str | None:
        """Apply ignore files from the deepest folder up; the deepest decisive match wins."""
        if not self._specs:
            return None
        parts = rel_path.split("/")
        for depth in range(len(parts) - 1, -1, -1):
            folder = "/".join(parts[:depth])
            for spec in reversed(self._specs.get(folder, ())):
                sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
                result = spec.spec.check_file(sub)
                if result.include is None:
                    continue
                if not result.include:
                    return None
                line = _pattern_line(spec, result.index)
                return f"ignored by {spec.source}:{line[0]} ({line[1]})"
        return None


def read_ignore_file(path: Path, shown: str, real_root: str | None) -> bytes | None:
    """The bytes of an ignore file, None if there is none; refuse anything but a small file.

    A FIFO would block the read forever and a link to ``/dev/zero`` would read until memory
    runs out, so the file must be a regular file (a symlink only when its target stays inside
    ``real_root``) and at most :data:`MAX_IGNORE_FILE_BYTES`. The open does not block and the
    type is checked again on the open file, so a swap between the checks cannot hang it.
    """
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        # PermissionError: the folder cannot be searched; the walk lists it as unreadable
        return None
    if stat.S_ISDIR(st.st_mode):
        return None  # a folder named .gitignore holds no rules
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(path)
        if real_root is not None and os.path.commonpath([target, real_root]) != real_root:
            raise _ignore_file_error(shown, f"is a symlink leaving root_dir (-> {target})")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None  # a broken symlink: no rules
    except OSError as exc:
        raise _ignore_file_error(shown, f"cannot be read ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            return None
        if not stat.S_ISREG(st.st_mode):
            raise _ignore_file_error(shown, f"is a {_file_kind(st.st_mode)}, not a regular file")
        data = handle.read(MAX_IGNORE_FILE_BYTES + 1)
    if len(data) > MAX_IGNORE_FILE_BYTES:
        limit = MAX_IGNORE_FILE_BYTES // 1024
        raise _ignore_file_error(shown, f"is larger than {limit} KiB")
    return data


def _ignore_file_error(shown: str, problem: str) -> BundleError:
    return BundleError(
        f"The ignore file {shown} {problem}. Ignore files must be regular text files inside "
        f"root_dir, at most {MAX_IGNORE_FILE_BYTES // 1024} KiB: replace it with such a file "
        "or remove it."
    )


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), "special file")


def _pattern_line(spec: _Spec, index: int | None) -> tuple[int, str]:
    """Line number and text of the pattern at ``index`` (pathspec skips only empty lines)."""
    if index is None:
        return 0, "?"
    seen = -1
    for number, text in enumerate(spec.lines, start=1):
        if text:
            seen += 1
            if seen == index:
                return number, text.strip()
    return 0, "?"
