"""Help texts shared by the subcommands (every argument has one: tests/test_cli_help.py walks the parser), read
without importing anything heavy: the shipped protocols are the file names under bench/protocols, the paper tables
those under bench/publish/paper_tables."""

from __future__ import annotations

import argparse

from bench.core.paths import PAPER_TABLES, PROTOCOLS
from bench.core.protocol import DEFAULT_PROTOCOL


def shipped_protocols() -> list[str]:
    """The protocol ids shipped with the package (= bench.scoring.protocols.known_protocols, without its imports)."""
    return sorted(p.stem for p in PROTOCOLS.glob("*.yaml"))


def paper_tables() -> list[str]:
    """The paper table ids `augen reproduce` knows (bench/publish/paper_tables/<id>.yaml)."""
    return sorted(p.stem for p in PAPER_TABLES.glob("*.yaml"))


def protocol_help(what: str = "", default: str | None = DEFAULT_PROTOCOL) -> str:
    """`--protocol`'s help: what it picks, the shipped ids and the default."""
    text = f"{what or 'protocol'}: a shipped id ({', '.join(shipped_protocols())}) or a protocol YAML path"
    return text + (f" (default: {default})" if default else "")


COMMON = {  # dest -> help, for arguments declared where a help text cannot be given (bench.pipeline.runopts)
    "protocol": protocol_help(),
    "shard_size": "conditions per generation shard (default 250; part of the run's key: changing it regenerates)",
    "no_downstream": "skip the protocol's downstream family (recognizers trained on the set)",
    "quiet": "no progress bars",
    "overwrite": "replace an existing output",
}


def fill_help(parser: argparse.ArgumentParser) -> None:
    """Give the arguments of `parser` that have no help text the COMMON one for their destination."""
    for action in parser._actions:
        if not action.help and action.dest in COMMON:
            action.help = COMMON[action.dest]


def list_options_argument(parser: argparse.ArgumentParser) -> None:
    """`--list-options`: print the generator's options (type, default, meaning) and exit."""
    parser.add_argument("--list-options", action="store_true",
                        help="print each option the generator accepts (type, default, meaning) and stop")


def print_generator_options(name: str) -> int:
    from bench.generation.base import generator_options_text

    print(generator_options_text(name))
    return 0
