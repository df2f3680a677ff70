"""One generic `Registry` (in the spirit of lm-evaluation-harness's `lm_eval/api/registry.py`) and the project's
registries. An entry has a name, a target (the object, or "module:attr" resolved on first use, as entry points
are), what it needs from the harness (`NEEDS`) and free metadata (a metric's family and direction). Looking up
an unknown name is a `UsageError` listing the known ones.

    GENERATORS   name -> factory of a Generator (controls here; reference generators by `augen.generators` entry
                 points); options are checked against the factory's signature
    JUDGES       kind -> factory(config: dict, **harness) of a Judge (bench.judges)
    AU_READINGS  kind -> reader(sampleset, where) -> (AU readings aligned to the set's rows, tool id) of an external
                 AU tool's output (bench.judges.external)
    METRICS      name -> function computing it (bench.scoring families; bench.downstream.kinds, by "module:attr")
    RECOGNIZERS  name -> nn.Module class the downstream harness trains (bench.downstream.recognizers; registered as
                 "module:Class" in bench/downstream/__init__.py)
    READERS      name -> real-dataset split reader (bench.downstream.realdata; registered likewise)
    TRAINERS     name -> train(config, options, progress) of a reference model (`augen.trainers` entry points)

Modules register into these when imported; the module that needs a registry complete imports its providers
(e.g. `bench.scoring.protocols` imports every metric family), so nothing here imports upward.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bench.core.errors import UsageError
from bench.core.protocol import FAMILIES

#: What an entry may need from whoever builds it: the protocol's world settings, a torch device, local weights.
NEEDS = ("world", "device", "weights")


@dataclass
class Entry:
    """One registered thing."""

    name: str  # its registered name
    target: Any  # the object, or "module:attr" until first use
    needs: frozenset[str] = frozenset()  # subset of NEEDS
    meta: dict[str, Any] = field(default_factory=dict)  # registry-specific facts (a metric's family, direction)

    def load(self) -> Any:
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            obj = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self.target = obj
            self.needs = self.needs | frozenset(getattr(obj, "needs", ()))
        return self.target


class Registry:
    """Named entries of one kind; `entry_point_group` adds the entry points of installed packages, loaded only
    when their name is asked for (so a control never imports diffusers)."""

    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry] = {}

    def add(self, name: str, target: Any, *, needs: Iterable[str] = (), **meta) -> Entry:
        unknown = set(needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"{self.kind} {name!r}: unknown needs {sorted(unknown)} (known: {', '.join(NEEDS)})")
        if name in self._entries and self._entries[name].target is not target:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        if not isinstance(target, str):
            needs = set(needs) | set(getattr(target, "needs", ()))
        entry = self._entries[name] = Entry(name, target, frozenset(needs), dict(meta))
        return entry

    def register(self, name: str, *, needs: Iterable[str] = (), **meta) -> Callable:
        """Decorator: `@GENERATORS.register("real", needs=("world",))`."""
        def deco(obj):
            self.add(name, obj, needs=needs, **meta)
            return obj
        return deco

    def _entry_points(self, only: str | None = None) -> None:
        if not self.entry_point_group:
            return
        for ep in importlib.metadata.entry_points(group=self.entry_point_group):
            if ep.name not in self._entries and only in (None, ep.name):
                self._entries[ep.name] = Entry(ep.name, ep.value)

    def names(self) -> list[str]:
        self._entry_points()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        if name not in self._entries:
            self._entry_points(name)
        return name in self._entries

    def entry(self, name: str) -> Entry:
        if name not in self:
            raise UsageError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}")
        entry = self._entries[name]
        entry.load()
        return entry

    def get(self, name: str) -> Any:
        """The registered object (loaded on first use)."""
        return self.entry(name).target

    def entries(self) -> list[Entry]:
        """Every entry already registered in this process, in registration order (entry points not loaded)."""
        return list(self._entries.values())


def option_parameters(factory: Callable) -> tuple[dict[str, inspect.Parameter], bool]:
    """The keyword parameters `factory` takes, in signature order (a class: its `__init__`, following `**kwargs` into
    base classes' `__init__`, the first declaration of a name winning), and whether it still takes any other keyword
    (a function ending in `**kwargs`)."""
    out: dict[str, inspect.Parameter] = {}
    for fn in [c.__init__ for c in inspect.getmro(factory)] if inspect.isclass(factory) else [factory]:
        if fn is object.__init__:
            return out, False
        params = inspect.signature(fn).parameters.values()
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                out.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return out, False
    return out, True


def annotation_text(p: inspect.Parameter) -> str:
    """A parameter's annotation as written ('int | None'), '' when it has none."""
    return p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")


def accepted_options(factory: Callable) -> set[str] | None:
    """Keyword names `factory` accepts: its `accepts` attribute if it declares one, else its signature (following
    `**kwargs` into base classes' `__init__`); None if it takes any."""
    if hasattr(factory, "accepts"):
        return set(factory.accepts)
    params, any_keyword = option_parameters(factory)
    return None if any_keyword else set(params)


def required_options(factory: Callable) -> set[str]:
    """Keyword names `factory` needs (no default), from its own signature."""
    fn = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(fn).parameters.values()
    return {p.name for p in params if p.default is p.empty and p.name != "self"
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_options(registry: Registry, name: str, options: dict, supplied: Iterable[str] = ()) -> None:
    """Refuse options `name`'s factory does not accept, listing the valid ones, and name the ones it needs that are
    missing (`supplied`: set by the harness)."""
    check_fields(registry.get(name), options, f"{registry.kind} {name!r}", supplied)


def check_fields(factory: Callable, options: dict, what: str, supplied: Iterable[str] = ()) -> None:
    """`options` against what `factory` accepts and needs (a class, a dataclass config, a function): an unknown key
    (listing the valid ones), a missing required one, or a value of the wrong type for its declared annotation
    (`int`, `float`, `str`, `bool`, `Path`, `None` and their unions; other annotations are not checked) is one
    `UsageError`, before anything is built."""
    ok = accepted_options(factory)
    if ok is not None:
        ok -= set(supplied)
        bad = sorted(set(options) - ok)
        if bad:
            raise UsageError(f"{what} has no option {', '.join(map(repr, bad))}; "
                             f"valid: {', '.join(sorted(ok)) or 'none'}")
    missing = sorted(required_options(factory) - set(options) - set(supplied))
    if missing:
        raise UsageError(f"{what} needs option(s) {', '.join(missing)} (--option {missing[0]}=...)")
    params = option_parameters(factory)[0]
    for key, value in options.items():
        if key in params:
            _check_type(what, key, value, params[key])


#: annotation names check_fields reads -> the option values they accept (values come from YAML: text for a path)
SIMPLE_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "Path": (str,), "bool": (bool,),
                "None": (type(None),), "list": (list, tuple), "tuple": (list, tuple), "dict": (dict,)}


def _check_type(what: str, key: str, value, p: inspect.Parameter) -> None:
    """One option value against its parameter's annotation (unions of SIMPLE_TYPES; others are the factory's to
    check); a None default also accepts None."""
    text = annotation_text(p)
    alts = [a.strip().split("[")[0].rpartition(".")[2] for a in text.split("|")]
    if not text or any(a not in SIMPLE_TYPES for a in alts):
        return
    types = tuple(t for a in alts for t in SIMPLE_TYPES[a]) + ((type(None),) if p.default is None else ())
    if isinstance(value, bool) and bool not in types or not isinstance(value, types):
        hint = f"; as text: --option {key}=\"'{value}'\"" if "str" in alts or "Path" in alts else ""
        want = " or ".join(a for a in alts if a != "None" or p.default is not None)
        raise UsageError(f"{what} option {key} must be {want}, not {value!r} ({type(value).__name__}){hint}")


GENERATORS = Registry("generator", entry_point_group="augen.generators")
JUDGES = Registry("judge")
AU_READINGS = Registry("AU readings tool")
METRICS = Registry("metric")
RECOGNIZERS = Registry("recognizer")
READERS = Registry("dataset reader")
TRAINERS = Registry("trainer", entry_point_group="augen.trainers")


# -- metrics ------------------------------------------------------------------------------------------------


#: What every metric must say about itself (`register_metric` refuses a metric without any of them; docs/metrics.md
#: is rendered from them by bench.devtools.glossary): what it measures (one sentence), its formula, units, interval
#: (method, what it resamples) and what its value is sensitive to beyond the generator's quality.
DOC_FIELDS = ("what", "formula", "units", "interval", "sensitive")


def register_metric(name: str, *, family: str, higher_is_better: bool, label: str | None = None,
                    title: str | None = None, reads: tuple[str, ...] = (), suffixed: bool = False,
                    labels: dict[str, str] | None = None, titles: dict[str, str] | None = None,
                    what: str | None = None, formula: str | None = None, units: str | None = None,
                    interval: str | None = None, sensitive: str | None = None) -> Callable:
    """Decorator declaring a metric once: its name, family, direction, headline `label` (None: not a headline
    column), `title` (long header in reports), the judge readings it `reads`, the function computing it, and its
    documentation (`DOC_FIELDS`, each a non-empty string, required): `what` it measures, its `formula`, `units`,
    `interval` (method and what it resamples, or why none) and what it is `sensitive` to.

    A `suffixed` metric is a kind whose concrete names are `<name>_<suffix>` (downstream: one per scale, `mixed`,
    `slope`); its `labels`/`titles` map a suffix to the headline label / report title of that concrete name."""
    if family not in FAMILIES:
        raise ValueError(f"metric {name!r}: family {family!r} is not one of {', '.join(FAMILIES)}")
    docs = {"what": what, "formula": formula, "units": units, "interval": interval, "sensitive": sensitive}
    missing = [k for k in DOC_FIELDS if not isinstance(docs[k], str) or not docs[k].strip()]
    if missing:
        raise ValueError(f"metric {name!r} is undocumented: give {', '.join(missing)} (non-empty text; "
                         f"docs/metrics.md is rendered from them)")
    return METRICS.register(name, family=family, higher_is_better=higher_is_better, label=label,
                            title=title or name, reads=tuple(reads), suffixed=suffixed, labels=dict(labels or {}),
                            titles=dict(titles or {}), **{k: " ".join(v.split()) for k, v in docs.items()})


def metric_spec(name: str) -> dict[str, Any]:
    """{family, higher_is_better, label, title, reads, kind, *DOC_FIELDS} of a metric name (a registered one, or
    `<kind>_<suffix>` of a suffixed kind: `kind` is the registered name, the documentation is the kind's); a
    `UsageError` listing the known names otherwise."""
    if name in METRICS._entries:
        m = METRICS._entries[name].meta
        if not m["suffixed"]:
            return {**{k: m[k] for k in ("family", "higher_is_better", "label", "title", "reads")}, "kind": name,
                    **{k: m[k] for k in DOC_FIELDS}}
    kind, _, suffix = name.rpartition("_")
    while kind:
        e = METRICS._entries.get(kind)
        if e is not None and e.meta["suffixed"]:
            m = e.meta
            return {"family": m["family"], "higher_is_better": m["higher_is_better"], "label": m["labels"].get(suffix),
                    "title": m["titles"].get(suffix, name), "reads": m["reads"], "kind": kind,
                    **{k: m[k] for k in DOC_FIELDS}}
        kind, _, head = kind.rpartition("_")
        suffix = f"{head}_{suffix}"
    entries = sorted(METRICS.entries(), key=lambda e: FAMILIES.index(e.meta["family"]))  # stable: family order
    plain = [e.name for e in entries if not e.meta["suffixed"]]
    kinds = [f"{e.name}_<suffix>" for e in entries if e.meta["suffixed"]]
    raise UsageError(f"unknown metric {name!r}; known: {', '.join(plain + kinds)}")
