"""The singer-sdk internals the tap relies on are still there, as they were checked.

Each name in :data:`sdk_compat.CHECKED` must exist in the installed SDK: a method with the
parameters it had, an attribute still assigned by its owner. Outside ``sdk_compat`` no module
of the tap names an SDK internal.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import re
from pathlib import Path

import pytest

import tap_msgreports
from tap_msgreports import sdk_compat

PACKAGE = Path(tap_msgreports.__file__).parent


def owner_of(path: str) -> object:
    """``singer_sdk.Stream`` as the class, ``singer_sdk.helpers._state`` as the module."""
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError:
        module, _, name = path.rpartition(".")
        return getattr(importlib.import_module(module), name)


def installed_version() -> tuple[int, ...]:
    text = importlib.metadata.version("singer-sdk")
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_installed_sdk_is_a_checked_version() -> None:
    version = installed_version()
    assert sdk_compat.CHECKED_FROM <= version < sdk_compat.CHECKED_BELOW, (
        f"singer-sdk {importlib.metadata.version('singer-sdk')} is installed; "
        f"tap_msgreports/sdk_compat.py was checked against {sdk_compat.CHECKED_FROM} up to "
        f"{sdk_compat.CHECKED_BELOW} (excluded): check each internal it lists, then widen"
    )


@pytest.mark.parametrize(("owner", "name", "parameters"), sdk_compat.CHECKED)
def test_an_internal_is_still_there(
    owner: str, name: str, parameters: tuple[str, ...] | None
) -> None:
    found = owner_of(owner)
    if parameters is None:
        assert has_attribute(found, name), f"{owner} no longer has {name}: see sdk_compat.py"
        return
    function = inspect.getattr_static(found, name, None)
    function = function.__func__ if isinstance(function, classmethod) else function
    assert callable(function), f"{owner}.{name} is gone: see tap_msgreports/sdk_compat.py"
    signature = tuple(inspect.signature(function).parameters)
    assert signature[: len(parameters)] == parameters, (
        f"{owner}.{name} now takes {signature}, checked with {parameters}: see sdk_compat.py"
    )


def has_attribute(found: object, name: str) -> bool:
    """Declared on the owner (a class property too), or assigned by it or a base to ``self``.

    ``Stream._tap`` and the like exist on instances only: their assignment must still be in
    the source of the class or of one of its bases.
    """
    if inspect.getattr_static(found, name, None) is not None:
        return True
    bases = found.__mro__ if isinstance(found, type) else ()
    assigned = re.compile(rf"self\.{name}\b\s*(:[^=\n]*)?=")
    return any(assigned.search(inspect.getsource(base)) for base in bases if base is not object)


def sdk_internals_named(path: Path) -> list[str]:
    """The SDK internals a module imports or names (``x._name`` of a checked name)."""
    checked = {name for _, name, _ in sdk_compat.CHECKED if name.startswith("_")}
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            names = [node.module or "", *(alias.name for alias in node.names)]
            found += [name for name in names if "._" in f".{name}" and name.startswith("_")]
            found += [node.module or ""] if "._" in (node.module or "") else []
        elif isinstance(node, ast.Attribute) and node.attr in checked:
            found.append(node.attr)
    return found


def test_only_sdk_compat_names_sdk_internals() -> None:
    used = {
        str(path.relative_to(PACKAGE)): names
        for path in PACKAGE.rglob("*.py")
        if path.name != "sdk_compat.py"
        and "emulator" not in path.parts
        and (names := sdk_internals_named(path))
    }
    assert not used, f"SDK internals outside sdk_compat.py: {used}"


def test_the_check_of_names_sees_one(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from singer_sdk.helpers._state import x\nstream._tap.streams\n")
    assert sdk_internals_named(module) == ["singer_sdk.helpers._state", "_tap"]
