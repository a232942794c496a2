"""The one interface every source of hardware facts implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

# A sample is a flat mapping of metric name -> value in the unit its name carries, e.g.
# {"gpu0.power_watts": 61.2, "gpu0.temperature_c": None}. None means "not available this tick".
Sample = Mapping[str, float | None]


@runtime_checkable
class Backend(Protocol):
    """A source of device facts and live readings (psutil/sysfs, NVML, ...).

    Two failure levels, never a crash: the whole back end is unavailable (``available()`` is False
    and ``unavailable_reason()`` says why, once), or one metric is unavailable (its value is None).
    """

    name: str

    def available(self) -> bool:
        """Whether this back end can be used on this machine."""
        ...

    def unavailable_reason(self) -> str | None:
        """Why it cannot be used, in one line for the user; None when available."""
        ...

    def devices(self) -> Sequence[object]:
        """The static facts of each device this back end covers."""
        ...

    def sample(self) -> Sample:
        """One reading of every live metric."""
        ...
