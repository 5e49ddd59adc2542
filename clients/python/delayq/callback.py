"""The callback target of a task (of an add, or of a schedule's occurrences)."""

from dataclasses import dataclass, fields
from typing import Any, Dict, Optional


@dataclass
class Callback:
    """Makes a task a callback task: delayq calls url (or service + path) when due."""

    url: Optional[str] = None
    service: Optional[str] = None
    path: Optional[str] = None
    method: Optional[str] = None
    headers: Optional[Dict[str, str]] = None
    timeout_ms: Optional[int] = None

    def to_json(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Callback":
        return cls(**{f.name: d.get(f.name) for f in fields(cls)})
