"""pyflow: what would flow offloading do to this traffic?

Replays pcap/pcapng captures through a model of a Linux router (nf_conntrack, the nftables
flowtable, MediaTek PPE hardware offload) and classifies every packet as slow path, SFO
(software flow offload), HFO (hardware flow offload), not forwarded or unparsed.
"""
from .core import PATHS, REASONS, SCHEMA_VERSION, Interface, Options, Result, flows, replay, run_many
from .errors import (
    CancelledError,
    CaptureError,
    CaptureFormatError,
    CaptureOpenError,
    ConfigError,
    CorruptCaptureError,
    EmptyCaptureError,
    OutputError,
    PyflowError,
    TruncatedCaptureError,
)
from .presets import KERNELS, SOCS, SYSCTLS
from .topology import Topology

__version__ = "0.1.0"

__all__ = [
    "replay", "run_many", "flows", "Options", "Interface", "Result", "PATHS", "REASONS", "SCHEMA_VERSION",
    "KERNELS", "SOCS", "SYSCTLS", "Topology",
    "PyflowError", "CaptureError", "CaptureOpenError", "EmptyCaptureError", "CaptureFormatError",
    "TruncatedCaptureError", "CorruptCaptureError", "ConfigError", "OutputError", "CancelledError",
]
