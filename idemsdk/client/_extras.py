"""The ImportError for an integration whose optional dependency is not installed."""

from __future__ import annotations

__all__ = ["missing"]


def missing(package: str, names: str) -> ImportError:
    """An ImportError that says which extra installs ``package``, for ``names`` to work."""
    return ImportError(f"{names} needs {package}: pip install 'idemsdk[{package}]'", name=package)
