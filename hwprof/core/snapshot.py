"""Profile snapshots: one self-contained, versioned file with everything hwprof measured.

Schema v2 (format ``hwprof.snapshot``): the app version, when it was made, the machine as `hwprof
detect` saw it (:class:`~hwprof.core.devices.DetectReport`: host, OS, Python, CPUs, GPUs, driver,
TensorFlow with its CUDA/cuDNN build), the environment variables that change performance, user tags
and a note, and every run with its full spec, per-step timings, result and the telemetry recorded
during it. ``resources/schema/hwprof.snapshot.v2.json`` in the repository is generated from these
models (``python -m hwprof.core.snapshot > resources/schema/hwprof.snapshot.v2.json``); a test
fails when it is stale.

Older schema versions are migrated on load; a newer one is refused with a clear message (hwprof
never guesses at a format it does not know). v2 added fields only (a profile's record, a GPU's
vendor, a run's GPU vendor and number), and is a version of its own so that an older hwprof says
"made by a newer hwprof" instead of failing on a field it does not know.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hwprof.core.devices import DetectReport
from hwprof.core.names import SNAPSHOT_SUFFIXES
from hwprof.core.profile import ProfileRecord
from hwprof.core.results import RunResult
from hwprof.core.snapshot_io import SnapshotError, parse_json, read_text, write_json, write_lock
from hwprof.core.spec import RunSpec
from hwprof.core.telemetry import TelemetryRecord

FORMAT_ID: Literal["hwprof.snapshot"] = "hwprof.snapshot"
SCHEMA_VERSION: Literal[2] = 2
SUFFIXES = SNAPSHOT_SUFFIXES
#: the suffix of the files hwprof names itself (the session's autosave, `--save` without a name)
DEFAULT_SUFFIX = ".hwprof"
#: what a message says a snapshot's name ends in
SUFFIXES_TEXT = f"{', '.join(SUFFIXES[:-1])} or {SUFFIXES[-1]}"

# Environment variables that change what a run measures; recorded so a comparison can explain
# itself.
PERFORMANCE_ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_XLA_FLAGS",
    "TF_GPU_ALLOCATOR",
    "TF_FORCE_GPU_ALLOW_GROWTH",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "KMP_AFFINITY",
    "KMP_BLOCKTIME",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def utc_now() -> str:
    """Now, ISO 8601 in UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SnapshotRun(_Model):
    """One run: what was asked, what happened, and the telemetry recorded during it."""

    run_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    recorded_at: str = Field(default_factory=utc_now, description="ISO 8601, UTC")
    spec: RunSpec
    result: RunResult
    telemetry: TelemetryRecord | None = None
    tags: tuple[str, ...] = ()


class ClusterNode(_Model):
    """Another machine of a multi-worker run, as its own ``hwprof detect`` saw it."""

    task_index: int
    address: str  # its host:port in the cluster
    machine: DetectReport


class Snapshot(_Model):
    """A profile snapshot (schema v2)."""

    format: Literal["hwprof.snapshot"] = FORMAT_ID
    schema_version: Literal[2] = SCHEMA_VERSION
    app_version: str
    created_at: str = Field(default_factory=utc_now)
    modified_at: str = Field(default_factory=utc_now)
    title: str = ""
    tags: tuple[str, ...] = ()
    note: str = ""
    machine: DetectReport
    environment_variables: dict[str, str] = Field(default_factory=dict)
    runs: tuple[SnapshotRun, ...] = ()
    cluster_nodes: tuple[ClusterNode, ...] = Field(
        default=(), description="a multi-machine run: every other node's machine, by task index")
    kind: Literal["session", "profile"] = Field(
        default="session",
        description="a session's runs, or a profile: the suite on one device (see profile)")
    profile: ProfileRecord | None = Field(
        default=None, description="a profile's tests, scores' inputs and time split")

    def with_run(self, run: SnapshotRun) -> Snapshot:
        """A copy with one more run."""
        return self.model_copy(update={"runs": (*self.runs, run), "modified_at": utc_now()})

    def with_new_runs(self, runs: tuple[SnapshotRun, ...] | list[SnapshotRun]) -> Snapshot:
        """A copy with those of ``runs`` it does not hold yet (by ``run_id``), in their order."""
        have = {r.run_id for r in self.runs}
        new = tuple(r for r in runs if r.run_id not in have)
        if not new:
            return self
        return self.model_copy(update={"runs": (*self.runs, *new), "modified_at": utc_now()})

    @property
    def hostname(self) -> str:
        """The machine's name."""
        return self.machine.host.hostname


def performance_environment() -> dict[str, str]:
    """The environment variables of :data:`PERFORMANCE_ENV_VARS` that are set now."""
    return {k: os.environ[k] for k in PERFORMANCE_ENV_VARS if k in os.environ}


def new_snapshot(
    machine: DetectReport, *, title: str = "", tags: tuple[str, ...] = (), note: str = ""
) -> Snapshot:
    """An empty snapshot of this machine."""
    return Snapshot(
        app_version=machine.hwprof_version,
        title=title,
        tags=tags,
        note=note,
        machine=machine,
        environment_variables=performance_environment(),
    )


# -- migrations -----------------------------------------------------------------------------------
def _v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """Upgrade v0 (the prototype: ``hwprof_snapshot: 0``, ``host``, tags as one string)."""
    out = {k: v for k, v in doc.items() if k not in ("hwprof_snapshot", "host", "tags", "env")}
    out["format"] = FORMAT_ID
    out["schema_version"] = 1
    out["machine"] = doc.get("host")
    tags = doc.get("tags") or ""
    out["tags"] = (
        [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else tags
    )
    out["environment_variables"] = doc.get("env") or {}
    out.setdefault("app_version", (doc.get("host") or {}).get("hwprof_version", "0"))
    return out


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Upgrade v1, whose fields v2 all has.

    v2 only added fields (a profile's record, a GPU's vendor, a run's GPU vendor and number), each
    with a default that says what v1 meant (NVIDIA, unpinned).
    """
    return {**doc, "schema_version": 2}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1, 1: _v1_to_v2}


def _schema_version(doc: dict[str, Any]) -> int | None:
    if doc.get("format") == FORMAT_ID:
        version = doc.get("schema_version")
        return version if isinstance(version, int) and not isinstance(version, bool) else None
    if "hwprof_snapshot" in doc:
        version = doc["hwprof_snapshot"]
        return version if isinstance(version, int) and not isinstance(version, bool) else None
    return None


def snapshot_from_document(doc: Any, path: str | os.PathLike[str]) -> Snapshot:
    """Validate (and migrate) a parsed document; every problem is a SnapshotError for ``path``."""
    if not isinstance(doc, dict):
        raise SnapshotError(
            path, f"is not an hwprof snapshot (the JSON is a {type(doc).__name__}, not an object)"
        )
    version = _schema_version(doc)
    if version is None:
        if doc.get("format") == FORMAT_ID:
            raise SnapshotError(path, "has no valid schema_version")
        raise SnapshotError(
            path, f'is not an hwprof snapshot (valid JSON, but no "format": "{FORMAT_ID}")'
        )
    if version > SCHEMA_VERSION:
        raise SnapshotError(
            path,
            f"was written by a newer hwprof (snapshot schema v{version}; this hwprof reads up to "
            f"v{SCHEMA_VERSION}): update hwprof to open it",
        )
    if version < 0:
        raise SnapshotError(path, f"has an impossible schema version ({version})")
    while version < SCHEMA_VERSION:
        try:
            doc = MIGRATIONS[version](doc)
        except Exception as err:  # a damaged old file: say so, never crash
            raise SnapshotError(
                path, f"is damaged: it could not be upgraded from schema v{version} ({err!r})"
            ) from err
        version += 1
    try:
        return Snapshot.model_validate(doc)
    except ValidationError as err:
        raise SnapshotError(path, f"is damaged or incomplete: {_first_errors(err)}") from err
    except (RecursionError, ValueError, TypeError) as err:
        raise SnapshotError(path, f"is damaged or incomplete: {err}") from err


def _first_errors(err: ValidationError, limit: int = 3) -> str:
    parts = []
    for e in err.errors()[:limit]:
        where = ".".join(str(x) for x in e.get("loc", ())) or "(top)"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    more = err.error_count() - limit
    return "; ".join(parts) + (f" (and {more} more problems)" if more > 0 else "")


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """Open a snapshot file (plain or gzip). Raises SnapshotError, and only that."""
    try:
        text = read_text(path)
        try:
            # the fast path: pydantic parses and validates the JSON in one pass (a large snapshot
            # loads about twice as fast as json.loads + validation of the dictionaries)
            return Snapshot.model_validate_json(text)
        except ValidationError:
            pass  # damaged, foreign, older or newer: the careful path says which
        return snapshot_from_document(parse_json(text, path), path)
    except SnapshotError:
        raise
    except Exception as err:  # the loader's contract: one documented error, whatever the bytes
        raise SnapshotError(path, f"could not be read: {err!r}") from err


def snapshot_json(snapshot: Snapshot) -> str:
    """The snapshot as compact JSON text."""
    return snapshot.model_dump_json(by_alias=True)


def _check_name(path: Path) -> None:
    if not str(path).endswith(SUFFIXES):
        raise SnapshotError(path, f"a snapshot file name ends in {SUFFIXES_TEXT}")


def save_snapshot(
    snapshot: Snapshot, path: str | os.PathLike[str], *, overwrite: bool = True
) -> Path:
    """Write a snapshot atomically (gzip when the name ends in .gz). Returns the path.

    Holds the file's lock while it writes, so a save never interleaves with another process's
    append. With ``overwrite=False`` an existing file is refused (checked under the lock, so a
    file made by another process since the caller last looked is refused too). A symbolic link is
    written through to its target.
    """
    p = Path(path)
    _check_name(p)
    with write_lock(p) as target:
        if not overwrite and target.exists():
            raise SnapshotError(p, "exists already, and it is not overwritten unasked: choose "
                                "another name, add to it with --append, or pass --force")
        write_json(target, snapshot_json(snapshot))
    return p


def update_snapshot(
    path: str | os.PathLike[str], change: Callable[[Snapshot | None], Snapshot]
) -> Snapshot:
    """Read the snapshot at ``path``, change it, write it back: one step no other writer splits.

    ``change`` gets the snapshot on disk (None when there is no file yet) and returns the one to
    write. The whole read-change-write holds the file's lock (see
    :func:`~hwprof.core.snapshot_io.write_lock`), so two processes adding runs at once both
    land; a failure leaves the old file as it was. Returns what was written.
    """
    p = Path(path)
    _check_name(p)
    with write_lock(p) as target:
        updated = change(load_snapshot(target) if target.exists() else None)
        write_json(target, snapshot_json(updated))
    return updated


def append_run(
    path: str | os.PathLike[str], run: SnapshotRun, machine: Callable[[], DetectReport]
) -> Snapshot:
    """Add a run to the snapshot at ``path`` (made for this machine when it does not exist yet).

    The file is read, the run added and the whole written back atomically, under the file's lock
    (see :func:`update_snapshot`). ``machine`` is called only when a new snapshot has to be made.
    """
    return update_snapshot(path, lambda old: (old or new_snapshot(machine())).with_run(run))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the current snapshot version, generated from the models."""
    schema = Snapshot.model_json_schema(by_alias=True)
    schema["$id"] = f"https://hwprof.invalid/schema/{FORMAT_ID}.v{SCHEMA_VERSION}.json"
    schema["title"] = f"hwprof snapshot, schema v{SCHEMA_VERSION}"
    return schema


def json_schema_text() -> str:
    """The JSON Schema as the text kept in the repository."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates the schema file kept in the repository
    import sys

    sys.stdout.write(json_schema_text())
