"""Kernel, sysctl and SoC presets. Each number names its source (see README "Presets")."""
from __future__ import annotations

from dataclasses import dataclass

# Kernel profiles: what changes per-packet paths (../shared/docs/kernel-sfo-detail.md §0).
KERNELS = {
    "5.15": 515,  # OpenWrt 23.05; e5eaac2 (TCP offload only when ESTABLISHED+ASSURED) assumed backported
    "6.1": 601,   # Debian bookworm: the kernel oracle's kernel
    "6.6": 606,   # OpenWrt 24.10
    "6.12": 612,  # OpenWrt main
}
DEFAULT_KERNEL = "6.6"

# Conntrack timeouts in seconds, by TCP state index (csrc/pyflow.h enum pf_tcp_state):
# NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE,
# SYN_SENT2, RETRANS, UNACK.
_TCP_LINUX = [0, 120, 60, 432000, 120, 60, 30, 120, 10, 120, 300, 300]  # nf_conntrack_proto_tcp.c tcp_timeouts[]
SYSCTLS = {
    # upstream defaults: tcp_timeouts[], nf_conntrack_udp_timeout 30, _stream 120 (nf_conntrack_proto_udp.c)
    "linux": {"tcp": _TCP_LINUX, "udp": 30, "udp_stream": 120},
    # OpenWrt package/kernel/linux/files/sysctl-nf-conntrack.conf: established 7440, udp 60 / 180
    "openwrt": {"tcp": _TCP_LINUX[:3] + [7440] + _TCP_LINUX[4:], "udp": 60, "udp_stream": 180},
}
DEFAULT_SYSCTL = "openwrt"


@dataclass(frozen=True)
class Soc:
    """A MediaTek SoC as the mtk_eth_soc driver sees it (hw-offload-detail.md §10)."""

    name: str
    ppe_count: int        # mtk_soc_data.ppe_num
    ways: int             # mtk_soc_data.hash_offset: entries per hash bucket
    has_ppe: bool         # offload_version != 0
    ipv6: bool            # IPv6 routed flows (IPV6_ROUTE_5T) in mtk_flow_offload_replace
    mt7621_static: bool   # mtk_ppe_init_foe_table: 7 STATIC entries per 128 (CONFIG_SOC_MT7621)
    wed_version: int      # 0 none, 1 (Ethernet -> Wi-Fi only), 2, 3 (mtk_wed.c)
    note: str


SOCS = {
    "mt7621": Soc("mt7621", 1, 2, True, True, True, 0, "NETSYS v1, no WED"),
    "mt7622": Soc("mt7622", 1, 2, True, True, False, 1, "NETSYS v1, WED v1 (PCIe MT7915 5 GHz only)"),
    "mt7623": Soc("mt7623", 1, 2, True, True, False, 0, "NETSYS v1, no WED"),
    "mt7629": Soc("mt7629", 1, 2, False, False, False, 0, "no offload_version: no hardware offload"),
    "mt7981": Soc("mt7981", 2, 4, True, True, False, 2, "NETSYS v2 (Filogic 820), WED v2"),
    "mt7986": Soc("mt7986", 2, 4, True, True, False, 2, "NETSYS v2 (Filogic 830), WED v2"),
    "mt7988": Soc("mt7988", 3, 4, True, True, False, 3, "NETSYS v3 (Filogic 880), WED v3"),
}
DEFAULT_SOC = "mt7621"


def foe_entries(kernel_version: int) -> int:
    """MTK_PPE_ENTRIES = 1024 << MTK_PPE_ENTRIES_SHIFT: 8192 up to 6.10, 16384 from 6.11 (ca18300e00d5)."""
    return 16384 if kernel_version >= 611 else 8192
