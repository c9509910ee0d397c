"""Annotated pcapng output (issue 10): csrc/annotate.c checked with real tshark.

Part 1 tests the C writer through a standalone driver (tests/c/annotate_test.c, compiled here with
gcc from every csrc/*.c file): every input record is written with a comment, and tshark must open
the output without error, see the same packets (count, frame.len, frame.cap_len, time, interface
id), and find the comment on every packet. Frame bytes are compared with an independent pcap /
pcapng parser written below (not pyflow's reader). In `sim` mode the driver runs one simulator the
way run.c does and the per-path counts in the comments must equal the simulator's statistics.

Part 2 is the end-to-end acceptance test of issue 10 through pyflow.replay(..., annotate=OUT); it
skips until the writer is wired into run.c / pyflow.core (replay accepts `annotate`).

Everything skips when tshark or gcc is missing (.ci/run installs both).
"""
from __future__ import annotations

import collections
import dataclasses
import inspect
import json
import os
import re
import shutil
import struct
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import pytest

from tests.pcapgen import (DEFAULT_BASE, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW, Trace,
                           pcap_global_header, pcap_record, pcapng_epb, pcapng_idb, pcapng_shb, tcp,
                           udp)

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
DRIVER_SRC = ROOT / "tests" / "c" / "annotate_test.c"
CORPUS = Path(os.environ.get("PYFLOW_PCAPS", "/work/shared/pcaps"))
PATH_NAMES = ("slow", "sfo", "hfo", "not_forwarded", "unparsed")
MAX_NS_S = Decimal(2**63 - 1) / Decimal(10**9)  # pf_record.ts_ns is int64: later times saturate

TSHARK = shutil.which("tshark")
GCC = shutil.which("gcc")
needs_tools = pytest.mark.skipif(not TSHARK or not GCC, reason="tshark and gcc are needed")


# --------------------------------------------------------------------------- independent reader
class Iface(NamedTuple):
    linktype: int
    snaplen: int
    name: str
    tsresol: Optional[int]


class Frame(NamedTuple):
    if_id: int                # section-local, as tshark 4.0 shows frame.interface_id
    iface: Optional[Iface]    # None: no IDB for it
    caplen: int
    wirelen: int
    data: bytes
    comments: Tuple[str, ...]

    def key(self) -> tuple:
        return self.if_id, self.iface and self.iface[:3], self.caplen, self.wirelen, self.data


def read_capture(path: Path) -> Tuple[List[List[Iface]], List[Frame]]:
    """Classic pcap or pcapng (EPB, SPB, OPB); complete records only. Returns the interfaces of
    each section and the frames."""
    b = path.read_bytes()
    magic = b[:4]
    sections: List[List[Iface]] = []
    frames: List[Frame] = []
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        snaplen, linktype = struct.unpack_from(e + "II", b, 16)
        ifc = Iface(linktype & 0x0FFFFFFF, snaplen, "", None)
        off = 24
        while off + 16 <= len(b):
            _, _, cap, wire = struct.unpack_from(e + "IIII", b, off)
            if off + 16 + cap > len(b):
                break
            frames.append(Frame(0, ifc, cap, wire, b[off + 16:off + 16 + cap], ()))
            off += 16 + cap
        return [[ifc]], frames
    assert magic == b"\x0a\x0d\x0d\x0a", f"{path}: not a capture"
    off, e = 0, "<"
    ifaces: List[Iface] = []
    while off + 12 <= len(b):
        if b[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if b[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
            sections.append(ifaces)
        btype, blen = struct.unpack_from(e + "II", b, off)
        if blen < 12 or off + blen > len(b):
            break
        body = b[off + 8:off + blen - 4]

        def options(p: int) -> Iterator[Tuple[int, bytes]]:
            while p + 4 <= len(body):
                code, olen = struct.unpack_from(e + "HH", body, p)
                if code == 0:
                    return
                yield code, body[p + 4:p + 4 + olen]
                p += 4 + olen + (-olen % 4)

        if btype == 1:
            lt, _, snap = struct.unpack_from(e + "HHI", body, 0)
            opts = dict(options(8))
            ifaces.append(Iface(lt, snap, opts.get(2, b"").decode("utf-8", "replace"),
                                opts[9][0] if 9 in opts else None))
        elif btype in (6, 2):
            if btype == 6:
                ifid, _, _, cap, wire = struct.unpack_from(e + "IIIII", body, 0)
            else:
                ifid, _, _, _, cap, wire = struct.unpack_from(e + "HHIIII", body, 0)
            data = body[20:20 + cap]
            comments = tuple(v.decode("utf-8", "replace") for c, v in options(20 + cap + (-cap % 4)) if c == 1)
            frames.append(Frame(ifid, ifaces[ifid] if ifid < len(ifaces) else None, cap, wire,
                                data, comments))
        elif btype == 3:
            (wire,) = struct.unpack_from(e + "I", body, 0)
            snap = ifaces[0].snaplen if ifaces else 0
            cap = min(wire, snap) if snap else wire
            frames.append(Frame(0, ifaces[0] if ifaces else None, cap, wire, body[4:4 + cap], ()))
        off += blen
    return sections, frames


# --------------------------------------------------------------------------- tools
def tshark(*args: str) -> Tuple[int, List[str], str]:
    p = subprocess.run([TSHARK, *args], capture_output=True, text=True, timeout=300)
    err = "\n".join(line for line in p.stderr.splitlines()
                    if line.strip() and not line.startswith("Running as user"))
    return p.returncode, p.stdout.splitlines(), err


FIELDS = ("frame.len", "frame.cap_len", "frame.time_epoch", "frame.interface_id", "frame.comment")


def tshark_fields(path: Path) -> Tuple[List[Tuple[str, ...]], List[str], str]:
    """(len, cap_len, time, interface id) per frame, the comments, tshark's error output. One
    tshark run (tshark's start-up dominates the test time)."""
    args = ["-r", str(path), "-T", "fields"]
    for f in FIELDS:
        args += ["-e", f]
    _, lines, err = tshark(*args)
    rows, comments = [], []
    for line in lines:
        length, cap, t, ifid, comment = (line.split("\t", 4) + [""] * 5)[:5]
        rows.append((length, cap, t, ifid or "0"))  # classic pcap: no interface id
        comments.append(comment)
    return rows, comments, err


def tshark_comments(path: Path) -> List[str]:
    rc, lines, err = tshark("-r", str(path), "-T", "fields", "-e", "frame.comment")
    assert rc == 0 and not err, err
    return lines


@pytest.fixture(scope="session")
def driver(tmp_path_factory) -> Path:
    if not TSHARK or not GCC:
        pytest.skip("tshark and gcc are needed")
    exe = tmp_path_factory.mktemp("annotate") / "annotate_test"
    srcs = [str(DRIVER_SRC)] + sorted(str(p) for p in CSRC.glob("*.c"))
    base = [GCC, "-std=c11", "-D_DEFAULT_SOURCE", "-O1", "-g", "-Wall", "-Wextra", f"-I{CSRC}",
            "-o", str(exe), *srcs]
    # with ASan/UBSan when the toolchain has them: the writer runs over odd inputs here
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    p = subprocess.run(base[:1] + san + base[1:], capture_output=True, text=True)
    if p.returncode != 0:
        p = subprocess.run(base, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return exe


def run_driver(driver: Path, inp: Path, out: Path, *mode: str) -> dict:
    args = list(mode) if mode else ["fixed"]
    p = subprocess.run([str(driver), *args, str(inp), str(out)], capture_output=True, text=True,
                       timeout=300, env={**os.environ, "ASAN_OPTIONS": "detect_leaks=1"})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def expected_comment(i: int) -> str:
    """What the driver's fixed mode writes on record i (mirrors annotate_test.c)."""
    reason = i % REASON_COUNT
    return (f"pyflow path={PATH_NAMES[i % 5]} reason={REASON_NAMES[reason] or 'not_ip'} "
            f"flow=test i={i}")


def _reason_names() -> Tuple[List[str], int]:
    """pf_reason_name table and PF_REASON_COUNT, read from csrc/run.c and csrc/pyflow.h so the
    test follows the enum."""
    text = (CSRC / "run.c").read_text()
    enum = (CSRC / "pyflow.h").read_text()
    values = {m.group(1): int(m.group(2))
              for m in re.finditer(r"\b(PF_R\w+)\s*=\s*(\d+)", enum)}
    names = [""] * 64
    for m in re.finditer(r"\[(PF_R_\w+)\]\s*=\s*\"(\w+)\"", text):
        names[values[m.group(1)]] = m.group(2)
    return names, values["PF_REASON_COUNT"]


REASON_NAMES, REASON_COUNT = _reason_names()


# --------------------------------------------------------------------------- checks
def check_same_packets(inp: Path, out: Path, records: int, *,
                       tshark_reads_input: bool = True) -> List[str]:
    """Returns the output's comments as tshark reads them."""
    # 1. tshark opens the output without error, packet count = records
    rows_out, comments, err = tshark_fields(out)
    assert not err, f"tshark on the annotated output: {err}"
    assert len(rows_out) == records
    # 2. len / cap_len / time / interface as tshark sees them on the input
    if tshark_reads_input:
        rows_in, _, _ = tshark_fields(inp)
        assert len(rows_in) == len(rows_out)
        for k, (a, b) in enumerate(zip(rows_in, rows_out)):
            assert a[0] == b[0] and a[1] == b[1] and a[3] == b[3], (k, a, b)
            t_in, t_out = Decimal(a[2]), Decimal(b[2])
            if t_in < MAX_NS_S:
                assert t_in == t_out, (k, a, b)
            else:  # beyond int64 nanoseconds: the reader saturates
                assert t_out == MAX_NS_S.quantize(Decimal("1e-9"), rounding="ROUND_DOWN"), (k, a, b)
    # 3. bytes, caplen, wirelen and interfaces, by an independent parser
    if_in, fr_in = read_capture(inp)
    if_out, fr_out = read_capture(out)
    assert len(fr_out) == records
    n = len(fr_in)  # complete input records (a cut last record is checked by its own test)
    assert [f.key() for f in fr_out[:n]] == [f.key() for f in fr_in]
    if len(if_in) == 1:  # one section: the same interface list, used or not
        assert len(if_out) == 1
        assert [i[:3] for i in if_out[0][:len(if_in[0])]] == [i[:3] for i in if_in[0]]
    assert all(i.tsresol == 9 for sec in if_out for i in sec)
    return comments


def check_comments(out: Path, records: int, comments: Optional[List[str]] = None) -> None:
    _, f_out = read_capture(out)
    assert [f.comments for f in f_out] == [(expected_comment(i),) for i in range(records)]
    if comments is None:
        comments = tshark_comments(out)
    assert comments == [expected_comment(i) for i in range(records)]
    rc, lines, err = tshark("-r", str(out), "-Y", 'frame.comment contains "path="', "-T", "fields",
                            "-e", "frame.number")
    assert rc == 0 and not err
    assert len(lines) == records


def corpus(*names: str) -> List[Path]:
    return [CORPUS / n for n in names]


def unique(paths: List[Path]) -> List[Path]:
    """One trace per file name (pcaps/ holds copies of some corpus files)."""
    seen: Dict[str, Path] = {}
    for p in paths:
        seen.setdefault(p.name, p)
    return list(seen.values())


CORPUS_TRACES = unique(corpus(
    "real/dns.pcap", "real/dropbox.pcap", "real/http_ipv6.pcap", "real/ipsec_isakmp_esp.pcap",
    "real/opera-vpn.pcapng", "real/pgsql2.pcapng",
    "encap/wiresharkdeb__many_interfaces.1.pcapng", "encap/pcapplusplus__pcapng-example.pcapng",
    "encap/zeek__linux_dlt_sll2.pcap", "encap/tcpdump__LINKTYPE_RAW_ipv6.pcap",
    "encap/zeek__radiotap.pcap", "encap/zeek__vlan-pcp-dei.pcapng",
) + sorted((ROOT / "pcaps").glob("*.pcap*")))


# --------------------------------------------------------------------------- part 1: the writer
@needs_tools
@pytest.mark.parametrize("trace", CORPUS_TRACES, ids=lambda p: p.name)
def test_writer_corpus(driver, tmp_path, trace):
    if not trace.exists():
        pytest.skip(f"{trace} not in this checkout")
    out = tmp_path / "out.pcapng"
    r = run_driver(driver, trace, out)
    assert r["records"] == r["written"] > 0
    comments = check_same_packets(trace, out, r["records"])
    check_comments(out, r["records"], comments)


def test_comment_format(driver, tmp_path):
    """pf_annotate_comment through the sim driver: the text of issue 10, tuple in the original
    direction."""
    t = Trace()
    c, s = "192.168.1.10:51514", "93.184.216.34:443"
    t.add(0, tcp(c, s, "S", seq=1))
    t.add(0.01, tcp(s, c, "SA", seq=100, ack=2))
    for k in range(6):
        t.add(0.02 + k * 0.01, tcp(c, s, "A", seq=2 + k, ack=101))
    inp = t.write_pcap(tmp_path / "in.pcap")
    out = tmp_path / "out.pcapng"
    run_driver(driver, inp, out, "sim", "sw")
    comments = tshark_comments(out)
    tuple_ = "tcp 192.168.1.10:51514>93.184.216.34:443"  # original direction, also on replies
    assert all(re.fullmatch(rf"pyflow path=(slow|sfo) reason=[a-z_0-9]+ flow={tuple_}", c)
               for c in comments), comments
    assert comments[0].startswith("pyflow path=slow reason=")
    assert comments[-1] == ("pyflow path=sfo reason=flow_offloaded "
                            "flow=tcp 192.168.1.10:51514>93.184.216.34:443")
    rc, lines, err = tshark("-r", str(out), "-Y", 'frame.comment contains "path=sfo"')
    assert rc == 0 and not err and 0 < len(lines) < len(comments)


def _multi_section(path: Path) -> Path:
    """Two sections, big- and little-endian, interface lists that differ, µs / ns / 2^-20 s
    resolutions, an EPB that already carries a comment."""
    f1 = Trace()
    f1.add(0, udp("192.168.1.10:5353", "8.8.8.8:53", b"a" * 30))
    f1.add(0, tcp("192.168.1.10:40000", "93.184.216.34:443", "S"))
    fa, fb = f1[0].frame, f1[1].frame
    raw = fb[14:]
    t0 = DEFAULT_BASE * 10**9 + 123456789
    data = pcapng_shb(big_endian=True, options=[(4, b"test")])
    data += pcapng_idb(LINKTYPE_ETHERNET, 65535, True, name="eth0")
    data += pcapng_idb(LINKTYPE_RAW, 0, True, name="tun0", tsresol=9)
    data += pcapng_epb(0, t0 // 1000, fa, True, options=[(1, b"original comment")])
    data += pcapng_epb(1, t0 + 1, raw, True)
    data += pcapng_epb(0, t0 // 1000 + 5, fb, True, snaplen=40)
    data += pcapng_shb()
    data += pcapng_idb(LINKTYPE_ETHERNET, 65535, name="eth0")      # same as before
    data += pcapng_idb(LINKTYPE_LINUX_SLL, 128, name="any", tsresol=0x80 | 20)
    data += pcapng_epb(0, t0 // 1000 + 9, fa)
    sll = b"\x00\x00\x00\x01\x00\x06" + b"\x02\x00\x00\x00\x00\x01" + b"\x00\x00" + b"\x08\x00" + raw
    data += pcapng_epb(1, ((t0 + 2 * 10**6) << 20) // 10**9, sll)
    path.write_bytes(data)
    return path


@needs_tools
def test_writer_multi_section(driver, tmp_path):
    inp = _multi_section(tmp_path / "in.pcapng")
    out = tmp_path / "out.pcapng"
    r = run_driver(driver, inp, out)
    assert r["records"] == 5
    comments = check_same_packets(inp, out, 5)
    check_comments(out, 5, comments)  # the input's own comment is replaced
    if_out, _ = read_capture(out)
    assert [[(i.linktype, i.name) for i in sec] for sec in if_out] == \
        [[(1, "eth0"), (101, "tun0")], [(1, "eth0"), (113, "any")]]


@needs_tools
def test_writer_unknown_interface_and_cut_record(driver, tmp_path):
    """Records the reader flags bad are written too: an EPB naming an interface without IDB goes
    to a placeholder interface; a last record cut by the end of the file keeps its bytes."""
    t = Trace()
    for k in range(3):
        t.add(k * 0.001, udp("192.168.1.10:5353", "8.8.8.8:53", bytes([k]) * 40))
    ts = (DEFAULT_BASE * 10**9) // 1000
    data = pcapng_shb() + pcapng_idb(name="eth0")
    data += pcapng_epb(0, ts, t[0].frame) + pcapng_epb(7, ts + 1, t[1].frame)
    full = pcapng_epb(0, ts + 2, t[2].frame)
    inp = tmp_path / "in.pcapng"
    inp.write_bytes(data + full[:-20])  # cut inside the last packet's data
    out = tmp_path / "out.pcapng"
    r = run_driver(driver, inp, out)
    assert r["records"] == 3
    rows, comments, err = tshark_fields(out)
    assert not err and len(rows) == 3
    _, frames = read_capture(out)
    assert frames[0].data == t[0].frame and frames[1].data == t[1].frame
    assert frames[1].if_id == 1 and frames[1].iface[:3] == (147, 0, "pyflow-missing-if7")
    cut = frames[2]
    assert cut.if_id == 0 and cut.wirelen == len(t[2].frame)
    assert cut.data == t[2].frame[:cut.caplen] and 0 < cut.caplen < len(t[2].frame)
    check_comments(out, 3, comments)

    # classic pcap cut inside the last record header / data
    pc = pcap_global_header() + b"".join(pcap_record(r_.ts_ns, r_.frame) for r_ in t)
    for cut_at in (len(pc) - 10, len(pc) - len(t[2].frame) - 8):
        p = tmp_path / f"cut{cut_at}.pcap"
        p.write_bytes(pc[:cut_at])
        r = run_driver(driver, p, out)
        assert r["records"] == 3
        rows, _, err = tshark_fields(out)
        assert not err and len(rows) == 3
        _, frames = read_capture(out)
        assert [f.data for f in frames[:2]] == [t[0].frame, t[1].frame]


@needs_tools
def test_writer_refuses_to_overwrite_input(driver, tmp_path):
    inp = Trace().add(0, udp("192.168.1.10:1", "8.8.8.8:53")).write_pcap(tmp_path / "in.pcap")
    before = inp.read_bytes()
    p = subprocess.run([str(driver), "fixed", str(inp), str(inp)], capture_output=True, text=True)
    assert p.returncode == 1 and "is the input capture" in p.stderr
    assert inp.read_bytes() == before
    p = subprocess.run([str(driver), "fixed", str(inp), str(tmp_path / "no" / "dir.pcapng")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "cannot create annotated output" in p.stderr


@needs_tools
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_writer_reports_write_errors(driver):
    inp = ROOT / "pcaps" / "demo-home.pcap"
    if not inp.exists():
        pytest.skip("demo trace missing")
    p = subprocess.run([str(driver), "fixed", str(inp), "/dev/full"], capture_output=True, text=True)
    assert p.returncode == 1 and "No space left on device" in p.stderr


SIM_TRACES = unique(sorted((ROOT / "pcaps").glob("*.pcap*")) + corpus(
    "real/dropbox.pcap", "real/http_ipv6.pcap", "encap/wiresharkdeb__many_interfaces.1.pcapng"))


@needs_tools
@pytest.mark.parametrize("mode", ["sw", "hw"])
@pytest.mark.parametrize("trace", SIM_TRACES, ids=lambda p: p.name)
def test_writer_sim_counts(driver, tmp_path, trace, mode):
    """The driver feeds the simulator like run.c: per-path counts in the comments equal the
    simulator's statistics, and the packets are unchanged."""
    if not trace.exists():
        pytest.skip(f"{trace} not in this checkout")
    out = tmp_path / "out.pcapng"
    r = run_driver(driver, trace, out, "sim", mode)
    comments = check_same_packets(trace, out, r["records"])
    counts = collections.Counter(re.match(r"pyflow path=(\w+) ", c).group(1) for c in comments)
    assert {p: counts.get(p, 0) for p in PATH_NAMES} == r["sim_paths"]


# --------------------------------------------------------------------------- part 2: end to end
def _replay_supports_annotate() -> bool:
    try:
        import pyflow
    except Exception:  # pragma: no cover - extension not built
        return False
    if "annotate" in inspect.signature(pyflow.replay).parameters:
        return True
    return "annotate" in {f.name for f in dataclasses.fields(pyflow.Options)}


E2E_TRACES = unique(sorted((ROOT / "pcaps").glob("*.pcap*")) + corpus(
    "real/dropbox.pcap", "encap/wiresharkdeb__many_interfaces.1.pcapng"))


@pytest.mark.skipif(not TSHARK, reason="tshark is needed")
@pytest.mark.skipif(not _replay_supports_annotate(), reason="replay(annotate=) not wired yet")
@pytest.mark.parametrize("mode", ["sw", "hw"])
@pytest.mark.parametrize("trace", E2E_TRACES, ids=lambda p: p.name)
def test_replay_annotate(tmp_path, trace, mode):
    import pyflow
    if not trace.exists():
        pytest.skip(f"{trace} not in this checkout")
    out = tmp_path / "annotated.pcapng"
    r = pyflow.replay(trace, mode=mode, annotate=out)
    records = r.stats["trace"]["records"]
    comments = check_same_packets(trace, out, records)
    assert len(comments) == records
    assert all(c.startswith("pyflow path=") for c in comments)
    counts: Dict[str, int] = collections.Counter(c.split()[1][len("path="):] for c in comments)
    for name, st in r.stats["paths"].items():
        assert counts.get(name, 0) == st["packets"], name
    # the display filter of the README, on the busiest path
    name, st = max(r.stats["paths"].items(), key=lambda kv: kv[1]["packets"])
    rc, lines, err = tshark("-r", str(out), "-Y", f'frame.comment contains "path={name} "')
    assert rc == 0 and not err and len(lines) == st["packets"], name
