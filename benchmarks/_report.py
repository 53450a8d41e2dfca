"""Summaries, target checks and the text tables of :mod:`benchmarks.bundle_bench`."""

from __future__ import annotations

import statistics
from typing import Any

MIB = 1024 * 1024
KIB_PER_MIB = 1024
RECHECK_FACTOR = 1.5  # re-check of an unchanged tree may cost at most 1.5x a bare walk+stat
RSS_FLAT_MIB = 64.0  # "flat": peak RSS may differ by no more than buffers across corpus sizes
FULL_TARGET_CORPORA = ("C", "B", "E")
MAGIC_TARGET_CORPORA = ("E",)  # issue 16: the first %flyte_bundle of a ~14 MB tree
FLOORS = ("walk-stat", "scandir-stat")
COLUMNS = (
    ("method", 34),
    ("median s", 9),
    ("min s", 9),
    ("RSS MiB", 9),
    ("ΔRSS MiB", 10),
    ("arch MiB", 10),
    ("files", 8),
    ("x ref", 7),
    ("x floor", 9),
)

Summary = dict[str, Any]
Target = dict[str, str]


def summarize(
    label: str, kind: str, runs: list[dict[str, Any]], *, expect_reuse: bool = False
) -> Summary:
    """Reduce the runs of one method to the figures of one table row (sizes in MiB).

    With ``expect_reuse`` (the re-check row), any run that rewrote an archive is flagged.
    """
    ok = [r for r in runs if "error" not in r]
    seconds = [r["seconds"] for r in ok]
    peaks = [_peak_kb(kind, r) / KIB_PER_MIB for r in ok]
    deltas = [(r["self_rss_kb"] - r["base_rss_kb"]) / KIB_PER_MIB for r in ok]
    archives = [r["archive_bytes"] / MIB for r in ok if r["archive_bytes"] is not None]
    counted = [r["files"] for r in ok if r["files"] is not None]
    return {
        "label": label,
        "kind": kind,
        "seconds": seconds,
        "median": statistics.median(seconds) if seconds else None,
        "min": min(seconds) if seconds else None,
        "peak_rss_mib": max(peaks) if peaks else None,
        "delta_rss_mib": max(deltas) if deltas and kind != "shell" else None,
        "archive_mib": archives[-1] if archives else None,
        "files": counted[0] if counted else None,
        "pigz_visible": sorted({r["pigz_visible"] for r in ok}),
        "digests": sorted({r["digest"] for r in ok if r["digest"]}),
        "archive_sha256s": sorted({r["archive_sha256"] for r in ok if r["archive_sha256"]}),
        "rewrote_on_recheck": expect_reuse and any(r["archive_rewritten"] for r in ok),
        "errors": [r["error"] for r in runs if "error" in r],
        "phases": _phase_medians(ok),
    }


def _phase_medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Median seconds of each named step of a method, over the runs that timed it."""
    names = {name for r in runs for name in (r.get("phases") or {})}
    return {
        name: statistics.median(r["phases"][name] for r in runs if name in (r.get("phases") or {}))
        for name in sorted(names)
    }


def _peak_kb(kind: str, run: dict[str, Any]) -> int:
    """Shell rows: the pipeline's own peak. Others: the worker or any child, whichever is larger."""
    if kind == "shell" and run["tool_rss_kb"] is not None:
        return int(run["tool_rss_kb"])
    if kind == "shell":
        return int(run["children_rss_kb"])
    return max(int(run["self_rss_kb"]), int(run["children_rss_kb"]))


def _median(corpus: dict[str, Any], key: str) -> float | None:
    method = corpus["methods"].get(key)
    return None if method is None else method["median"]


def reference(corpus: dict[str, Any]) -> tuple[str, float | None]:
    """The compression anchor: ``tar | pigz -n`` when measured, else ``tar | gzip -n``."""
    pigz = _median(corpus, "tar-pigz")
    if pigz is not None:
        return "tar|pigz", pigz
    return "tar|gzip", _median(corpus, "tar-gzip")


def floor(corpus: dict[str, Any]) -> float | None:
    """The walk+stat floor: the faster of the two walk variants."""
    medians = [m for m in (_median(corpus, k) for k in FLOORS) if m is not None]
    return min(medians) if medians else None


def _target(name: str, status: str, detail: str) -> Target:
    return {"name": name, "status": status, "detail": detail}


def _full_target(corpora: dict[str, Any], name: str) -> Target:
    label = f"{name} full <= tar|pigz"
    if name not in corpora:
        return _target(label, "SKIP", "corpus not measured")
    corpus = corpora[name]
    ours = _median(corpus, "bundle-full")
    ref_name, ref = reference(corpus)
    if ours is None or ref is None:
        return _target(label, "SKIP", "our bundle or the tar anchor did not run")
    status = "PASS" if ours <= ref else "FAIL"
    return _target(label, status, f"{ours:.3f} s vs {ref_name} {ref:.3f} s ({ours / ref:.2f}x)")


def _magic_target(corpora: dict[str, Any], name: str) -> Target:
    label = f"{name} first %flyte_bundle (fresh home) <= tar|pigz"
    if name not in corpora:
        return _target(label, "SKIP", "corpus not measured")
    corpus = corpora[name]
    ours = _median(corpus, "magic-first")
    ref_name, ref = reference(corpus)
    if ours is None or ref is None:
        return _target(label, "SKIP", "the magic or the tar anchor did not run")
    parts = [f"{ours:.3f} s vs {ref_name} {ref:.3f} s ({ours / ref:.2f}x)"]
    gzip = _median(corpus, "tar-gzip")
    if gzip is not None and ref_name != "tar|gzip":
        parts.append(f"tar|gzip {gzip:.3f} s ({ours / gzip:.2f}x)")
    phases = corpus["methods"]["magic-first"]["phases"]
    if phases:
        steps = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in phases.items())
        rest = ours - sum(phases.values())
        parts.append(f"medians of its steps: {steps}, the rest {rest:.3f} s")
    full, cold = _median(corpus, "bundle-full"), _median(corpus, "import-flytekit")
    if full is not None:
        parts.append(f"bundle full alone {full:.3f} s")
    if cold is not None:
        parts.append(f"a cold 'import flytekit' {cold:.3f} s")
    return _target(label, "PASS" if ours <= ref else "FAIL", "; ".join(parts))


def _recheck_target(name: str, corpus: dict[str, Any]) -> Target:
    label = f"{name} re-check <= {RECHECK_FACTOR}x walk+stat"
    ours = _median(corpus, "bundle-recheck")
    base = floor(corpus)
    if ours is None or base is None:
        return _target(label, "SKIP", "re-check or walk+stat did not run")
    rewritten = corpus["methods"]["bundle-recheck"]["rewrote_on_recheck"]
    ok = ours <= RECHECK_FACTOR * base and not rewritten
    detail = f"{ours * 1e3:.1f} ms vs floor {base * 1e3:.1f} ms ({ours / base:.2f}x)"
    if rewritten:
        detail += "; the re-check REWROTE the archive"
    return _target(label, "PASS" if ok else "FAIL", detail)


def _rss_flat_target(corpora: dict[str, Any]) -> Target:
    label = "peak RSS roughly flat across corpus sizes"
    peaks: dict[str, float] = {}
    for name, corpus in corpora.items():
        values = [
            corpus["methods"][key]["peak_rss_mib"]
            for key in ("bundle-full", "bundle-recheck")
            if key in corpus["methods"] and corpus["methods"][key]["peak_rss_mib"] is not None
        ]
        if values:
            peaks[name] = max(values)
    if len(peaks) < 2:  # a spread needs two corpora
        return _target(label, "SKIP", "needs our bundle on at least two corpora")
    spread = max(peaks.values()) - min(peaks.values())
    detail = ", ".join(f"{n} {p:.0f} MiB" for n, p in peaks.items())
    detail += f"; spread {spread:.0f} MiB (limit {RSS_FLAT_MIB:.0f})"
    return _target(label, "PASS" if spread <= RSS_FLAT_MIB else "FAIL", detail)


def _stable_target(corpora: dict[str, Any]) -> Target:
    label = "bundle digest and archive bytes identical across runs"
    checked, unstable = [], []
    for name, corpus in corpora.items():
        rows = [
            r for r in (corpus["methods"].get(k) for k in ("bundle-full", "bundle-recheck")) if r
        ]
        if not rows:
            continue
        checked.append(name)
        digests = {d for r in rows for d in r["digests"]}
        shas = {s for r in rows for s in r["archive_sha256s"]}
        if len(digests) != 1 or len(shas) != 1:
            unstable.append(f"{name}: {len(digests)} digests, {len(shas)} archives")
    if not checked:
        return _target(label, "SKIP", "our bundle did not run")
    if unstable:
        return _target(label, "FAIL", "; ".join(unstable))
    return _target(label, "PASS", f"corpora {','.join(checked)}")


def _pigz_target(corpora: dict[str, Any]) -> Target:
    label = "harness: flytekit runs saw pigz as intended"
    wrong = []
    for name, corpus in corpora.items():
        for key, expected in (("flytekit-pigz", [True]), ("flytekit-gzip", [False])):
            method = corpus["methods"].get(key)
            if method and method["pigz_visible"] and method["pigz_visible"] != expected:
                wrong.append(f"{name}/{key}")
    return _target(label, "FAIL" if wrong else "PASS", ", ".join(wrong) or "ok")


def check_targets(corpora: dict[str, Any]) -> list[Target]:
    """Evaluate the project targets on the measured corpora."""
    targets = [_full_target(corpora, name) for name in FULL_TARGET_CORPORA]
    targets += [_magic_target(corpora, name) for name in MAGIC_TARGET_CORPORA]
    targets += [_recheck_target(name, corpus) for name, corpus in corpora.items()]
    targets += [_rss_flat_target(corpora), _stable_target(corpora), _pigz_target(corpora)]
    return targets


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _row(cells: list[str]) -> str:
    first, *rest = cells
    (_, width), *widths = COLUMNS
    return first.ljust(width) + "".join(c.rjust(w) for c, (_, w) in zip(rest, widths, strict=True))


def _method_row(method: Summary, ref: float | None, base: float | None) -> str:
    median = method["median"]
    label = method["label"] + (" [REWROTE]" if method["rewrote_on_recheck"] else "")
    return _row(
        [
            label,
            _fmt(median, ".4f"),
            _fmt(method["min"], ".4f"),
            _fmt(method["peak_rss_mib"], ".1f"),
            _fmt(method["delta_rss_mib"], ".1f"),
            _fmt(method["archive_mib"], ".2f"),
            "-" if method["files"] is None else f"{method['files']:,}",
            _fmt(median / ref if median is not None and ref else None, ".2f"),
            _fmt(median / base if median is not None and base else None, ".1f"),
        ]
    )


def render_corpus(name: str, corpus: dict[str, Any]) -> list[str]:
    """The table of one corpus."""
    ref_name, ref = reference(corpus)
    base = floor(corpus)
    runs = max((len(m["seconds"]) for m in corpus["methods"].values()), default=0)
    title = (
        f"== Corpus {name}: {corpus['description']} — {corpus['files']:,} files, "
        f"{corpus['bytes'] / MIB:.1f} MiB, median of {runs} =="
    )
    lines = ["", title, _row([heading for heading, _ in COLUMNS])]
    for method in corpus["methods"].values():
        lines.append(_method_row(method, ref, base))
        lines.extend(f"    error: {error}" for error in method["errors"][:2])
    lines.append(f"x ref = median / {ref_name}; x floor = median / fastest walk+stat")
    return lines


def render(results: dict[str, Any]) -> list[str]:
    """All output lines: machine, one table per corpus, legend, targets."""
    machine = results["machine"]
    summary = (
        f"machine: {machine['cpus']} cpus, Python {machine['python']}, flytekit "
        f"{machine['flytekit']}, {machine['tar']}, pigz {machine['pigz'] or 'absent'}; "
        f"load {machine['loadavg_start'][0]:.2f} -> {machine['loadavg_end'][0]:.2f}"
    )
    lines = ["", summary]
    if not machine["ours_available"]:
        lines.append(f"our rows skipped: make_bundle not importable ({machine['ours_note']})")
    for name, corpus in results["corpora"].items():
        lines.extend(render_corpus(name, corpus))
    lines += [
        "",
        "sizes in MiB. peak RSS: tar rows = the pipeline itself (GNU time %M); other rows = the",
        "worker process incl. interpreter and imports (or a child such as pigz, if larger);",
        "ΔRSS = growth of the worker during the timed call.",
        "",
        "targets:",
    ]
    lines.extend(f"  {t['status']:<4}  {t['name']}: {t['detail']}" for t in results["targets"])
    return lines
