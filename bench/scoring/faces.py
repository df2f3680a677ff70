"""Scoring photographs: a SampleSet of aligned faces (`augen import`) under a `kind: faces` protocol (faces-v1),
against a real face set the user imported the same way.

    augen score SET --protocol faces-v1 --reference REF [--train-set TRAIN] [--au-readings KIND:WHERE]

The protocol's judge (`faces`: face-api's chain + ITA, bench.judges.faceapi.judge.FacesJudge) reads both sets under
the world judge's reading names, so the realism (FD, KID, precision/recall, density/coverage on the identity
descriptor), diversity (Vendi and spread of identities; age, gender and ITA-band entropies), alignment (claimed
expression vs the judge, chance-corrected; claimed AUs vs an AU tool's readings) and memorization (nearest identity
in the generator's declared training set) families run unchanged. Added for photographs:

    face_yield      (bench.scoring.realism) the share of the generator's source images holding exactly one face
                    (the import's counts), with its Wilson interval
    ceilings        each alignment metric computed on the reference set (its own labels vs the same judge): the most
                    a generator can reach with this judge, reported beside the generator's value

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
from bench.core.protocol import Protocol, protocol_hash
from bench.core.registry import AU_READINGS
from bench.core.results import environment, new_results
from bench.data.sampleset import SampleSet
from bench.judges.cache import judge_sharded
from bench.scoring.context import ScoreInputs
from bench.scoring.protocols import load_protocol
from bench.scoring.score import Stages, au_tool, compute_metrics

MIN_SET = 5  # fewer faces than this and no statistic means anything
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


def _feature_realism(kind: str, where: str, sets: tuple, proto: Protocol, cache: Path | None) -> tuple[dict, dict]:
    """FD (and for CLIP the CLIP score) of the scored set against the reference in a local judge's features;
    (metric entries, {judge id: {sha256, config}})."""
    from bench.core.results import metric
    from bench.metrics import realism as R

    (root, ss, gen_hash), (reference, _, ref_hash) = sets
    key, name = FEATURE_JUDGES[kind]
    judge = judges.build_judge(kind, {key: where})
    fg = judge_sharded(root, judge, judge.id, folder=cache, content_hash=gen_hash)["features"]
    fr = judge_sharded(reference, judge, judge.id, folder=cache, content_hash=ref_hash)["features"]
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


def downstream_family(proto: Protocol, root: Path, content_hash: str, *, data_root: str | Path | None = None,
                      results: str | Path | None = None, device: str = "cpu", cache: Path | None = None,
                      progress: bool = False) -> tuple[dict, dict | None, str | None]:
    """(downstream metric entries, record of where they come from, the reason when skipped) of the faces protocol's
    headline: its real-data protocol run on the set `root` with the dataset at `data_root`, or read from that
    protocol's `results` file for this set (its sampleset content hash must be `content_hash`)."""
    from bench.downstream.realdata import score_real_downstream

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
        res = score_real_downstream(root, real, data_root, progress=progress, device=device,
                                    cache=None if cache is None else Path(cache) / "downstream")
    record = {"protocol": res["protocol"], "data": res.get("data"), "from": "results file" if results else "run"}
    return res["metrics"], record, None


def _claims(ss: SampleSet) -> tuple[np.ndarray, np.ndarray]:
    rows = list(ss.rows())
    return np.stack([s.intensity for s in rows]), np.array([s.expression for s in rows], dtype=np.int64)


def _keep(readings: dict[str, np.ndarray], *claims: np.ndarray) -> tuple[dict, list[np.ndarray], int]:
    """Rows where the judge found a face (all rows when it does not say)."""
    found = readings.get("face_found")
    ok = np.ones(len(next(iter(readings.values()))), bool) if found is None else found.astype(bool)
    return {k: v[ok] for k, v in readings.items()}, [c[ok] for c in claims], int((~ok).sum())


def score_faces(root: str | Path, protocol: str | Protocol, reference: str | Path, *, train: str | Path | None = None,
                au_readings: str | None = None, cache: Path | None = None, progress: bool = False,
                feature_judges: dict[str, str] | None = None, data_root: str | Path | None = None,
                downstream_results: str | Path | None = None, device: str = "cpu") -> dict:
    """Score the aligned face set `root` under a faces protocol against the real face set `reference`;
    `feature_judges` ({kind: local weights}, FEATURE_JUDGES) adds FD in those judges' features (their hashes enter the
    protocol hash, since they add metrics); `data_root` (the headline's dataset) or `downstream_results` adds the
    downstream family (`downstream_family`)."""
    st = Stages()
    proto = load_protocol(protocol)
    if proto.kind != "faces":
        raise DataError(proto.path, f"is a {proto.kind} protocol; score_faces scores `kind: faces` protocols")
    root, reference = Path(root), Path(reference)
    with st("validate"):
        ss, ref_ss = SampleSet(root), SampleSet(reference)
        tr_ss = SampleSet(train) if train is not None else None
        for s, what in ((ss, root), (ref_ss, reference)):
            if len(s) < MIN_SET:
                raise DataError(what, f"{len(s)} faces; at least {MIN_SET} are needed to score")
    with st("load_judge"):
        judge = judges.build_judge(proto.judge.kind, proto.judge.config, progress=progress)
    with st("judge_generated"):
        gen_hash, ref_hash = ss.content_hash(), ref_ss.content_hash()  # each reads every image: once
        gen = judge_sharded(root, judge, judge.id, folder=cache, content_hash=gen_hash)
    with st("judge_reference"):
        ref = judge_sharded(reference, judge, judge.id, folder=cache, content_hash=ref_hash)
        trn = (judge_sharded(train, judge, judge.id, folder=cache, content_hash=tr_ss.content_hash())
               if tr_ss is not None else {})
    au_judge = {"id": judge.id, "sha256": judge.sha256}
    tool = au_tool(au_readings, proto, root, must_exist=False)
    if tool is not None:
        ext, ext_id = AU_READINGS.get(tool[0])(ss, tool[1], **tool[2])
        gen = {**gen, **ext}
        au_judge = {"id": ext_id, "sha256": ext_id.rsplit("-", 1)[-1]}
        ref_tool = au_tool(None, proto, reference, must_exist=False) if au_readings is None else None
        if ref_tool is not None:
            ref = {**ref, **AU_READINGS.get(ref_tool[0])(ref_ss, ref_tool[1], **ref_tool[2])[0]}
    claimed_int, claimed_expr = _claims(ss)
    gen, (claimed_int, claimed_expr), no_face = _keep(gen, claimed_int, claimed_expr)
    ref_int, ref_expr = _claims(ref_ss)
    ref, (ref_int, ref_expr), ref_no_face = _keep(ref, ref_int, ref_expr)
    counts = face_counts(root)
    facts = {} if counts is None else {"face_counts": counts}
    x = ScoreInputs(proto, gen, ref, trn, claimed_int, claimed_expr, None, au_judge["id"], facts=facts)
    out, skipped = compute_metrics(x, st)
    with st("ceilings"):
        alignment = tuple(n for n in proto.metrics if proto.metric_info[n]["family"] == "alignment")
        ref_x = ScoreInputs(dataclasses.replace(proto, metrics=alignment), ref, ref, {}, ref_int, ref_expr, None,
                            au_judge["id"])
        ceilings, _ = compute_metrics(ref_x, Stages())
        for name, entry in out.items():
            if name in ceilings:
                entry["ceiling"] = {"value": ceilings[name]["value"], "ci95": ceilings[name].get("ci95"),
                                    "n": ceilings[name]["n"], "what": "the reference set's own labels vs this judge"}
    with st("downstream"):
        down, down_record, down_skip = downstream_family(proto, root, gen_hash, data_root=data_root,
                                                         results=downstream_results, device=device, cache=cache,
                                                         progress=progress)
    out.update(down)
    if down_skip:
        skipped[proto.headline.rank_by] = down_skip
    extra = {"not_applicable": skipped} if skipped else {}
    if down_record:
        extra["downstream"] = down_record
    judged = {judge.id: {"sha256": judge.sha256, "config": judge.config}}
    for kind, where in sorted((feature_judges or {}).items()):
        with st(f"realism_{kind}"):
            sets = ((root, ss, gen_hash), (reference, ref_ss, ref_hash))
            entries, ids = _feature_realism(kind, where, sets, proto, cache)
        out.update(entries)
        judged.update(ids)
    m = ss.manifest
    extra_hash = "".join(f"|{k}:{v['sha256']}" for k, v in sorted(judged.items()) if k != judge.id)
    if down_record:
        extra_hash += "|downstream:" + down_record["protocol"]["hash"]
    return new_results(
        protocol={"id": proto.id, "hash": protocol_hash(proto, judge.sha256 + "|ref:" + ref_hash
                                                        + ("|" + au_judge["id"] if tool else "") + extra_hash)},
        generator={k: m.generator[k] for k in ("name", "version", "config", "stats") if k in m.generator},
        sampleset={"folder": root.resolve().name, "content_hash": gen_hash, "n": len(ss),
                   "labels_sha256": m.labels_sha256, "no_face_rows": no_face},
        reference={"folder": reference.resolve().name, "content_hash": ref_hash, "n": len(ref_ss),
                   "no_face_rows": ref_no_face},
        metrics=out, au_judge=au_judge,
        judges=judged,
        seeds={"bootstrap": proto.bootstrap.seed},
        stage_seconds={k: round(v, 3) for k, v in st.seconds.items()},
        **extra, **environment())
