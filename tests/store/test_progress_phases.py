"""Progress names its phase: bundling, uploading, downloading; nothing is guessed from counters.

Driven through the same core functions every front end calls (``prepare_and_publish``,
``BundleStore.fetch``), against a real ``file://`` store and a moto S3 server.
"""

from __future__ import annotations

import itertools
import os

import pytest

from flyte_jupyter.capture import CellLog
from flyte_jupyter.prepare import BundleJob, prepare_and_publish, prepare_bundle
from flyte_jupyter.progress import Progress
from flyte_jupyter.settings import resolve_settings
from flyte_jupyter.widgets.progress import TransferProgress

pytestmark = pytest.mark.parametrize("case", ["file", "s3"], indirect=True)

CELL = "from flytekit import task\n\n@task\ndef square(x: int) -> int:\n    return x * x\n"
DATA = 3 * 1024 * 1024


class Recorder(Progress):
    """Keeps every ``(phase, done, total)`` the core reports."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int, int]] = []

    def update(self, phase, done, total):
        self.calls.append((phase, done, total))

    def phases(self):
        """The phases in the order they were reported, each once per run of reports."""
        return [phase for phase, _ in itertools.groupby(c[0] for c in self.calls)]

    def of(self, phase):
        return [(done, total) for p, done, total in self.calls if p == phase]


@pytest.fixture
def project(tmp_path, case):
    """A notebook task plus a 3 MiB data file (copy style all), its job and its settings."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.bin").write_bytes(os.urandom(DATA))
    (root / "helpers.py").write_text("K = 1\n")
    home = tmp_path / "fj-home"
    environ = {
        "FLYTE_JUPYTER_HOME": str(home),
        "FLYTE_JUPYTER_CONFIG_CEILING": str(root),
        "FLYTE_JUPYTER_STORE": case.url,
    }
    options = {"storage_options": case.storage_options} if case.storage_options else {}
    settings = resolve_settings(start_dir=root, environ=environ, options=options)
    job = BundleJob(
        cells=CellLog().add(None, CELL).records,
        targets=("square",),
        notebook_defined=("square",),
        module_name="nb_progress",
        root_dir=root,
        copy_style="all",
        cache_dir=home / "cache",
    )
    return job, settings


def assert_counts_climb_to_the_total(counts):
    assert counts, "the phase reported nothing"
    totals = {total for _, total in counts}
    assert len(totals) == 1, f"the total changed within the phase: {counts}"
    done = [d for d, _ in counts]
    assert done == sorted(done), f"the byte count went backwards: {counts}"
    assert counts[-1] == (totals.pop(),) * 2


def test_a_fresh_build_reports_bundle_then_upload(project):
    job, settings = project
    progress = Recorder()
    bundle = prepare_and_publish(job, settings, progress=progress)
    assert bundle is not None
    assert not bundle.reused
    assert progress.phases() == ["bundle", "upload"]
    bundled = progress.of("bundle")
    assert_counts_climb_to_the_total(bundled)
    assert bundled[-1][1] == sum(e.size for e in bundle.entries) >= DATA
    uploaded = progress.of("upload")
    assert_counts_climb_to_the_total(uploaded)
    assert uploaded[-1][1] == bundle.path.stat().st_size


def test_an_upload_of_a_cached_archive_reports_only_the_upload(project):
    job, settings = project
    built = prepare_bundle(job)  # e.g. %flyte_bundle earlier: the archive is in the cache
    assert built is not None
    progress = Recorder()
    bundle = prepare_and_publish(job, settings, progress=progress)
    assert bundle is not None
    assert not bundle.reused
    assert progress.phases() == ["upload"]
    assert_counts_climb_to_the_total(progress.of("upload"))
    assert progress.of("upload")[-1][1] == built.path.stat().st_size


def test_the_bar_of_a_cached_archive_says_uploading_never_bundling(project):
    job, settings = project
    prepare_bundle(job)
    bar = TransferProgress("Launching")  # what the panel's Run button shows
    bar.start()
    labels = []
    bar.label.observe(lambda change: labels.append(change["new"]), names="value")
    prepare_and_publish(job, settings, progress=bar)
    assert labels
    assert all(label.startswith("uploading ") for label in labels), labels


def test_a_reused_archive_reports_nothing(project):
    job, settings = project
    prepare_and_publish(job, settings)
    progress = Recorder()
    assert prepare_and_publish(job, settings, progress=progress).reused
    assert progress.calls == []


def test_a_fetch_reports_only_the_download(project, tmp_path):
    job, settings = project
    bundle = prepare_and_publish(job, settings)
    from flyte_jupyter.prepare import bucket_store_for

    progress = Recorder()
    dest = bucket_store_for(settings).fetch(
        bundle.digest, tmp_path / "back.tar.gz", expected_sha256=bundle.sha256, progress=progress
    )
    assert progress.phases() == ["download"]
    assert_counts_climb_to_the_total(progress.of("download"))
    assert progress.of("download")[-1][1] == dest.stat().st_size == bundle.path.stat().st_size
