"""Profiles: named sets of settings kept with the project, so a team types `--smtp-profile=ci`, not ten options.

They live in a top-level ``smtpcheck.toml`` (``[profiles.NAME]``) or in ``[tool.smtpcheck]`` of
``pyproject.toml`` (``[tool.smtpcheck.profiles.NAME]``), both in pytest's rootdir. Both at once is a usage
error rather than one silently shadowing the other. This module finds the file, checks its shape and key
names, picks the profile and hands its values over as a settings layer; :mod:`pytest_smtpcheck.settings`
checks them by the same rules as every other door. TOML is read only when one of those files exists.
Pytest-free: a mistake is a SettingsError naming the file and key. Light: the plugin looks for the file
at every start-up, and loads the settings' rules only when there is something to check.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import SettingsError

if TYPE_CHECKING:
    from .settings import Layer

__all__ = ["PROFILE_ENV", "PROFILE_FILE", "PROFILE_KEYS", "Profile", "ProfileFile", "find_profile_file",
           "select_profile"]

PROFILE_FILE = "smtpcheck.toml"
PROFILE_ENV = "SMTPCHECK_PROFILE"
_TOP_KEYS = ("profile", "profiles")
# Keys a profile may set (the keys of Settings.origins, with the ini-only message_dirs); `password = { env = "VAR" }`
# is a profile key only.
PROFILE_KEYS = ("target", "mx", "port", "listeners", "tls", "helo", "timeout", "connect_timeout", "deadline", "ca",
                "tls_name", "no_verify", "user", "vars", "sandbox", "resolver", "concurrency", "as", "as_via",
                "password",
                # the bundled battery's (pytest_smtpcheck.baseline.settings)
                "baseline", "baseline_domains", "json", "baseline_days_left", "baseline_spacing", "mta_sts_port",
                "mta_sts_ca", "waive")


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

    def layer(self) -> Layer:
        """The profile's values as a settings layer, each named as written (``smtpcheck.toml: profiles.ci.tls``)."""
        from .settings import Given

        return {key: Given(value, self.where(key), self.origin, self.base) for key, value in self.values.items()}


def find_profile_file(rootpath: Path) -> ProfileFile | None:
    """The rootdir's profile file, if any; a malformed one is a usage error naming the file and key."""
    own = rootpath / PROFILE_FILE
    pyproject = rootpath / "pyproject.toml"
    own_table = _read(own) if own.is_file() else None
    tool = _read(pyproject).get("tool", {}) if pyproject.is_file() else {}
    project_table = tool.get("smtpcheck") if isinstance(tool, dict) else None
    if own_table is not None and project_table is not None:
        raise SettingsError(str(own), f"[tool.smtpcheck] in {pyproject} both configure pytest-smtpcheck; "
                            "keep one of them", joined=" and ")
    if own_table is not None:
        return _checked(own, "", own_table)
    if project_table is not None:
        return _checked(pyproject, "tool.smtpcheck.", project_table)
    return None


def select_profile(file: ProfileFile | None, name: str | None, where: str) -> Profile | None:
    """The profile called *name* (given as *where* says), else the file's default, else none."""
    if name is None and file is not None and file.default is not None:
        name, where = file.default, file.where("profile")
    if name is None:
        return None
    if file is None:
        raise SettingsError(where, f"no profile {name!r}: there is no {PROFILE_FILE} and no [tool.smtpcheck] in "
                            "pyproject.toml in the rootdir")
    if name not in file.profiles:
        known = ", ".join(sorted(file.profiles)) or "none"
        raise SettingsError(where, f"no profile {name!r} in {file.path.name}; known profiles: {known}")
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
        raise SettingsError(str(path), f"cannot read it as TOML: {error}") from None


def _checked(path: Path, prefix: str, table: object) -> ProfileFile:
    file = ProfileFile(path=path, prefix=prefix, profiles={}, default=None)
    if not isinstance(table, dict):  # only `smtpcheck = ...` under [tool] can be other than a table
        raise SettingsError(f"{path.name}: {prefix.rstrip('.')}", "must be a table")
    _known(file, "", table, _TOP_KEYS)
    default = table.get("profile")
    if default is not None and not (isinstance(default, str) and default):
        raise SettingsError(file.where("profile"), f"must be the name of a profile, not {default!r}")
    profiles = table.get("profiles", {})
    if not isinstance(profiles, dict):
        raise SettingsError(file.where("profiles"), "must be a table of [profiles.NAME] tables")
    for name, values in profiles.items():
        if not isinstance(values, dict):
            raise SettingsError(file.where(f"profiles.{name}"), "must be a table")
        _known(file, f"profiles.{name}.", values, PROFILE_KEYS)
    return ProfileFile(path=path, prefix=prefix, profiles=profiles, default=default)


def _known(file: ProfileFile, prefix: str, table: Mapping[str, object], known_keys: tuple[str, ...]) -> None:
    for key in table:
        if key not in known_keys:
            raise SettingsError(file.where(prefix + key), f"unknown key; known keys: {', '.join(sorted(known_keys))}")
