"""The wheel: templates, example config and migrations travel inside it and are found there."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from notifier.cli import app
from tests.conftest import REPO

# Run from an unzipped wheel, with the source checkout kept off the path, so that only
# what the wheel carries can be found.
CHECK = """
import sys
from pathlib import Path
root = Path(sys.argv[1]).resolve()
import notifier
from notifier import paths
from notifier.db import schema
from notifier.config import load_settings
from notifier.db.engine import make_engine
from notifier.rendering.environment import build_environment
assert Path(notifier.__file__).resolve().is_relative_to(root), notifier.__file__
assert paths.templates_dir().resolve().is_relative_to(root), paths.templates_dir()
assert paths.example_config().resolve().is_relative_to(root), paths.example_config()
settings = load_settings(paths.example_config(), env={})
html = build_environment(settings).get_template("web/index.html").render(
    company=settings.company, company_hours="lun–ven 08:00–20:00", lang="it",
    phone_e164="+390212345678",
)
assert settings.company.name in html
engine = make_engine("sqlite:///" + sys.argv[2])
schema.upgrade(engine)
assert schema.current_revision(engine) == schema.head_revision()
print("wheel ok")
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("notifier-*.whl")
    return built


def test_the_wheel_carries_templates_config_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "notifier/_templates/web/index.html" in names
    assert "notifier/_config.example.toml" in names
    assert "notifier/migrations/env.py" in names
    assert "notifier/migrations/script.py.mako" in names
    versions = {
        n for n in names if n.startswith("notifier/migrations/versions/") and n.endswith(".py")
    }
    shipped = {
        f"notifier/migrations/versions/{p.name}"
        for p in (REPO / "notifier/migrations/versions").glob("*.py")
    }
    assert versions == shipped


def test_an_installed_notifier_finds_its_files_outside_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # -P: no script directory on sys.path; PYTHONPATH first beats the editable install.
    result = subprocess.run(
        [sys.executable, "-P", "-c", CHECK, str(site), str(tmp_path / "fresh.db")],
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "wheel ok" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["check-config"],
        ["db", "upgrade"],
        ["db", "current"],
        ["ingest"],
        ["run"],
        ["serve"],
        ["worker"],
    ],
    ids=lambda c: " ".join(c) or "notifier",
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    if command and command[0] in ("check-config", "ingest", "run", "serve", "worker"):
        assert "--config" in result.output


def test_the_console_script_runs() -> None:
    script = Path(sys.executable).with_name("notifier")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("notifier ")
