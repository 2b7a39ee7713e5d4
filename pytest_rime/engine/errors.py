"""The engine's errors: a leaf module every other engine module may import.

Each one ends a run before any test does (never a green run): :class:`ConfigError` for a config
key, :class:`DataError` for a data file, :class:`ModelError` for the model. Their messages are one
line, quoted as they are in job failures and gate errors.
"""

from __future__ import annotations

from pytest_rime.vocabulary import VocabularyError


class ConfigError(VocabularyError):
    """A config key is unknown, missing or of the wrong type.

    Attributes:
        key: Dotted path of the offending key, e.g. ``data_info.label_col``.
    """

    @classmethod
    def from_vocabulary(cls, exc: VocabularyError) -> ConfigError:
        """The :class:`ConfigError` of a vocabulary error (same key and message)."""
        return cls(exc.key, exc.detail)


class DataError(ValueError):
    """A data file cannot be read or lacks a column the config names."""


class ModelError(ValueError):
    """The model cannot be loaded or does not expose a supported predict function."""
