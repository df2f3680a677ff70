"""The recipe that scores a SampleSet under a real-data protocol (`kind: real`): recognizers trained on the set's
claimed labels, tested on a local dataset (bench.downstream.realdata reads its rows and pixels):

    score(SET, "affectnet-v1", data_root=AFFECTNET, device="cuda")     (bench.scoring.score)
    augen downstream SET --protocol affectnet-v1 --data-root DIR

Stages: validate (the backbone file, every split's rows and the label files' fingerprint, the memory the pixels
need; before anything is decoded) -> load (each split decoded once into a pixel file; under `accelerate launch` the
first process decodes) -> downstream (bench.downstream.harness) -> results (downstream family only).
"""

from __future__ import annotations

from bench.downstream import data as DD
from bench.downstream import harness as DS
from bench.downstream import realdata as RD
from bench.downstream.distributed import ddp_or_none, device_label, main_first
from bench.scoring.record import build_results
from bench.scoring.stages import Recipe


class RealScore(Recipe):
    """A SampleSet under a real-data protocol, with the dataset under `data_root` (module docstring)."""

    def __call__(self) -> dict:
        self.validate()
        self.load()
        self.run_downstream()
        return self.results()

    def validate(self) -> None:
        p, o = self.proto, self.opts
        if o.data_root is None:
            from bench.core.errors import UsageError

            raise UsageError(f"{p.id} trains on a real dataset: give its local folder (--data-root DIR)")
        s, d = p.downstream, p.data
        with self.st("validate"):
            self.backbone = None
            if s.pretrained:  # before anything is decoded: a missing or different file is named now
                from bench.downstream.backbones import backbone_file

                self.backbone = {"name": s.pretrained, "sha256": backbone_file(s.pretrained)[1]}
            self.rows_train = RD.split_rows(d, s, o.data_root, "train")
            self.rows_test = RD.split_rows(d, s, o.data_root, "test")
            self.fingerprint = RD.data_fingerprint(p, o.data_root)  # after split_rows, which names every missing path
            self.rows_val = RD.split_rows(d, s, o.data_root, "val") if s.val is not None else None
            RD.check_memory(s, len(self.rows_train[0]),
                            len(self.rows_test[0]) + (len(self.rows_val[0]) if self.rows_val else 0), p.path)
        self.ddp = ddp_or_none()  # several processes under `accelerate launch` (bench.downstream.distributed)

    def load(self) -> None:
        o, s, d = self.opts, self.proto.downstream, self.proto.data
        with self.st("load"), main_first(self.ddp):  # the first process decodes pixel files; the others find them
            self.real = RD.load_split(d, s, o.data_root, "train", self.rows_train)
            self.test = RD.load_split(d, s, o.data_root, "test", self.rows_test)
            self.val = RD.load_split(d, s, o.data_root, "val", self.rows_val) if self.rows_val else None
            self.syn = DD.from_sampleset(self.ss, s.largest_synthetic(len(self.real)), s.input_size,
                                         self.ss.content_hash(), stream=True)

    def run_downstream(self) -> None:
        o, s = self.opts, self.proto.downstream
        log = (lambda m: print(m, flush=True)) if o.progress else None
        with self.st("downstream"):
            raw = DS.run_downstream(self.syn, self.real, self.test, s, self.proto.occurrence_threshold,
                                    cache=o.cache, progress=log, device=o.device, val=self.val, ddp=self.ddp)
        self.metrics = DS.downstream_metrics(raw, s)

    def results(self) -> dict:
        o, real, test, val, b = self.opts, self.real, self.test, self.val, self.backbone
        parts = RD.hash_parts(self.proto, o.data_root, b and b["sha256"], self.fingerprint)
        return build_results(
            self.proto, parts, self.ss, self.metrics, stage_seconds=self.st.seconds,
            data={"reader": self.proto.data.reader, "fingerprint": self.fingerprint, "train_n": len(real),
                  "test_n": len(test), "train_key": real.key, "test_key": test.key,
                  **({"val_n": len(val), "val_key": val.key} if val is not None else {}),
                  **({"backbone": b} if b else {}),
                  "processes": 1 if self.ddp is None else self.ddp.num_processes,
                  "training_device": device_label(o.device, self.ddp)})
