"""--image parsing with flytekit's rules, named refs, the stock default and task references."""

from __future__ import annotations

import sys

import pytest
from flytekit.configuration import DefaultImages

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings import (
    ImageRefs,
    check_image_refs,
    find_image,
    image_config,
    parse_image_spec,
    parse_image_specs,
)

BASE = "ghcr.io/org/base:1.0"
SPARK = "ghcr.io/org/spark:3.5"
DIGEST = "ghcr.io/org/gpu@sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (BASE, ("default", BASE)),
        (f"default={BASE}", ("default", BASE)),
        (f"spark={SPARK}", ("spark", SPARK)),
        (f"gpu={DIGEST}", ("gpu", DIGEST)),
        ("localhost:5000/img:tag", ("default", "localhost:5000/img:tag")),
        (f" my_img-2 = {SPARK} ", ("my_img-2", SPARK)),
    ],
)
def test_parse_image_spec(value, expected):
    assert parse_image_spec(value, "test") == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("ghcr.io/org/base", "missing tag or digest"),
        ("localhost:5000/img", "missing tag or digest"),
        (f"={BASE}", "is not 'URI' or 'NAME=URI'"),
        ("spark=", "is not 'URI' or 'NAME=URI'"),
        (f"sp.ark={SPARK}", "is not 'URI' or 'NAME=URI'"),
        ("", "is not 'URI' or 'NAME=URI'"),
        ("ghcr.io/a b:1", "is not 'URI' or 'NAME=URI'"),
    ],
)
def test_malformed_image(value, fragment):
    with pytest.raises(SettingsError, match="option --image") as info:
        parse_image_spec(value, "option --image")
    assert fragment in str(info.value)
    assert repr(value) in str(info.value)


def test_untagged_allowed_where_flytekit_allows_it():
    assert parse_image_spec("spark=ghcr.io/org/spark", "cfg", allow_untagged=True)[1] == (
        "ghcr.io/org/spark"
    )


def test_imagespec_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text("python_version: '3.11'\n")
    with pytest.raises(SettingsError, match="names a file; ImageSpec files are not built"):
        parse_image_spec("spec.yaml", "option --image")


def test_two_defaults():
    with pytest.raises(SettingsError, match="two default images given") as info:
        parse_image_specs([BASE, f"default={SPARK}"], "option --image")
    assert BASE in str(info.value)
    assert SPARK in str(info.value)


def test_same_name_twice():
    with pytest.raises(SettingsError, match="'spark' is given twice"):
        parse_image_specs([f"spark={SPARK}", f"spark={BASE}"], "option --image")


def test_named_without_default_is_refused_for_flytekit_entities_only(resolve):
    from flytekit import task

    from flyte_jupyter.sdk.flytekit import FlytekitSdk

    @task
    def square(x: int) -> int:
        return x * x

    s = resolve(options={"images": [f"spark={SPARK}"]})  # fine for flyte v2 environments
    assert s.images.unbacked == (("spark", "option --image"),)
    with pytest.raises(SettingsError, match="no default image") as info:
        FlytekitSdk().check_images("square", square, s.images)
    assert "spark" in str(info.value)
    assert "option --image" in str(info.value)


def test_named_with_default_from_lower_layer(resolve, environ):
    environ["FLYTE_JUPYTER_IMAGES"] = BASE
    s = resolve(options={"images": [f"spark={SPARK}"]})
    assert (s.images.default, s.images.get("spark")) == (BASE, SPARK)


def test_stock_default_when_none_given(resolve):
    s = resolve()
    assert s.images.default == DefaultImages.default_image()
    assert s.images.default_is_stock
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert s.provenance["images.default"] == f"flytekit default image for Python {python}"
    assert f"py{python}" in s.images.default


def test_image_config_and_find_image(resolve):
    s = resolve(options={"images": [BASE, f"spark={SPARK}", f"gpu={DIGEST}"]})
    cfg = image_config(s.images)
    assert cfg.default_image.full == BASE
    assert cfg.find_image("spark").full == SPARK
    assert cfg.find_image("gpu").digest == "sha256:" + "a" * 64
    assert find_image(s.images, "spark") == SPARK
    assert find_image(s.images, "default") == BASE
    with pytest.raises(
        SettingsError, match=r"'nope' is not defined \(defined: default, gpu, spark\)"
    ):
        find_image(s.images, "nope")


def test_image_refs_are_canonical():
    a = ImageRefs(default=BASE, named=(("b", SPARK), ("a", BASE)))
    b = ImageRefs(default=BASE, named=(("a", BASE), ("b", SPARK)))
    assert a == b
    assert a.names == ("default", "a", "b")
    with pytest.raises(SettingsError, match="unique"):
        ImageRefs(named=(("a", BASE), ("a", SPARK)))
    with pytest.raises(SettingsError, match="not usable"):
        ImageRefs(named=(("default", BASE),))


def test_check_image_refs():
    refs = ImageRefs(default=BASE, named=(("spark", SPARK),))
    check_image_refs(
        [
            None,
            "ghcr.io/plain:1",
            "{{.image.spark.fqn}}:{{.image.spark.version}}",
            "{{.image.default.fqn}}:{{.image.default.version}}",
            "{{ .images.spark }}",
            object(),  # an ImageSpec is flytekit's business
        ],
        refs,
    )
    with pytest.raises(SettingsError) as info:
        check_image_refs(["{{.image.gpu.fqn}}:{{.image.gpu.version}}"], refs)
    message = str(info.value)
    assert "refers to image 'gpu'" in message
    assert "defined: default, spark" in message
    assert "--image gpu=<URI>" in message


def test_named_refs_resolve_in_flytekit(resolve):
    from flytekit.core.python_auto_container import get_registerable_container_image

    s = resolve(options={"images": [BASE, f"spark={SPARK}"]})
    template = "{{.image.spark.fqn}}:{{.image.spark.version}}"
    assert get_registerable_container_image(template, image_config(s.images)) == SPARK
