"""The core's progress protocol: one named phase per fsspec callback."""

from __future__ import annotations

import pytest

from flyte_jupyter.progress import Progress


def test_a_phase_reports_its_name_with_each_change_and_never_twice_the_same():
    seen = []
    progress = Progress(lambda phase, done, total: seen.append((phase, done, total)))
    callback = progress.phase("download", None)
    callback.relative_update(5)  # the size is not known yet: nothing to show
    callback.set_size(10)
    callback.relative_update(5)
    callback.absolute_update(10)  # a caller confirming the end fsspec already reported
    assert seen == [("download", 5, 10), ("download", 10, 10)]


def test_an_unknown_phase_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="bundle, upload, download"):
        Progress().phase("hashing", 1)  # type: ignore[arg-type]
