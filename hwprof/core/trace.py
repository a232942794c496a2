"""Where a run's time goes: a TensorFlow profiler capture (XSpace) turned into a summary.

The worker captures a few steps with TensorFlow's profiler after its timed loop and hands the
parsed ``XSpace`` protobuf message here (this module never imports TensorFlow or protobuf: it
reads the message's fields, so a plain stand-in object works as well). What a capture holds, as
seen on TensorFlow 2.21 on a CPU-only machine:

- a plane ``/host:CPU`` whose lines are threads. The ``python`` line holds the step markers
  (``tf.profiler.experimental.Trace("train", step_num=i)``: an event named ``train`` with a
  ``step_num`` stat) and the eager call chain; the ``tf_Compute/...`` lines hold the TensorFlow ops,
  one event per op run, named ``"<op name>:<op type>"`` with the op type as the metadata's
  display name; executor and thread-pool bookkeeping (``ExecutorState::Process``,
  ``ThreadpoolListener::*``, ``MemoryAllocation``) sits beside them with no display name.
- on a GPU, one plane per device (``/device:GPU:0``) whose lines are streams and whose events are
  kernels; a kernel's ``tf_op`` stat names the op (``"<op name>:<op type>"``).

Times are ``line.timestamp_ns * 1000 + event.offset_ps`` picoseconds. On a CPU the ops run on host
threads, so the CPU's op threads are "the device" of the step split.

A ``tf.data`` pipeline consumed inside the step (``next(iterator)`` in the ``tf.function``) shows
as an ``IteratorGetNextOp::DoCompute`` event on a ``tf_data_iterator_get_next`` line: the time the
step waits for its batch. The pipeline's own work (``DecodeJpeg`` and the map function's other ops)
runs on ``tf_data_*`` lines, in the background: it is input-pipeline work, never the step's
compute, and it is only waited for where the consumer waits.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal[
    "matmul/conv",
    "elementwise",
    "normalization",
    "data movement",
    "collectives",
    "input pipeline",
    "host/other",
]
CATEGORIES: tuple[Category, ...] = (
    "matmul/conv", "elementwise", "normalization", "data movement", "collectives",
    "input pipeline", "host/other",
)
Where = Literal["host", "device"]
VerdictKind = Literal["compute-bound", "input-bound", "launch-bound", "unknown"]

# Op type -> category, first match wins: a table to extend. The patterns see the op type with
# oneDNN's and the fusion prefixes removed (``_MklNativeFusedConv2D`` -> ``Conv2D``), see op_family.
CATEGORY_PATTERNS: tuple[tuple[Category, str], ...] = (
    ("collectives", r"^(Collective|Nccl|AllReduce|AllGather|ReduceScatter|AllToAll"
                    r"|Xla.*Collective)"),
    ("input pipeline", r"^(IteratorGetNext|Iterator|MultiDeviceIterator|OptionalGetValue"
                       r"|MakeIterator|AnonymousIterator|DecodeJpeg|DecodeImage|Prefetch)"),
    ("matmul/conv", r"(MatMul|Conv[23]D|Conv$|Einsum|Gemm|gemm|conv|Depthwise|Dot)"),
    ("normalization", r"(BatchNorm|LayerNorm|Normaliz|Softmax|InstanceNorm|GroupNorm|LRN)"),
    ("data movement", r"^(Reshape|Transpose|Concat|Slice|StridedSlice|Pad|Gather|Scatter|Identity"
                      r"|ReadVariableOp|AssignVariableOp|Squeeze|ExpandDims|Tile|Pack|Unpack"
                      r"|Split|Fill|ZerosLike|OnesLike|Shape|Size|Const|Cast|Send|Recv|_Send"
                      r"|_Recv|Memcpy|memcpy|CopyHostTo|CopyDeviceTo|DataFormat|Reverse"
                      r"|BroadcastTo|Snapshot|ResourceGather|ResourceScatter|TensorList)"),
    ("elementwise", r"^(Add|AddN|AddV2|Sub|Mul|Div|DivNoNan|RealDiv|FloorDiv|FloorMod|Mod|Neg"
                    r"|Abs|Square|Sqrt|Rsqrt|Exp|Log|Log1p|Pow|Maximum|Minimum|Relu|Relu6|Elu"
                    r"|Selu|Gelu|Sigmoid|Tanh|Softplus|LeakyRelu|Select|SelectV2|Greater|Less"
                    r"|Equal|NotEqual|LogicalAnd|LogicalOr|LogicalNot|BiasAdd|Sum|Mean|Max|Min"
                    r"|Prod|ArgMax|ArgMin|AssignAdd|AssignSub|AssignAddVariableOp"
                    r"|AssignSubVariableOp|ResourceApply|ApplyGradient|Stateless|Random"
                    r"|Erf|Round|Floor|Ceil|Sign|Reciprocal|SquaredDifference|ClipByValue"
                    r"|MaxPool|AvgPool|SparseSoftmaxCrossEntropy|SoftmaxCrossEntropy"
                    r"|OnesLike|Bias|Tanh|Sigmoid)"),
)
_COMPILED = tuple((cat, re.compile(pat)) for cat, pat in CATEGORY_PATTERNS)

# Ops that only call other ops (a function call, control flow): their time is their callees',
# which are counted where they run, so they are left out of op time and of the busy time.
CONTAINER_OP_TYPES = frozenset({
    "PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "If",
    "StatelessIf", "Case", "StatelessCase", "_XlaRun", "XlaLaunch", "_XlaCompile",
})

# The verdict's thresholds.
# TensorBoard's profiler calls a step "highly input-bound" when over 20% of it waits for input
# (its overview page's own threshold); hwprof uses the same so the two tools agree.
INPUT_BOUND_SHARE = 0.20
# An op whose self time is under this is mostly launch and scheduling: a GPU kernel launch costs
# about 5 us and TensorFlow's executor a few us per op on a CPU, so at 10 us half is overhead.
SMALL_OP_SECONDS = 10e-6
# ... and a step is launch-bound when such ops are the norm (median) and the device (or the CPU's op
# threads) is busy under half of the step: the rest is dispatch, scheduling and Python.
LAUNCH_BOUND_BUSY_SHARE = 0.50
# Most ops listed in the summary (the category and type tables hold every op).
TOP_OPS = 30
# The Chrome trace kept in a snapshot: at most this many bytes gzip-compressed. Past it the
# shortest events are dropped (and counted): a long event says more about where time goes.
TRACE_MAX_GZIP_BYTES = 4 * 1024 * 1024

# The consumer's side of tf.data: the step waits for its next batch for this event's length.
INPUT_WAIT_EVENT = re.compile(r"^Iterator\w*GetNext\w*Op::DoCompute$")
# Threads whose ops are the input pipeline's, whatever their type (tf.data's own thread pools).
INPUT_THREAD_PREFIX = "tf_data"

_OP_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREFIXES = ("_MklNative", "_MklLayerDependent", "_Mkl", "_Fused", "Fused", "Native", "_")
_SUFFIXES = ("BackpropFilterWithBias", "BackpropFilter", "BackpropInput", "Backprop", "Grad",
             "WithBias")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class OpTime(_Model):
    """One op (by name) over the traced steps."""

    name: str
    op_type: str
    category: Category
    where: Where
    self_time_s: float = Field(ge=0)
    count: int = Field(ge=0)


class OpTypeTime(_Model):
    """Every op of one type over the traced steps."""

    op_type: str
    category: Category
    where: Where
    self_time_s: float = Field(ge=0)
    count: int = Field(ge=0)


class CategoryTime(_Model):
    """Every op of one category."""

    category: Category
    self_time_s: float = Field(ge=0)
    count: int = Field(ge=0)
    share: float = Field(ge=0, le=1, description="of all op self time")


class StepSplit(_Model):
    """One traced step: where its time went (the four parts add up to step_s)."""

    step_num: int
    step_s: float = Field(ge=0)
    device_compute_s: float = Field(ge=0, description="some op runs on the device")
    device_idle_s: float = Field(
        ge=0, description="between the step's first and last op, nothing runs")
    host_s: float = Field(
        ge=0, description="before the first op and after the last: Python, dispatch, copies back")
    input_wait_s: float = Field(ge=0, description="only an input-pipeline op runs")
    ops: int = Field(ge=0)
    start_s: float | None = Field(
        default=None, description="when the step began, time.monotonic() seconds in the worker "
        "(the telemetry's clock: the step sits on the Live charts' time axis); None: not known")


class Verdict(_Model):
    """What bounds the run, in words, and the one setting most likely to help."""

    kind: VerdictKind
    text: str
    advice: str
    command: str | None = Field(default=None, description="the hwprof command that measures it")


class TraceSummary(_Model):
    """Where the traced steps' time went."""

    steps_traced: int = Field(ge=0)
    where_ops_run: str = Field(description='"GPU" or "CPU (host threads)"')
    ops: tuple[OpTime, ...] = Field(default=(), description=f"the top {TOP_OPS} by self time")
    op_types: tuple[OpTypeTime, ...] = ()
    categories: tuple[CategoryTime, ...] = ()
    steps: tuple[StepSplit, ...] = ()
    op_time_s: float = Field(default=0.0, ge=0, description="all ops' self time")
    ops_per_step: float | None = None
    median_op_s: float | None = Field(default=None, description="median op self time")
    verdict: Verdict | None = None
    traced_step_median_s: float | None = None
    untraced_step_median_s: float | None = None
    tracing_overhead: float | None = Field(
        default=None, description="traced step median / untraced step median")
    capture_bytes: int | None = Field(
        default=None, ge=0, description="the profiler's raw capture (XSpace protobuf), in bytes")
    chrome_trace_gzip_base64: str | None = Field(
        default=None, description="Chrome trace event JSON, gzip, base64")
    chrome_trace_events: int = 0
    chrome_trace_dropped: int = Field(
        default=0, description=f"shortest events dropped to stay under {TRACE_MAX_GZIP_BYTES} "
        "bytes compressed")
    notes: tuple[str, ...] = ()

    def step_split_totals(self) -> dict[str, float]:
        """The steps' parts summed: compute, idle, host, input wait and the whole."""
        keys = ("device_compute_s", "device_idle_s", "host_s", "input_wait_s", "step_s")
        return {k: sum(getattr(s, k) for s in self.steps) for k in keys}


class TraceError(ValueError):
    """A capture that cannot be read: its message says why in plain words."""


def op_family(op_type: str) -> str:
    """The op type without oneDNN/fusion prefixes and gradient suffixes: its family.

    ``_MklNativeConv2DBackpropFilterWithBias`` -> ``Conv2D``; ``ReluGrad`` -> ``Relu``.
    """
    name = op_type
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name, changed = name[len(prefix):], True
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name


@functools.lru_cache(maxsize=4096)  # a capture has thousands of ops of a few dozen types
def categorize(op_type: str) -> Category:
    """The category of an op type (:data:`CATEGORY_PATTERNS`, first match), else host/other."""
    family = op_family(op_type)
    for category, pattern in _COMPILED:
        if pattern.search(family) or pattern.search(op_type):
            return category
    return "host/other"


# -- reading a capture --------------------------------------------------------------------------
@dataclass(frozen=True)
class _OpEvent:
    name: str
    op_type: str
    where: Where
    start_ps: int
    end_ps: int
    self_ps: int
    line_key: tuple[int, int]
    input_thread: bool = False  # on one of tf.data's threads: input-pipeline work

    @property
    def is_input(self) -> bool:
        return self.input_thread or categorize(self.op_type) == "input pipeline"


@dataclass(frozen=True)
class _Span:
    name: str
    start_ps: int
    end_ps: int
    step_num: int


def _stat_value(plane: Any, stat: Any) -> Any:
    kind = stat.WhichOneof("value")
    if kind is None:
        return None
    value = getattr(stat, kind)
    if kind == "ref_value":
        meta = plane.stat_metadata.get(value)
        return meta.name if meta is not None else None
    return value


def _stats(plane: Any, stats: Iterable[Any]) -> dict[str, Any]:
    out = {}
    for stat in stats:
        meta = plane.stat_metadata.get(stat.metadata_id)
        if meta is not None:
            out[meta.name] = _stat_value(plane, stat)
    return out


def split_op(text: str, display: str = "") -> tuple[str, str] | None:
    """``"name:Type"`` as (name, type), or None when it is not an op event."""
    if display and text.endswith(":" + display) and _OP_TYPE.match(display):
        return text[: -len(display) - 1] or display, display
    if "::" in text:
        return None
    name, sep, op_type = text.rpartition(":")
    if sep and name and _OP_TYPE.match(op_type):
        return name, op_type
    return None


def _is_device_plane(name: str) -> bool:
    return name.startswith("/device:") and not name.startswith("/device:CUSTOM")


def _read(xspace: Any) -> tuple[list[_OpEvent], list[_Span], list[tuple[int, int]], bool]:
    ops: list[_OpEvent] = []
    spans: list[_Span] = []
    waits: list[tuple[int, int]] = []
    device_seen = False
    for p_index, plane in enumerate(xspace.planes):
        device = _is_device_plane(plane.name)
        for l_index, line in enumerate(plane.lines):
            base_ps = int(line.timestamp_ns) * 1000
            input_thread = not device and str(line.name).startswith(INPUT_THREAD_PREFIX)
            found: list[tuple[int, int, str, str]] = []
            for event in line.events:
                meta = plane.event_metadata.get(event.metadata_id)
                if meta is None:
                    continue
                start = base_ps + int(event.offset_ps)
                end = start + int(event.duration_ps)
                if not device:
                    stats = _stats(plane, event.stats) if len(event.stats) else {}
                    if "step_num" in stats and isinstance(stats["step_num"], int):
                        spans.append(_Span(meta.name, start, end, int(stats["step_num"])))
                        continue
                    if INPUT_WAIT_EVENT.match(meta.name):
                        waits.append((start, end))
                        continue
                    op = split_op(meta.name, meta.display_name)
                else:
                    stats = _stats(plane, event.stats)
                    tf_op = stats.get("tf_op")
                    op = split_op(tf_op) if isinstance(tf_op, str) else None
                    if op is None:
                        op = (meta.display_name or meta.name, meta.display_name or meta.name)
                if op is None or op[1] in CONTAINER_OP_TYPES:
                    continue
                found.append((start, end, op[0], op[1]))
            if found and device:
                device_seen = True
            found.sort(key=lambda f: (f[0], -f[1]))
            ops.extend(_self_times(found, "device" if device else "host", (p_index, l_index),
                                   input_thread))
    return ops, spans, waits, device_seen


def _self_times(found: list[tuple[int, int, str, str]], where: Where,
                key: tuple[int, int], input_thread: bool = False) -> list[_OpEvent]:
    """Ops on one line (sorted by start), each less the ops nested in it on that line."""
    child_ps = [0] * len(found)
    stack: list[int] = []
    for i, (start, end, _, _) in enumerate(found):
        while stack and found[stack[-1]][1] <= start:
            stack.pop()
        if stack:
            child_ps[stack[-1]] += min(end, found[stack[-1]][1]) - start
        stack.append(i)
    return [_OpEvent(name, op_type, where, start, end, max(0, end - start - child_ps[i]), key,
                     input_thread)
            for i, (start, end, name, op_type) in enumerate(found)]


def _union(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _length(intervals: Sequence[tuple[int, int]]) -> int:
    return sum(b - a for a, b in intervals)


def _minus(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of union ``a`` outside union ``b`` (both sorted, disjoint)."""
    out: list[tuple[int, int]] = []
    j = 0
    for start, end in a:
        cur = start
        while j < len(b) and b[j][1] <= cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] < end:
            if b[k][0] > cur:
                out.append((cur, b[k][0]))
            cur = max(cur, b[k][1])
            k += 1
        if cur < end:
            out.append((cur, end))
    return out


def _clip(intervals: Sequence[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    return [(max(a, lo), min(b, hi)) for a, b in intervals if b > lo and a < hi]


def _step_split(span: _Span, ops: Sequence[_OpEvent], device_seen: bool,
                waits: Sequence[tuple[int, int]] = ()) -> StepSplit:
    """One step's split; ``waits``: the capture's consumer waits (IteratorGetNextOp::DoCompute).

    With consumer waits in the capture, input wait is the consumer waiting (and input-pipeline
    ops on the step's own threads): the pipeline's background work on tf.data's threads, which a
    prefetch overlaps with compute, is not waited for. Without them (a TensorFlow that does not
    mark them), every input-pipeline op counts.
    """
    lo, hi = span.start_ps, span.end_ps
    inside = [o for o in ops if o.end_ps > lo and o.start_ps < hi]
    busy_src = [o for o in inside if (o.where == "device") == device_seen and not o.is_input]
    busy = _clip(_union((o.start_ps, o.end_ps) for o in busy_src), lo, hi)
    if waits:
        input_src = [*waits, *((o.start_ps, o.end_ps) for o in inside
                               if o.is_input and not o.input_thread)]
    else:
        input_src = [(o.start_ps, o.end_ps) for o in inside if o.is_input]
    inputs = _clip(_union(input_src), lo, hi)
    input_wait = _minus(inputs, busy)
    total = hi - lo
    compute = _length(busy)
    wait = _length(input_wait)
    if busy:
        first, last = busy[0][0], busy[-1][1]
        outside = [(lo, first), (last, hi)]
        host = _length(_minus(_union(outside), _union(input_wait)))
    else:
        host = max(0, total - wait)
    idle = max(0, total - compute - wait - host)
    ps = 1e-12
    return StepSplit(step_num=span.step_num, step_s=total * ps, device_compute_s=compute * ps,
                     device_idle_s=idle * ps, host_s=host * ps, input_wait_s=wait * ps,
                     ops=len(inside))


def summarize_capture(xspace: Any) -> TraceSummary:
    """The summary of one capture (an ``XSpace`` message); :class:`TraceError` if it has none.

    Ops inside the step markers count; with no step markers, the whole capture does (noted).
    """
    planes = list(getattr(xspace, "planes", ()))
    if not planes:
        raise TraceError("the capture holds no trace planes (the profiler recorded nothing)")
    ops, spans, waits, device_seen = _read(xspace)
    if not ops:
        raise TraceError("the capture holds no TensorFlow ops (the profiler saw no op run)")
    notes: list[str] = []
    spans.sort(key=lambda s: s.start_ps)
    if spans:
        windows = _union((s.start_ps, s.end_ps) for s in spans)
        counted = [o for o in ops if any(o.end_ps > a and o.start_ps < b for a, b in windows)]
    else:
        counted = ops
        notes.append("the capture has no step markers: the whole capture is summarized")
    by_name: dict[tuple[str, str, Where], list[int]] = {}
    by_type: dict[tuple[str, Where], list[int]] = {}
    by_cat: dict[Category, list[int]] = {c: [0, 0] for c in CATEGORIES}
    for o in counted:
        for entry in (by_name.setdefault((o.name, o.op_type, o.where), [0, 0]),
                      by_type.setdefault((o.op_type, o.where), [0, 0])):
            entry[0] += o.self_ps
            entry[1] += 1
        cat = by_cat[categorize(o.op_type)]
        cat[0] += o.self_ps
        cat[1] += 1
    total_ps = sum(o.self_ps for o in counted)
    ps = 1e-12
    top = sorted(by_name.items(), key=lambda kv: -kv[1][0])[:TOP_OPS]
    op_rows = tuple(OpTime(name=n, op_type=t, category=categorize(t), where=w,
                           self_time_s=v[0] * ps, count=v[1]) for (n, t, w), v in top)
    type_rows = tuple(OpTypeTime(op_type=t, category=categorize(t), where=w,
                                 self_time_s=v[0] * ps, count=v[1])
                      for (t, w), v in sorted(by_type.items(), key=lambda kv: -kv[1][0]))
    cat_rows = tuple(CategoryTime(category=c, self_time_s=v[0] * ps, count=v[1],
                                  share=min(1.0, v[0] / total_ps) if total_ps else 0.0)
                     for c, v in sorted(by_cat.items(), key=lambda kv: -kv[1][0]) if v[1])
    steps = tuple(_step_split(s, ops, device_seen, waits) for s in spans)
    main_ops = [o for o in counted if (o.where == "device") == device_seen]
    return TraceSummary(
        steps_traced=len(spans),
        where_ops_run="GPU" if device_seen else "CPU (host threads)",
        ops=op_rows,
        op_types=type_rows,
        categories=cat_rows,
        steps=steps,
        op_time_s=total_ps * ps,
        ops_per_step=len(main_ops) / len(spans) if spans else None,
        median_op_s=statistics.median(o.self_ps for o in main_ops) * ps if main_ops else None,
        notes=tuple(notes),
    )


# -- the verdict ---------------------------------------------------------------------------------
def _percent(x: float) -> str:
    return f"{100 * x:.0f}%"


def verdict(summary: TraceSummary, *, workload: str, device: str, mode: str = "train",
            xla: bool = False, batch_size: int | None = None, size: int | None = None,
            data: str = "synthetic", pipeline_threads: int | None = None,
            source_size: int | None = None) -> Verdict:
    """What bounds the traced steps, its numbers, and the one setting most likely to help.

    ``device`` is the run's "cpu" or "gpu:N", used in the command that measures the advice.
    ``data`` and the pipeline's threads (None: tf.data.AUTOTUNE) and source size are the run's
    input: an input-bound run of hwprof's pipeline gets a command that measures more threads.
    """
    totals = summary.step_split_totals()
    step_ps = totals["step_s"]
    gpu = summary.where_ops_run == "GPU"
    main = [t for t in summary.op_types if (t.where == "device") == gpu]
    if not summary.steps or step_ps <= 0 or not main:
        return Verdict(kind="unknown", text="not enough of the capture to judge (no traced step "
                       "with ops)", advice="trace more steps (--trace 10)")
    input_share = totals["input_wait_s"] / step_ps
    busy_share = totals["device_compute_s"] / step_ps
    where = "the GPU" if gpu else "the CPU's op threads"
    base = f"hwprof compare --workload {workload} --mode {mode}"
    if input_share >= INPUT_BOUND_SHARE:
        advice, command = _input_advice(base, device, batch_size, size, data, pipeline_threads,
                                        source_size)
        return Verdict(
            kind="input-bound",
            text=f"input-bound: {where} wait {_percent(input_share)} of each step for input",
            advice=advice, command=command)
    # the comparison measures this run's own batch and size, not the workload's defaults
    sized = base + (f" --size {size}" if size is not None else "")
    run_base = sized + (f" --batch-size {batch_size}" if batch_size is not None else "")
    median = summary.median_op_s
    if median is not None and median < SMALL_OP_SECONDS and busy_share < LAUNCH_BOUND_BUSY_SHARE:
        per_step = summary.ops_per_step or 0.0
        if xla:
            big = (batch_size or 1) * 4
            advice = "a larger batch (more work per op)"
            command = (f'{sized} --target "{device} xla batch={batch_size}" '
                       f'--target "{device} xla batch={big}"' if batch_size else None)
        else:
            advice = "fuse the small ops with XLA, or a larger batch (more work per op)"
            command = f'{run_base} --target "{device}" --target "{device} xla"'
        return Verdict(
            kind="launch-bound",
            text=f"launch-bound: {per_step:,.0f} small ops per step, median "
            f"{median * 1e6:.0f} us; {where} busy {_percent(busy_share)} of each step",
            advice=advice, command=command)
    families: dict[str, float] = {}
    for t in main:
        families[op_family(t.op_type)] = families.get(op_family(t.op_type), 0.0) + t.self_time_s
    op_total = sum(families.values())
    family, family_s = max(families.items(), key=lambda kv: kv[1])
    share = family_s / op_total if op_total else 0.0
    if gpu:
        advice = "mixed precision (mixed_float16) uses the tensor cores"
        command = f'{run_base} --target "{device}" --target "{device} fp16"'
    elif not xla:
        advice = "XLA fuses the ops around it; a larger batch keeps the cores busier"
        command = f'{run_base} --target "{device}" --target "{device} xla"'
    else:
        advice = "a larger batch keeps the cores busier"
        command = None
    return Verdict(
        kind="compute-bound",
        text=f"compute-bound: {family} and its gradients take {_percent(share)} of "
        f"{'device' if gpu else 'op'} time; {where} busy {_percent(busy_share)} of each step",
        advice=advice, command=command)


def _input_advice(base: str, device: str, batch_size: int | None, size: int | None, data: str,
                  threads: int | None, source_size: int | None) -> tuple[str, str | None]:
    """The input-bound advice, and for hwprof's own pipeline the comparison that measures it.

    The comparison keeps the run's batch, image side and JPEG size (base flags) and varies only
    the pipeline: its threads against tf.data.AUTOTUNE, or, already at AUTOTUNE, against
    synthetic data (what the input costs the step).
    """
    if data != "pipeline":
        return ("give the input pipeline more threads (num_parallel_calls=tf.data.AUTOTUNE) "
                "and prefetch (dataset.prefetch(tf.data.AUTOTUNE))"), None
    flags = [base]
    for flag, value in (("--batch-size", batch_size), ("--size", size)):
        if value is not None:
            flags.append(f"{flag} {value}")
    flags.append("--data pipeline")
    if source_size is not None:
        flags.append(f"--pipeline-source-size {source_size}")
    if threads is not None:
        advice = (f"give the input pipeline more threads than {threads}: tf.data.AUTOTUNE picks "
                  "the map's parallelism and the batches prefetched (--pipeline-threads left out)")
        targets = f'--target "{device} pipeline_threads={threads}" ' \
                  f'--target "{device} pipeline_threads=auto"'
    else:
        advice = ("the pipeline has tf.data.AUTOTUNE's threads already: smaller source images "
                  "(--pipeline-source-size) or the decoded images cached; synthetic data shows "
                  "what the input costs")
        targets = f'--target "{device}" --target "{device} synthetic"'
    return advice, f"{' '.join(flags)} {targets}"


def tracing_overhead(traced_s: Sequence[float], untraced_s: Sequence[float]) -> float | None:
    """Traced step median / untraced step median (1.12: tracing cost 12% speed); None if unknown."""
    if not traced_s or not untraced_s:
        return None
    base = statistics.median(untraced_s)
    return statistics.median(traced_s) / base if base > 0 else None


# -- Chrome trace export -------------------------------------------------------------------------
def chrome_trace(xspace: Any, *, max_gzip_bytes: int = TRACE_MAX_GZIP_BYTES
                 ) -> tuple[bytes, int, int]:
    """The capture as Chrome trace event JSON, gzip-compressed: (bytes, events kept, dropped).

    Every plane is a process and every line a thread ("M" metadata events name them); every
    event is a complete ("X") event with ts/dur in microseconds from the capture's first event.
    Past ``max_gzip_bytes`` the shortest events are dropped until it fits.
    """
    meta: list[dict[str, Any]] = []
    events: list[tuple[int, int, int, int, str, str]] = []  # dur, start, pid, tid, name, cat
    for pid, plane in enumerate(xspace.planes, start=1):
        if not len(plane.lines):
            continue
        meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                     "args": {"name": plane.name or f"plane {pid}"}})
        for tid, line in enumerate(plane.lines, start=1):
            meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                         "args": {"name": line.display_name or line.name or f"line {tid}"}})
            base_ps = int(line.timestamp_ns) * 1000
            for event in line.events:
                md = plane.event_metadata.get(event.metadata_id)
                text = md.name if md is not None else "?"
                op = split_op(text, md.display_name if md is not None else "")
                cat = categorize(op[1]) if op else "host/other"
                events.append((int(event.duration_ps), base_ps + int(event.offset_ps), pid, tid,
                               text, cat))
    t0 = min((e[1] for e in events), default=0)
    events.sort(key=lambda e: -e[0])  # longest first: what stays when the cap cuts
    keep = len(events)
    while True:
        chosen = sorted(events[:keep], key=lambda e: (e[2], e[3], e[1]))
        doc = {"displayTimeUnit": "ms", "traceEvents": meta + [
            {"ph": "X", "name": name, "cat": cat, "pid": pid, "tid": tid,
             "ts": (start - t0) / 1e6, "dur": dur / 1e6}
            for dur, start, pid, tid, name, cat in chosen]}
        data = gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0)
        if len(data) <= max_gzip_bytes or keep == 0:
            return data, keep, len(events) - keep
        keep = int(keep * max_gzip_bytes / len(data) * 0.9)


def encode_trace(data: bytes) -> str:
    """Gzip bytes as the base64 text a snapshot keeps."""
    return base64.b64encode(data).decode("ascii")


def decode_trace(text: str) -> bytes:
    """The gzip bytes a snapshot keeps; :class:`TraceError` if they are not base64 of gzip."""
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as err:
        raise TraceError(f"the kept trace is not base64 ({err})") from None
    if data[:2] != b"\x1f\x8b":
        raise TraceError("the kept trace is not gzip data")
    return data
