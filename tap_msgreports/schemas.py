"""Where the JSON Schemas of the streams are.

They live in the repository's top-level ``schemas/`` and are copied into the wheel as
``tap_msgreports/schemas/``; an editable install reads them from the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).parent / "schemas"
_REPOSITORY = Path(__file__).parent.parent / "schemas"


def schema_directory() -> Path:
    """The directory holding ``<stream>.json`` for every stream."""
    return _PACKAGED if _PACKAGED.is_dir() else _REPOSITORY
