"""Errors raised by core functions, each naming what the user must fix."""

from __future__ import annotations


class MlopsError(Exception):
    """Base class for errors the user can act on."""


class ConfigError(MlopsError):
    """A model config is missing, malformed or invalid."""


class DataError(MlopsError):
    """A data set is missing, unreadable or unusable."""


class SuiteError(MlopsError):
    """An expectation suite is missing, malformed or invalid."""


class RegistryError(MlopsError):
    """The model registry is not in the state an action requires."""


class ChampionChangedError(RegistryError):
    """The champion moved between evaluation and promotion (compare-and-set lost)."""


class PathEscapeError(ConfigError):
    """A path built from run, task or data values would leave its configured root."""
