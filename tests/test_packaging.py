"""The wheel ships the schemas, works on its own and holds the tap alone; the README's settings
table is current."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
import venv
import zipfile
from pathlib import Path

import pytest
import yaml  # PyYAML comes with the SDK

from tap_msgreports.tap import TapMsgReports

ROOT = Path(__file__).parent.parent


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a build and a pip install from the package index
def test_the_wheel_discovers_from_a_fresh_environment(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("tap_msgreports-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for stream in ("campaigns", "message_reports"):
        assert f"tap_msgreports/schemas/{stream}.json" in names
    # The emulator and the demo are a distribution of their own (emulator/): test tooling,
    # which no user of the tap installs.
    modules = [name for name in names if name.endswith(".py")]
    assert all(name.startswith("tap_msgreports/") for name in modules), modules
    assert not [name for name in modules if "emulator" in name or "demo" in name]
    (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "tap-msgreports =" in scripts
    assert "emulator" not in scripts

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"clevertap_account_id": "A", "clevertap_passcode": "p-123456"}))
    done = subprocess.run(
        [str(environment / "bin" / "tap-msgreports"), "--config", str(config), "--discover"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # nowhere near the repository's schemas/
    )
    catalog = json.loads(done.stdout)
    assert sorted(s["tap_stream_id"] for s in catalog["streams"]) == [
        "campaigns",
        "message_reports",
    ]
    assert all(s["schema"]["properties"] for s in catalog["streams"])


def test_readme_settings_table_is_what_about_prints() -> None:
    about = subprocess.run(
        [sys.executable, "-m", "tap_msgreports.tap", "--about", "--format=markdown"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    settings = about[about.index("## Settings") :].strip()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- about:start -->\n(.*?)\n<!-- about:end -->", readme, re.DOTALL)
    assert match, "README.md needs the settings table between about markers"
    assert settings in match.group(1), "README.md's settings table is out of date"


#: The Meltano kinds that pass a value of each JSON type to the tap, from a config file and
#: from the environment. Numbers go as text (the tap converts them): Meltano 4.4 reads a
#: ``decimal`` setting from the environment as a Decimal, and then fails writing the tap's
#: config ("Object of type Decimal is not JSON serializable").
MELTANO_KINDS = {
    "integer": {"integer"},
    "number": {"string"},
    "boolean": {"boolean"},
    "array": {"array"},
    "object": {"object"},
    "string": {"string", "password", "options", "date_iso8601"},
}


def json_type(spec: dict[str, t.Any]) -> str:
    """The JSON type of a setting's schema, without ``null``."""
    types = spec.get("type", "string")
    (kind,) = [types] if isinstance(types, str) else [k for k in types if k != "null"]
    return str(kind)


def test_meltano_yml_declares_every_setting_as_the_tap_does() -> None:
    """meltano.yml repeats the settings for Meltano: names, order, defaults, secrets, text."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    (extractor,) = project["plugins"]["extractors"]
    declared = {s["name"]: s for s in extractor["settings"]}
    # The SDK adds its built-in settings to the class's schema once a tap has been made;
    # meltano.yml leaves out faker_config (it needs the faker extra) and batch_config (the
    # tap does not offer BATCH).
    left_out = {"faker_config", "batch_config"}
    properties = {
        name: spec
        for name, spec in TapMsgReports.config_jsonschema["properties"].items()
        if name not in left_out
    }
    for name, spec in properties.items():
        assert name in declared, f"meltano.yml lacks {name}"
        setting = declared[name]
        assert setting.get("value") == spec.get("default"), name
        assert bool(setting.get("sensitive")) >= bool(spec.get("secret")), name
        if description := spec.get("description"):
            assert description in setting["description"], name
        assert setting.get("kind") in MELTANO_KINDS[json_type(spec)], name
    tap_order = [n for n in properties if n in declared]
    assert [n for n in declared if n in properties] == tap_order
