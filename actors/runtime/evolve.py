"""`evolve`: dataclasses.replace for the state the HA cycle rebuilds at every step.

The HA node's memory is frozen dataclasses, replaced a few times per event;
dataclasses.replace walks every field and runs __init__ each time (about 8 us
for HaState's 29 fields), which made it the largest single cost of a step -- in
every agent, and in the simulator that runs millions of steps.  For a frozen
dataclass that keeps its fields in a __dict__ (no slots), has no __post_init__
and no init=False fields, copying that dict is the same result at a seventh of
the cost.  Anything else (or an instance whose dict holds more than its
fields, such as cached derived values) goes to dataclasses.replace itself, and so does any
call naming a field the class does not have, so its error is the usual one.

For mypy, `evolve` *is* dataclasses.replace: its plugin checks every call's
field names and types as it would the original's.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

__all__ = ["evolve"]

_FIELDS: dict[type, frozenset[str] | None] = {}
"""Per class: its field names when the fast copy is exact, else None."""


def _fast_fields(cls: type) -> frozenset[str] | None:
    params = getattr(cls, "__dataclass_params__", None)
    fields = dataclasses.fields(cls)
    exact = (
        params is not None
        and params.frozen
        and "__slots__" not in cls.__dict__
        and not hasattr(cls, "__post_init__")
        and all(f.init for f in fields)
    )
    return frozenset(f.name for f in fields) if exact else None


def _evolve(obj: Any, /, **changes: Any) -> Any:
    cls = type(obj)
    try:
        names = _FIELDS[cls]
    except KeyError:
        names = _FIELDS[cls] = _fast_fields(cls)
    if names is None:  # slotted or validated
        return dataclasses.replace(obj, **changes)
    state = obj.__dict__
    if len(state) != len(names) or not changes.keys() <= names:
        # values derived from its fields stored beside them (facts.derived), or a bad name
        return dataclasses.replace(obj, **changes)
    new = object.__new__(cls)
    fresh = new.__dict__  # frozen blocks setattr, not the instance's own dict
    fresh.update(state)
    fresh.update(changes)
    return new


if TYPE_CHECKING:
    from dataclasses import replace as evolve
else:
    evolve = _evolve
