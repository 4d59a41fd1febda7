"""The tap's Meltano plugin definition, generated from this repository's meltano.yml.

meltano.yml's extractor block is the one hand-edited source; ``tap-msgreports.yml`` is made
from it in the Meltano Hub's format, for ``meltano add extractor tap-msgreports --from-ref
<file or raw URL>``. A test keeps the committed file equal to what this module makes now.

    python -m tests.plugin_definition                      # rewrite tap-msgreports.yml
    python -m tests.plugin_definition --pip-url /a/clone --out /tmp/tap-msgreports.yml
    python -m tests.plugin_definition --loader target-postgres --out /tmp/target-postgres.yml

``--pip-url`` is what Meltano installs the tap from: the committed file says
``tap-msgreports`` (the distribution's name, as the Hub does); a clone's path (or
``git+https://...``) makes a definition that installs that clone instead.
"""

from __future__ import annotations

import argparse
import copy
import typing as t
from pathlib import Path

import yaml  # PyYAML comes with the SDK

ROOT = Path(__file__).resolve().parent.parent
MELTANO_YML = ROOT / "meltano.yml"
DEFINITION = ROOT / "tap-msgreports.yml"
DISTRIBUTION = "tap-msgreports"
#: What the Hub's definitions carry besides a project's plugin block. Meltano 4.4's
#: ``add --from-ref`` writes neither into the project (it drops the fields it does not model),
#: so they inform a reader of the file, as on the Hub.
KEYWORDS = ["meltano_sdk", "messaging", "clevertap", "messangi", "moengage"]
#: A selection a user starts from: every stream of every source (the tap runs only the
#: sources that have credentials). Narrow it to ``campaigns.*`` and so on.
SELECT = ["campaigns.*", "message_reports.*", "mlog_items.*", "moengage_campaign_rows.*"]
#: Keys in the order the Hub writes them.
ORDER = (
    "name",
    "variant",
    "namespace",
    "label",
    "description",
    "keywords",
    "repo",
    "docs",
    "pip_url",
    "executable",
    "capabilities",
    "settings_group_validation",
    "settings",
    "select",
)
HEADER = """\
# Meltano plugin definition of tap-msgreports, in the Meltano Hub's format.
# GENERATED from the extractor block of meltano.yml by `make plugin-definition`
# (python -m tests.plugin_definition): edit meltano.yml, never this file.
#
# Add the tap to your own Meltano project with:
#   meltano add extractor tap-msgreports --from-ref tap-msgreports.yml
# (a path or a raw URL of this file). pip_url installs the tap-msgreports distribution; for a
# clone of the repository, make one whose pip_url is the clone:
#   make plugin-definition PIP_URL=/path/to/clone OUT=/path/to/tap-msgreports.yml
"""


def extractor_block(meltano_yml: Path = MELTANO_YML) -> dict[str, t.Any]:
    """The tap-msgreports extractor of a Meltano project file."""
    project = yaml.safe_load(meltano_yml.read_text(encoding="utf-8"))
    (extractor,) = [e for e in project["plugins"]["extractors"] if e["name"] == DISTRIBUTION]
    return dict(extractor)


def loader_block(name: str, meltano_yml: Path = MELTANO_YML) -> dict[str, t.Any]:
    """A loader of this repository's meltano.yml, as a definition ``--from-ref`` can add."""
    project = yaml.safe_load(meltano_yml.read_text(encoding="utf-8"))
    (loader,) = [p for p in project["plugins"]["loaders"] if p["name"] == name]
    return {key: value for key, value in loader.items() if key != "config"}


def hub_setting(setting: dict[str, t.Any]) -> dict[str, t.Any]:
    """A setting with every field the Hub writes: ``sensitive`` always said."""
    done = {
        "name": setting["name"],
        "kind": setting["kind"],
        "label": setting["label"],
        "description": setting["description"],
        "sensitive": bool(setting.get("sensitive", False)),
    }
    for optional in ("value", "options"):
        if optional in setting:
            done[optional] = setting[optional]
    return done


def definition(pip_url: str = DISTRIBUTION, repo: str | None = None) -> dict[str, t.Any]:
    """The plugin definition, made from meltano.yml, installing from ``pip_url``."""
    block = copy.deepcopy(extractor_block())
    made: dict[str, t.Any] = {
        **{key: block[key] for key in ("name", "namespace", "label", "description")},
        "variant": "tap-msgreports",
        "keywords": KEYWORDS,
        "pip_url": pip_url,
        "executable": block["executable"],
        "capabilities": block["capabilities"],
        "settings_group_validation": block["settings_group_validation"],
        "settings": [hub_setting(s) for s in block["settings"]],
        "select": SELECT,
    }
    if repo:
        made |= {"repo": repo, "docs": f"{repo.removesuffix('/')}#readme"}
    return {key: made[key] for key in ORDER if key in made}


def render(made: dict[str, t.Any]) -> str:
    """The YAML text of a definition, with the header that says where it comes from."""
    body = yaml.safe_dump(made, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + "\n" + body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pip-url", default=DISTRIBUTION, help="what Meltano installs")
    parser.add_argument("--repo", help="URL of the repository (repo and docs of the Hub)")
    parser.add_argument("--out", type=Path, default=DEFINITION, help="file to write")
    parser.add_argument(
        "--loader", help="write this loader of meltano.yml instead (for projects without the Hub)"
    )
    arguments = parser.parse_args(argv)
    if arguments.loader:
        text = yaml.safe_dump(loader_block(arguments.loader), sort_keys=False, width=100)
    else:
        text = render(definition(arguments.pip_url, arguments.repo))
    arguments.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
