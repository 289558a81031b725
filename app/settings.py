"""What the window remembers between runs (QSettings, INI format in the user's config folder)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

ORGANIZATION = "EchoRegionalQuality"
APPLICATION = "RegionalQuality"


def qsettings() -> QSettings:
    """The application's settings store."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


@dataclass
class GuiSettings:
    """Choices kept between runs."""
    last_source: str = ""
    scanner_address: str = "127.0.0.1:18944"
    view: str = "auto"                 # auto (recognised per frame), a4c, a2c or alax
    method: str = ""
    loop: bool = True
    show_scores: bool = False
    strip_seconds: float = 10.0
    output_folder: str = ""
    open_folder: str = ""
    geometry: QByteArray | None = None


def default_output_folder() -> str:
    """Where recordings and snapshots go unless the user picks another folder."""
    return str(Path.home() / "RegionalQuality")


def load_settings(store: QSettings | None = None) -> GuiSettings:
    """The saved choices (defaults for anything missing or unreadable)."""
    store = store or qsettings()
    values = GuiSettings()
    for f in fields(GuiSettings):
        default = getattr(values, f.name)
        if not store.contains(f.name):
            continue
        raw = store.value(f.name)
        try:
            if isinstance(default, bool):
                value = raw if isinstance(raw, bool) else str(raw).lower() in ("true", "1", "yes")
            elif isinstance(default, float):
                value = float(raw)
            elif isinstance(default, str):
                value = str(raw)
            else:
                value = raw if isinstance(raw, QByteArray) else None
        except (TypeError, ValueError):
            continue
        setattr(values, f.name, value)
    return values


def save_settings(values: GuiSettings, store: QSettings | None = None) -> None:
    """Write the choices (flushed to disk at once)."""
    store = store or qsettings()
    for f in fields(GuiSettings):
        value = getattr(values, f.name)
        if value is not None:
            store.setValue(f.name, value)
    store.sync()
