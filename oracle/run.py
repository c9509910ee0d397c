#!/usr/bin/env python3
"""pyflow kernel oracle: replay a capture through a REAL Linux router kernel with an nftables flowtable
and record, for every packet, whether it took the slow path or the flowtable fast path.

    python3 oracle/run.py TRACE.pcap [-o OUT.json] [--runs 2] [--max-gap 45] [--lan-prefix P ...]
    make kernel-oracle TRACE=TRACE.pcap [ORACLE_ARGS='--runs 3']

How (issue 6; /work/shared/docs/kernel-oracle-notes.md):
  * Debian bookworm's cloud kernel (`linux-image-cloud-amd64`'s current dependency, e.g. 6.1.0-56) booted
    by qemu-system-x86_64 under TCG with a busybox-static initramfs holding `nft`, iproute2's `ip` (their
    libraries as `ldd` lists them), the nf_flow_table / veth modules and the static replayer
    (oracle/replayer.c).  Everything comes from Debian packages; built on first use into the cache
    directory ($PYFLOW_ORACLE_CACHE, default ~/.cache/pyflow-oracle), never committed.
  * Guest: namespaces lan - router - wan joined by veth pairs; the router forwards (rp_filter 0, static
    neighbours, routes for RFC 1918 / 169.254/16 / ULA and --lan-prefix to the lan side, default to
    the wan side) with firewall4's flowtable (`flowtable ft` on hook ingress, forward chain starting
    with `meta l4proto { tcp, udp } flow offload @ft`), plus an oracle-only chain at forward priority
    filter+10 setting DSCP CS1: a packet that arrives with CS1 went through the slow path, DSCP 0 means
    the flowtable forwarded it (oracle/init.sh).
  * Host side (this file): parses the capture (pcap / pcapng, stdlib only), decides per packet like
    pyflow's default topology (LAN = RFC 1918, 169.254/16, fc00::/7 and --lan-prefix; multicast /
    broadcast / martian / IPv6 link-local / same-side / non-IP packets are `not_forwarded` and are not
    sent: this is the routing rule, not a kernel observation), sends the others from their side, and
    keeps inter-packet gaps up to --max-gap seconds (longer gaps are shortened to --max-gap).
  * Runs the guest --runs times (fresh boot each time); packets whose kernel path differs between runs
    are marked unstable (the 1 s flowtable GC phase) and left out of the comparison.
  * Writes OUT.json (paths + metadata) and OUT.restamped.pcap: the same frames stamped with the times
    the guest sent them (run 1), so pyflow replays exactly the timing the kernel saw.

Golden paths: slow | sfo | dropped (sent, never came out: handled and dropped by the slow path, e.g. TTL 1;
pyflow's slow counts as agreement) | not_forwarded | excluded (cannot be replayed faithfully: truncated
capture, larger than the 1500-byte veth MTU, unparsable) | unstable.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import ipaddress
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PYFLOW_ORACLE_CACHE", Path.home() / ".cache" / "pyflow-oracle"))
PACKAGES = ["qemu-system-x86", "busybox-static", "nftables", "iproute2", "gcc", "libc6-dev", "kmod"]
MODULES = ["veth", "nf_flow_table_inet", "nft_flow_offload", "nft_ct"]
MTU = 1500


def log(*a):
    print("[oracle]", *a, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- guest image
def ensure_packages():
    need = [p for p, exe in [("qemu-system-x86", "qemu-system-x86_64"), ("nftables", "nft"),
                             ("iproute2", "ip"), ("gcc", "gcc"), ("kmod", "depmod")]
            if not shutil.which(exe) and not Path("/usr/sbin", exe).exists()]
    bb = Path("/bin/busybox")
    if not bb.exists() or subprocess.run(["ldd", str(bb)], capture_output=True).returncode == 0:
        need.append("busybox-static")  # ldd fails on a static binary; a dynamic busybox cannot run in the guest
    if not Path("/usr/lib/x86_64-linux-gnu/libc.a").exists():
        need.append("libc6-dev")
    if not need:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing Debian packages {need}: run as root or apt-get install {' '.join(PACKAGES)}")
    log("installing", " ".join(PACKAGES))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "-q"] + PACKAGES, env=env).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q"] + PACKAGES, env=env, check=True)


def kernel_package() -> str:
    """The image package linux-image-cloud-amd64's installable candidate depends on."""
    def look():
        out = subprocess.run(["apt-cache", "depends", "linux-image-cloud-amd64"], capture_output=True,
                             text=True).stdout
        return re.search(r"Depends: (linux-image-[0-9][^\s]*-cloud-amd64)", out)

    m = look()
    if not m and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-q"], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        m = look()
    if not m:
        sys.exit("apt-cache knows no linux-image-cloud-amd64 (is this Debian bookworm with main enabled?)")
    return m.group(1)


def ensure_kernel() -> tuple[Path, str, str]:
    pkg = os.environ.get("PYFLOW_ORACLE_KERNEL_PKG") or kernel_package()
    kver = pkg[len("linux-image-"):]
    kdir = CACHE / "kernel" / kver
    if not (kdir / "boot" / f"vmlinuz-{kver}").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        dl = CACHE / "deb"
        dl.mkdir(exist_ok=True)
        debs = list(dl.glob(f"{pkg}_*.deb"))
        if not debs:
            log("apt-get download", pkg)
            subprocess.run(["apt-get", "download", pkg], cwd=dl, check=True,
                           stderr=subprocess.DEVNULL)
            debs = list(dl.glob(f"{pkg}_*.deb"))
        tmp = kdir.parent / (kdir.name + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)  # a fresh cache has no kernel/ yet
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp)], check=True)
        depmod = shutil.which("depmod") or "/usr/sbin/depmod"
        subprocess.run([depmod, "-b", str(tmp), kver], check=True)
        tmp.rename(kdir)
    debs = list((CACHE / "deb").glob(f"{pkg}_*.deb"))
    pkgver = debs[0].name.split("_")[1] if debs else "?"
    return kdir, kver, pkgver


def module_closure(kdir: Path, kver: str) -> list[Path]:
    """Modules to insmod, dependencies first (from the modules.dep that depmod -b wrote)."""
    mdir = kdir / "lib" / "modules" / kver
    deps = {}
    for line in (mdir / "modules.dep").read_text().splitlines():
        k, _, v = line.partition(":")
        deps[k] = v.split()
    by_name = {Path(k).name.split(".ko")[0].replace("-", "_"): k for k in deps}
    order: list[str] = []

    def visit(k):
        if k in order:
            return
        # modules.dep lists all (transitive) dependencies; the last ones are the deepest
        for d in reversed(deps[k]):
            visit(d)
        order.append(k)

    for m in MODULES:
        visit(by_name[m])
    return [mdir / k for k in order]


def ldd_files(binary: str) -> list[str]:
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    files = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m:
            files.append(m.group(1))
    return files


class Cpio:
    """newc archive writer (no cpio binary needed)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.dirs: set[str] = set()

    def _entry(self, name: str, mode: int, data: bytes = b""):
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08X}" for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * ((4 - len(data) % 4) % 4))

    def mkdir(self, path: str):
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, 0o040755)

    def file(self, path: str, data: bytes, mode: int = 0o100644):
        path = path.strip("/")
        if "/" in path:
            self.mkdir(path.rsplit("/", 1)[0])
        self._entry(path, mode, data)

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        data = self.buf.getvalue()
        return data + b"\0" * ((512 - len(data) % 512) % 512)


def find_exe(name: str) -> str:
    for p in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}", f"/bin/{name}"):
        if p and Path(p).exists():
            return str(Path(p).resolve())
    sys.exit(f"{name} not found")


def ensure_base_image(kdir: Path, kver: str) -> Path:
    init = (HERE / "init.sh").read_bytes()
    src = (HERE / "replayer.c").read_bytes()
    key = hashlib.sha256(init + src + kver.encode()).hexdigest()[:16]
    out = CACHE / f"base-{kver}-{key}.cpio.gz"
    if out.exists():
        return out
    log("building guest image", out.name)
    with tempfile.TemporaryDirectory() as td:
        rep = Path(td) / "replayer"
        subprocess.run(["gcc", "-static", "-O2", "-o", str(rep), str(HERE / "replayer.c")], check=True)
        c = Cpio()
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "run", "tmp", "opt/bin", "modules"):
            c.mkdir(d)
        c.file("init", init, 0o100755)
        c.file("bin/busybox", Path("/bin/busybox").read_bytes(), 0o100755)
        c.file("replayer", rep.read_bytes(), 0o100755)
        nft, ip = find_exe("nft"), find_exe("ip")
        c.file("opt/bin/nft", Path(nft).read_bytes(), 0o100755)
        c.file("opt/bin/xip", Path(ip).read_bytes(), 0o100755)
        libs = sorted(set(ldd_files(nft) + ldd_files(ip)))
        for lib in libs:
            c.file(lib, Path(lib).resolve().read_bytes(), 0o100755)
        for extra in ("/etc/protocols", "/etc/services"):
            if Path(extra).exists():
                c.file(extra, Path(extra).read_bytes())
        mods = module_closure(kdir, kver)
        for m in mods:
            data = m.read_bytes()
            c.file(f"modules/{m.name}", data)
        c.file("modules.list", ("\n".join(m.name for m in mods) + "\n").encode())
        out.write_bytes(gzip.compress(c.finish(), 6))
    return out


# ----------------------------------------------------------------------------------------- capture
def read_capture(path: Path):
    """Yields (ts_ns, linktype, frame, orig_len) for pcap and pcapng (stdlib only)."""
    data = path.read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(data):
            sec, frac, incl, orig = struct.unpack_from(e + "IIII", data, off)
            off += 16
            frame = data[off:off + incl]
            off += incl
            yield sec * 1_000_000_000 + (frac if nano else frac * 1000), linktype, frame, orig
        return
    if magic != b"\x0a\x0d\x0d\x0a":
        sys.exit(f"{path}: not a pcap/pcapng file")
    off, e, ifaces = 0, "<", []
    while off + 12 <= len(data):
        btype = struct.unpack_from("<I", data, off)[0]
        if btype == 0x0A0D0D0A:
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(e + "II", data, off)
        body = data[off + 8:off + blen - 4]
        if btype == 1:
            lt = struct.unpack_from(e + "H", body, 0)[0]
            tsres = 1_000_000
            o = 8
            while o + 4 <= len(body):
                code, ln = struct.unpack_from(e + "HH", body, o)
                if code == 0:
                    break
                if code == 9:
                    v = body[o + 4]
                    tsres = 2 ** (v & 0x7F) if v & 0x80 else 10 ** v
                o += 4 + ((ln + 3) & ~3)
            ifaces.append((lt, tsres))
        elif btype == 6:
            iid, hi, lo, incl, orig = struct.unpack_from(e + "IIIII", body, 0)
            lt, res = ifaces[iid]
            ts = ((hi << 32) | lo) * 1_000_000_000 // res
            yield ts, lt, body[20:20 + incl], orig
        elif btype == 3:
            orig = struct.unpack_from(e + "I", body, 0)[0]
            lt, _ = ifaces[0]
            yield None, lt, body[4:4 + orig], orig
        if blen < 12:
            break
        off += blen


def extract_l3(linktype: int, frame: bytes):
    """(ethertype, l3 bytes, l2_multicast) or None for non-IP."""
    l2mc = False
    if linktype == 1:
        if len(frame) < 14:
            return None
        l2mc = bool(frame[0] & 1)
        et, o = struct.unpack_from("!H", frame, 12)[0], 14
        while et in (0x8100, 0x88A8) and len(frame) >= o + 4:
            et, o = struct.unpack_from("!H", frame, o + 2)[0], o + 4
        if et == 0x8864 and len(frame) >= o + 8:
            ppp = struct.unpack_from("!H", frame, o + 6)[0]
            et = {0x0021: 0x0800, 0x0057: 0x86DD}.get(ppp, 0)
            o += 8
        return et, frame[o:], l2mc
    if linktype in (101, 228, 229):
        if not frame:
            return None
        return (0x0800 if frame[0] >> 4 == 4 else 0x86DD if frame[0] >> 4 == 6 else 0), frame, False
    if linktype in (0, 108):
        fam = struct.unpack_from("<I" if linktype == 0 else "!I", frame, 0)[0]
        return (0x0800 if fam == 2 else 0x86DD if fam in (10, 24, 28, 30) else 0), frame[4:], False
    if linktype == 113:
        return struct.unpack_from("!H", frame, 14)[0], frame[16:], False
    if linktype == 276:
        return struct.unpack_from("!H", frame, 0)[0], frame[20:], False
    return None


def addr_class(a: ipaddress._BaseAddress, lan_nets) -> str:
    """Same rule as pyflow's csrc/sim.c addr_class (default topology)."""
    if any(a in n for n in lan_nets if n.version == a.version):
        return "lan"
    if a.version == 4:
        b = a.packed
        if b[0] in (0, 127):
            return "martian"
        if b[0] >= 224:
            return "multicast" if b[0] < 240 or b == b"\xff\xff\xff\xff" else "martian"
        if b[0] == 10 or (b[0] == 172 and b[1] & 0xF0 == 16) or b[:2] in (b"\xc0\xa8", b"\xa9\xfe"):
            return "lan"
        return "wan"
    b = a.packed
    if b[0] == 0xFF:
        return "multicast"
    if b[0] == 0xFE and b[1] & 0xC0 == 0x80:
        return "link_local"
    if b[:15] == bytes(15) and b[15] in (0, 1):
        return "martian"
    if b[0] & 0xFE == 0xFC:
        return "lan"
    return "wan"


def plan(path: Path, lan_prefixes, max_gap_s: float):
    """Per packet: dict(action 0/1/2, l3, gap_ns, kind) and the raw records."""
    lan_nets = [ipaddress.ip_network(p, strict=False) for p in lan_prefixes]
    recs = list(read_capture(path))
    out, prev = [], None
    for ts, lt, frame, orig in recs:
        gap = 0 if prev is None or ts is None else max(0, ts - prev)
        gap = min(gap, int(max_gap_s * 1e9))
        if ts is not None:
            prev = ts
        item = {"action": 0, "l3": b"", "gap_ns": gap, "kind": None, "why": None}
        out.append(item)
        x = extract_l3(lt, frame)
        if x is None or x[0] not in (0x0800, 0x86DD):
            item.update(kind="not_forwarded", why="not_ip")
            continue
        et, l3, l2mc = x
        try:
            if et == 0x0800:
                if len(l3) < 20 or l3[0] >> 4 != 4 or (l3[0] & 15) < 5:
                    raise ValueError("bad ipv4 header")
                tl = struct.unpack_from("!H", l3, 2)[0]
                full = tl
                src, dst = ipaddress.IPv4Address(l3[12:16]), ipaddress.IPv4Address(l3[16:20])
            else:
                if len(l3) < 40 or l3[0] >> 4 != 6:
                    raise ValueError("bad ipv6 header")
                full = 40 + struct.unpack_from("!H", l3, 4)[0]
                src, dst = ipaddress.IPv6Address(l3[8:24]), ipaddress.IPv6Address(l3[24:40])
        except (ValueError, struct.error) as exc:
            item.update(kind="excluded", why=str(exc))
            continue
        sc, dc = addr_class(src, lan_nets), addr_class(dst, lan_nets)
        if "multicast" in (sc, dc) or l2mc:
            item.update(kind="not_forwarded", why="multicast")
            continue
        if "martian" in (sc, dc):
            item.update(kind="not_forwarded", why="martian")
            continue
        if "link_local" in (sc, dc):
            item.update(kind="not_forwarded", why="link_local")
            continue
        if sc == dc:
            item.update(kind="not_forwarded", why="same_side")
            continue
        if full > len(l3):
            item.update(kind="excluded", why="truncated capture")
            continue
        if full > MTU:
            item.update(kind="excluded", why=f"{full} bytes > veth MTU {MTU}")
            continue
        item.update(action=1 if sc == "lan" else 2, l3=bytes(l3[:full]), kind="sent")
    return recs, out


def trace_archive(items, params: dict) -> bytes:
    b = io.BytesIO()
    b.write(b"PFO1" + struct.pack("<I", len(items)))
    for it in items:
        b.write(struct.pack("<BBHIq", it["action"], 0, len(it["l3"]), 0, it["gap_ns"]))
        b.write(it["l3"])
    c = Cpio()
    c.file("trace.bin", b.getvalue())
    c.file("params", "".join(f"{k}='{v}'\n" for k, v in params.items()).encode())
    return gzip.compress(c.finish(), 1)


def boot(kdir: Path, kver: str, initrd: Path, timeout_s: float) -> str:
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "768",
           "-nographic", "-no-reboot", "-kernel", str(kdir / "boot" / f"vmlinuz-{kver}"),
           "-initrd", str(initrd), "-append", "console=ttyS0 quiet panic=-1"]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    return p.stdout.decode(errors="replace")


def parse_console(text: str):
    if "===PYFLOW-ORACLE-BEGIN===" not in text or "===PYFLOW-ORACLE-END===" not in text:
        raise RuntimeError("guest output has no result markers:\n" + text[-3000:])
    head, _, rest = text.partition("===PYFLOW-ORACLE-BEGIN===")
    body = rest.partition("===PYFLOW-ORACLE-END===")[0]
    res, late = {}, {}
    for line in body.replace("\r", "").splitlines():
        f = line.split()
        if len(f) == 4 and f[0] == "R":
            res[int(f[1])] = (f[2], int(f[3]))
        elif len(f) == 3 and f[0] == "L":
            late[int(f[1])] = f[2]
    meta = {"sysctl": {}}
    for line in head.replace("\r", "").splitlines():
        f = line.split()
        if f[:1] == ["ORACLE-SYSCTL"] and len(f) == 3:
            meta["sysctl"][f[1]] = int(f[2])
        elif f[:1] == ["ORACLE-KERNEL"] and len(f) == 2:
            meta["kernel"] = f[1]
        elif f[:1] and f[0].startswith("ORACLE-"):
            meta.setdefault("messages", []).append(line.strip())
    return res, late, meta


def write_restamped(path: Path, recs, times_ns, base_ns: int):
    """Nanosecond pcap with the original frames at base + guest send time (pcap input keeps its
    link type; pcapng input must have a single link type)."""
    lts = {lt for _, lt, _, _ in recs}
    if len(lts) != 1:
        raise SystemExit("re-stamping needs a single link type")
    lt = lts.pop()
    out = [struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, lt)]
    for (ts, _, frame, orig), t in zip(recs, times_ns):
        a = base_ns + t
        out.append(struct.pack("<IIII", a // 1_000_000_000, a % 1_000_000_000, len(frame), orig) + frame)
    path.write_bytes(b"".join(out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trace", type=Path)
    ap.add_argument("-o", "--out", type=Path, help="golden JSON (default: tests/golden/kernel/NAME.json)")
    ap.add_argument("--runs", type=int, default=2, help="guest boots; unstable packets are excluded")
    ap.add_argument("--max-gap", type=float, default=45.0,
                    help="longer inter-packet gaps are shortened to this many seconds (default 45)")
    ap.add_argument("--max-packets", type=int, default=0, help="replay only the first N records")
    ap.add_argument("--lan-prefix", action="append", default=[], help="extra LAN prefix (like pyflow's)")
    ap.add_argument("--timeout-ms", type=int, default=50, help="wait for each packet to come out")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds between link up and first packet")
    ap.add_argument("--name", help="golden name (default: capture file stem)")
    ap.add_argument("--note", default="", help="free text stored in the golden")
    ap.add_argument("--debug", action="store_true", help="print the guest console")
    a = ap.parse_args(argv)

    ensure_packages()
    kdir, kver, pkgver = ensure_kernel()
    base = ensure_base_image(kdir, kver)
    name = a.name or a.trace.name.split(".")[0]
    out = a.out or (HERE.parent / "tests" / "golden" / "kernel" / f"{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    recs, items = plan(a.trace, a.lan_prefix, a.max_gap)
    if a.max_packets:
        recs, items = recs[:a.max_packets], items[:a.max_packets]
    v4 = " ".join(p for p in a.lan_prefix if ":" not in p)
    v6 = " ".join(p for p in a.lan_prefix if ":" in p)
    params = {"LAN4": v4, "LAN6": v6, "TIMEOUT_MS": a.timeout_ms, "SETTLE": a.settle}
    if a.debug:
        params["DEBUG"] = "1"
    sched_s = sum(it["gap_ns"] for it in items) / 1e9
    timeout_s = 120 + 3 * sched_s + len(items) * (a.timeout_ms / 1000 + 0.05)

    runs = []
    with tempfile.TemporaryDirectory() as td:
        initrd = Path(td) / "initrd.gz"
        initrd.write_bytes(base.read_bytes() + trace_archive(items, params))
        for r in range(a.runs):
            t0 = time.time()
            text = boot(kdir, kver, initrd, timeout_s)
            if a.debug:
                sys.stderr.write(text)
            res, late, meta = parse_console(text)
            if len(res) != len(items):
                raise SystemExit(f"run {r + 1}: {len(res)} results for {len(items)} packets\n{text[-3000:]}")
            runs.append((res, late, meta))
            log(f"run {r + 1}/{a.runs}: {len(items)} packets in {time.time() - t0:.1f} s")

    def path_of(run, i):
        res, late, _ = run
        r = res[i][0]
        if r == "lost" and i in late:
            r = late[i]
        return {"slow": "slow", "sfo": "sfo", "lost": "dropped", "senderr": "excluded"}.get(r, r)

    paths, unstable, excluded, late_list = [], [], [], []
    for i, it in enumerate(items):
        if it["kind"] != "sent":
            paths.append(it["kind"])
            if it["kind"] == "excluded":
                excluded.append({"index": i, "why": it["why"]})
            continue
        seen = [path_of(run, i) for run in runs]
        if any(i in run[1] for run in runs):
            late_list.append(i)
        if len(set(seen)) == 1:
            paths.append(seen[0])
            if seen[0] == "excluded":
                excluded.append({"index": i, "why": "send failed"})
        else:
            paths.append("unstable")
            unstable.append({"index": i, "runs": seen})

    times = [runs[0][0][i][1] for i in range(len(items))]
    first_ts = next((ts for ts, _, _, _ in recs if ts is not None), 1_700_000_000 * 10**9)
    restamped = out.with_name(out.name[:-len(".json")] + ".restamped.pcap")
    write_restamped(restamped, recs, times, first_ts)
    meta = runs[0][2]
    golden = {
        "format": "pyflow-kernel-golden-1",
        "trace": name,
        "source": str(a.trace),
        "note": a.note,
        "restamped_trace": restamped.name,
        "kernel": meta.get("kernel", kver),
        "kernel_package": f"linux-image-{kver} {pkgver}",
        "pyflow_options": {"mode": "sw", "kernel": "6.1", "sysctl": "linux", "lan_prefixes": a.lan_prefix},
        "guest_sysctl": meta.get("sysctl", {}),
        "ruleset": "firewall4-like: flowtable ft (hook ingress, devices rlan rwan, counter); forward: "
                   "meta l4proto { tcp, udp } flow offload @ft; ct state vmap {established, related: accept}; "
                   "policy accept; oracle_mark (forward, priority filter+10): ip/ip6 dscp set cs1",
        "runs": len(runs),
        "max_gap_s": a.max_gap,
        "timeout_ms": a.timeout_ms,
        "packets": len(items),
        "counts": {k: paths.count(k) for k in sorted(set(paths))},
        "unstable": unstable,
        "excluded": excluded,
        "late_arrivals": late_list,
        "send_time_ns": times,
        "paths": paths,
    }
    out.write_text(json.dumps(golden, indent=1) + "\n")
    log(f"wrote {out} and {restamped.name}: {golden['counts']}")


if __name__ == "__main__":
    main()
