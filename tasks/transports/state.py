"""What a channel remembers between runs, in a small JSON file per channel.

`<LEADPIPE_HOME>/state/<channel>.json` holds the Graph watermark and the
files a server would not let us move to `processed/`. One flow run handles a
channel at a time (the deployment's concurrency limit), so a whole-file
rewrite, made atomic by a rename, is enough.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from leadpipe import settings


def default_state_dir() -> Path:
    """Where channel state lives unless told otherwise."""
    return settings.home() / "state"


class ChannelState:
    """A channel's remembered values, saved on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._values: dict[str, Any] = (
            json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        )

    @classmethod
    def for_channel(cls, name: str, state_dir: Path | None = None) -> ChannelState:
        """The state of the tenant channel called `name`."""
        return cls((state_dir or default_state_dir()) / f"{name}.json")

    def get(self, key: str, default: Any = None) -> Any:
        """A remembered value, or `default`."""
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Remember a value (JSON-serialisable) and save at once."""
        self._values[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".part")
        partial.write_text(json.dumps(self._values, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, self.path)
