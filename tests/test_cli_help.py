"""Every argument of every `augen` subcommand has a help text, `--protocol` lists the shipped protocols, and the
discovery commands answer: `--list-options` (generate, run, submit generator:NAME), `augen reproduce --list`."""

from __future__ import annotations

import argparse

import pytest

from bench.cli import build_parser, main


def walk(parser: argparse.ArgumentParser, path: str = "augen"):
    """(command path, action) of every argument of every (nested) subparser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_argument_of_every_subcommand_has_help():
    missing = [f"{path} {a.option_strings[0] if a.option_strings else a.dest}"
               for path, a in walk(build_parser()) if not (a.help or "").strip()]
    assert missing == [], "arguments without help: " + ", ".join(missing)


def test_every_subcommand_formats_its_help():
    def parsers(parser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    for p in parsers(build_parser()):
        assert p.format_help()  # a stray % in a help text fails here, not in a user's --help


def test_every_protocol_option_lists_the_shipped_protocols():
    from bench.scoring.protocols import known_protocols

    helps = [(p, a.help) for p, a in walk(build_parser()) if "--protocol" in a.option_strings]
    assert len(helps) >= 8
    for path, text in helps:
        assert all(pid in text for pid in known_protocols()), (path, text)


def test_the_parser_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys; from bench.cli import build_parser; build_parser(); "
            "print(' '.join(m for m in ('torch', 'diffusers', 'transformers', 'bench.scoring.protocols') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == ""


@pytest.mark.parametrize("argv", [["generate", "synfer-tiny", "--list-options"],
                                  ["run", "synfer-tiny", "--list-options"],
                                  ["submit", "generator:synfer-tiny", "--list-options"]])
def test_list_options_prints_type_default_and_meaning(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.strip().startswith("steps="))
    assert "steps=25" in line and " int " in line and "DDIM steps" in line
    names = [x.split()[0].partition("=")[0] for x in out.splitlines()[1:]]
    assert "guidance_norm='global'" in out and "pipe" not in names


def test_list_options_of_a_control_hides_what_the_harness_supplies(capsys):
    assert main(["generate", "real", "--list-options"]) == 0
    out = capsys.readouterr().out
    names = [x.split()[0].partition("=")[0] for x in out.splitlines()[1:]]
    assert names == ["split", "seed"]  # `world` is the harness's


def test_reproduce_list_names_every_paper_table(capsys):
    from bench.cli.helptext import paper_tables

    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert paper_tables() and all(t in out for t in paper_tables())


def test_every_option_of_every_registered_generator_says_what_it_means():
    from bench.core.registry import GENERATORS
    from bench.generation import base  # noqa: F401  (registers the controls)
    from bench.generation.options import describe_options

    shipped = [n for n in GENERATORS.names() if GENERATORS.get(n).__module__.startswith(("bench.", "reference."))]
    assert {"real", "maugen-tiny", "synfer-tiny"} <= set(shipped)  # not the test generators other tests register
    blank = [f"{name}: {o['name']}" for name in shipped
             for o in describe_options(GENERATORS.get(name), tuple(GENERATORS.entry(name).needs & {"world"}))
             if not o["meaning"] or o["type"] == "any"]
    assert blank == [], "options without a meaning or type: " + ", ".join(blank)


def test_augen_study_lists_every_study_and_each_parses_its_help(capsys):
    from bench.cli.study import STUDIES

    with pytest.raises(SystemExit) as e:
        main(["study", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert {"metaeval", "stability", "judgecheck", "ablation", "copyrate", "blockcoverage", "coverage", "faces",
            "facesdemo"} <= set(STUDIES)
    assert all(name in out for name in STUDIES), out
    for name in STUDIES:
        with pytest.raises(SystemExit) as e:
            main(["study", name, "--help"])
        assert e.value.code == 0 and f"usage: augen study {name}" in capsys.readouterr().out


def test_every_study_module_runs_its_parsed_arguments():
    import importlib

    from bench.cli.study import STUDIES

    assert all(callable(getattr(importlib.import_module(module), "run_study", None)) for module, _, _ in
               STUDIES.values())
