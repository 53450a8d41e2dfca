"""Bad input: a SettingsError that names the value and the fix, and nothing changes."""

from __future__ import annotations

import pytest

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings import (
    Settings,
    replace_settings,
    resolve_settings,
    serialization_settings_for_bundle,
)


def raises(*fragments: str):
    """Expect a SettingsError whose message contains every fragment."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(SettingsError)
            self._info = self._ctx.__enter__()
            return self._info

        def __exit__(self, *exc):
            result = self._ctx.__exit__(*exc)
            message = str(self._info.value)
            for fragment in fragments:
                assert fragment in message, f"{fragment!r} not in {message!r}"
            return result

    return _Check()


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ({"env": ["FOO"]}, ["option --env", "KEY=VALUE", "'FOO'"]),
        ({"env": ["1BAD=x"]}, ["'1BAD'", "environment variable name"]),
        ({"project": "My Project"}, ["'My Project'", "option --project", "'my-project'"]),
        ({"project": "-x"}, ["not a valid Flyte project"]),
        ({"project": "a" * 64}, ["at most 63"]),
        ({"domain": "Dev"}, ["'Dev'", "not a valid Flyte domain"]),
        ({"domain": "qa"}, ["'qa'", "development, staging, production", "add it to domains"]),
        ({"version": "v 1"}, ["'v 1'", "not a valid version", "option --version"]),
        ({"version": "a/b"}, ["'a/b'", "no spaces, '/'"]),
        ({"copy_style": "some"}, ["option --copy-style", "auto, all, none", "'some'"]),
        ({"backend": "k8s"}, ["local, remote"]),
        ({"root_dir": "missing"}, ["root_dir", "missing", "does not exist", "option --root-dir"]),
        ({"bundle_max_bytes": "lots"}, ["bundle_max_bytes", "size in bytes", "'lots'"]),
        ({"bundle_warn_bytes": 10, "bundle_max_bytes": 5}, ["at most bundle_max_bytes"]),
        ({"max_parallel_runs": 0}, ["positive integer"]),
        ({"domains": "development,development"}, ["each domain once"]),
        ({"module_name": "nb-quick"}, ["not a Python module name"]),
        ({"unknown_key": 1}, ["unknown setting 'unknown_key'", "Valid settings: project"]),
        ({"config_file": "nope.yaml"}, ["nope.yaml", "does not exist", "option --config-file"]),
    ],
)
def test_bad_options(resolve, options, fragments):
    with raises(*fragments):
        resolve(options=options)


def test_copy_style_none_needs_an_explicit_version_where_one_is_used(resolve):
    from flyte_jupyter.settings import effective_version

    settings = resolve(options={"copy_style": "none"})  # previewing needs no version
    with raises("copy style 'none'", "explicit version", "--version"):
        effective_version(None, settings)
    with raises("copy style 'none'", "explicit version"):
        serialization_settings_for_bundle(settings, None)


def test_copy_style_none_with_explicit_version_is_fine(resolve):
    assert resolve(options={"copy_style": "none", "version": "v1"}).version == "v1"


def test_root_dir_that_is_a_file(resolve, nb_dir):
    (nb_dir / "f.txt").write_text("x")
    with raises("is a file, not a folder", "f.txt"):
        resolve(panel={"root_dir": str(nb_dir / "f.txt")})


@pytest.mark.parametrize(
    ("traits", "fragments"),
    [
        ({"projekt": "x"}, ["%config", "unknown setting 'projekt'", "Valid settings"]),
        ({"project": 3}, ["%config FlyteJupyter.project", "non-empty string", "3"]),
        ({"images": 5}, ["%config FlyteJupyter.images", "list of strings"]),
        ({"env": 5}, ["%config FlyteJupyter.env", "of type int"]),
        ({"bundle_max_bytes": True}, ["size in bytes"]),
    ],
)
def test_bad_traits(resolve, traits, fragments):
    with raises(*fragments):
        resolve(traits=traits)


def test_unknown_pyproject_key(resolve, project_dir, write):
    path = write(project_dir / "pyproject.toml", '[tool.flyte_jupyter]\nprojct = "x"\n')
    with raises(str(path), "unknown setting 'projct'", "project, domain"):
        resolve()


def test_pyproject_does_not_parse(resolve, project_dir, write):
    write(project_dir / "pyproject.toml", "[tool.flyte_jupyter\n")
    with raises("pyproject.toml", "could not be read as TOML", "FLYTE_JUPYTER_CONFIG_CEILING"):
        resolve()


def test_bad_env_var_value(resolve, environ):
    environ["FLYTE_JUPYTER_ENV"] = '{"A": 1'
    with raises("env FLYTE_JUPYTER_ENV", "valid JSON"):
        resolve()


def test_unknown_env_var_is_logged_not_fatal(resolve, environ, caplog):
    environ["FLYTE_JUPYTER_PROJEKT"] = "x"
    assert resolve().project == "flytesnacks"
    assert "FLYTE_JUPYTER_PROJEKT" in caplog.text


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        ("bad.yaml", "task: [unclosed\n", ["does not parse as YAML"]),
        ("list.yaml", "- a\n- b\n", ["not a YAML mapping"]),
        ("bad.config", "no section header\n", ["does not parse"]),
        ("internal.config", "[internal]\nx = 1\n", ["does not parse", "internal"]),
    ],
)
def test_flytekit_config_that_does_not_parse(resolve, tmp_path, write, *, name, text, fragments):
    path = write(tmp_path / name, text)
    with raises(str(path), *fragments):
        resolve(options={"config_file": str(path)})


def test_flytectl_config_pointing_nowhere(resolve, environ, tmp_path):
    environ["FLYTECTL_CONFIG"] = str(tmp_path / "gone.yaml")
    with raises("gone.yaml", "env FLYTECTL_CONFIG", "does not exist"):
        resolve()


def test_start_dir_must_exist(tmp_path, environ):
    with raises("start_dir", "does not exist"):
        resolve_settings(start_dir=tmp_path / "nope", environ=environ)


def test_replace_rejects_and_leaves_settings_unchanged(resolve):
    base = resolve()
    with raises("'Bad Name'", "panel"):
        replace_settings(base, "panel", project="Bad Name")
    with raises("unknown setting 'nope'"):
        replace_settings(base, "panel", nope=1)
    assert base.project == "flytesnacks"


def test_direct_construction_validates():
    Settings(copy_style="none")  # a version is required where one is used, not here
    with raises("'UPPER'"):
        Settings(project="UPPER")
