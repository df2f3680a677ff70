"""Scoring photographs: a SampleSet of aligned faces (`augen import`) under a `kind: faces` protocol (faces-v1),
against a real face set the user imported the same way.

    augen score SET --protocol faces-v1 --reference REF [--train-set TRAIN] [--au-readings KIND:WHERE]
    score(SET, "faces-v1", reference=REF, ...)        (bench.scoring.score; this module's recipe, FacesScore)

The protocol's judge (`faces`: face-api's chain + ITA, bench.judges.faceapi.judge.FacesJudge) reads both sets under
the world judge's reading names, so the realism (FD, KID, precision/recall, density/coverage on the identity
descriptor), diversity (Vendi and spread of identities; age, gender and ITA-band entropies), alignment (claimed
expression vs the judge, chance-corrected; claimed AUs vs an AU tool's readings) and memorization (nearest identity
in the generator's declared training set) families run unchanged. Added for photographs:

    face_yield      (bench.scoring.realism) the share of the generator's source images holding exactly one face
                    (the import's counts), with its Wilson interval
    ceilings        the reference agreement: each alignment metric computed on the reference set (its own labels
                    vs the same judge), i.e. how well this judge reads the reference photographs' labels, reported
                    beside the generator's value (results key `ceiling`, kept for filed results); a comparison, not
                    a bound: a generator's set can agree with the judge more than the reference does

The headline (the protocol's `headline`, docs/verdicts.md) is training value on a real dataset: the downstream family
of the real-data protocol it names (faces-v1: affectnet-v1), run on the scored set's claimed labels with the dataset
under `--data-root`, or folded in from that protocol's results file for this set (`--downstream-results`, e.g. run
on an accelerator with `augen downstream`). The board (bench.publish.facesboard) ranks by it among the sets whose
claimed labels pass the gate.

A metric that needs what is not given (no AU readings, no training set, an import without face counts, no downstream
data) is skipped with its reason (`not_applicable`); rows the judge found no face in are left out of every reading.
The reference's content hash enters the protocol hash, and so does the downstream protocol's hash (its dataset's
label files), so results against different references or datasets are never ranked together.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from bench import judges
from bench.core.errors import DataError, UsageError
from bench.core.hashparts import HashPart, au_tool_part, judge_part
from bench.core.protocol import Protocol
from bench.data.sampleset import SampleSet, opened
from bench.judges.cache import judge_sharded
from bench.scoring.context import ScoreInputs
from bench.scoring.protocols import load_protocol
from bench.scoring.realdata import RealScore
from bench.scoring.record import build_results
from bench.scoring.stages import Recipe, ScoreOptions, Stages, au_tool, compute_metrics, read_au_tool

MIN_SET = 5  # fewer faces than this and no statistic means anything


def min_faces(proto) -> int:
    """Fewest faces a scored or reference set needs under `proto`: MIN_SET, and more than the k of its k-NN
    metrics (precision/recall count k_pr neighbours, density/coverage k_dc, each within the reference itself)."""
    r = proto.realism
    return max(MIN_SET, r.k_pr + 1, r.k_dc + 1) if r is not None else MIN_SET
#: Realism on local real-data weights beside the identity descriptor (`--feature-judge KIND=WHERE`): judge kind ->
#: (its config key, the metric it adds). CLIP also adds `clip_score` (each image with its claimed prompt).
FEATURE_JUDGES = {"inception": ("path", "fd_inception"), "dinov2": ("folder", "fd_dinov2"),
                  "clip": ("folder", "fd_clip")}


def parse_feature_judges(specs: list[str] | None) -> dict[str, str]:
    """['inception=PATH', ...] -> {kind: where}; one per kind, kinds from FEATURE_JUDGES."""
    out: dict[str, str] = {}
    for spec in specs or []:
        kind, _, where = spec.partition("=")
        if kind not in FEATURE_JUDGES or not where:
            raise UsageError(f"--feature-judge must be KIND=WHERE with KIND one of {', '.join(FEATURE_JUDGES)} "
                             f"(inception=pt_inception-2015-12-05.pth, dinov2=FOLDER, clip=FOLDER), not {spec!r}")
        if kind in out:
            raise UsageError(f"--feature-judge {kind} given twice")
        out[kind] = where
    return out


def _feature_realism(kind: str, where: str, ss: SampleSet, ref_ss: SampleSet, proto: Protocol,
                     cache: Path | None) -> tuple[dict, dict]:
    """FD (and for CLIP the CLIP score) of the scored set against the reference in a local judge's features;
    (metric entries, {judge id: {sha256, config}})."""
    from bench.core.results import metric
    from bench.metrics import realism as R

    key, name = FEATURE_JUDGES[kind]
    judge = judges.build_judge(kind, {key: where})
    fg = judge_sharded(ss, judge, judge.id, folder=cache)["features"]
    fr = judge_sharded(ref_ss, judge, judge.id, folder=cache)["features"]
    b = proto.bootstrap
    corrected, ci = R.fd_summary(fr.astype(np.float64), fg.astype(np.float64), b.n, b.seed, b.alpha)
    out = {name: metric(R.fd_from_features(fr, fg), len(fg), False, "realism", ci, n_reference=len(fr),
                        judge=judge.id, bias_corrected=corrected)}
    if kind == "clip":
        prompts = [s.prompt for s in ss.rows()]
        if all(prompts):
            scores = np.concatenate([judge.clip_score(images, prompts[i:i + len(images)]) for i, images in
                                     _image_batches(ss)])
            out["clip_score"] = metric(float(scores.mean()), len(scores), True, "alignment", None, judge=judge.id,
                                       what="100 x cosine of each image with its claimed prompt, floored at 0")
    return out, {judge.id: {"sha256": judge.sha256, "config": judge.config}}


def _image_batches(ss: SampleSet, size: int = 64):
    """(first row index, uint8 images (B, H, W, 3)) over a set, in row order."""
    i = 0
    for batch in ss.batches(size):
        yield i, batch["image"]
        i += len(batch["image"])


def face_counts(root: Path) -> np.ndarray | None:
    """Faces found per source image, from an imported set's faces.csv (None for a set not imported)."""
    path = root / "faces.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    try:
        return np.array([int(r["face_count"]) for r in rows], dtype=np.int64)
    except (KeyError, ValueError) as e:
        raise DataError(path, f"face_count column missing or not an integer ({e})") from None


def downstream_family(proto: Protocol, root: SampleSet, content_hash: str, *, data_root: str | Path | None = None,
                      results: str | Path | None = None, device: str = "cpu", cache: Path | None = None,
                      progress: bool = False) -> tuple[dict, dict | None, str | None]:
    """(downstream metric entries, record of where they come from, the reason when skipped) of the faces protocol's
    headline: its real-data protocol run on the set `root` with the dataset at `data_root`, or read from that
    protocol's `results` file for this set (its sampleset content hash must be `content_hash`)."""
    h = proto.headline
    if h is None:
        if data_root is not None or results is not None:
            raise UsageError(f"{proto.id} names no real-data protocol to train on (no headline): no --data-root or "
                             "--downstream-results")
        return {}, None, None
    if data_root is not None and results is not None:
        raise UsageError("give the downstream data (--data-root) or a downstream results file (--downstream-results), "
                         "not both")
    if data_root is None and results is None:
        return {}, None, (f"no downstream data: --data-root DIR (the {h.downstream} dataset) or --downstream-results "
                          f"FILE (`augen downstream SET --protocol {h.downstream}`)")
    real = load_protocol(h.downstream)
    if results is not None:
        path = Path(results)
        try:
            res = json.loads(path.read_text(encoding="utf-8"))
            got_id, got_hash = res["protocol"]["id"], res["sampleset"]["content_hash"]
            metrics = res["metrics"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(path, f"not a downstream results file ({e})") from None
        if got_id != real.id:
            raise DataError(path, f"holds {got_id} results; {proto.id}'s headline trains under {real.id}")
        if got_hash != content_hash:
            raise DataError(path, f"scored another set (content hash {got_hash[:12]}, this set {content_hash[:12]})")
        if any(m.get("family") != "downstream" for m in metrics.values()):
            raise DataError(path, "holds metrics outside the downstream family")
    else:
        res = RealScore(real, root, ScoreOptions(data_root=data_root, progress=progress, device=device,
                                                 cache=None if cache is None else Path(cache) / "downstream"))()
    record = {"protocol": res["protocol"], "data": res.get("data"), "from": "results file" if results else "run"}
    return res["metrics"], record, None


def _keep(readings: dict[str, np.ndarray], *claims: np.ndarray) -> tuple[dict, list[np.ndarray], int]:
    """Rows where the judge found a face (all rows when it does not say)."""
    found = readings.get("face_found")
    ok = np.ones(len(next(iter(readings.values()))), bool) if found is None else found.astype(bool)
    return {k: v[ok] for k, v in readings.items()}, [c[ok] for c in claims], int((~ok).sum())


class FacesScore(Recipe):
    """The aligned face set under a faces protocol against the real face set `reference` (module docstring);
    `feature_judges` ({kind: local weights}, FEATURE_JUDGES) add FD in those judges' features (their hashes enter
    the protocol hash, since they add metrics); `data_root` (the headline's dataset) or `downstream_results` adds
    the downstream family (`downstream_family`)."""

    def __call__(self) -> dict:
        self.validate()
        self.load_judge()
        self.judge_generated()
        self.judge_reference()
        self.read_au_tool()
        self.compute_metrics()
        self.compute_ceilings()
        self.run_downstream()
        self.run_feature_judges()
        return self.results()

    def validate(self) -> None:
        o = self.opts
        if o.reference is None:
            raise UsageError(f"{self.proto.id} scores photographs against a real face set: give a reference (a set "
                             "made by `augen import`)")
        with self.st("validate"):
            self.ref_ss = opened(o.reference)
            self.tr_ss = opened(o.train) if o.train is not None else None
            need = min_faces(self.proto)
            for s in (self.ss, self.ref_ss):
                if len(s) < need:
                    raise DataError(s.root, f"{len(s)} faces; at least {need} are needed to score under "
                                            f"{self.proto.id} (its k-nearest-neighbour metrics)")

    def load_judge(self) -> None:
        super().load_judge()
        self.judged = {self.judge.id: {"sha256": self.judge.sha256, "config": self.judge.config}}

    def judge_generated(self) -> None:
        with self.st("judge_generated"):
            self.ss.content_hash(), self.ref_ss.content_hash()  # each reads every image: once
            self.gen = judge_sharded(self.ss, self.judge, self.judge.id, folder=self.opts.cache)

    def judge_reference(self) -> None:
        cache = self.opts.cache
        with self.st("judge_reference"):
            self.ref = judge_sharded(self.ref_ss, self.judge, self.judge.id, folder=cache)
            self.trn = (judge_sharded(self.tr_ss, self.judge, self.judge.id, folder=cache)
                        if self.tr_ss is not None else {})

    def read_au_tool(self) -> None:
        """The AU readings: an AU tool's (--au-readings, or the protocol's au_readings file in the set), else the
        protocol's au_reader on the set's own images (scored on the reader's AU subset); a reader of images reads the
        reference too (for the reference agreement)."""
        from bench.judges import reads_images

        self.scoring_proto = self.proto
        self.tool = au_tool(self.opts.au_readings, self.proto, self.ss.root, must_exist=False)
        reader = self.proto.au_reader
        if self.tool is None and reader is not None:
            self.tool = (reader.kind, None, {})
        if self.tool is None:
            return
        with self.st("au_readings"):
            self.use_au_tool(self.tool)
            if reads_images(self.tool[0]):
                ref_tool = self.tool
            else:
                ref_tool = au_tool(None, self.proto, self.ref_ss.root, must_exist=False) \
                    if not self.opts.au_readings else None
            if ref_tool is not None:
                self.ref = {**self.ref, **read_au_tool(ref_tool, self.ref_ss, self.opts.cache)[0]}
        if reader is not None and self.tool[0] == reader.kind:
            self.scoring_proto = dataclasses.replace(self.proto, aus=reader.aus)

    def compute_metrics(self) -> None:
        c, r = self.ss.claims(), self.ref_ss.claims()
        self.gen, (claimed_int, claimed_expr), self.no_face = _keep(self.gen, c.intensity, c.expression)
        self.ref, (self.ref_int, self.ref_expr), self.ref_no_face = _keep(self.ref, r.intensity, r.expression)
        counts = face_counts(self.ss.root)
        facts = {} if counts is None else {"face_counts": counts}
        x = ScoreInputs(self.scoring_proto, self.gen, self.ref, self.trn, claimed_int, claimed_expr, None,
                        self.au_judge["id"], facts=facts)
        self.metrics, self.skipped = compute_metrics(x, self.st)

    def compute_ceilings(self) -> None:
        """Each alignment metric on the reference set (its own labels vs the same judge), beside the set's."""
        p = self.scoring_proto
        with self.st("ceilings"):
            alignment = tuple(n for n in p.metrics if p.metric_info[n]["family"] == "alignment")
            ref_x = ScoreInputs(dataclasses.replace(p, metrics=alignment), self.ref, self.ref, {}, self.ref_int,
                                self.ref_expr, None, self.au_judge["id"])
            ceilings, _ = compute_metrics(ref_x, Stages())
            for name, entry in self.metrics.items():
                if name in ceilings:
                    c = ceilings[name]
                    entry["ceiling"] = {"value": c["value"], "ci95": c.get("ci95"), "n": c["n"],
                                        "what": "the reference set's own labels vs this judge"}

    def run_downstream(self) -> None:
        o = self.opts
        with self.st("downstream"):
            down, self.down_record, skip = downstream_family(
                self.proto, self.ss, self.ss.content_hash(), data_root=o.data_root, results=o.downstream_results,
                device=o.device, cache=o.cache, progress=o.progress)
        self.metrics.update(down)
        if skip:
            self.skipped[self.proto.headline.rank_by] = skip

    def run_feature_judges(self) -> None:
        for kind, where in sorted((self.opts.feature_judges or {}).items()):
            with self.st(f"realism_{kind}"):
                entries, ids = _feature_realism(kind, where, self.ss, self.ref_ss, self.proto, self.opts.cache)
            self.metrics.update(entries)
            self.judged.update(ids)

    def hash_parts(self) -> list[HashPart]:
        """The judge, the reference's content, an AU tool, extra feature judges, the headline's protocol."""
        parts = [judge_part(self.judge.sha256), HashPart("ref", self.ref_ss.content_hash())]
        if self.tool:
            parts.append(au_tool_part(self.au_judge["id"]))
        parts += [HashPart(k, v["sha256"]) for k, v in sorted(self.judged.items()) if k != self.judge.id]
        if self.down_record:
            parts.append(HashPart("downstream", self.down_record["protocol"]["hash"]))
        return parts

    def results(self) -> dict:
        extra = self.extra()
        if self.down_record:
            extra["downstream"] = self.down_record
        ref = self.ref_ss
        return build_results(
            self.proto, self.hash_parts(), self.ss, self.metrics, stage_seconds=self.st.seconds,
            sampleset_extra={"no_face_rows": self.no_face},
            reference={"folder": Path(ref.root).resolve().name, "content_hash": ref.content_hash(), "n": len(ref),
                       "no_face_rows": self.ref_no_face},
            au_judge=self.au_judge, judges=self.judged, seeds={"bootstrap": self.proto.bootstrap.seed}, **extra)
