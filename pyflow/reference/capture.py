"""Capture file reading for the reference model: classic pcap and pcapng.

Written from the format specifications, not from pyflow's C reader:

- classic pcap: pcap-savefile(5) / draft-ietf-opsawg-pcap (24-byte file header, 16-byte record
  headers, microsecond magic 0xa1b2c3d4 and nanosecond magic 0xa1b23c4d, either byte order; the
  upper 4 bits of the link type field are the FCS length, not the type);
- pcapng: draft-ietf-opsawg-pcapng (section 3.1 block layout, 4.1 SHB, 4.2 IDB with if_tsresol /
  if_tsoffset, 4.3 EPB, 4.4 SPB, appendix A obsolete Packet Block).

dpkt.pcap / dpkt.pcapng are not used because pyflow defines what happens with broken files
(a record cut by the end of the file is still one packet, counted unparsed/truncated_record; an
impossible length stops reading with a CorruptCaptureError that carries the partial result), and
those readers raise or skip instead. The reading rules below are pyflow's documented contract
(csrc/pcap.h): a reference implementation of that contract.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Iterator, List, Optional

from ..errors import (CaptureFormatError, CaptureOpenError, CorruptCaptureError, EmptyCaptureError,
                      TruncatedCaptureError)

MAX_CAPLEN = 262144  # libpcap MAXIMUM_SNAPLEN
MAX_IFACES = 256

PCAP_MAGICS = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1}  # ns per sub-second unit
SHB_TYPE = 0x0A0D0D0A
BOM = 0x1A2B3C4D
IDB, OPB, SPB, EPB = 1, 2, 3, 6


class TruncatedRecord(Exception):
    pass


@dataclass
class Record:
    index: int
    offset: int
    ts_ns: int
    caplen: int
    wirelen: int
    data: bytes
    linktype: int
    if_id: int            # pcapng interface id, -1 in classic pcap
    bad: Optional[str]    # None, "truncated_record" or "bad_interface"


@dataclass
class FileInfo:
    is_pcapng: bool = False
    size: int = 0
    records: int = 0
    truncated_records: int = 0
    n_ifaces: int = 0


class _Iface:
    __slots__ = ("linktype", "snaplen", "tsresol", "tsoffset_ns")

    def __init__(self, linktype: int, snaplen: int):
        self.linktype = linktype
        self.snaplen = snaplen
        self.tsresol = 6
        self.tsoffset_ns = 0

    def ts_ns(self, raw: int) -> int:
        """if_tsresol: MSB clear = 10^-n s, set = 2^-n s (default 10^-6). Truncated to whole ns."""
        n = self.tsresol & 0x7F
        if self.tsresol & 0x80:
            sec, frac = raw >> n, raw & ((1 << n) - 1)
            ns = sec * 1_000_000_000 + ((frac * 1_000_000_000) >> n)
        elif n <= 9:
            ns = raw * 10 ** (9 - n)
        elif n - 9 <= 19:
            ns = raw // 10 ** (n - 9)
        else:
            ns = 0
        return _sat64(ns + self.tsoffset_ns)


def _sat64(v: int) -> int:
    return max(-(1 << 63), min((1 << 63) - 1, v))


def open_capture(path: str) -> bytes:
    try:
        if not os.path.isfile(path):
            raise CaptureOpenError("not a regular file" if os.path.exists(path) else "cannot open",
                                   path=path)
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise CaptureOpenError(f"cannot open: {exc.strerror}", path=path) from None
    if not data:
        raise EmptyCaptureError("empty file (0 bytes)", path=path)
    return data


class Reader:
    """Iterates the packet records of a capture held in memory. `info` is filled as it goes.

    Open errors are raised by the constructor (CaptureFormatError, TruncatedCaptureError);
    iteration raises CorruptCaptureError (offset = the bad record or block) when a length makes
    the position of the next record unknowable.
    """

    def __init__(self, data: bytes, path: str = "<buffer>"):
        self.b = data
        self.path = path
        self.info = FileInfo(size=len(data))
        self.ifaces: List[_Iface] = []
        self.last_ts = 0
        self.index = 0
        self.pos = 0
        self._init()

    # ---- header ---------------------------------------------------------------------------
    def _fmt(self, msg, off=0):
        return CaptureFormatError(msg, path=self.path, offset=off)

    def _init(self) -> None:
        b = self.b
        if len(b) < 4:
            known = [bytes.fromhex(h) for h in ("d4c3b2a1", "a1b2c3d4", "4d3cb2a1", "a1b23c4d", "0a0d0d0a")]
            if any(k.startswith(b) for k in known):
                raise TruncatedCaptureError("file ends inside its header", path=self.path, offset=0)
            raise self._fmt("not a pcap or pcapng file")
        (magic_le,) = struct.unpack_from("<I", b, 0)
        if magic_le == SHB_TYPE:
            self.info.is_pcapng = True
            if len(b) < 12:
                raise TruncatedCaptureError("pcapng: file ends inside the section header",
                                            path=self.path, offset=0)
            self._section(0, first=True)
            return
        for e in ("<", ">"):
            (m,) = struct.unpack_from(e + "I", b, 0)
            if m in PCAP_MAGICS:
                break
        else:
            raise self._fmt("not a pcap or pcapng file")
        if len(b) < 24:
            raise TruncatedCaptureError("file ends inside the pcap header", path=self.path, offset=0)
        self.e = e
        major, _minor, _zone, _sig, snaplen, network = struct.unpack_from(e + "HHiIII", b, 4)
        if major != 2:
            raise self._fmt("unsupported pcap version", 4)
        self.ts_mul = PCAP_MAGICS[m]
        self.ifaces = [_Iface(network & 0x0FFFFFFF, snaplen)]
        self.pos = 24

    def _section(self, off: int, first: bool) -> bool:
        """SHB at off. Returns False when a later SHB is cut by the end of the file."""
        b = self.b
        rem = len(b) - off
        bom = b[off + 8:off + 12]
        if bom == struct.pack("<I", BOM):
            e = "<"
        elif bom == struct.pack(">I", BOM):
            e = ">"
        elif first:
            raise self._fmt("pcapng: bad byte-order magic", off)
        else:
            raise self._corrupt(off, "section header with bad byte-order magic")
        (length,) = struct.unpack_from(e + "I", b, off + 4)
        if length < 28 or length % 4:
            if first:
                raise self._fmt("pcapng: bad section header length", off)
            raise self._corrupt(off, "bad section header length")
        if rem < 28 or length > rem:
            if first:
                raise TruncatedCaptureError("pcapng: file ends inside the section header",
                                            path=self.path, offset=off)
            return False
        (major,) = struct.unpack_from(e + "H", b, off + 12)
        (trail,) = struct.unpack_from(e + "I", b, off + length - 4)
        if major != 1:
            if first:
                raise self._fmt("pcapng: unsupported version", off + 12)
            raise self._corrupt(off, "unsupported pcapng version")
        if trail != length:
            if first:
                raise self._fmt("pcapng: section header trailing length mismatch", off)
            raise self._corrupt(off, "trailing length mismatch")
        self.e = e
        self.ifaces = []  # a new section starts a new interface list (4.1)
        self.pos = off + length
        return True

    def _corrupt(self, off: int, msg: str) -> CorruptCaptureError:
        return CorruptCaptureError(msg, path=self.path, offset=off)

    # ---- records ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Record]:
        nxt = self._ng_next if self.info.is_pcapng else self._pcap_next
        while True:
            rec = nxt()
            if rec is None:
                break
            self.info.records += 1
            if rec.bad == "truncated_record":
                self.info.truncated_records += 1
            yield rec
            if rec.bad == "truncated_record":
                break
        self.info.n_ifaces = len(self.ifaces)

    def _rec(self, **kw) -> Record:
        r = Record(index=self.index, **kw)
        self.index += 1
        return r

    def _pcap_next(self) -> Optional[Record]:
        b, off, e = self.b, self.pos, self.e
        rem = len(b) - off
        lt = self.ifaces[0].linktype
        if rem == 0:
            return None
        if rem < 16:  # record header cut by the end of the file
            self.pos = len(b)
            return self._rec(offset=off, ts_ns=self.last_ts, caplen=0, wirelen=0, data=b"",
                             linktype=lt, if_id=-1, bad="truncated_record")
        sec, sub, caplen, wirelen = struct.unpack_from(e + "IIII", b, off)
        ts = sec * 1_000_000_000 + sub * self.ts_mul
        if caplen > MAX_CAPLEN:
            raise self._corrupt(off, f"record {self.index}: caplen {caplen} exceeds {MAX_CAPLEN}")
        self.last_ts = ts
        if caplen > rem - 16:
            self.pos = len(b)
            return self._rec(offset=off, ts_ns=ts, caplen=rem - 16, wirelen=wirelen,
                             data=b[off + 16:], linktype=lt, if_id=-1, bad="truncated_record")
        self.pos = off + 16 + caplen
        return self._rec(offset=off, ts_ns=ts, caplen=caplen, wirelen=wirelen,
                         data=b[off + 16:off + 16 + caplen], linktype=lt, if_id=-1, bad=None)

    def _ng_next(self) -> Optional[Record]:
        b = self.b
        while True:
            off = self.pos
            rem = len(b) - off
            if rem == 0:
                return None
            e = self.e
            if rem < 12:
                self.pos = len(b)
                btype = struct.unpack_from(e + "I", b, off)[0] if rem >= 4 else 0
                if rem >= 4 and btype in (EPB, SPB, OPB):
                    return self._ng_packet(btype, off, 0, rem, cut=True)
                self.info.truncated_records += 1  # a cut non-packet block is counted too
                return None
            btype, length = struct.unpack_from(e + "II", b, off)
            if btype == SHB_TYPE:
                if not self._section(off, first=False):
                    self.info.truncated_records += 1
                    self.pos = len(b)
                    return None
                continue
            if length < 12:
                raise self._corrupt(off, "block length < 12")
            if length % 4:
                raise self._corrupt(off, "block length not a multiple of 4")
            if length > rem:
                self.pos = len(b)
                if btype in (EPB, SPB, OPB):
                    return self._ng_packet(btype, off, length, rem, cut=True)
                self.info.truncated_records += 1
                return None
            if struct.unpack_from(e + "I", b, off + length - 4)[0] != length:
                raise self._corrupt(off, "trailing length mismatch")
            self.pos = off + length
            if btype in (EPB, SPB, OPB):
                return self._ng_packet(btype, off, length, length, cut=False)
            if btype == IDB:
                self._idb(off, length)

    def _idb(self, off: int, length: int) -> None:
        b, e = self.b, self.e
        if length < 20:
            raise self._corrupt(off, "interface description length < 20")
        if len(self.ifaces) >= MAX_IFACES:
            return
        linktype, _res, snaplen = struct.unpack_from(e + "HHI", b, off + 8)
        itf = _Iface(linktype, snaplen)
        self.ifaces.append(itf)
        p, end = 16, length - 4
        while end - p >= 4:
            code, olen = struct.unpack_from(e + "HH", b, off + p)
            if code == 0 or olen > end - p - 4:
                break
            v = off + p + 4
            if code == 9 and olen >= 1:      # if_tsresol
                itf.tsresol = b[v]
            elif code == 14 and olen >= 8:   # if_tsoffset (signed seconds)
                itf.tsoffset_ns = _sat64(struct.unpack_from(e + "q", b, v)[0] * 1_000_000_000)
            p += 4 + ((olen + 3) & ~3)
            if p > end:
                break

    def _ng_packet(self, btype: int, off: int, length: int, avail: int, cut: bool) -> Record:
        b, e = self.b, self.e
        fixed = 12 if btype == SPB else 28
        ts_raw = None
        if avail < fixed:
            if not cut:
                raise self._corrupt(off, "packet block too short")
            if btype == SPB or avail < 12:
                if_id = 0
            else:
                if_id = struct.unpack_from(e + ("H" if btype == OPB else "I"), b, off + 8)[0]
            caplen = wirelen = 0
            data = b""
        else:
            if not cut and length < fixed + 4:
                raise self._corrupt(off, "packet block too short")
            room = avail - fixed if cut else length - fixed - 4
            if btype == SPB:
                if_id = 0
                (wirelen,) = struct.unpack_from(e + "I", b, off + 8)
                caplen = wirelen
                if self.ifaces and self.ifaces[0].snaplen and caplen > self.ifaces[0].snaplen:
                    caplen = self.ifaces[0].snaplen
                caplen = min(caplen, room)
            else:
                if btype == OPB:
                    (if_id,) = struct.unpack_from(e + "H", b, off + 8)
                else:
                    (if_id,) = struct.unpack_from(e + "I", b, off + 8)
                hi, lo, caplen, wirelen = struct.unpack_from(e + "IIII", b, off + 12)
                ts_raw = (hi << 32) | lo
                if cut and caplen > room:
                    caplen = room
                if caplen > MAX_CAPLEN:
                    raise self._corrupt(off, f"record {self.index}: caplen exceeds {MAX_CAPLEN}")
                if caplen > room:
                    raise self._corrupt(off, "caplen exceeds block body")
            if caplen > MAX_CAPLEN:
                raise self._corrupt(off, f"record {self.index}: caplen exceeds {MAX_CAPLEN}")
            data = b[off + fixed:off + fixed + caplen]
        bad = None
        if if_id < len(self.ifaces):
            linktype = self.ifaces[if_id].linktype
            if ts_raw is not None:
                self.last_ts = self.ifaces[if_id].ts_ns(ts_raw)
        else:
            linktype = -1
            bad = "bad_interface"
            if_id = min(if_id, (1 << 31) - 1)
        if cut:
            bad = "truncated_record"
        return self._rec(offset=off, ts_ns=self.last_ts, caplen=caplen, wirelen=wirelen, data=data,
                         linktype=linktype, if_id=if_id, bad=bad)
