"""A deliberately slow generator (the `real` world control plus a pause per image), registered as `slow`, so
a test can kill a run in the middle of generation; `python -m tests.helpers.slowgen ARGS` runs `augen run`."""

from __future__ import annotations

import sys
import time

from bench.core.registry import GENERATORS
from bench.generation.controls import RealControl


@GENERATORS.register("slow")
class SlowControl(RealControl):
    name = "slow"
    version = "1"

    def __init__(self, pause: float = 0.05):
        super().__init__(world={"seed": 0, "image_size": 64})
        self.pause = float(pause)

    def generate(self, conditions):
        for s in super().generate(conditions):
            time.sleep(self.pause)
            yield s


if __name__ == "__main__":
    from bench.pipeline.runner import main

    sys.exit(main(sys.argv[1:]))
