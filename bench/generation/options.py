"""`--option KEY=VALUE` pairs -> generator keyword options (values read as YAML scalars: 25 -> int, 3.0 -> float,
true -> bool). Which keys a generator accepts, and of what type, is checked before it is built
(bench.generation.base, bench.core.registry.check_fields); `describe_options` lists them (`--list-options`)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import textwrap
from collections.abc import Callable

import yaml

from bench.core.errors import UsageError
from bench.core.registry import annotation_text, option_parameters

#: What an option means when neither the generator (`option_help`) nor its options dataclass (field comments) says.
COMMON_MEANINGS = {
    "weights": "local folder of the trained pipeline (nothing is downloaded)",
    "device": "torch device the generator runs on: cpu, cuda, cuda:1 ...",
    "steps": "denoising steps",
    "guidance_scale": "classifier-free guidance scale",
    "negative_prompt": "text of the classifier-free guidance null",
    "batch_size": "images generated per batch",
    "dtype": "weights' dtype: float32, float16, bfloat16",
    "seed": "seed of the generator's own randomness",
    "split": "world split the images come from: train, val, test",
    "train": "train the tiny checkpoint now if it is not cached (false: refuse instead)",
    "variant": "model variant (see the generator's docs/fidelity-*.md)",
    "preset": "defaults of the options not given",
    "stage": "training stage whose model is used",
    "frames": "folder of frames to inpaint into (with mask=)",
    "mask": "mask image of the region to generate",
    "source": "SampleSet to replay",
    "fault": "the fault applied (bench.generation.faults.FAULTS)",
    "level": "fault strength, 0 (none: the real control) to 1 (the strongest graded)",
    "start": "condition i is answered with world sample i + start (a redrawn condition set)",
    "n": "conditions the set answers (the protocol's): real_data declares that many labelled world images (0: none)",
    "feranno": "the pseudo-labeller's route to its timestep: invert | renoise-image | renoise",
    "rectify": "rule where pseudo-labeller and FER ensemble disagree: soft (ensemble average) | hard (argmax)",
}
_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
INTERNAL = ("pipe",)  # keyword arguments for code, not for the command line


def parse_options(pairs: list[str] | None) -> dict:
    out = {}
    for p in pairs or []:
        k, sep, v = p.partition("=")
        if not sep or not k.isidentifier():
            raise UsageError(f"--option wants KEY=VALUE, got {p!r}")
        try:
            value = yaml.safe_load(v)
        except yaml.YAMLError:  # text YAML cannot read (`[x`, `a: b: c`): the text itself
            value = v
        if isinstance(value, (dict, list)) and not v.strip().startswith(("{", "[")):  # `low: blur`, `- x`: text
            value = v
        if isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):  # 1e-4: YAML 1.1 reads it as text
            value = float(value)
        out[k] = value
    return out


def _field_comments(cls: type) -> dict[str, str]:
    """{field: its trailing `# comment`} of a dataclass's source (continuation comment lines joined)."""
    try:
        lines = textwrap.dedent(inspect.getsource(cls)).splitlines()
    except (OSError, TypeError):
        return {}
    out, last = {}, None
    for line in lines:
        code, _, comment = line.partition("  # ")
        stripped = code.strip()
        if stripped and not stripped.startswith("#") and ":" in stripped:
            try:
                node = ast.parse(stripped).body[0]
            except SyntaxError:
                last = None
                continue
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                last = node.target.id
                out[last] = comment.strip()
                continue
            last = None
        elif stripped.startswith("#") and last and out.get(last):
            out[last] += " " + stripped.lstrip("#").strip()
        else:
            last = None
    return out


def describe_options(factory: Callable, hidden: tuple[str, ...] = ()) -> list[dict]:
    """Each option `factory` accepts: {name, type, default, meaning}, in signature order (following `**kwargs` into
    base classes). The meaning comes from the factory's `option_help` dict, else the comment of the field of the
    same name in its options dataclass (its `defaults` instance, which also gives a None default's value), else
    COMMON_MEANINGS. `hidden`: names the harness supplies."""
    defaults = getattr(factory, "defaults", None)
    config = defaults if dataclasses.is_dataclass(defaults) and not isinstance(defaults, type) else None
    fields = {f.name: f for f in dataclasses.fields(config)} if config is not None else {}
    comments = _field_comments(type(config)) if config is not None else {}
    if dataclasses.is_dataclass(factory) and isinstance(factory, type):
        comments = {**_field_comments(factory), **comments}
    own = dict(getattr(factory, "option_help", {}) or {})
    out = []
    for p in option_parameters(factory)[0].values():
        if p.name in hidden or p.name in INTERNAL:
            continue
        typ = annotation_text(p)
        default = "(required)" if p.default is p.empty else repr(p.default)
        if p.name in fields:
            typ = fields[p.name].type if isinstance(fields[p.name].type, str) else typ
            if p.default is None:
                default = repr(getattr(config, p.name))
        typ = typ.replace(" | None", "") if typ.endswith(" | None") and p.default is None else typ
        meaning = own.get(p.name) or comments.get(p.name) or COMMON_MEANINGS.get(p.name, "")
        out.append({"name": p.name, "type": typ or "any", "default": default, "meaning": meaning})
    return out


def format_options(what: str, options: list[dict]) -> str:
    """The `--list-options` printout: one line per option, name = default (type): meaning."""
    if not options:
        return f"{what} takes no options"
    rows = [(f"{o['name']}={o['default']}", o["type"], o["meaning"]) for o in options]
    w0, w1 = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    head = f"{what}: --option KEY=VALUE (values read as YAML: 25 int, 3.0 float, true bool, text str)"
    return "\n".join([head, *(f"  {a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows)])
