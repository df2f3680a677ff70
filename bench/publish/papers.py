"""Paper tables filled from our runs: a table (`bench/publish/paper_tables/<id>.yaml`) lists the published rows
and, per row, which of our results stands beside it; `reproduce` prints paper / ours cell by cell.

    augen reproduce synfer_scaling [--protocol world-v2] [--out reports/paper_tables/synfer_scaling.md]

Like is compared with like: a published row stands beside the run of the same recipe (SynFER's full method, with
semantic guidance and pseudo-labels, beside `synfer-tiny-sg-pl`; each ablation step beside the same step of ours),
and every table says, in text generated from the protocol and the results, what still differs between the paper's
number and ours: the data (the embedded world, or a real dataset), the size of "1x" (the protocol's real training
set against the paper's), the image size and the size of the generator. Titles and column names carry `{data}`
(ours: "world", "AffectNet", ...) and `{paper_data}` (the paper's), so a table over world results says "world".
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import yaml

from bench.core.errors import DataError
from bench.core.paths import PACKAGE, PAPER_TABLES, find_workspace, result_roots
from bench.core.protocol import DEFAULT_PROTOCOL, Protocol
from bench.scoring.protocols import load_protocol

DATA_NAMES = {"affectnet": "AffectNet", "bp4d": "BP4D"}  # a real protocol's reader -> the dataset's name
SETUP_KEYS = ("data", "one_x", "image_size", "generator", "recognizer")  # paper_setup fields, in table order
SETUP_LABELS = {"data": "data", "one_x": 'size of "1x"', "image_size": "image size", "generator": "generator",
                "recognizer": "recognizer"}


def load_table(name: str) -> dict:
    """A paper table's YAML (by id, or a path), checked: each row has one paper value per column, and the setup
    names only known fields."""
    path = Path(name) if Path(name).suffix else PAPER_TABLES / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PAPER_TABLES.glob("*.yaml")))
        raise DataError(path, f"no such paper table (known: {known})")
    t = yaml.safe_load(path.read_text())
    for i, r in enumerate(t.get("rows", [])):
        if len(r.get("paper", [])) != len(t["columns"]):
            raise DataError(path, f"row {r.get('name')!r} has {len(r.get('paper', []))} paper values for "
                                  f"{len(t['columns'])} columns", i + 1)
    unknown = sorted(set(t.get("paper_setup") or {}) - set(SETUP_KEYS))
    if unknown:
        raise DataError(path, f"paper_setup: unknown field(s) {', '.join(unknown)} (known: {', '.join(SETUP_KEYS)})")
    texts = [t["title"], *(c["name"] for c in t["columns"]), *(c.get("note", "") for c in t["columns"]),
             *(r.get("note", "") for r in t.get("rows", []))]
    if not t.get("paper_data") and any("{paper_data}" in x for x in texts):
        raise DataError(path, "uses {paper_data} but names no paper_data (the paper's dataset)")
    return t


def find_result(ref: str, protocol: str, roots=None) -> dict | None:
    """Our results named `ref` (a path under <root>/<protocol>/, without .json) in the first root holding it."""
    for root in roots or result_roots():
        p = Path(root) / protocol / f"{ref}.json"
        if p.is_file():
            return json.loads(p.read_text())
    return None


def ours_value(res: dict | None, metric: str | None, scale: float) -> float | None:
    """`metric` (`name` or `name:field`) of a results dict times `scale`; None when absent or not a number."""
    if res is None or not metric:
        return None
    name, _, field = metric.partition(":")
    m = res["metrics"].get(name)
    v = None if m is None else m.get(field or "value")
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v * scale


# -- what differs between the paper's setup and ours -----------------------------------------------------------


def data_name(proto: Protocol) -> str:
    """The word for our data in titles: "world" for world protocols, the dataset's name for real ones."""
    return "world" if proto.kind == "world" else DATA_NAMES.get(proto.data.reader, proto.data.reader)


def our_setup(proto: Protocol) -> dict[str, str]:
    """Our side of the setup, in words, from the protocol's settings: data, size of 1x, image size, recognizer."""
    s = proto.downstream
    out: dict[str, str] = {}
    if proto.kind == "world":
        out["data"] = (f"the embedded FACS world: labels of {proto.conditions.n:,} world {proto.conditions.split} "
                       f"samples asked for" + (f", recognizers tested on {s.test.n:,} real world {s.test.split} faces"
                                               if s is not None else ""))
        out["image_size"] = f"{proto.world.image_size} px" + (f" (recognizer input {s.input_size} px)" if s else "")
    else:
        out["data"] = f"{data_name(proto)} (`{proto.id}`, read from --data-root)"
        out["image_size"] = f"recognizer input {s.input_size} px"
    if s is not None:
        where = "real world faces" if proto.kind == "world" else f"{data_name(proto)} training images"
        out["one_x"] = f"{s.real_train.n:,} {where} (`downstream.real_train.n` of `{proto.id}`)"
        out["recognizer"] = f"{s.recognizer} (width {s.width}), {len(s.seeds)} seeds"
    return out


def unet_parameters(weights: str, roots: tuple[Path, ...] | None = None) -> int | None:
    """Parameters of a committed reference pipeline's UNet (`reference/weights/<weights>/unet/*.safetensors`),
    counted from the safetensors header (no weights loaded); None if the files are not here."""
    here = find_workspace()  # the workspace's committed weights first, then the clone the package runs from
    found = [here[0] / "reference" / "weights"] if here else []
    for root in roots or (*found, PACKAGE.parent / "reference" / "weights"):
        files = sorted((Path(root) / weights / "unet").glob("*.safetensors"))
        if files:
            total = 0
            for f in files:
                with open(f, "rb") as fh:
                    (n,) = struct.unpack("<Q", fh.read(8))
                    header = json.loads(fh.read(n))
                total += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
            return total
    return None


def generator_words(ref: str, res: dict | None, params: int | None) -> str:
    """Our generator of the like-for-like row in words: name, weights and UNet size (or that it has not run)."""
    if res is None:
        return f"`{ref}` (not run)"
    g = res["generator"]
    weights = (g.get("config") or {}).get("weights")
    size = "" if params is None else f", UNet {params / 1e6:.1f}M parameters"
    return f"`{g['name']}`" + (f" (weights `{weights}`{size})" if weights else "") + f", filed as `{ref}`"


def setup_table(paper: dict, ours: dict[str, str]) -> list[str]:
    """Markdown rows: each setup field the table's paper side states, paper beside ours."""
    keys = [k for k in SETUP_KEYS if k in paper]
    if not keys:
        return []
    return ["| | paper | ours |", "|---|---|---|",
            *[f"| {SETUP_LABELS[k]} | {paper[k]} | {ours.get(k, '—')} |" for k in keys]]


def like_row(t: dict) -> dict | None:
    """The row whose generator the setup describes: the last one that pairs a published value with ours."""
    paired = [r for r in t["rows"] if r.get("ours") and any(v is not None for v in r["paper"])]
    return paired[-1] if paired else None


def reproduce(table: str, protocol: str = DEFAULT_PROTOCOL, roots=None) -> str:
    """The paper table as markdown with our value beside each published one ("paper / ours"), the row notes saying
    which of our runs stands beside which published row, and what differs between the two setups."""
    t = load_table(table)
    proto = load_protocol(protocol)
    roots = roots or result_roots()
    words = {"{data}": data_name(proto), "{paper_data}": t.get("paper_data", "")}

    def fill(s: str) -> str:
        for k, v in words.items():
            s = s.replace(k, v)
        return s

    head = ["row", *[fill(c["name"]) + " (paper / ours)" for c in t["columns"]]]
    rows, found = [], {}
    for r in t["rows"]:
        res = find_result(r["ours"], proto.id, roots) if r.get("ours") else None
        found[r.get("ours")] = res
        cells = [r["name"] + ("" if not r.get("ours") else f" — ours: `{r['ours']}`" + ("" if res else " (not run)"))]
        for c, pv in zip(t["columns"], r["paper"]):
            scale = c.get("scale", 100 if t.get("percent") else 1)
            ov = ours_value(res, c.get("ours"), scale)
            cells.append(f"{'—' if pv is None else pv} / {'—' if ov is None else f'{ov:.2f}'}")
        rows.append(cells)
    ours = our_setup(proto)
    like = like_row(t)
    if like is not None:
        res = found.get(like["ours"])
        weights = ((res or {}).get("generator", {}).get("config") or {}).get("weights")
        ours["generator"] = generator_words(like["ours"], res, unet_parameters(weights) if weights else None)
    notes = [f"- {fill(c['name'])}: {fill(c['note'])}" for c in t["columns"] if c.get("note")]
    row_notes = [f"- {r['name']}: {fill(r['note'])}" for r in t["rows"] if r.get("note")]
    setup = setup_table(t.get("paper_setup") or {}, ours)
    out = [f"# {fill(t['title'])}", "",
           f"Source: {t['source']}. Ours: protocol `{proto.id}` ({words['{data}']}); written by "
           f"`augen reproduce {t['id']} --protocol {proto.id}`.", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
           *["| " + " | ".join(r) + " |" for r in rows], ""]
    if row_notes:
        out += ["Which of our runs stands beside which published row:", "", *row_notes, ""]
    if notes:
        out += ["Columns:", "", *notes, ""]
    if setup:
        out += [f"What differs between the paper's numbers and ours (the like-for-like row: {like['name']}):"
                if like else "What differs between the paper's numbers and ours:", "", *setup, ""]
    return "\n".join(out)
