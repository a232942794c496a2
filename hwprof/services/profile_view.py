"""Profiles as the front ends show them: the suite, scores, the time split, comparisons.

The suite listing, a profile's scores and time split in words and plain data, and profiles set
side by side.

:mod:`hwprof.services.profile` runs a profile; this module only reads them. Everything here returns
plain data (dicts, lists, strings) that the command line prints, ``--json`` dumps and the HTML
report and the window render, so that each says the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hwprof.core.devices import DetectReport
from hwprof.core.profile import (
    OverheadSplit,
    ProfileComparison,
    ProfileRecord,
    ProfileScore,
    Score,
    Speedup,
    compare_profiles,
)
from hwprof.core.profile_text import accuracy_text, comparison_verdict, fmt_outcome
from hwprof.core.snapshot import Snapshot
from hwprof.core.suite import (
    CATEGORY_TITLE,
    DEPLOY_SUITE,
    DEPLOY_VERSION,
    LENGTH_SETTINGS,
    SUITE,
    SUITE_VERSION,
    native_precision,
    suite_test,
)
from hwprof.services.profile import Reference, device_caps, load_reference, score

#: the key of ProfileRecord.settings that says how long each test's timed phase was capped at
TIMED_SECONDS_SETTING = "timed seconds per test"
SCORE_GROUP_NAMES = ("overall", "training", "inference", "mixed precision")
NO_REFERENCE = "no reference profile shipped"


# -- the suite -------------------------------------------------------------------------------------
def machine_devices(machine: DetectReport | None) -> list[str]:
    """Every device of the machine a profile can run on: "cpu", then "gpu:N" by index."""
    return ["cpu"] + [f"gpu:{g.index}" for g in (machine.gpus if machine else ())]


def suite_listing(machine: DetectReport | None) -> dict[str, Any]:
    """The suite, test by test, with what each would do on every device of ``machine``.

    ``devices`` maps each test's id to {device: "runs in P" or "skipped: why"}.
    """
    devices = machine_devices(machine)
    caps = {d: device_caps(d, machine) for d in devices}
    tests = []
    for test in (*SUITE, *DEPLOY_SUITE):
        where: dict[str, dict[str, str | None]] = {}
        for d in devices:
            precision, why = native_precision(test, caps[d])
            where[d] = {"precision": precision, "skip_reason": None if precision else why}
        tests.append({
            "test_id": test.test_id,
            "title": test.title,
            "category": test.category,
            "category_title": CATEGORY_TITLE[test.category],
            "settings": test.describe(),
            "in_overall_score": test.in_score,
            "section": "deployment" if test.deployment else "suite",
            "timed_seconds": {name: test.quick_seconds * s.timed_scale
                              for name, s in LENGTH_SETTINGS.items()},
            "devices": where,
        })
    return {"suite": SUITE_VERSION, "deploy_suite": DEPLOY_VERSION, "devices": devices,
            "lengths": {name: s.description for name, s in LENGTH_SETTINGS.items()},
            "tests": tests}


# -- one profile -----------------------------------------------------------------------------------
def with_timed_seconds(snapshot: Snapshot, seconds: float | None) -> Snapshot:
    """The profile with its cap on each test's timed phase recorded in its settings.

    A comparison then says that two profiles differ in it. Left as it is when the runner
    recorded it already, or when there was no cap.
    """
    record = snapshot.profile
    if seconds is None or record is None or TIMED_SECONDS_SETTING in record.settings:
        return snapshot
    settings = {**record.settings, TIMED_SECONDS_SETTING: f"{seconds:g}"}
    return snapshot.model_copy(update={"profile": record.model_copy(update={"settings": settings})})


def title_of(test_id: str) -> str:
    """A test's title, or its id for a test this suite version does not know."""
    try:
        return suite_test(test_id).title
    except KeyError:
        return test_id


def score_note(record: ProfileRecord, scores: ProfileScore | None,
               reference: Reference | None) -> str | None:
    """Why the profile has no overall score, in words; None when it has one."""
    if reference is None:
        return (f"{NO_REFERENCE} (resources/reference/hwprof-suite-1.json): the results are "
                "measured, but not scored")
    if reference.suite != record.suite:
        return (f"the reference profile is of {reference.suite}, this profile of "
                f"{record.suite}: no score")
    if scores is None:
        return "no score"
    if scores.invalid_reason:
        return scores.invalid_reason
    if scores.overall is None:
        return "no test that the overall score counts was measured"
    return None


@dataclass(frozen=True)
class ProfileView:
    """A profile snapshot with its scores, as every front end shows it."""

    snapshot: Snapshot
    record: ProfileRecord
    reference: Reference | None
    scores: ProfileScore | None

    @property
    def note(self) -> str | None:
        """Why there is no overall score (None when there is one)."""
        return score_note(self.record, self.scores, self.reference)

    def test_score(self, test_id: str) -> Score | None:
        """One test's score (None: no reference, or the test is not valid)."""
        return self.scores.per_test.get(test_id) if self.scores else None

    def group(self, name: str) -> Score | None:
        """A group's score ("overall", "training", ...).

        None when there is none, or when it is withheld (wrong numerics).
        """
        if self.scores is None:
            return None
        if name == "overall":
            return self.scores.overall
        return self.scores.groups.get(name)


def view(snapshot: Snapshot, reference: Reference | None = None) -> ProfileView:
    """The view of a profile snapshot (ValueError when it is not a profile)."""
    record = snapshot.profile
    if snapshot.kind != "profile" or record is None:
        raise ValueError("not a profile: it holds a session's runs")
    ref = reference if reference is not None else load_reference()
    return ProfileView(snapshot, record, ref, score(snapshot, ref) if ref else None)


def score_dict(s: Score | None) -> dict[str, Any] | None:
    """A score as plain data."""
    if s is None:
        return None
    return {"value": s.value, "low": s.low, "high": s.high, "tests": s.tests}


def overhead_rows(overhead: OverheadSplit | None) -> list[tuple[str, float, float]]:
    """Where the profile's wall time went: (what, seconds, share of the wall time)."""
    if overhead is None:
        return []
    wall = overhead.wall_seconds
    p = overhead.phases
    rows = [
        ("starting workers (process, TensorFlow import)", p.start),
        ("building models and data", p.build),
        ("first steps (tracing, compiling)", p.first_step),
        ("warm-up", p.warmup),
        ("timed", p.timed),
        ("numerics checks", p.numerics),
        ("other (messages, bookkeeping)", p.other),
    ]
    unaccounted = max(0.0, wall - p.total)
    if unaccounted >= 0.5:  # the tests' own phases cover the rest, give or take rounding
        rows.append(("between tests", unaccounted))
    return [(what, s, s / wall if wall > 0 else 0.0) for what, s in rows]


def overhead_summary(overhead: OverheadSplit | None) -> str:
    """One line: the wall time and the share outside measuring."""
    if overhead is None:
        return "no time split recorded"
    return (f"{overhead.wall_seconds:.1f} s in all; {overhead.measuring_seconds:.1f} s measuring "
            "(first steps, warm-up, timed phases); "
            f"{100 * overhead.outside_fraction:.0f}% outside measuring")


def profile_document(v: ProfileView, *, path: str | None = None) -> dict[str, Any]:
    """A profile as one JSON document: the record, its scores and the time split."""
    ref = v.reference
    return {
        "kind": "profile",
        "path": path,
        "suite": v.record.suite,
        "record": v.record.model_dump(mode="json"),
        "reference": ({"name": ref.name, "suite": ref.suite, "machine": ref.machine}
                      if ref else None),
        "scores": None if v.scores is None else {
            "groups": {g: score_dict(v.group(g)) for g in SCORE_GROUP_NAMES},
            "per_test": {t: score_dict(s) for t, s in v.scores.per_test.items()},
            "invalid_reason": v.scores.invalid_reason,
            "missing": list(v.scores.missing),
        },
        "score_note": v.note,
        "overhead": [{"what": w, "seconds": s, "share": f}
                     for w, s, f in overhead_rows(v.record.overhead)],
        "outside_measuring_share": (v.record.overhead.outside_fraction
                                    if v.record.overhead else None),
        "deployment": deploy_document(v.record),
    }


def deploy_document(record: ProfileRecord) -> dict[str, Any] | None:
    """The deployment section as plain data (None when the profile did not run it).

    Each TFLite test with its speed against the device's TensorFlow fp32 test, its accuracy
    and model size, and the sentence the views show.
    """
    from hwprof.core.profile import deploy_rows
    from hwprof.core.profile_text import (
        NO_DEPLOY_REFERENCE,
        accuracy_text,
        deploy_sentence,
        model_size_text,
    )

    if record.deployment is None:
        return None
    rows = []
    for row in deploy_rows(record):
        o = row.outcome
        rows.append({
            "test_id": o.test_id, "title": title_of(o.test_id), "status": o.status,
            "text": fmt_outcome(o, labelled=True), "value": o.value, "unit": o.unit,
            "baseline": row.baseline_id, "against_tensorflow": speedup_dict(row.speedup),
            "accuracy": o.accuracy.model_dump(mode="json") if o.accuracy else None,
            "accuracy_text": accuracy_text(o), "model_bytes": o.model_bytes,
            "model_size_text": model_size_text(o), "sentence": deploy_sentence(row),
        })
    return {"suite": record.deployment.suite, "tests": rows, "note": NO_DEPLOY_REFERENCE}


def profile_summary(snapshot: Snapshot) -> dict[str, Any] | None:
    """What a listing shows of a profile: device, suite, length, overall score.

    None for a session snapshot.
    """
    try:
        v = view(snapshot)
    except ValueError:
        return None
    overall = v.group("overall")
    return {"device": v.record.device, "device_label": v.record.device_label,
            "suite": v.record.suite, "length": v.record.length, "partial": v.record.partial,
            "score": score_dict(overall), "score_note": v.note}


# -- profiles side by side -------------------------------------------------------------------------
class ProfileMixError(ValueError):
    """Snapshots that cannot be compared as profiles. ``str()`` is a message for the user."""


def check_comparable(snapshots: Sequence[Snapshot], names: Sequence[str]) -> list[ProfileRecord]:
    """The profiles' records, or ProfileMixError naming the file that does not fit."""
    kinds = ["profile" if s.kind == "profile" and s.profile is not None else "session"
             for s in snapshots]
    if "profile" in kinds and "session" in kinds:
        prof = names[kinds.index("profile")]
        sess = names[kinds.index("session")]
        raise ProfileMixError(
            f"{prof} is a profile and {sess} is a session snapshot: a profile compares test by "
            "test with other profiles only (hwprof profile --compare A B), and session snapshots "
            "with each other (hwprof compare A B)")
    if "profile" not in kinds:
        raise ProfileMixError(f"{names[0]} is not a profile (it holds a session's runs); make "
                              "one with `hwprof profile`, or compare session snapshots with "
                              "`hwprof compare A B`")
    records = [s.profile for s in snapshots if s.profile is not None]
    first = records[0]
    for name, r in zip(names[1:], records[1:], strict=True):
        if r.suite != first.suite:
            raise ProfileMixError(
                f"{names[0]} is a profile of {first.suite} and {name} of {r.suite}: their tests "
                "are not the same, so they cannot be compared test by test; profile both "
                "machines with the same hwprof version")
    if first.suite != SUITE_VERSION:
        raise ProfileMixError(
            f"{names[0]} is a profile of {first.suite}, a suite this hwprof does not know (it "
            f"runs {SUITE_VERSION}): compare them with the hwprof that made them")
    return records


def record_differences(records: Sequence[ProfileRecord]) -> list[tuple[str, list[str]]]:
    """What differs between profiles beyond the machine: device, length, settings, tests run."""
    facts: dict[str, list[str]] = {
        "profiled device": [f"{r.device} ({r.device_label})" if r.device_label else r.device
                            for r in records],
        "length": [r.length for r in records],
        "tests": [("some (--only): " if r.partial else "all: ")
                  + ", ".join(t.test_id for t in r.tests if t.status != "skipped")
                  for r in records],
    }
    keys: list[str] = []
    for r in records:
        keys += [k for k in r.settings if k not in keys]
    for k in keys:
        facts[k] = [r.settings.get(k, "default") for r in records]
    return [(k, v) for k, v in facts.items() if len(set(v)) > 1]


def speedup_dict(s: Speedup | None) -> dict[str, Any] | None:
    """A speedup as plain data."""
    if s is None:
        return None
    return {"ratio": s.ratio, "low": s.low, "high": s.high, "significant": s.significant}


def comparison_document(snapshots: Sequence[Snapshot], names: Sequence[str], *,
                        only: Sequence[str] | None = None) -> dict[str, Any]:
    """Profiles side by side against the first, as plain data (ProfileMixError if they cannot be).

    ``only``: compare just these tests (the overall ratio then covers those).
    Per test: each profile's outcome, and each other profile's speedup against the first with
    its interval and verdict; overall: the geometric speedup over the fp32 tests both ran; the
    ``wins`` sentences; and what differs between the machines, the software and the profiles'
    own settings.
    """
    from hwprof.core.compare import environment_diff

    records = check_comparable(snapshots, names)
    if only:
        records = [r.model_copy(update={
            "tests": tuple(t for t in r.tests if t.test_id in only),
            "deployment": r.deployment and r.deployment.model_copy(update={"tests": tuple(
                t for t in r.deployment.tests if t.test_id in only)})}) for r in records]
    cmp: ProfileComparison = compare_profiles(records, names)
    tests = []
    for tid, speedups in cmp.per_test.items():
        cells = []
        for i, r in enumerate(records):
            o = r.outcome(tid)
            cell: dict[str, Any] = {
                "profile": names[i], "present": o is not None,
                "status": o.status if o else None,
                "text": fmt_outcome(o, labelled=True) if o else "–",
                "value": o.value if o else None, "low": o.low if o else None,
                "high": o.high if o else None, "unit": o.unit if o else None,
            }
            if o is not None and o.accuracy is not None:  # a deployment test: what it costs
                cell["accuracy_text"] = accuracy_text(o)
            if i > 0:
                sp = speedups[i - 1]
                cell["speedup"] = speedup_dict(sp)
                cell["verdict"] = comparison_verdict(names[0], names[i], sp)
            cells.append(cell)
        deployment = tid in {t.test_id for r in records for t in r.deploy_tests}
        tests.append({"test_id": tid, "title": title_of(tid), "profiles": cells,
                      "deployment": deployment})
    return {
        "suite": records[0].suite,
        "profiles": list(names),
        "tests": tests,
        "overall": [{"profile": names[i + 1], "speedup": speedup_dict(s),
                     "verdict": comparison_verdict(names[0], names[i + 1], s)}
                    for i, s in enumerate(cmp.overall)],
        "wins": list(cmp.wins),
        "environment_diff": [{"fact": k, "values": v} for k, v in environment_diff(snapshots)],
        "profile_diff": [{"fact": k, "values": v} for k, v in record_differences(records)],
    }
