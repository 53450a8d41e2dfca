"""How local runs execute (the ``local_runs`` setting), and how a run says which way it ran.

``warm`` (the default) runs the entrypoint's steps (flytekit's ``pyflyte-fast-execute`` and
``pyflyte-execute``, flyte's ``a0``) in a child forked from a pre-imported interpreter;
``exact`` keeps the pod's command, two fresh processes, exactly as a Flyte pod runs them.

The local launcher records the way a run went in the run record's ``extra``:
:data:`RUN_MODE` (``"warm"`` or ``"exact"``) and, when a run did not go the way the setting
asked (a warm run that fell back to the pod command), :data:`RUN_MODE_NOTE` with the reason.
:func:`run_mode` turns them into the words the run page and the cell display show. Records
without them (remote runs, runs from before the setting) show nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["LOCAL_RUNS", "RUN_MODE", "RUN_MODE_NOTE", "LocalRuns", "RunMode", "run_mode"]

LocalRuns = Literal["warm", "exact"]
LOCAL_RUNS: tuple[str, ...] = get_args(LocalRuns)

RUN_MODE = "run_mode"
"""Key of ``RunRecord.extra``: the way a local run ran, one of :data:`LOCAL_RUNS`."""

RUN_MODE_NOTE = "run_mode_note"
"""Key of ``RunRecord.extra``: why a run did not run the way ``local_runs`` asked (free text)."""

# the pod's command, by (sdk, kind); other runs are named by the command the run page shows
_POD_COMMAND = {
    ("flytekit", "task"): "pyflyte-fast-execute, then pyflyte-execute, each a fresh process",
    ("flyte", "task"): "flyte's a0 entrypoint in a fresh process",
}
_OTHER_COMMAND = "the container command in fresh processes"


class RunMode(NamedTuple):
    """How a local run ran, in words: ``text`` completes "Ran ...", ``note`` says why not warm.

    ``note`` is free text written by the launcher: redact and escape it like any run text.
    """

    mode: str
    text: str
    note: str | None


def run_mode(extra: Mapping[str, Any], *, sdk: str, kind: str) -> RunMode | None:
    """The way a run ran, from its record's ``extra``; None when the record does not say.

    Parameters
    ----------
    extra
        ``RunRecord.extra``.
    sdk
        ``RunRecord.sdk`` (``flytekit`` or ``flyte``): which entrypoint the pod command is.
    kind
        ``RunRecord.kind`` (``task`` or ``workflow``).

    Returns
    -------
    RunMode | None
        ``text`` reads after "Ran", e.g. "in the warm worker (...)".
    """
    mode = extra.get(RUN_MODE)
    if mode not in LOCAL_RUNS:
        return None
    raw_note = extra.get(RUN_MODE_NOTE)
    note = str(raw_note).strip() if raw_note else None
    if mode == "warm":
        text = (
            "in the warm worker (the entrypoint's steps, in a child forked from a pre-imported "
            "interpreter)"
        )
    else:
        text = f"as in a pod: {_POD_COMMAND.get((sdk, kind), _OTHER_COMMAND)}"
        if note is None:  # with a note, the setting asked for warm: the note says why not
            text += ' (local_runs = "exact")'
    return RunMode(str(mode), text, note)
