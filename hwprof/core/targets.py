"""Targets: a device with its settings, as a person writes them (``cpu threads=1``, ``gpu:0 bf16``).

A target is what a comparison or a sweep puts side by side. It is written as a device followed by
settings, each ``key=value`` or a bare word for the common ones::

    cpu
    cpu threads=2
    gpu:0 precision=bf16 xla=on
    cpu bf16 xla batch=64

Keys: ``threads`` (TensorFlow's intra-op threads), ``inter`` (inter-op threads), ``precision``
(``fp32``, ``bf16``, ``fp16``, or the Keras names), ``xla`` (on/off), ``batch``, ``size``,
``runtime`` (``tf`` or ``tflite``; ``tflite`` alone says the same). Under TFLite, ``fp16`` means
float16 weights, and ``int8`` (full integer) and ``int8-dynamic`` (dynamic range) are its
quantized precisions. The input of the image workloads: ``data`` (``synthetic`` or ``pipeline``;
either word alone says the same), ``pipeline_threads`` (the tf.data pipeline's threads, a number
or ``auto`` for tf.data.AUTOTUNE) and ``source`` (the side of the pipeline's JPEG images, also
written ``pipeline_source_size``); a target that sets the pipeline's threads or source runs the
pipeline. Anything else is refused with a message that says what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hwprof.core.devices import DEVICE_ID_FORMS, DeviceIdError, parse_device_id
from hwprof.core.spec import PRECISIONS, TFLITE_PRECISIONS, RunSpec, validation_problems

PRECISION_WORDS = {
    "fp32": "fp32", "float32": "fp32",
    "bf16": "mixed_bfloat16", "bfloat16": "mixed_bfloat16", "mixed_bfloat16": "mixed_bfloat16",
    "fp16": "mixed_float16", "float16": "mixed_float16", "mixed_float16": "mixed_float16",
}  # fmt: skip
# TFLite's own precisions; under runtime=tflite, fp16/float16 mean float16 weights
TFLITE_PRECISION_WORDS = {
    "int8": "int8", "int8_dynamic": "int8_dynamic", "int8-dynamic": "int8_dynamic",
    "dynamic": "int8_dynamic", "fp16": "fp16", "float16": "fp16",
}  # fmt: skip
SHORT_PRECISION = {"fp32": "fp32", "mixed_bfloat16": "bf16", "mixed_float16": "fp16",
                   "fp16": "fp16", "int8": "int8", "int8_dynamic": "int8-dynamic"}
RUNTIME_WORDS = {"tf": "tf", "tensorflow": "tf", "tflite": "tflite", "litert": "tflite"}
ON, OFF = {"on", "true", "yes", "1"}, {"off", "false", "no", "0"}
FIELDS = {"threads": "intra_op_threads", "inter": "inter_op_threads", "batch": "batch_size",
          "size": "size", "source": "pipeline_source_size",
          "pipeline_source_size": "pipeline_source_size"}
KEYS = ("threads", "inter", "precision", "xla", "batch", "size", "runtime", "data",
        "pipeline_threads", "source")
DATA_WORDS = ("synthetic", "pipeline")
PIPELINE_FIELDS = ("pipeline_threads", "pipeline_source_size")


class TargetError(ValueError):
    """A target that cannot be understood; the message says why and what is allowed."""


@dataclass(frozen=True)
class Target:
    """A device and the settings that override the study's base spec."""

    device: str
    settings: dict[str, Any] = field(default_factory=dict)  # RunSpec field -> value

    @property
    def label(self) -> str:
        """The canonical way to write it: ``cpu threads=2 bf16 xla``."""
        parts = [self.device]
        s = self.settings
        if "intra_op_threads" in s:
            parts.append(f"threads={s['intra_op_threads']}")
        if "inter_op_threads" in s:
            parts.append(f"inter={s['inter_op_threads']}")
        if "runtime" in s:
            parts.append("tflite" if s["runtime"] == "tflite" else f"runtime={s['runtime']}")
        if "precision" in s:
            parts.append(SHORT_PRECISION[s["precision"]])
        if "xla" in s:
            parts.append("xla" if s["xla"] else "xla=off")
        if "batch_size" in s:
            parts.append(f"batch={s['batch_size']}")
        if "size" in s:
            parts.append(f"size={s['size']}")
        if "data" in s:
            parts.append(s["data"])
        if "pipeline_threads" in s:
            parts.append(f"pipeline_threads={s['pipeline_threads'] or 'auto'}")
        if "pipeline_source_size" in s:
            parts.append(f"source={s['pipeline_source_size']}")
        return " ".join(parts)

    def apply(self, base: RunSpec, **more: Any) -> RunSpec:
        """``base`` run on this target (``more`` overrides last, e.g. a sweep's batch size)."""
        fields = base.model_dump()
        fields.update(device=self.device, **self.settings)
        fields.update(more)
        s = self.settings
        if "data" not in s and any(k in s for k in PIPELINE_FIELDS):
            fields["data"] = "pipeline"  # its threads or source: the pipeline is what it runs
        elif s.get("data") == "synthetic":
            # the base's pipeline settings do not go with synthetic data
            fields.update({k: None for k in PIPELINE_FIELDS if k not in s})
        if "runtime" in s and s["runtime"] != base.runtime:
            fields.update(_runtime_switch(s["runtime"], base, s | more))
        try:
            return RunSpec(**fields)
        except ValidationError as err:
            why = "; ".join(f"{w}: {m}" if w else m for w, m in validation_problems(err))
            raise TargetError(f"{self.label}: {why}") from err


def _runtime_switch(runtime: str, base: RunSpec, given: dict[str, Any]) -> dict[str, Any]:
    """What a target that changes the runtime drops of the base run's settings, unless given.

    A base run's settings that only the other runtime has (a TFLite precision or delegate; XLA,
    a trace or the JPEG pipeline for TFLite) would make the target's run refused for what the
    target did not ask: "cpu runtime=tf" beside a TFLite int8 base run is TensorFlow in fp32.
    """
    drop: dict[str, Any] = {}
    precisions = TFLITE_PRECISIONS if runtime == "tflite" else PRECISIONS
    if "precision" not in given and base.precision not in precisions:
        drop["precision"] = "fp32"
    if runtime == "tf" and "delegate" not in given:
        drop["delegate"] = "xnnpack"
    if runtime == "tflite":
        if "xla" not in given:
            drop["xla"] = False
        if "trace_steps" not in given:
            drop["trace_steps"] = None
        if "data" not in given and not any(k in given for k in PIPELINE_FIELDS):
            drop.update({"data": "synthetic", **{k: None for k in PIPELINE_FIELDS}})
    return drop


def _int(key: str, value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise TargetError(f"{key}={value!r}: a whole number is needed") from None
    if n < 1:
        raise TargetError(f"{key}={value}: must be at least 1")
    return n


def parse_target(text: str) -> Target:
    """Parse ``cpu threads=2 bf16 xla``; a TargetError says what is wrong."""
    words = text.replace(",", " ").split()
    if not words:
        raise TargetError("an empty target: write a device first, e.g. 'cpu', 'gpu:0' or 'tpu:0'")
    try:
        device = str(parse_device_id(words[0]))
    except DeviceIdError:
        raise TargetError(f"{text!r}: a target starts with a device, {DEVICE_ID_FORMS}, "
                          f"not {words[0]!r}") from None
    settings: dict[str, Any] = {}
    precision_word = ""  # read once the runtime is known: fp16 means another thing under TFLite
    for word in words[1:]:
        key, _, value = word.partition("=")
        key, value = key.lower(), value.lower()
        if value:
            key = key.replace("-", "_")  # pipeline-threads= as the flag writes it
        if not value:  # bare words: bf16, fp16, fp32, int8, int8-dynamic, xla, tflite, pipeline
            if key in PRECISION_WORDS or key in TFLITE_PRECISION_WORDS:
                precision_word = key
            elif key == "xla":
                settings["xla"] = True
            elif key in ("tflite", "litert"):
                settings["runtime"] = "tflite"
            elif key in DATA_WORDS:
                settings["data"] = key
            else:
                raise TargetError(f"{text!r}: {word!r} is not a setting; use "
                                  f"{', '.join(k + '=' for k in KEYS)} or bf16/fp16/fp32/int8/"
                                  "int8-dynamic/xla/tflite/pipeline/synthetic")
        elif key == "data":
            if value not in DATA_WORDS:
                raise TargetError(f"data={value}: use synthetic or pipeline")
            settings["data"] = value
        elif key == "pipeline_threads":
            # auto: tf.data.AUTOTUNE, what the spec's None means
            settings["pipeline_threads"] = None if value == "auto" else _int(key, value)
        elif key == "precision":
            if value not in PRECISION_WORDS and value not in TFLITE_PRECISION_WORDS:
                raise TargetError(f"precision={value}: use fp32, bf16 or fp16 (TensorFlow), "
                                  "or fp32, fp16, int8-dynamic or int8 (runtime=tflite)")
            precision_word = value
        elif key == "runtime":
            if value not in RUNTIME_WORDS:
                raise TargetError(f"runtime={value}: use tf or tflite")
            settings["runtime"] = RUNTIME_WORDS[value]
        elif key == "xla":
            if value not in ON | OFF:
                raise TargetError(f"xla={value}: use on or off")
            settings["xla"] = value in ON
        elif key in FIELDS:
            settings[FIELDS[key]] = _int(key, value)
        else:
            raise TargetError(f"{text!r}: unknown setting {key!r}; the settings are "
                              f"{', '.join(KEYS)}")
    if precision_word:
        tflite = settings.get("runtime") == "tflite"
        if tflite and precision_word in TFLITE_PRECISION_WORDS:
            settings["precision"] = TFLITE_PRECISION_WORDS[precision_word]
        elif precision_word in PRECISION_WORDS:
            settings["precision"] = PRECISION_WORDS[precision_word]
        else:
            raise TargetError(f"{text!r}: {precision_word} is a TFLite precision: add "
                              "runtime=tflite")
    if settings.get("data") == "synthetic" and any(k in settings for k in PIPELINE_FIELDS):
        raise TargetError(f"{text!r}: pipeline_threads and source go with the pipeline: "
                          "leave synthetic out (or them)")
    return Target(device, settings)
