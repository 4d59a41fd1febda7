"""tap-msgreports.yml: current with meltano.yml, in the Hub's format, and the tap's settings.

A definition that disagrees with ``--about`` (an unknown setting, a missing one, another
default, a secret not marked, a kind Meltano cannot pass) fails here, not in a user's project.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import typing as t

import pytest
import yaml

from tests.harness import PRIMARY_KEYS
from tests.plugin_definition import DEFINITION, definition, render
from tests.test_packaging import MELTANO_KINDS, json_type

#: Settings the SDK adds that the definition leaves out, as meltano.yml does: faker_config
#: needs the faker extra, which the tap does not install; the tap does not offer BATCH.
LEFT_OUT = {"faker_config", "batch_config"}
HUB_FIELDS = ("name", "kind", "label", "description", "sensitive")


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    """What ``tap-msgreports --about --format=json`` prints, as Meltano's users see it."""
    done = subprocess.run(
        [sys.executable, "-m", "tap_msgreports.tap", "--about", "--format=json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return t.cast("dict[str, t.Any]", json.loads(done.stdout))


def disagreements(made: dict[str, t.Any], about: dict[str, t.Any]) -> list[str]:
    """Where a plugin definition and the tap's ``--about`` disagree, one line each."""
    properties = {k: v for k, v in about["settings"]["properties"].items() if k not in LEFT_OUT}
    declared = {s["name"]: s for s in made["settings"]}
    found = [f"unknown setting {name}" for name in declared.keys() - properties.keys()]
    found += [f"missing setting {name}" for name in properties.keys() - declared.keys()]
    for name in declared.keys() & properties.keys():
        setting, spec = declared[name], properties[name]
        if setting["kind"] not in MELTANO_KINDS[json_type(spec)]:
            found.append(f"{name}: Meltano cannot pass kind {setting['kind']}")
        if setting.get("value") != spec.get("default"):
            found.append(f"{name}: default {setting.get('value')!r} != {spec.get('default')!r}")
        if spec.get("secret") and not setting["sensitive"]:
            found.append(f"{name}: a secret not marked sensitive")
    unknown = set(made["capabilities"]) - set(about["capabilities"])
    return found + [f"capability {c} not the tap's" for c in sorted(unknown)]


def test_the_committed_definition_is_what_meltano_yml_makes_now() -> None:
    committed = DEFINITION.read_text(encoding="utf-8")
    assert committed == render(definition()), "run `make plugin-definition` and commit it"
    assert yaml.safe_load(committed)["pip_url"] == "tap-msgreports"


def test_the_definition_agrees_with_about(about: dict[str, t.Any]) -> None:
    assert disagreements(definition(), about) == []


@pytest.mark.parametrize(
    ("change", "caught"),
    [
        (
            lambda d: d["settings"].append({**d["settings"][0], "name": "clevertap_token"}),
            "unknown",
        ),
        (lambda d: d["settings"].pop(), "missing setting flattening_separator"),
        (lambda d: d["settings"][4].update(kind="decimal"), "cannot pass kind decimal"),
        (lambda d: d["settings"][2].update(value=30), "request_timeout: default"),
        (lambda d: _setting(d, "messangi_api_key").update(sensitive=False), "not marked"),
        (lambda d: d["capabilities"].append("batch"), "capability batch"),
    ],
    ids=["unknown", "missing", "decimal-kind", "default", "secret", "capability"],
)
def test_a_definition_that_disagrees_with_about_is_caught(
    about: dict[str, t.Any], change: t.Callable[[dict[str, t.Any]], object], caught: str
) -> None:
    made = copy.deepcopy(definition())
    change(made)
    assert any(caught in line for line in disagreements(made, about)), caught


def _setting(made: dict[str, t.Any], name: str) -> dict[str, t.Any]:
    (setting,) = [s for s in made["settings"] if s["name"] == name]
    return t.cast("dict[str, t.Any]", setting)


def test_every_setting_has_the_fields_the_hub_writes() -> None:
    made = definition()
    for setting in made["settings"]:
        assert all(setting.get(field) not in (None, "") for field in HUB_FIELDS[:4]), setting
        assert isinstance(setting["sensitive"], bool), setting["name"]
        assert ("options" in setting) == (setting["kind"] == "options"), setting["name"]
        if "options" in setting:
            assert setting.get("value") in [o["value"] for o in setting["options"]]
    names = {s["name"] for s in made["settings"]}
    for group in made["settings_group_validation"]:
        assert set(group) <= names, group
    for field in ("name", "namespace", "label", "description", "pip_url", "executable"):
        assert made[field], field


def test_select_names_every_stream_of_the_tap() -> None:
    assert {pattern.split(".")[0] for pattern in definition()["select"]} == set(PRIMARY_KEYS)


def test_pip_url_is_what_the_generator_is_told(tmp_path: t.Any) -> None:
    out = tmp_path / "mine.yml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.plugin_definition",
            "--pip-url",
            "./clone",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=60,
        cwd=DEFINITION.parent,
    )
    made = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert made == {**definition(), "pip_url": "./clone"}
