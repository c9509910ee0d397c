"""Exceptions: one class per C error code (csrc/pyflow.h enum pf_error)."""
from __future__ import annotations

from typing import Any, Optional


class PyflowError(Exception):
    """Base class of every pyflow error."""

    def __init__(self, message: str, path: Optional[str] = None, offset: Optional[int] = None):
        self.path = path
        self.offset = offset
        self.detail = message
        where = ""
        if path is not None:
            where = f"{path}: "
            if offset is not None:
                where += f"byte {offset}: "
        super().__init__(where + message)


class CaptureError(PyflowError):
    """The input capture cannot be read to the end."""

    partial_result: Any = None  # the Result of the packets read before the error, if any


class CaptureOpenError(CaptureError):
    """The file is missing, unreadable or not a regular file."""


class EmptyCaptureError(CaptureError):
    """The file has 0 bytes."""


class CaptureFormatError(CaptureError):
    """Not a pcap or pcapng file (magic, version, first block)."""


class TruncatedCaptureError(CaptureError):
    """The file ends inside its own header."""


class CorruptCaptureError(CaptureError):
    """An impossible record or block length: reading cannot continue past it."""


class ConfigError(PyflowError, ValueError):
    """An invalid option or configuration."""


class OutputError(PyflowError, OSError):
    """An output file (decision log, annotated capture) could not be written."""


class CancelledError(PyflowError):
    """The progress callback asked to stop."""


ERRORS_BY_CODE = {
    -1: MemoryError,
    -2: CaptureOpenError,
    -3: EmptyCaptureError,
    -4: CaptureFormatError,
    -5: TruncatedCaptureError,
    -6: CorruptCaptureError,
    -7: ConfigError,
    -8: OutputError,
    -9: CancelledError,
}
