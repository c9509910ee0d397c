"""The `pyflow` command: parses options, calls the library, prints. No logic of its own."""
from __future__ import annotations

import os
import sys
import tempfile
from typing import Any, Optional

import click

from . import output, presets
from .core import replay
from .errors import CaptureError, PyflowError


def _progress_bar(enabled: Optional[bool]) -> Any:
    """A progress callback drawing on stderr, only on a terminal (or when forced)."""
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None

    def show(records: int, done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        click.echo(f"\r{records:>12} packets  {pct:5.1f}%", nl=False, err=True)

    return show


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pyflow-offload", prog_name="pyflow")
def main() -> None:
    """What would flow offloading do to this traffic? Replays captures through a model of a
    Linux/OpenWrt router (conntrack, nftables flowtable, MediaTek PPE)."""


@main.command("replay")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--mode", type=click.Choice(["none", "sw", "hw"]), default="sw", show_default=True,
              help="none: no offload; sw: flowtable (SFO); hw: flowtable + PPE (HFO).")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Write the per-packet decision log (JSON lines).")
@click.option("--progress/--no-progress", default=None, help="Progress on stderr (default: only on a terminal).")
@click.option("--kernel", type=click.Choice(sorted(presets.KERNELS)), default=presets.DEFAULT_KERNEL, show_default=True)
@click.option("--sysctl", type=click.Choice(sorted(presets.SYSCTLS)), default=presets.DEFAULT_SYSCTL, show_default=True,
              help="Conntrack timeout profile.")
@click.option("--ct-max", type=int, default=65536, show_default=True, help="nf_conntrack_max.")
@click.option("--flow-timeout", type=int, default=None, help="nf_flowtable_{tcp,udp}_timeout in seconds (default 30).")
@click.option("--mtu", type=int, default=None, help="MTU of every router interface (default 1500).")
@click.option("--lan-prefix", "lan_prefixes", multiple=True, metavar="CIDR",
              help="Extra LAN prefix (e.g. your global IPv6 /64); repeatable.")
@click.option("--soc", type=click.Choice(sorted(presets.SOCS)), default=presets.DEFAULT_SOC, show_default=True,
              help="SoC preset for --mode hw.")
@click.option("--ppe-entries", type=int, default=None, help="FOE table size override (e.g. 64).")
@click.option("--dump-conntrack-at", type=float, default=None, metavar="SECONDS",
              help="Show the conntrack table (as /proc/net/nf_conntrack) at this time after the first packet.")
@click.option("--dump-ppe-at", type=float, default=None, metavar="SECONDS",
              help="Show the PPE table (as /sys/kernel/debug/ppe0/entries) at this time after the first packet.")
@click.option("--dump-dir", type=click.Path(file_okay=False), default=None,
              help="Write the dumps into this directory instead of printing them.")
def replay_cmd(trace: str, mode: str, as_json: bool, log_path: Optional[str], progress: Optional[bool],
               kernel: str, sysctl: str, ct_max: int, flow_timeout: Optional[int], mtu: Optional[int],
               lan_prefixes: tuple, soc: str, ppe_entries: Optional[int], dump_conntrack_at: Optional[float],
               dump_ppe_at: Optional[float], dump_dir: Optional[str]) -> None:
    """Replay TRACE (pcap or pcapng) and report the path of every packet."""
    bar = _progress_bar(progress)
    if as_json and dump_dir is None and (dump_conntrack_at is not None or dump_ppe_at is not None):
        raise click.UsageError("with --json, give --dump-dir for the table dumps")
    tmp = tempfile.TemporaryDirectory(prefix="pyflow-dump-")
    ddir = dump_dir or tmp.name
    if dump_dir:
        os.makedirs(dump_dir, exist_ok=True)
    dumps = {}
    if dump_conntrack_at is not None:
        dumps["dump_conntrack"] = os.path.join(ddir, f"nf_conntrack-at-{dump_conntrack_at:g}s.txt")
    if dump_ppe_at is not None:
        dumps["dump_ppe"] = os.path.join(ddir, f"ppe-entries-at-{dump_ppe_at:g}s.txt")
    try:
        result = replay(trace, mode=mode, log=log_path, progress=bar, kernel=kernel, sysctl=sysctl,
                        ct_max=ct_max, flow_timeout=flow_timeout, mtu=mtu, lan_prefixes=lan_prefixes,
                        soc=soc, ppe_entries=ppe_entries, dump_conntrack_at=dump_conntrack_at,
                        dump_ppe_at=dump_ppe_at, **dumps)
    except CaptureError as exc:
        if bar:
            click.echo("", err=True)
        raise click.ClickException(str(exc)) from None
    except PyflowError as exc:
        raise click.ClickException(str(exc)) from None
    if bar:
        click.echo("", err=True)
    for w in result.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(output.to_json(result) if as_json else output.table(result))
    for key, path in dumps.items():
        if dump_dir:
            click.echo(f"wrote {path}", err=True)
        else:
            with open(path, encoding="utf-8") as fh:
                click.echo(output.dump_section(key, path, fh.read()))
    tmp.cleanup()


# click.ClickException exits with status 1; bad input must give 2 (usage errors give 2 too).
click.ClickException.exit_code = 2


if __name__ == "__main__":  # pragma: no cover
    main()
