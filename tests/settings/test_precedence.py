"""Each source overrides the one below it, and provenance names the winner."""

from __future__ import annotations

import pytest

from flyte_jupyter.settings import DEFAULT_DOMAINS, Settings, describe, replace_settings

LAYERS = ["default", "flytekit", "pyproject", "env", "traits", "panel", "options"]


@pytest.fixture
def stack(home, project_dir, write):
    """Build the sources up to (and including) a given layer, each setting project."""

    def _stack(top: str, environ: dict[str, str]) -> dict:
        kwargs: dict = {}
        upto = LAYERS[: LAYERS.index(top) + 1]
        if "flytekit" in upto:
            write(home / ".flyte" / "config.yaml", "task:\n  project: cfg-project\n")
        if "pyproject" in upto:
            write(
                project_dir / "pyproject.toml",
                '[tool.flyte_jupyter]\nproject = "pyproject-project"\n',
            )
        if "env" in upto:
            environ["FLYTE_JUPYTER_PROJECT"] = "env-project"
        if "traits" in upto:
            kwargs["traits"] = {"project": "trait-project"}
        if "panel" in upto:
            kwargs["panel"] = {"project": "panel-project"}
        if "options" in upto:
            kwargs["options"] = {"project": "option-project"}
        return kwargs

    return _stack


@pytest.mark.parametrize(
    ("top", "project", "source"),
    [
        ("default", "flytesnacks", "default"),
        ("flytekit", "cfg-project", "flytekit config {home}/.flyte/config.yaml"),
        ("pyproject", "pyproject-project", "pyproject.toml {repo}/pyproject.toml"),
        ("env", "env-project", "env FLYTE_JUPYTER_PROJECT"),
        ("traits", "trait-project", "%config FlyteJupyter.project"),
        ("panel", "panel-project", "panel"),
        ("options", "option-project", "option --project"),
    ],
)
def test_each_layer_overrides_the_one_below(
    stack, resolve, environ, *, home, project_dir, top, project, source
):
    settings = resolve(**stack(top, environ))
    assert settings.project == project
    expected = source.format(home=home, repo=project_dir)
    assert settings.provenance["project"] == expected
    assert ("project", project, expected) in describe(settings)


def test_defaults(resolve, nb_dir, home):
    settings = resolve()
    assert settings.project == "flytesnacks"
    assert settings.domain == "development"
    assert settings.domains == DEFAULT_DOMAINS
    assert settings.version is None
    assert settings.copy_style == "auto"
    assert settings.backend == "local"
    assert settings.root_dir == nb_dir
    assert settings.home == home / ".flyte_jupyter"
    assert settings.config_file is None
    assert settings.provenance["root_dir"].startswith("default")


def test_every_key_from_pyproject(resolve, project_dir, write):
    lib = project_dir / "lib"
    lib.mkdir()
    write(
        project_dir / "pyproject.toml",
        """
        [tool.flyte_jupyter]
        project = "ml"
        domain = "qa"
        domains = ["development", "qa"]
        version = "v1"
        copy_style = "all"
        root_dir = "lib"
        images = ["ghcr.io/org/base:1", "spark=ghcr.io/org/spark:3"]
        env = { LOG_LEVEL = "debug", RETRIES = 3, FAST = true }
        store = "s3://bucket/prefix"
        storage_options = { endpoint_url = "http://127.0.0.1:9000", anon = false }
        backend = "remote"
        endpoint = "flyte.example.com:443"
        org = "acme"
        home = "state"
        bundle_warn_bytes = "1MiB"
        bundle_max_bytes = 5000000
        include_secrets = [".env.example"]
        max_parallel_runs = 2
        local_runs = "exact"
        server_url = "http://localhost:8888"
        module_name = "nb_quick"
        """,
    )
    s = resolve()
    assert (s.project, s.domain, s.domains, s.version) == ("ml", "qa", ("development", "qa"), "v1")
    assert (s.copy_style, s.root_dir, s.backend) == ("all", lib, "remote")
    assert s.images.default == "ghcr.io/org/base:1"
    assert s.images.named == (("spark", "ghcr.io/org/spark:3"),)
    assert s.env == (("FAST", "true"), ("LOG_LEVEL", "debug"), ("RETRIES", "3"))
    assert s.store == "s3://bucket/prefix"
    assert s.storage_options_dict == {"anon": False, "endpoint_url": "http://127.0.0.1:9000"}
    assert s.endpoint == "flyte.example.com:443"
    assert s.org == "acme"
    assert s.home == project_dir / "state"
    assert (s.limits.warn_bytes, s.limits.max_bytes) == (2**20, 5_000_000)
    assert s.include_secrets == (".env.example",)
    assert (s.max_parallel_runs, s.local_runs, s.server_url, s.module_name) == (
        2,
        "exact",
        "http://localhost:8888",
        "nb_quick",
    )
    assert {v for k, v in s.provenance.items() if k != "config_file"} == {
        f"pyproject.toml {project_dir / 'pyproject.toml'}"
    }


def test_env_vars_text_forms(resolve, environ, nb_dir):
    environ.update(
        FLYTE_JUPYTER_DOMAINS="dev,prod",
        FLYTE_JUPYTER_DOMAIN="prod",
        FLYTE_JUPYTER_IMAGES="ghcr.io/org/base:1,gpu=ghcr.io/org/gpu:2",
        FLYTE_JUPYTER_ENV='{"A": "x,y", "B": "2"}',
        FLYTE_JUPYTER_BUNDLE_MAX_BYTES="2GB",
        FLYTE_JUPYTER_MAX_PARALLEL_RUNS="auto",
        FLYTE_JUPYTER_VERSION="auto",
        FLYTE_JUPYTER_ROOT_DIR=".",
        FLYTE_JUPYTER_HOME="~/elsewhere",
    )
    s = resolve()
    assert (s.domains, s.domain) == (("dev", "prod"), "prod")
    assert s.images.get("gpu") == "ghcr.io/org/gpu:2"
    assert s.env_dict == {"A": "x,y", "B": "2"}
    assert s.limits.max_bytes == 2 * 10**9
    assert s.max_parallel_runs is None
    assert s.version is None
    assert s.root_dir == nb_dir
    assert s.provenance["root_dir"] == "env FLYTE_JUPYTER_ROOT_DIR"
    assert s.provenance["images.gpu"] == "env FLYTE_JUPYTER_IMAGES"


def test_collections_merge_by_name_across_layers(resolve, project_dir, write, environ):
    write(
        project_dir / "pyproject.toml",
        """
        [tool.flyte_jupyter]
        images = ["ghcr.io/org/base:1", "spark=ghcr.io/org/spark:1"]
        env = { A = "from-pyproject", B = "kept" }
        """,
    )
    environ["FLYTE_JUPYTER_ENV"] = "A=from-env"
    s = resolve(options={"images": ["spark=ghcr.io/org/spark:2"], "env": ["C=opt"]})
    assert s.images.default == "ghcr.io/org/base:1"
    assert s.images.get("spark") == "ghcr.io/org/spark:2"
    assert s.env_dict == {"A": "from-env", "B": "kept", "C": "opt"}
    assert s.provenance["images.default"].startswith("pyproject.toml")
    assert s.provenance["images.spark"] == "option --image"
    assert s.provenance["env.A"] == "env FLYTE_JUPYTER_ENV"
    assert s.provenance["env.B"].startswith("pyproject.toml")
    assert s.provenance["env.C"] == "option --env"


def test_pyproject_search(project_dir, nb_dir, write, resolve, environ):
    # nearest pyproject without the table is passed over
    write(nb_dir / "pyproject.toml", '[project]\nname = "x"\n')
    write(project_dir / "pyproject.toml", '[tool.flyte_jupyter]\nproject = "outer"\n')
    assert resolve().project == "outer"
    # the ceiling stops the search
    environ["FLYTE_JUPYTER_CONFIG_CEILING"] = str(nb_dir)
    assert resolve().project == "flytesnacks"


def test_pyproject_search_stops_at_home(home, write, environ):
    from flyte_jupyter.settings.resolve import resolve_settings

    write(home.parent / "pyproject.toml", '[tool.flyte_jupyter]\nproject = "above-home"\n')
    nb = home / "work"
    nb.mkdir()
    del environ["FLYTE_JUPYTER_CONFIG_CEILING"]
    assert resolve_settings(start_dir=nb, environ=environ).project == "flytesnacks"


def test_flytekit_ini_config_and_pyflyte_env(resolve, nb_dir, write, environ):
    write(
        nb_dir / "flytekit.config",
        """
        [local]
        project = ini-project
        domain = staging
        [platform]
        url = flyte.example.com
        [images]
        gpu = ghcr.io/org/gpu:1
        """,
    )
    s = resolve()
    assert (s.project, s.domain, s.endpoint) == ("ini-project", "staging", "flyte.example.com")
    assert s.images.get("gpu") == "ghcr.io/org/gpu:1"
    assert s.config_file == nb_dir / "flytekit.config"
    # flytekit's own env override, then pyflyte's default-project variable
    environ["FLYTE_LOCAL_PROJECT"] = "local-env"
    assert resolve().provenance["project"] == "env FLYTE_LOCAL_PROJECT (flytekit)"
    environ["FLYTE_DEFAULT_PROJECT"] = "pyflyte-env"
    s = resolve()
    assert s.project == "pyflyte-env"
    assert s.provenance["project"] == "env FLYTE_DEFAULT_PROJECT (pyflyte)"


def test_flytectl_config_env_and_explicit_config_file(resolve, tmp_path, write, environ):
    a = write(tmp_path / "a.yaml", "task:\n  project: from-a\n")
    b = write(tmp_path / "b.yaml", "task:\n  project: from-b\n")
    environ["FLYTECTL_CONFIG"] = str(a)
    s = resolve()
    assert (s.project, s.config_file) == ("from-a", a)
    assert s.provenance["config_file"] == "flytekit config (env FLYTECTL_CONFIG)"
    # config_file from a higher source picks the file that the flytekit layer reads
    s = resolve(options={"config_file": str(b)})
    assert (s.project, s.config_file) == ("from-b", b)
    assert s.provenance["project"] == f"flytekit config {b}"
    assert s.provenance["config_file"] == "option --config-file"


def test_flytekit_storage_and_images(resolve, home, write):
    write(
        home / ".flyte" / "config.yaml",
        """
        admin:
          endpoint: dns:///localhost:30080
        images:
          spark: ghcr.io/org/spark
        storage:
          connection:
            endpoint: http://localhost:30002
            access-key: minio
            secret-key: miniostorage
        """,
    )
    s = resolve()
    assert s.endpoint == "localhost:30080"
    # flytekit allows untagged images in its config; the stock default fills in, as in pyflyte
    assert s.images.get("spark") == "ghcr.io/org/spark"
    assert s.images.default_is_stock
    assert s.storage_options_dict == {
        "endpoint_url": "http://localhost:30002",
        "key": "minio",
        "secret": "miniostorage",
    }


def test_replace_records_source_and_validates(resolve):
    base = resolve(options={"images": ["ghcr.io/org/base:1"], "env": ["A=1"]})
    panel = replace_settings(base, "panel", domain="staging", env={"B": "2"})
    assert (panel.domain, panel.env_dict) == ("staging", {"A": "1", "B": "2"})
    assert panel.provenance["domain"] == "panel"
    assert panel.provenance["env.B"] == "panel"
    assert base.domain == "development"  # frozen original untouched
    wholesale = replace_settings(panel, "panel", merge=False, env={"C": "3"})
    assert wholesale.env_dict == {"C": "3"}
    assert "env.A" not in wholesale.provenance
    assert wholesale.images.default == "ghcr.io/org/base:1"
    assert panel == resolve(
        options={"images": ["ghcr.io/org/base:1"], "env": ["A=1", "B=2"], "domain": "staging"}
    )


def test_provenance_not_part_of_equality(resolve, environ):
    a = resolve(options={"project": "p"})
    environ["FLYTE_JUPYTER_PROJECT"] = "p"
    b = resolve()
    assert a == b
    assert hash(a) == hash(b)
    assert a.provenance["project"] != b.provenance["project"]


def test_settings_is_frozen():
    s = Settings()
    with pytest.raises(AttributeError):
        s.project = "x"  # type: ignore[misc]


def test_flytekit_config_default_image_needs_a_tag(resolve, home, write):
    from flyte_jupyter.errors import SettingsError

    cfg = write(home / ".flyte" / "config.yaml", "images:\n  default: ghcr.io/org/base:7\n")
    s = resolve()
    assert (s.images.default, s.images.default_is_stock) == ("ghcr.io/org/base:7", False)
    write(cfg, "images:\n  default: ghcr.io/org/base\n")
    with pytest.raises(SettingsError, match="missing tag or digest"):
        resolve()


def test_flyte_v2_image_refs_of_the_config_file_are_image_refs(resolve, home, write):
    write(
        home / ".flyte" / "config.yaml",
        "images:\n  gpu: ghcr.io/org/gpu:1\n"
        "image:\n  image_refs:\n    base: ghcr.io/org/base:2\n    gpu: ghcr.io/org/other:9\n",
    )
    s = resolve()
    assert s.images.get("base") == "ghcr.io/org/base:2"  # what Image.from_ref_name reads
    assert s.images.get("gpu") == "ghcr.io/org/gpu:1"  # flytekit's images section wins
    assert ".flyte/config.yaml" in s.provenance["images.base"]
    assert s.images.unbacked == ()  # refs from a config file keep pyflyte's default image


def test_a_flyte_v2_config_file_gives_endpoint_project_domain_and_org(resolve, home, write):
    """What `flyte create config` writes: one file for flyte v2 and flytekit alike."""
    write(
        home / ".flyte" / "config.yaml",
        "admin:\n  endpoint: dns:///flyte.example.com\n  insecure: false\n"
        "task:\n  org: acme\n  project: ml\n  domain: staging\n",
    )
    s = resolve()
    assert (s.endpoint, s.org, s.project, s.domain) == (
        "flyte.example.com",  # flytekit's reading drops dns:///
        "acme",
        "ml",
        "staging",
    )
    assert s.provenance["org"].endswith("config.yaml (task.org)")
    assert ".flyte/config.yaml" in s.provenance["endpoint"]
    assert resolve(options={"org": "other"}).org == "other"  # a higher source wins


def test_relative_start_dir_is_made_absolute(nb_dir, environ, monkeypatch):
    from flyte_jupyter.settings import resolve_settings

    monkeypatch.chdir(nb_dir.parent)
    s = resolve_settings(start_dir=nb_dir.name, environ=environ, options={"root_dir": "."})
    assert s.root_dir == nb_dir
