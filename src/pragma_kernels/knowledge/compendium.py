"""The metric compendium: what every profiler metric means, in one schema.

The shipped `compendium.json` holds one `MetricDoc` per (profiler, metric name): what the
metric measures, how it is obtained, what high and low values indicate, which bottleneck
classes it is evidence for (the diagnosis's `Bottleneck` values, checked on loading), and
concrete remedies for Triton (GPU) or C++ (CPU) kernels. The Profiler attaches
`meaning()` to each metric it reports; the Conductor reads it.

Loading is pure apart from reading the file; a malformed file raises `CompendiumError`
naming the file and the entry.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from pragma_kernels.bottlenecks import Bottleneck
from pragma_kernels.errors import PragmaError

PROFILERS: tuple[str, ...] = ("ncu", "perf", "cachegrind", "static_cpu", "gpu_fallback")
# What a metric can be evidence for: every diagnosis class but "no clear bottleneck".
REVEALABLE: tuple[Bottleneck, ...] = tuple(b for b in Bottleneck if b is not Bottleneck.NONE_FOUND)

# Literal over the tuple above (a subscript tuple is unpacked), so the name list is written once.
Profiler = Literal[PROFILERS]

# Short fields: the text goes into LLM prompts for every metric of a profile.
Text = Annotated[str, Field(min_length=1, max_length=200)]
Remedy = Annotated[str, Field(min_length=1, max_length=120)]

_PACKAGE = "pragma_kernels.knowledge"
_RESOURCE = "compendium.json"


class CompendiumError(PragmaError):
    """The compendium file is missing or malformed (names the file and the entry)."""

    def __init__(self, path: str, problem: str, entry: str | None = None):
        self.path, self.problem, self.entry = path, problem, entry
        where = f"{path}: {entry}" if entry else path
        super().__init__(f"{where}: {problem}. Fix: correct that entry in the compendium file")

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.entry))


class MetricDoc(BaseModel):
    """What one profiler metric means and which bottleneck it points to."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1)]
    profiler: Profiler
    unit: Annotated[str, Field(min_length=1, max_length=40)]
    measures: Text
    how: Text
    high_means: Text
    low_means: Text
    reveals: tuple[Bottleneck, ...] = ()  # the diagnosis's classes (diagnosis/classes.py)
    remedies: Annotated[tuple[Remedy, ...], Field(min_length=1, max_length=4)]

    @field_validator("reveals", mode="before")
    @classmethod
    def _known_bottlenecks(cls, value: object) -> object:
        """A clear message for a name the diagnosis does not know (pydantic's lists them
        all with their enum repr, and accepts "no clear bottleneck", which no metric reveals)."""
        if isinstance(value, (list, tuple)):
            valid = {b.value for b in REVEALABLE}
            for name in value:
                if name not in valid:
                    raise ValueError(
                        f"unknown bottleneck {name!r}; use the diagnosis's classes: "
                        + ", ".join(sorted(valid))
                    )
        return value

    def meaning(self) -> str:
        """One line for a prompt: 'measures ...; high: ...; low: ...'."""
        sides = [
            f"{side}: {_clause(text)}"
            for side, text in (("high", self.high_means), ("low", self.low_means))
            if _clause(text).strip("- ")  # "-": nothing to say
        ]
        return "; ".join([f"measures {_lower_first(_clause(self.measures))}", *sides])


class Compendium(BaseModel):
    """All metric docs, looked up by (profiler, name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    description: str = ""
    metrics: tuple[MetricDoc, ...]

    _exact: dict[tuple[str, str], MetricDoc] = PrivateAttr(default_factory=dict)
    _folded: dict[tuple[str, str], MetricDoc] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        for doc in self.metrics:
            key = (doc.profiler, doc.name)
            if key in self._exact:
                raise ValueError(f"duplicate metric {doc.name!r} for profiler {doc.profiler!r}")
            self._exact[key] = doc
            self._folded.setdefault((doc.profiler, doc.name.casefold()), doc)

    def get(self, profiler: str, name: str) -> MetricDoc | None:
        """The doc for `name` as `profiler` reports it: exact match, then case-insensitive."""
        doc = self._exact.get((profiler, name))
        if doc is None:
            doc = self._folded.get((profiler, name.strip().casefold()))
        return doc

    def names(self, profiler: str) -> list[str]:
        """Metric names documented for `profiler`, in file order."""
        return [doc.name for doc in self.metrics if doc.profiler == profiler]

    def meaning(self, profiler: str, name: str) -> str:
        """One-line rendering for prompts; empty string if the metric is unknown."""
        doc = self.get(profiler, name)
        return doc.meaning() if doc else ""

    def revealing(self, bottleneck: Bottleneck) -> list[MetricDoc]:
        """Docs of the metrics that are evidence for `bottleneck`."""
        return [doc for doc in self.metrics if bottleneck in doc.reveals]

    def __len__(self) -> int:
        return len(self.metrics)


def load_compendium(path: str | Path | None = None) -> Compendium:
    """Load and validate a compendium file; without `path`, the packaged one (cached)."""
    if path is None:
        return _packaged()
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CompendiumError(str(path), f"cannot read the file ({e.strerror or e})") from e
    return parse_compendium(text, str(path))


@lru_cache(maxsize=1)
def _packaged() -> Compendium:
    resource = resources.files(_PACKAGE) / _RESOURCE
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as e:
        raise CompendiumError(
            f"{_PACKAGE}/{_RESOURCE}",
            "the packaged file is missing; reinstall pragma-kernels with its package data",
        ) from e
    return parse_compendium(text, str(resource))


def parse_compendium(text: str, source: str = "<string>") -> Compendium:
    """Validate compendium JSON text; errors name `source` and the offending entry."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        problem = f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        raise CompendiumError(source, problem) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("metrics"), list):
        raise CompendiumError(source, 'expected an object with a "metrics" list')
    docs: list[MetricDoc] = []
    seen: dict[tuple[str, str], int] = {}
    for index, item in enumerate(raw["metrics"]):
        entry = _entry_label(index, item)
        try:
            doc = MetricDoc.model_validate(item)
        except ValidationError as e:
            raise CompendiumError(source, _describe(e), entry) from None
        key = (doc.profiler, doc.name)
        if key in seen:
            raise CompendiumError(
                source, f"duplicate of metrics[{seen[key]}] for profiler {doc.profiler!r}", entry
            )
        seen[key] = index
        docs.append(doc)
    header = {k: v for k, v in raw.items() if k != "metrics"}
    try:
        return Compendium.model_validate({**header, "metrics": docs})
    except ValidationError as e:
        raise CompendiumError(source, _describe(e), "top level") from None


def _entry_label(index: int, item: object) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"metrics[{index}] ({name!r})" if isinstance(name, str) else f"metrics[{index}]"


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors()[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "entry"
        parts.append(f"{loc}: {err['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _clause(text: str) -> str:
    return " ".join(text.split()).rstrip(".")


def _lower_first(text: str) -> str:
    # "Duration of ..." -> "duration of ...", but keep acronyms such as "DRAM" or "L1".
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text
