"""`tox -e test`'s machine set-up (bench.devtools.machine): the chromium decision (present / absent and installable /
absent and not installable / opted out) and the Node packages' freshness, on fakes; the tox wiring."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest

from bench.devtools import machine as M

ROOT = Path(__file__).resolve().parents[1]


def which_from(found: dict[str, str]):
    return lambda name: found.get(name)


def test_chromium_present_is_used_whatever_else_holds():
    plan = M.chromium_plan(which_from({"chromium": "/usr/bin/chromium"}), False, {})
    assert plan.action == "ok" and plan.path == "/usr/bin/chromium"
    plan = M.chromium_plan(which_from({"google-chrome": "/opt/chrome"}), True, {M.NO_BROWSER: "1"})
    assert plan.action == "ok" and plan.path == "/opt/chrome"


def test_chromium_absent_root_with_apt_get_installs_debians_package():
    plan = M.chromium_plan(which_from({"apt-get": "/usr/bin/apt-get"}), True, {})
    assert plan.action == "install"
    assert plan.commands[-1][:2] == ("apt-get", "install") and "chromium" in plan.commands[-1]


@pytest.mark.parametrize("is_root, tools", [(False, {"apt-get": "/usr/bin/apt-get"}), (True, {}), (False, {})])
def test_chromium_absent_and_not_installable_is_one_line_naming_the_install(is_root, tools):
    plan = M.chromium_plan(which_from(tools), is_root, {})
    assert plan.action == "missing" and not plan.commands
    assert "\n" not in plan.message and "apt-get install chromium" in plan.message
    assert "AUGEN_NO_BROWSER=1" in plan.message


def test_no_browser_is_the_explicit_opt_out():
    plan = M.chromium_plan(which_from({"apt-get": "/usr/bin/apt-get"}), True, {M.NO_BROWSER: "1"})
    assert plan.action == "opt-out" and not plan.commands
    assert M.chromium_plan(which_from({}), False, {M.NO_BROWSER: "0"}).action == "missing"


def test_ensure_chromium_stops_with_one_line_when_the_install_fails(monkeypatch, capsys):
    monkeypatch.setattr(M.shutil, "which", which_from({"apt-get": "/usr/bin/apt-get"}))
    monkeypatch.setattr(M.os, "geteuid", lambda: 0)
    monkeypatch.delenv(M.NO_BROWSER, raising=False)
    ran = []
    monkeypatch.setattr(M, "_run", lambda cmd, cwd=None: (ran.append(cmd), (False, "E: Unable to locate package"))[1])
    line = M.ensure_chromium()
    assert ran == [M.APT_INSTALL[0]] and "Unable to locate package" in line and "\n" not in line


def test_ensure_chromium_installs_then_finds_it(monkeypatch):
    found = {"apt-get": "/usr/bin/apt-get"}
    monkeypatch.setattr(M.shutil, "which", lambda name: found.get(name))
    monkeypatch.setattr(M.os, "geteuid", lambda: 0)
    monkeypatch.delenv(M.NO_BROWSER, raising=False)

    def fake_run(cmd, cwd=None):
        if cmd[:2] == ("apt-get", "install"):
            found["chromium"] = "/usr/bin/chromium"
        return True, ""
    monkeypatch.setattr(M, "_run", fake_run)
    assert M.ensure_chromium() is None and "chromium" in found


def write_lock(folder: Path, packages: dict[str, dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package-lock.json").write_text(json.dumps({"lockfileVersion": 3, "packages": {
        "": {"name": "x"}, **{f"node_modules/{k}": v for k, v in packages.items()}}}))


def test_stale_packages_names_the_missing_and_the_wrong_versions(tmp_path):
    write_lock(tmp_path, {"a": {"version": "1.0.0"}, "@s/b": {"version": "2.0.0"},
                          "fsevents": {"version": "2.3.3", "optional": True}})
    assert M.stale_packages(tmp_path) == ["a", "@s/b"]
    for name, version in (("a", "1.0.0"), ("@s/b", "2.0.1")):
        (tmp_path / "node_modules" / name).mkdir(parents=True)
        (tmp_path / "node_modules" / name / "package.json").write_text(json.dumps({"version": version}))
    assert M.stale_packages(tmp_path) == ["@s/b"]
    (tmp_path / "node_modules" / "@s/b" / "package.json").write_text(json.dumps({"version": "2.0.0"}))
    assert M.stale_packages(tmp_path) == []


def test_missing_node_or_npm_is_one_line(monkeypatch):
    monkeypatch.setattr(M.shutil, "which", which_from({"node": "/usr/bin/node"}))
    line = M.ensure_node()
    assert line.startswith("npm is not on PATH") and "Node.js 20" in line and "\n" not in line


def test_tox_test_env_sets_the_machine_up_and_fast_does_not():
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    assert "python -m bench.devtools.machine" in ini["testenv:test"]["commands_pre"]
    assert "bench.devtools.machine" not in ini["testenv"]["commands_pre"]  # tox -e fast needs no Node
    assert "commands_pre" not in ini["testenv:fast"]
    assert "python -m bench.devtools.machine --node" in ini["testenv:bench"]["commands_pre"]
    steps = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if not line.startswith("#")]
    assert steps[-1] == "python3 -m tox -e test" and not any("apt-get" in s or "npm" in s for s in steps)
