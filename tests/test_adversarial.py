"""Adversarial traces (issue 9): every one gives either a clean error naming the file and the byte
offset, or statistics in which every record is counted exactly once under the right reason; none
hangs. Each trace runs through the three modes in one pass (pyflow.run_many), decisions kept.

The images are built by tests/fuzz/adversarial.py (also the fuzzing seeds). Expected outcomes come
from the reader's rules (csrc/pyflow.h enum pf_error / enum pf_reason, csrc/pcap.c): an impossible
length (caplen > 256 KiB, a pcapng block length < 12 or not a multiple of 4, a trailing length
that differs, a caplen past its block) is PF_E_CORRUPT at the record / block offset; a record cut
by the end of the file is counted under truncated_record; a packet block naming an interface
without IDB under bad_interface; headers that do not fit / cannot be under truncated_header /
bad_header; an unknown link type under unsupported_linktype; and, for what the router does with
odd but parseable packets, from the kernel (nf_flow_table_ip.c, nf_conntrack_proto_tcp.c).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

import pyflow
from tests.fuzz import adversarial as A
from tests.helpers import check_accounting

MODES = ("none", "sw", "hw")
ROOT = Path(__file__).resolve().parents[1]


def replay_all(path: Path, **options) -> Dict[str, pyflow.Result]:
    """One pass, three simulators; accounting checked on each."""
    configs = [pyflow.Options(mode=m, keep_decisions=True, **options) for m in MODES]
    results = dict(zip(MODES, pyflow.run_many(path, configs)))
    for r in results.values():
        check_accounting(r)
    return results


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def reasons(r: pyflow.Result) -> List[str]:
    return [x for _, x in r.decisions]


def paths(r: pyflow.Result) -> List[str]:
    return [x for x, _ in r.decisions]


def expect_corrupt(path: Path, offset: int, records_before: int) -> pyflow.CorruptCaptureError:
    """A CorruptCaptureError naming the file and the byte offset; the packets before it are kept."""
    with pytest.raises(pyflow.CorruptCaptureError) as ei:
        replay_all(path)
    exc = ei.value
    assert exc.path == str(path) and exc.offset == offset
    assert str(path) in str(exc) and f"byte {offset}" in str(exc)
    if records_before:
        assert exc.partial_result is not None
        check_accounting(exc.partial_result)
        assert exc.partial_result.stats["trace"]["records"] == records_before
    return exc


def never_offloaded(results: Dict[str, pyflow.Result]) -> None:
    for r in results.values():
        assert r.paths["sfo"]["packets"] == 0 and r.paths["hfo"]["packets"] == 0


# --------------------------------------------------------------------------- SYN flood
_FLOOD_SCRIPT = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[3])
import pyflow

def anon_kib():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0

samples = []
def progress(records, done, total):
    samples.append((records, anon_kib()))

ct_max = int(sys.argv[2])
configs = [pyflow.Options(mode=m, ct_max=ct_max) for m in ("none", "sw", "hw")]
results = pyflow.run_many(sys.argv[1], configs, progress=progress, progress_every=250000)
print(json.dumps({"stats": [r.stats for r in results], "samples": samples,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_syn_flood_2m_flows_conntrack_capped_at_ct_max_by_early_drop(tmp_path):
    """2 M SYNs, each a new connection, 100 k/s, nf_conntrack_max 65536: conntrack fills up, then
    every new SYN early-drops unassured entries (nf_conntrack_core.c early_drop), so the table stays
    at (or just below) ct_max; a SYN that finds no victim in the buckets scanned is dropped ("table full, dropping
    packet") and counted under ct_table_full. Nothing is offloaded (no SYN is ever established).
    Memory is bounded by ct_max, not by the number of flows: measured in a fresh interpreter."""
    n, ct_max = 2_000_000, 65536
    path = tmp_path / "synflood.pcap"
    t0 = time.monotonic()
    size = A.syn_flood_pcap(path, n)
    assert path.stat().st_size == size
    t_gen = time.monotonic() - t0
    out = subprocess.run([sys.executable, "-c", _FLOOD_SCRIPT, str(path), str(ct_max), str(ROOT)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout)
    t_all = time.monotonic() - t0
    for mode, s in zip(MODES, res["stats"]):
        assert s["packets_total"] == s["trace"]["records"] == n
        assert sum(p["packets"] for p in s["paths"].values()) == n
        assert sum(s["reasons"].values()) == n
        assert s["paths"]["slow"]["packets"] == n                     # every SYN on the CPU
        full = s["reasons"].get("ct_table_full", 0)
        other = "offload_disabled" if mode == "none" else "tcp_not_established"
        assert s["reasons"] == ({other: n - full, "ct_table_full": full} if full else {other: n})
        ct = s["conntrack"]
        assert ct["peak"] == ct_max                                    # capped, never above
        assert ct["connections"] == n - full                           # one entry per admitted SYN
        # all the rest early-dropped (early_drop_list kills every unassured entry of the first
        # bucket with candidates, so the table may end a few entries below ct_max)
        assert 0 <= ct["early_drops"] - (ct["connections"] - ct_max) < n // 1000
        assert s["dropped"] == full
        assert full < n // 1000                                        # early drop nearly always finds a victim
        assert s["flowtable"]["added"] == 0
    # bounded memory: the anonymous RSS does not grow between 250 k and 2 M flows (the tables are
    # sized by ct_max), and the whole process stays small (the 140 MB file is mapped, not read)
    samples = res["samples"]
    assert len(samples) >= 7
    growth_kib = samples[-1][1] - samples[0][1]
    peak_anon_mib = max(a for _, a in samples) / 1024
    sanitized = "libasan" in os.environ.get("LD_PRELOAD", "")
    if not sanitized:  # ASan's shadow memory and quarantine make RSS meaningless
        assert growth_kib < 16 * 1024, samples
        assert peak_anon_mib < 200, samples
        assert res["maxrss_kib"] / 1024 < 200 + size / 2**20, res["maxrss_kib"]
    print(f"SYN flood: {n} records, generated in {t_gen:.1f} s, total {t_all:.1f} s, "
          f"peak anon RSS {peak_anon_mib:.0f} MiB, growth {growth_kib} KiB, "
          f"maxrss {res['maxrss_kib'] / 1024:.0f} MiB")


# --------------------------------------------------------------------------- timestamps
def test_timestamps_going_backwards_are_clamped_and_counted(tmp_path):
    """10, 11, 5, 12, 3, 13 s: the two steps back are counted in ts_backwards; the model's clock
    never runs backwards (the packets keep their order) and the flow is offloaded as usual."""
    rs = replay_all(write(tmp_path, "back.pcap", A.ts_backwards()))
    for r in rs.values():
        assert r.stats["trace"]["ts_backwards"] == 2
    assert paths(rs["sw"]) == ["slow", "slow"] + ["sfo"] * 4
    assert reasons(rs["sw"])[:2] == ["ct_new", "flow_add"]
    assert paths(rs["none"]) == ["slow"] * 6


def test_identical_timestamps(tmp_path):
    """1000 packets of one flow at the same instant: no division by a zero duration, no stall."""
    rs = replay_all(write(tmp_path, "same.pcap", A.ts_identical(1000)))
    for r in rs.values():
        assert r.stats["trace"]["duration_s"] == 0.0 and r.stats["trace"]["ts_backwards"] == 0
    assert paths(rs["sw"]) == ["slow", "slow"] + ["sfo"] * 998
    assert rs["hw"].paths["slow"]["packets"] == 2


def test_ten_year_jumps_expire_everything_in_one_gc_pass(tmp_path):
    """20 000 UDP flows (2 packets each, offloaded), then a 10-year jump, 6 times. The GC runs per
    second of trace time; a 10-year gap (3.15e8 ticks) must be handled in one pass over the tables,
    not tick by tick. After each jump every conntrack entry and flow has expired: each flow starts
    again (ct_new, then flow_add), and the tables never hold more than one round of flows."""
    n_flows, jumps = 20000, 6
    data = A.ts_ten_year_jump(n_flows, jumps)
    path = write(tmp_path, "jump.pcap", data)
    t0 = time.monotonic()
    rs = replay_all(path)
    elapsed = time.monotonic() - t0
    assert elapsed < 30, f"{elapsed:.1f} s"
    rounds = jumps + 1
    for mode, r in rs.items():
        s = r.stats
        assert s["packets_total"] == 2 * n_flows * rounds
        assert s["trace"]["ts_backwards"] == 0
        assert s["trace"]["duration_s"] == pytest.approx(jumps * A.TEN_YEARS_S + 0.01)
        assert s["conntrack"]["connections"] == n_flows * rounds
        assert s["conntrack"]["peak"] == n_flows
        if mode != "none":
            assert s["reasons"] == {"ct_new": n_flows * rounds, "flow_add": n_flows * rounds}
            assert s["flowtable"]["peak"] == n_flows
            assert s["flowtable"]["added"] == n_flows * rounds


def test_gc_stride_just_below_the_one_pass_threshold_stays_fast(tmp_path):
    """2000 packets each 4095 s after the previous one: below the 4096-tick wheel, so the GC walks
    every tick (8 M ticks in all); it must stay cheap per tick. Each packet finds its entry
    expired (UDP timeout 30 s) and is a new connection."""
    path = write(tmp_path, "stride.pcap", A.ts_gc_stride(2000, 4095))
    t0 = time.monotonic()
    rs = replay_all(path)
    assert time.monotonic() - t0 < 30
    assert set(reasons(rs["sw"])) == {"ct_new"}
    assert rs["sw"].stats["conntrack"]["peak"] == 1


# --------------------------------------------------------------------------- record framing
def test_caplen_larger_than_snaplen_is_read(tmp_path):
    """Header snaplen 64, one 74-byte record: caplen > snaplen but <= 256 KiB is accepted (libpcap
    reads such files); the packet is decoded and routed."""
    rs = replay_all(write(tmp_path, "snap.pcap", A.caplen_over_snaplen()))
    assert reasons(rs["sw"]) == ["ct_new"] and reasons(rs["none"]) == ["offload_disabled"]
    assert rs["sw"].stats["bytes_total"] == len(A.udp_frame())


def test_caplen_over_256k_is_corrupt_at_the_record_offset(tmp_path):
    """caplen 262145 > libpcap's MAXIMUM_SNAPLEN: the record framing cannot be trusted. Error at
    the record header (after the file header and one good record); the record before it is kept."""
    off = A.PCAP_HDR + A.REC_HDR + len(A.udp_frame())
    exc = expect_corrupt(write(tmp_path, "big.pcap", A.caplen_over_max(1)), off, 1)
    assert "262145" in str(exc)


def test_pcapng_caplen_over_256k_is_corrupt_at_the_block_offset(tmp_path):
    img = A.pcapng_caplen_over_max()
    off = len(A.pcapng_shb() + A.pcapng_idb())
    exc = expect_corrupt(write(tmp_path, "big.pcapng", img), off, 0)
    assert "300000" in str(exc)


def test_zero_length_records_are_truncated_headers(tmp_path):
    """5 records with caplen 0 (not even an Ethernet header): unparsed/truncated_header; the good
    record after them is read normally."""
    rs = replay_all(write(tmp_path, "zero.pcap", A.zero_length_records(5)))
    for mode, r in rs.items():
        assert reasons(r)[:5] == ["truncated_header"] * 5
        assert paths(r)[:5] == ["unparsed"] * 5
        assert paths(r)[5] == "slow"
        assert r.stats["trace"]["truncated_records"] == 0


def test_pcapng_zero_length_epb(tmp_path):
    rs = replay_all(write(tmp_path, "zero.pcapng", A.pcapng_zero_length_epb()))
    for r in rs.values():
        assert reasons(r)[0] == "truncated_header" and paths(r)[1] == "slow"


@pytest.mark.parametrize("keep", [1, 8, 15])
def test_record_header_cut_in_half_is_a_truncated_record(tmp_path, keep):
    """The file ends inside a record header: counted once as unparsed/truncated_record, with a
    warning; the 3 records before it are read."""
    rs = replay_all(write(tmp_path, "cut.pcap", A.record_header_cut(3, keep)))
    for r in rs.values():
        assert r.stats["trace"]["records"] == 4
        assert r.stats["trace"]["truncated_records"] == 1
        assert r.decisions[-1] == ("unparsed", "truncated_record")
        assert r.paths["unparsed"]["packets"] == 1
        assert r.warnings and "cut short" in r.warnings[0]


def test_record_data_cut_is_a_truncated_record(tmp_path):
    rs = replay_all(write(tmp_path, "cutdata.pcap", A.record_data_cut(3, 30)))
    for r in rs.values():
        assert r.decisions[-1] == ("unparsed", "truncated_record")
        assert r.stats["trace"]["truncated_records"] == 1


def test_pcapng_block_length_not_multiple_of_4_is_corrupt(tmp_path):
    img, off = A.pcapng_length_not_multiple_of_4()
    expect_corrupt(write(tmp_path, "len4.pcapng", img), off, 1)


def test_pcapng_block_length_below_12_is_corrupt(tmp_path):
    img, off = A.pcapng_length_too_small()
    exc = expect_corrupt(write(tmp_path, "len8.pcapng", img), off, 1)
    assert "length 8" in str(exc)


def test_pcapng_block_length_past_the_end_of_file_is_a_truncated_record(tmp_path):
    """A packet block whose length runs past EOF is a block cut by the end of the file."""
    img, off = A.pcapng_length_past_eof()
    rs = replay_all(write(tmp_path, "pasteof.pcapng", img))
    for r in rs.values():
        assert r.decisions[-1] == ("unparsed", "truncated_record")
        assert r.stats["trace"]["truncated_records"] == 1 and r.stats["trace"]["records"] == 2


def test_pcapng_trailing_length_mismatch_is_corrupt(tmp_path):
    img, off = A.pcapng_trailing_mismatch()
    exc = expect_corrupt(write(tmp_path, "trail.pcapng", img), off, 1)
    assert "trailing length" in str(exc)


def test_pcapng_caplen_past_its_block_is_corrupt(tmp_path):
    img, off = A.pcapng_caplen_past_block()
    expect_corrupt(write(tmp_path, "caplen.pcapng", img), off, 1)


# --------------------------------------------------------------------------- link types, interfaces
def test_unknown_linktype_pcap(tmp_path):
    rs = replay_all(write(tmp_path, "user0.pcap", A.unknown_linktype_pcap(147, 3)))
    for r in rs.values():
        assert r.decisions == [("unparsed", "unsupported_linktype")] * 3


def test_unknown_linktype_on_one_pcapng_interface(tmp_path):
    """Interface 0 Ethernet, interface 1 link type 0xFFFF: only interface 1's packets are lost."""
    rs = replay_all(write(tmp_path, "mixed.pcapng", A.unknown_linktype_pcapng()))
    for r in rs.values():
        assert [p for p, _ in r.decisions] == ["slow", "unparsed", "slow", "unparsed"]
        assert reasons(r)[1] == reasons(r)[3] == "unsupported_linktype"
        assert r.stats["trace"]["capture_interfaces"] == 2


def test_epb_before_its_idb_is_bad_interface(tmp_path):
    """An EPB naming interface 0 before any IDB: unparsed/bad_interface; once the IDB is there the
    next EPB on interface 0 is read."""
    rs = replay_all(write(tmp_path, "early.pcapng", A.epb_before_idb()))
    for r in rs.values():
        assert r.decisions[0] == ("unparsed", "bad_interface")
        assert paths(r)[1] == "slow"


def test_epb_naming_an_undefined_interface_is_bad_interface(tmp_path):
    rs = replay_all(write(tmp_path, "if5.pcapng", A.epb_unknown_interface()))
    for r in rs.values():
        assert r.decisions == [("unparsed", "bad_interface")]


def test_new_section_forgets_the_interfaces_of_the_previous_one(tmp_path):
    """pcapng 4.1: interface ids are per section; after a second SHB without IDB, interface 0 is
    undefined."""
    rs = replay_all(write(tmp_path, "section.pcapng", A.epb_after_new_section()))
    for r in rs.values():
        assert paths(r)[0] == "slow" and r.decisions[1] == ("unparsed", "bad_interface")


# --------------------------------------------------------------------------- headers
@pytest.mark.parametrize("n_tags", [2, 3, 8])
def test_nested_vlan_tags_up_to_the_walk_limit_are_parsed_but_not_offloaded(tmp_path, n_tags):
    """nf_flow_skb_encap_protocol takes one VLAN tag (or PPPoE): with 2..8 tags the fast path
    cannot parse the packet, which stays on the slow path (encap_unsupported)."""
    rs = replay_all(write(tmp_path, "vlan.pcap", A.vlan_frames(n_tags)))
    never_offloaded(rs)
    assert set(reasons(rs["sw"])) == {"encap_unsupported"}
    assert set(reasons(rs["hw"])) == {"encap_unsupported"}
    assert set(reasons(rs["none"])) == {"offload_disabled"}


def test_nested_vlan_tags_beyond_the_limit_are_bad_headers(tmp_path):
    """More than 8 stacked tags (the decoder's bounded walk): unparsed/bad_header."""
    rs = replay_all(write(tmp_path, "vlan9.pcap", A.vlan_frames(9)))
    for r in rs.values():
        assert r.decisions == [("unparsed", "bad_header")] * 3


@pytest.mark.parametrize("n_headers", [1, 16])
def test_ipv6_extension_header_chain_is_not_offloaded(tmp_path, n_headers):
    """nf_flow_tuple_ipv6 wants TCP/UDP right after the fixed header: slow, ipv6_ext_header."""
    rs = replay_all(write(tmp_path, "ext.pcap", A.ipv6_ext_chain(n_headers)))
    never_offloaded(rs)
    assert set(reasons(rs["sw"])) == set(reasons(rs["hw"])) == {"ipv6_ext_header"}


@pytest.mark.parametrize("image", ["chain17", "loop40"])
def test_ipv6_extension_chain_beyond_the_walk_limit_is_ipv6_ext_header(tmp_path, image):
    data = A.ipv6_ext_chain(17) if image == "chain17" else A.ipv6_ext_loop_raw()
    rs = replay_all(write(tmp_path, "ext.pcap", data))
    never_offloaded(rs)
    assert set(reasons(rs["sw"])) == {"ipv6_ext_header"}


def test_ipv6_extension_chain_beyond_the_walk_limit_is_counted_once_and_never_offloaded(tmp_path):
    """Whatever its reason, the over-long / looping chain is forwarded by the CPU, counted once."""
    for data in (A.ipv6_ext_chain(17), A.ipv6_ext_loop_raw()):
        rs = replay_all(write(tmp_path, "ext.pcap", data))
        never_offloaded(rs)
        for r in rs.values():
            assert r.paths["slow"]["packets"] == 3


def test_ipv6_extension_header_running_past_the_packet(tmp_path):
    """A hop-by-hop header whose length (2048 bytes) runs past the packet: the walk stops at the
    packet end; the packet is never offloaded (the kernel drops it in ipv6_parse_hopopts; the
    model keeps it on the slow path)."""
    rs = replay_all(write(tmp_path, "extpast.pcap", A.ipv6_ext_past_packet()))
    never_offloaded(rs)
    assert set(reasons(rs["sw"])) <= {"ipv6_ext_header", "bad_header"}


@pytest.mark.parametrize("ihl", [0, 1, 4])
def test_ipv4_header_length_below_minimum_is_bad_header(tmp_path, ihl):
    rs = replay_all(write(tmp_path, "ihl.pcap", A.ipv4_short_ihl(ihl)))
    for r in rs.values():
        assert r.decisions == [("unparsed", "bad_header")] * 3


def test_ipv4_total_length_below_header_length_is_bad_header(tmp_path):
    rs = replay_all(write(tmp_path, "tot.pcap", A.ipv4_total_length_below_ihl()))
    for r in rs.values():
        assert r.decisions == [("unparsed", "bad_header")] * 3


def test_tcp_data_offset_below_minimum_is_never_offloaded(tmp_path):
    """doff 2 (8 bytes): conntrack's tcp_error() rejects it (invalid), the fast path cannot use it."""
    rs = replay_all(write(tmp_path, "doff2.pcap", A.tcp_doff_below_min(2)))
    never_offloaded(rs)
    assert set(reasons(rs["sw"])) <= {"l4_truncated", "ct_invalid"}


def test_tcp_data_offset_past_the_packet_is_counted_once(tmp_path):
    """doff 15 (60 bytes) in 20-byte segments: parsed without reading past the packet."""
    rs = replay_all(write(tmp_path, "doff15.pcap", A.tcp_doff_past_packet(15)))
    for r in rs.values():
        assert r.stats["packets_total"] == 5 and r.paths["unparsed"]["packets"] == 0


def test_tcp_data_offset_past_the_packet_is_conntrack_invalid(tmp_path):
    rs = replay_all(write(tmp_path, "doff15.pcap", A.tcp_doff_past_packet(15)))
    never_offloaded(rs)
    assert set(reasons(rs["sw"])) == {"ct_invalid"}
