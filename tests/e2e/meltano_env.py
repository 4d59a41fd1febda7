"""Meltano's own files for one test or benchmark, apart from the project's.

A system database and a ``MELTANO_SYS_DIR_ROOT`` in a temporary directory; its
``extractors`` and ``loaders`` are links to the plugin venvs ``meltano install`` keeps in the
project's ``.meltano``. Without it, two Meltano commands at the same time (a ``make test``
beside ``make bench``, say) rewrite the same ``.meltano/run/...`` catalog and config files
under each other's feet: seen as "Invalid catalog" and vanished config files.
"""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

if t.TYPE_CHECKING:
    from collections.abc import Mapping

ROOT = Path(__file__).resolve().parent.parent.parent


def private_meltano_env(workdir: Path) -> dict[str, str]:
    """The variables that give Meltano a system database and run directory in ``workdir``."""
    sys_dir = workdir / "meltano-sys"
    sys_dir.mkdir(exist_ok=True)
    for kind in ("extractors", "loaders"):
        link = sys_dir / kind
        if not link.exists():
            link.symlink_to(ROOT / ".meltano" / kind, target_is_directory=True)
    return {
        "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
        "MELTANO_SYS_DIR_ROOT": str(sys_dir),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def plugin_env(tap_config: Mapping[str, t.Any]) -> dict[str, str]:
    """This process's environment without plugin settings, plus the tap's, as Meltano reads.

    Settings go in as ``TAP_MSGREPORTS_<NAME>`` (arrays and objects as JSON), so that
    Meltano hands them to the tap as a user's environment would.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_MSGREPORTS_", "TARGET_"))}
    return base | {
        f"TAP_MSGREPORTS_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in tap_config.items()
    }
