"""Kubernetes resource quantities as kfp writes them (`set_cpu_limit('500m')`,
`set_memory_limit('1Gi')`), turned into numbers a local scheduler can count with."""

from __future__ import annotations

import re

from pmle.errors import InvalidInput

__all__ = ["cpu_cores", "is_placeholder", "memory_bytes"]

_CPU_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(m?)")
_MEMORY_RE = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(Ei|Pi|Ti|Gi|Mi|Ki|E|P|T|G|M|K|k)?")
_MEMORY_UNITS = {
    None: 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def is_placeholder(value: str) -> bool:
    """Whether a quantity is a `{{$.inputs.parameters[...]}}` placeholder, known only at run time
    (a limit set from a pipeline parameter)."""
    return "{{$" in value


def cpu_cores(quantity: str) -> float:
    """Cores in a CPU quantity: `'2'` → 2.0, `'500m'` → 0.5."""
    match = _CPU_RE.fullmatch(str(quantity).strip())
    if match is None:
        raise InvalidInput(
            f"CPU quantity {quantity!r} is not valid", hint="write cores ('2', '0.5') or '500m'"
        )
    cores = float(match.group(1))
    return cores / 1000 if match.group(2) else cores


def memory_bytes(quantity: str) -> int:
    """Bytes in a memory quantity: `'1G'` → 10**9, `'1Gi'` → 2**30, `'256M'` → 256·10**6."""
    match = _MEMORY_RE.fullmatch(str(quantity).strip())
    if match is None:
        raise InvalidInput(
            f"memory quantity {quantity!r} is not valid", hint="write e.g. '512M', '1G' or '1Gi'"
        )
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])
