"""Bad input: one clear error naming the file and byte offset, or statistics where every packet
is counted exactly once. Never a crash, a hang or a silent loss."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

import pyflow
from pyflow.cli import main
from tests import pcapgen
from tests.helpers import check_accounting
from tests.pcapgen import Trace, udp


def replay(path, **kw):
    return pyflow.replay(path, keep_decisions=True, **kw)


def test_missing_file_is_a_capture_open_error(tmp_path):
    p = tmp_path / "nope.pcap"
    with pytest.raises(pyflow.CaptureOpenError) as exc:
        replay(p)
    assert str(p) in str(exc.value)


def test_directory_is_a_capture_open_error(tmp_path):
    with pytest.raises(pyflow.CaptureOpenError):
        replay(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_capture_open_error(tmp_path):
    p = tmp_path / "secret.pcap"
    pcapgen.pcap_header_only(p)
    p.chmod(0)
    with pytest.raises(pyflow.CaptureOpenError):
        replay(p)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.pcap"
    p.write_bytes(b"")
    with pytest.raises(pyflow.EmptyCaptureError) as exc:
        replay(p)
    assert str(p) in str(exc.value)


def test_wrong_magic_names_the_magic(tmp_path):
    p = tmp_path / "bad.pcap"
    pcapgen.bad_magic(p)
    with pytest.raises(pyflow.CaptureFormatError) as exc:
        replay(p)
    msg = str(exc.value).lower()
    assert "byte 0" in msg and ("0xdeadbeef" in msg or "0xefbeadde" in msg)


def test_file_shorter_than_its_header_is_truncated(tmp_path):
    p = tmp_path / "short.pcap"
    p.write_bytes(pcapgen.pcap_header_only()[:10])
    with pytest.raises(pyflow.TruncatedCaptureError):
        replay(p)


def test_header_only_pcap_has_no_packets(tmp_path):
    p = tmp_path / "hdr.pcap"
    pcapgen.pcap_header_only(p)
    r = replay(p)
    assert r.stats["packets_total"] == 0
    check_accounting(r)


def test_impossible_caplen_is_a_corrupt_error_at_the_record_offset(tmp_path):
    p = tmp_path / "caplen.pcap"
    pcapgen.pcap_with_caplen(0xFFFFFFFF, p)
    with pytest.raises(pyflow.CorruptCaptureError) as exc:
        replay(p)
    assert exc.value.offset == 24
    assert "byte 24" in str(exc.value)


def test_truncated_last_record_is_counted_unparsed_with_a_warning(tmp_path):
    t = Trace()
    for i in range(5):
        t.add(i, udp("192.168.1.10:1000", "8.8.8.8:53", b"x" * 100))
    full = tmp_path / "full.pcap"
    t.write_pcap(full)
    cut = tmp_path / "cut.pcap"
    pcapgen.truncated(full, cut, -50)
    r = replay(cut)
    check_accounting(r)
    assert r.stats["packets_total"] == 5
    assert r.reasons.get("truncated_record") == 1
    assert r.decisions[-1] == ("unparsed", "truncated_record")
    assert r.warnings and str(cut) in r.warnings[0]


def test_record_header_cut_in_half_is_counted(tmp_path):
    t = Trace()
    t.add(0, udp("192.168.1.10:1000", "8.8.8.8:53", b"x" * 100))
    data = t.pcap_bytes() + pcapgen.pcap_record(0, b"\x00" * 60)[:8]
    p = tmp_path / "half.pcap"
    p.write_bytes(data)
    r = replay(p)
    check_accounting(r)
    assert r.stats["packets_total"] == 2
    assert r.decisions[-1] == ("unparsed", "truncated_record")


def test_pcapng_trailing_length_mismatch_is_corrupt(tmp_path):
    p = tmp_path / "trail.pcapng"
    pcapgen.pcapng_bad_trailing_length(p)
    with pytest.raises(pyflow.CorruptCaptureError) as exc:
        replay(p)
    assert "byte" in str(exc.value)


def test_pcapng_block_length_not_multiple_of_4_is_corrupt(tmp_path):
    p = tmp_path / "len.pcapng"
    pcapgen.pcapng_block_length_not_multiple_of_4(p)
    with pytest.raises(pyflow.CorruptCaptureError):
        replay(p)


def test_pcapng_packet_on_unknown_interface_is_unparsed(tmp_path):
    p = tmp_path / "iface.pcapng"
    pcapgen.pcapng_epb_unknown_interface(p)
    r = replay(p)
    check_accounting(r)
    assert r.decisions == [("unparsed", "bad_interface")]


def test_corrupt_error_keeps_the_packets_read_before(tmp_path):
    t = Trace()
    for i in range(3):
        t.add(i, udp("192.168.1.10:1000", "8.8.8.8:53", b"x"))
    data = t.pcap_bytes() + pcapgen.pcap_record(0, b"\x00" * 60, caplen=0x7FFFFFFF)
    p = tmp_path / "tail.pcap"
    p.write_bytes(data)
    with pytest.raises(pyflow.CorruptCaptureError) as exc:
        replay(p)
    partial = exc.value.partial_result
    assert partial is not None and partial.stats["packets_total"] == 3


def test_unknown_link_type_is_unparsed(tmp_path):
    t = Trace()
    t.add(0, udp("192.168.1.10:1000", "8.8.8.8:53", b"x"))
    p = tmp_path / "link.pcap"
    p.write_bytes(pcapgen.pcap_global_header(linktype=147) + pcapgen.pcap_record(0, t.records[0].frame))
    r = replay(p)
    assert r.decisions == [("unparsed", "unsupported_linktype")]


def test_bad_option_is_a_config_error():
    with pytest.raises(pyflow.ConfigError):
        pyflow.replay("x.pcap", mode="turbo")
    with pytest.raises(pyflow.ConfigError):
        pyflow.replay("x.pcap", flow_timeout=0)
    with pytest.raises(pyflow.ConfigError):
        pyflow.replay("x.pcap", no_such_option=1)


@pytest.mark.parametrize("make", [
    lambda p: p.write_bytes(b""),
    lambda p: pcapgen.bad_magic(p),
    lambda p: pcapgen.pcap_with_caplen(0xFFFFFFFF, p),
])
def test_cli_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path, make):
    p = tmp_path / "bad.pcap"
    make(p)
    res = CliRunner().invoke(main, ["replay", str(p)])
    assert res.exit_code == 2
    assert str(p) in res.output
    assert "Traceback" not in res.output


def test_cli_missing_file_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["replay", str(tmp_path / "missing.pcap")])
    assert res.exit_code == 2 and "missing.pcap" in res.output


def test_log_that_cannot_be_written_is_an_output_error(tmp_path):
    p = tmp_path / "ok.pcap"
    pcapgen.pcap_header_only(p)
    with pytest.raises(pyflow.OutputError):
        pyflow.replay(p, log=str(tmp_path / "no" / "such" / "dir" / "log.jsonl"))
