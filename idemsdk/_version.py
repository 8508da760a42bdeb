"""The package version, in one place: the package and its telemetry scope both read it."""

__version__ = "0.1.0"
