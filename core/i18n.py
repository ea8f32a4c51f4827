"""User-facing text, looked up by key from locales/<lang>/messages.yaml.

Keeping every Vietnamese sentence in one data file lets a provincial officer reword a message
without touching code, and lets a test prove that every key the code uses exists.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import locales
from core.datafile import DataFileError, load_yaml

LOCALES_DIR = Path(locales.__file__).parent


class Catalog:
    def __init__(self, path: Path) -> None:
        raw = load_yaml(path)
        if not isinstance(raw, dict):
            raise DataFileError(path, None, "a message catalog must map keys to texts")
        bad = [k for k in raw if not isinstance(k, str)]
        if bad:
            raise DataFileError(path, getattr(raw, "line", None),
                                f"message keys must be text; YAML read {bad!r} as non-text (quote them)")
        self.path = path
        self.messages: dict[str, Any] = dict(raw)

    def t(self, key: str, **params: Any) -> str:
        try:
            template = self.messages[key]
        except KeyError:
            raise KeyError(f"message '{key}' is missing from {self.path}") from None
        if isinstance(template, list):
            template = "\n".join(str(x) for x in template)
        return str(template).format(**params) if params else str(template)

    def words(self, key: str) -> list[str]:
        """A list entry (e.g. the words that mean 'back'), for command parsing."""
        value = self.messages.get(key)
        if not isinstance(value, list):
            raise KeyError(f"message '{key}' in {self.path} must be a list")
        return [str(v) for v in value]


@lru_cache(maxsize=4)
def catalog(lang: str = "vi") -> Catalog:
    return Catalog(LOCALES_DIR / lang / "messages.yaml")


def t(key: str, **params: Any) -> str:
    return catalog().t(key, **params)


def source_words(tag: str) -> str:
    """A source tag or provenance status (core/SOURCES.md: C, C2, R, NF, assumption; official,
    secondary) in words an official reads in chat, never the bare code."""
    key = f"source_tag_{tag}"
    return t(key) if key in catalog().messages else tag


def fmt_money(value: float | int | None) -> str:
    """1500000 -> '1.500.000 đ' (Vietnamese groups thousands with dots)."""
    if value is None:
        return t("value_none")
    return f"{round(value):,}".replace(",", ".") + " " + t("currency")


LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # Vietnam has one time zone and no daylight saving


def local_time(moment: datetime) -> datetime:
    """A stored moment in Vietnam's time (SQLite hands back naive UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(LOCAL_TZ)


def fmt_date(value: date | datetime) -> str:
    """dd/mm/yyyy, as dates are written in Vietnamese official documents."""
    return t("date_format", d=value.day, m=value.month, y=value.year)


def fmt_number(value: float | int) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return str(int(value))
