"""Profiles: named sets of settings kept with the project, so a team types `--smtp-profile=ci`, not ten options.

They live in a top-level ``smtpcheck.toml`` (``[profiles.NAME]``) or in ``[tool.smtpcheck]`` of
``pyproject.toml`` (``[tool.smtpcheck.profiles.NAME]``), both in pytest's rootdir. Both at once is a usage
error rather than one silently shadowing the other. This module finds the file, checks its shape and key
names, and picks the profile; the values are checked by :mod:`pytest_smtpcheck.options`, by the same rules
as the command line. TOML is read only when one of those files exists.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest

__all__ = ["PROFILE_ENV", "PROFILE_FILE", "Profile", "ProfileFile", "find_profile_file", "select_profile"]

PROFILE_FILE = "smtpcheck.toml"
PROFILE_ENV = "SMTPCHECK_PROFILE"
_TOP_KEYS = ("profile", "profiles")


class ProfileFile(NamedTuple):
    """The profiles of one file, their key names checked."""

    path: Path
    prefix: str  # where the smtpcheck table sits in the file: "" or "tool.smtpcheck."
    profiles: Mapping[str, Mapping[str, object]]
    default: str | None  # `profile = "NAME"` at the top of the table

    def where(self, key: str) -> str:
        """A key named the way the user wrote it, for error messages: ``smtpcheck.toml: profiles.ci.timeout``."""
        return f"{self.path.name}: {self.prefix}{key}"


class Profile(NamedTuple):
    """The chosen profile: its values as TOML gave them, and how to name them in messages and the report."""

    name: str
    file: ProfileFile
    values: Mapping[str, object]

    def where(self, key: str) -> str:
        return self.file.where(f"profiles.{self.name}.{key}")

    @property
    def origin(self) -> str:
        return f"profile {self.name} ({self.file.path.name})"

    @property
    def base(self) -> Path:
        """Relative paths in a profile are relative to its file, wherever pytest is started."""
        return self.file.path.parent


def find_profile_file(rootpath: Path, known_keys: Collection[str]) -> ProfileFile | None:
    """The rootdir's profile file, if any; a malformed one is a usage error naming the file and key."""
    own = rootpath / PROFILE_FILE
    pyproject = rootpath / "pyproject.toml"
    own_table = _read(own) if own.is_file() else None
    tool = _read(pyproject).get("tool", {}) if pyproject.is_file() else {}
    project_table = tool.get("smtpcheck") if isinstance(tool, dict) else None
    if own_table is not None and project_table is not None:
        raise pytest.UsageError(
            f"{own} and [tool.smtpcheck] in {pyproject} both configure pytest-smtpcheck; keep one of them"
        )
    if own_table is not None:
        return _checked(own, "", own_table, known_keys)
    if project_table is not None:
        return _checked(pyproject, "tool.smtpcheck.", project_table, known_keys)
    return None


def select_profile(file: ProfileFile | None, name: str | None, where: str) -> Profile | None:
    """The profile called *name* (given as *where* says), else the file's default, else none."""
    if name is None and file is not None and file.default is not None:
        name, where = file.default, file.where("profile")
    if name is None:
        return None
    if file is None:
        raise pytest.UsageError(
            f"{where}: no profile {name!r}: there is no {PROFILE_FILE} and no [tool.smtpcheck] in pyproject.toml "
            "in the rootdir"
        )
    if name not in file.profiles:
        known = ", ".join(sorted(file.profiles)) or "none"
        raise pytest.UsageError(f"{where}: no profile {name!r} in {file.path.name}; known profiles: {known}")
    return Profile(name=name, file=file, values=file.profiles[name])


def _read(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        with path.open("rb") as stream:
            table: dict[str, Any] = tomllib.load(stream)
            return table
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise pytest.UsageError(f"{path}: cannot read it as TOML: {error}") from None


def _checked(path: Path, prefix: str, table: object, known_keys: Collection[str]) -> ProfileFile:
    file = ProfileFile(path=path, prefix=prefix, profiles={}, default=None)
    if not isinstance(table, dict):  # only `smtpcheck = ...` under [tool] can be other than a table
        raise pytest.UsageError(f"{path.name}: {prefix.rstrip('.')}: must be a table")
    _known(file, "", table, _TOP_KEYS)
    default = table.get("profile")
    if default is not None and not (isinstance(default, str) and default):
        raise pytest.UsageError(f"{file.where('profile')}: must be the name of a profile, not {default!r}")
    profiles = table.get("profiles", {})
    if not isinstance(profiles, dict):
        raise pytest.UsageError(f"{file.where('profiles')}: must be a table of [profiles.NAME] tables")
    for name, values in profiles.items():
        if not isinstance(values, dict):
            raise pytest.UsageError(f"{file.where(f'profiles.{name}')}: must be a table")
        _known(file, f"profiles.{name}.", values, known_keys)
    return ProfileFile(path=path, prefix=prefix, profiles=profiles, default=default)


def _known(file: ProfileFile, prefix: str, table: Mapping[str, object], known_keys: Collection[str]) -> None:
    for key in table:
        if key not in known_keys:
            raise pytest.UsageError(
                f"{file.where(prefix + key)}: unknown key; known keys: {', '.join(sorted(known_keys))}"
            )
