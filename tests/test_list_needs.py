"""`augen list generators|judges`: `needs:` names only what must be there before an entry runs; a declared `device`
reads as where it runs (the CPU by default), never as a need (issue 29: "maugen-tiny needs: device")."""

from __future__ import annotations

from bench.cli.registry import needs_text
from bench.core import registry as R
from bench.generation import base  # noqa: F401  (registers the controls)


def test_device_is_where_it_runs_not_a_need():
    assert needs_text("generators", {"device"}) == "needs: -; runs on: CPU (a GPU with --option device=cuda)"
    assert needs_text("generators", set()) == "needs: -"
    text = needs_text("generators", {"weights", "device"})
    assert text.startswith("needs: local weights (--option weights=DIR); runs on: CPU")
    assert needs_text("judges", {"weights", "device"}).startswith("needs: local weight files")
    assert needs_text("generators", {"world"}) == "needs: world settings (the harness passes the protocol's)"


def test_the_tiny_references_need_nothing_and_run_on_the_cpu(capsys):
    from bench.cli.registry import cmd_list

    class Args:
        kind = "generators"
    assert cmd_list(Args()) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for name in ("maugen-tiny", "synfer-tiny"):
        if name in R.GENERATORS:
            assert "needs: -; runs on: CPU" in lines[name] and "needs: device" not in lines[name]
    assert "needs: world settings" in lines["real"]
