"""The `pyflow` command: parses options, calls the library, prints. No logic of its own."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, Optional

import click

from . import output, presets
from .core import flows, replay
from .errors import CaptureError, ConfigError, PyflowError
from .nftables import load_ruleset
from .topology import Topology


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
@click.option("--mode", type=click.Choice(["none", "sw", "hw"]), default=None,
              help="none: no offload; sw: flowtable (SFO); hw: flowtable + PPE (HFO). Default: from "
                   "--nft-ruleset, else the firewall config of --openwrt-config/--topology, else sw.")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), help="Write the per-packet decision log (JSON lines).")
@click.option("--progress/--no-progress", default=None, help="Progress on stderr (default: only on a terminal).")
@click.option("--annotate", "annotate_path", type=click.Path(dir_okay=False), default=None, metavar="OUT.pcapng",
              help="Write every packet to OUT.pcapng with a comment giving its path and reason (for Wireshark/tshark).")
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
@click.option("--openwrt-config", "openwrt_config", default=None, metavar="DIR",
              help="Router model from a copy of the router's /etc/config (network, wireless, firewall, sqm, dhcp).")
@click.option("--topology", "topology_file", default=None, metavar="FILE",
              help="Router model from a pyflow topology file (TOML, see pcaps/topology-example.toml).")
@click.option("--nft-ruleset", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Flowtable and offload rule from the output of `nft list ruleset`.")
@click.option("--offload-after-packets", type=click.IntRange(min=1), default=None, metavar="N",
              help="Add `ct original packets ge N` in front of `flow add @ft` (the zapret/youtubeUnblock change).")
@click.option("--flowtable-devices", default=None, metavar="IFACE,...",
              help="Router interfaces listed in the flowtable (default: all), e.g. wan,lan.")
def replay_cmd(trace: str, mode: Optional[str], as_json: bool, log_path: Optional[str], progress: Optional[bool],
               annotate_path: Optional[str], kernel: str, sysctl: str, ct_max: int, flow_timeout: Optional[int], mtu: Optional[int],
               lan_prefixes: tuple, soc: str, ppe_entries: Optional[int], dump_conntrack_at: Optional[float],
               dump_ppe_at: Optional[float], dump_dir: Optional[str], openwrt_config: Optional[str],
               topology_file: Optional[str], nft_ruleset: Optional[str], offload_after_packets: Optional[int],
               flowtable_devices: Optional[str]) -> None:
    """Replay TRACE (pcap or pcapng) and report the path of every packet."""
    try:
        router = _router_options(mode, openwrt_config, topology_file, nft_ruleset, offload_after_packets,
                                 flowtable_devices)
    except PyflowError as exc:
        raise click.ClickException(str(exc)) from None
    router["lan_prefixes"] = tuple(router.get("lan_prefixes", ())) + tuple(lan_prefixes)
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
        result = replay(trace, log=log_path, progress=bar, annotate=annotate_path, kernel=kernel, sysctl=sysctl,
                        ct_max=ct_max, flow_timeout=flow_timeout, mtu=mtu,
                        soc=soc, ppe_entries=ppe_entries, dump_conntrack_at=dump_conntrack_at,
                        dump_ppe_at=dump_ppe_at, **dumps, **router)
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


def _router_options(mode: Optional[str], openwrt_config: Optional[str], topology_file: Optional[str],
                    nft_ruleset: Optional[str], offload_after_packets: Optional[int],
                    flowtable_devices: Optional[str]) -> dict:
    """replay() keyword arguments for the router model. The mode comes from --mode, else the
    ruleset's flowtable (flags offload), else the firewall config, else sw."""
    opts = Topology.load(openwrt_config=openwrt_config, topology=topology_file).to_options()
    topo_mode = opts.pop("mode", None)
    nft_mode = None
    if nft_ruleset is not None:
        nft = load_ruleset(nft_ruleset)
        names = [i.name for i in opts.get("interfaces", [])] or ["lan", "wan"]
        nft_opts = nft.to_options()
        nft_mode = nft_opts.pop("mode", None)
        for dev in nft_opts.get("flowtable_devices") or []:
            if dev not in names:
                raise ConfigError(f"{nft_ruleset}: flowtable device maps to {dev!r}, not an interface of the "
                                  f"router model ({', '.join(names)})")
        opts.update(nft_opts)
        for note in nft.notes:
            click.echo(f"note: {nft_ruleset}: {note}", err=True)
    if offload_after_packets is not None:
        opts["offload_after_packets"] = offload_after_packets
    if flowtable_devices is not None:
        opts["flowtable_devices"] = [d.strip() for d in flowtable_devices.split(",") if d.strip()]
    opts["mode"] = mode or nft_mode or topo_mode or "sw"
    return opts


@main.command("flows")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--mode", type=click.Choice(["none", "sw", "hw"]), default="sw", show_default=True)
@click.option("--top", type=click.IntRange(min=1), default=None, help="Only the first N flows.")
@click.option("--sort", type=click.Choice(["bytes", "slow", "packets", "first"]), default="bytes", show_default=True,
              help="bytes: biggest first; slow: most slow-path packets first (the flows that keep the CPU busy).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV output.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--soc", type=click.Choice(sorted(presets.SOCS)), default=presets.DEFAULT_SOC, show_default=True)
@click.option("--kernel", type=click.Choice(sorted(presets.KERNELS)), default=presets.DEFAULT_KERNEL, show_default=True)
@click.option("--lan-prefix", "lan_prefixes", multiple=True, metavar="CIDR")
def flows_cmd(trace: str, mode: str, top: Optional[int], sort: str, as_csv: bool, as_json: bool, soc: str,
              kernel: str, lan_prefixes: tuple) -> None:
    """One row per connection of TRACE: packets and bytes per path, time offloaded, teardown."""
    try:
        rows = flows(trace, mode, sort=sort, top=top, soc=soc, kernel=kernel, lan_prefixes=lan_prefixes)
    except PyflowError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif as_csv:
        click.echo(output.flows_csv(rows), nl=False)
    else:
        click.echo(output.flows_table(rows))


@main.group("topology")
def topology_group() -> None:
    """The router model (interfaces, mapping rules, LAN prefixes, offload mode)."""


@topology_group.command("show")
@click.option("--openwrt-config", "openwrt_config", default=None, metavar="DIR",
              help="A copy of the router's /etc/config (network, wireless, firewall, sqm, dhcp).")
@click.option("--topology", "topology_file", default=None, metavar="FILE",
              help="A pyflow topology file (TOML, see pcaps/topology-example.toml).")
def topology_show(openwrt_config: Optional[str], topology_file: Optional[str]) -> None:
    """Print the router model that a replay with the same options will use."""
    try:
        topo = Topology.load(openwrt_config=openwrt_config, topology=topology_file)
        topo.to_options()  # validates as replay would
    except PyflowError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(topo.describe())


@main.command("whatif")
@click.argument("traces", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--mode", "modes", default=None, metavar="LIST", help="Modes to compare (default none,sw,hw).")
@click.option("--soc", "socs", default=None, metavar="LIST",
              help="SoC presets, e.g. mt7621,mt7986: the PPE in hw mode, the CPU costs in every mode.")
@click.option("--ppe-entries", default=None, metavar="LIST", help="FOE table sizes for hw mode, e.g. 64,1024,8192 "
              "('preset': the SoC's).")
@click.option("--flow-timeout", "flow_timeouts", default=None, metavar="LIST",
              help="Flowtable timeouts in seconds, e.g. 30,60.")
@click.option("--offload-after-packets", default=None, metavar="LIST",
              help="Offload only after N packets (`ct original packets ge N`), e.g. 0,30.")
@click.option("--grid", "grid_file", type=click.Path(dir_okay=False), default=None,
              help="A JSON or TOML list of option tables, instead of the lists above.")
@click.option("--kernel", type=click.Choice(sorted(presets.KERNELS)), default=None, help="Kernel profile (default 6.6).")
@click.option("--sysctl", type=click.Choice(sorted(presets.SYSCTLS)), default=None, help="Conntrack timeout profile.")
@click.option("--ct-max", type=int, default=None, help="nf_conntrack_max (default 65536).")
@click.option("--lan-prefix", "lan_prefixes", multiple=True, metavar="CIDR", help="Extra LAN prefix; repeatable.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the grid as CSV.")
@click.option("--json", "as_json", is_flag=True, help="Print the grid as JSON.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes (default: the number of cores).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=None,
              help="Configurations per pass over a trace (default: the whole grid, split to use idle workers).")
@click.option("--dask-scheduler", default=None, metavar="ADDRESS",
              help="Run the (trace x grid-chunk) tasks on this Dask scheduler (needs 'distributed'; the traces "
                   "must be readable by the workers at the same paths).")
@click.option("--cost-slow-ns", type=float, default=None, help="CPU ns per slow-path packet (replaces the SoC preset).")
@click.option("--cost-sfo-ns", type=float, default=None, help="CPU ns per SFO packet (replaces the SoC preset).")
@click.option("--series", "series_file", type=click.Path(dir_okay=False), default=None,
              help="Write the time series per configuration (.json, else CSV).")
@click.option("--bin", "bin_s", type=float, default=1.0, show_default=True, help="Time series bin in seconds.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None,
              help="Write PNG pictures into this directory (needs matplotlib).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False), default=None,
              help="Write one self-contained HTML report (needs matplotlib).")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: only on a terminal).")
def whatif_cmd(traces: tuple, modes: Optional[str], socs: Optional[str], ppe_entries: Optional[str],
               flow_timeouts: Optional[str], offload_after_packets: Optional[str], grid_file: Optional[str],
               kernel: Optional[str], sysctl: Optional[str], ct_max: Optional[int], lan_prefixes: tuple,
               as_csv: bool, as_json: bool, jobs: Optional[int], chunk_size: Optional[int],
               dask_scheduler: Optional[str], cost_slow_ns: Optional[float], cost_sfo_ns: Optional[float],
               series_file: Optional[str], bin_s: float, plot_dir: Optional[str], html_file: Optional[str],
               progress: Optional[bool]) -> None:
    """Compare router configurations on TRACE...: the cartesian grid of the lists (or a --grid file),
    each trace read once per grid chunk, with a CPU-cost model per SoC."""
    from . import report, whatif as wi

    if as_csv and as_json:
        raise click.UsageError("give --csv or --json, not both")
    bar = wi.CliProgress(progress)
    try:
        grid = wi.build_grid(modes, socs, ppe_entries, flow_timeouts, offload_after_packets, grid_file,
                             kernel=kernel, sysctl=sysctl, ct_max=ct_max, lan_prefixes=list(lan_prefixes) or None)
        want_series = bool(series_file or plot_dir or html_file)
        rows = wi.whatif(list(traces), grid, jobs=jobs, chunk_size=chunk_size, dask_scheduler=dask_scheduler,
                         progress=bar, cost_slow_ns=cost_slow_ns, cost_sfo_ns=cost_sfo_ns,
                         series_bin=bin_s if want_series and wi.series_supported() else None)
        bar.close()
        for w in dict.fromkeys(w for r in rows for w in r["warnings"]):
            click.echo(f"warning: {w}", err=True)
        if series_file:
            click.echo(f"wrote {report.write_series(rows, series_file)}", err=True)
        pictures = []
        with tempfile.TemporaryDirectory(prefix="pyflow-plots-") as tmp:
            if plot_dir or html_file:
                pictures = report.write_plots(rows, plot_dir or tmp)
                if plot_dir:
                    for _, f in pictures:
                        click.echo(f"wrote {f}", err=True)
            if html_file:
                click.echo(f"wrote {report.write_html(rows, html_file, pictures)}", err=True)
    except PyflowError as exc:
        bar.close()
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        bar.close()
        raise click.ClickException(f"{exc.filename}: {exc.strerror}") from None
    click.echo(wi.to_csv(rows) if as_csv else wi.to_json(rows) if as_json else wi.table(rows), nl=not as_csv)


# click.ClickException exits with status 1; bad input must give 2 (usage errors give 2 too).
click.ClickException.exit_code = 2


if __name__ == "__main__":  # pragma: no cover
    main()
