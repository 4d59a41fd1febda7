"""The release's furniture: one version, a changelog that names it, the licence declared."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PYPROJECT_TEXT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def project_field(name: str) -> str:
    """A top-level string of pyproject's [project] table (tomllib needs Python 3.11)."""
    match = re.search(rf'^{name} = "([^"]+)"$', PYPROJECT_TEXT, flags=re.MULTILINE)
    assert match, f"pyproject.toml has no {name}"
    return match.group(1)


def test_the_version_is_written_once_and_shown_by_version_and_about() -> None:
    written = project_field("version")
    assert version("tap-msgreports") == written
    tap = [sys.executable, "-m", "tap_msgreports.tap"]
    shown = subprocess.run([*tap, "--version"], capture_output=True, text=True, check=True)
    assert f"tap-msgreports v{written}," in shown.stdout + shown.stderr
    about = subprocess.run(
        [*tap, "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    assert f'"version": "{written}"' in about.stdout


def test_the_changelog_starts_with_the_current_version() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[([^\]]+)\]", text, flags=re.MULTILINE)
    assert versions, "CHANGELOG.md has no version entry"
    assert versions[0] in {"Unreleased", project_field("version")}
    if versions[0] == "Unreleased":
        assert versions[1] == project_field("version")


def test_the_licence_file_is_the_declared_one() -> None:
    assert project_field("license") == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text


@pytest.mark.slow
@pytest.mark.timeout(900)  # builds an sdist, then a wheel from it, in isolated environments
def test_dist_is_a_wheel_and_an_sdist_that_twine_accepts(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("tap_msgreports-*.whl")
    (sdist,) = tmp_path.glob("tap_msgreports-*.tar.gz")
    twine = Path(sys.executable).with_name("twine")
    done = subprocess.run(
        [str(twine), "check", "--strict", str(wheel), str(sdist)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names
    assert any(name.endswith("licenses/LICENSE") for name in zipfile.ZipFile(wheel).namelist())
