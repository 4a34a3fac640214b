"""The docs name only what exists: every `pytest_smtpcheck.x.y` in README.md and docs/ imports, every path is there."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOTTED = re.compile(r"\bpytest_smtpcheck(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"\bpytest_smtpcheck/[\w/.]*\w/?")


def named(pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    return sorted({(page.name, match) for page in PAGES for match in pattern.findall(page.read_text())})


def resolve(dotted: str) -> object:
    """The module or object *dotted* names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            found = getattr(found, attribute)
        return found
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize(("page", "dotted"), named(DOTTED))
def test_every_dotted_name_imports(page, dotted):
    try:
        resolve(dotted)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{page} names {dotted}, which does not import: {error}")


@pytest.mark.parametrize(("page", "path"), named(PATH))
def test_every_module_path_exists(page, path):
    assert (ROOT / path).exists(), f"{page} names {path}, which does not exist"
