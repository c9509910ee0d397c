/* pyflow.h: the public C API of the pyflow core.
 *
 * This file is both the C header and the cffi declaration (pyflow/_build.py feeds it to
 * ffibuilder.cdef verbatim), so it holds no preprocessor lines: C files include it through
 * common.h, which includes <stdint.h> first. Constants are enums with explicit values.
 * Every function that can fail returns a PF_E* code (< 0) and fills a pf_error_info; the C core
 * never prints. */

enum pf_error {
    PF_OK = 0,
    PF_E_NOMEM = -1,     /* allocation failed */
    PF_E_OPEN = -2,      /* file missing, unreadable, or not a regular file */
    PF_E_EMPTY = -3,     /* file has 0 bytes */
    PF_E_FORMAT = -4,    /* not a pcap/pcapng file (magic, version, first block) */
    PF_E_TRUNCATED = -5, /* file ends inside its file header / section header */
    PF_E_CORRUPT = -6,   /* impossible record or block length: reading cannot continue */
    PF_E_ARG = -7,       /* invalid argument or configuration */
    PF_E_IO = -8,        /* write error on an output file (log, annotated pcapng, dump) */
    PF_E_CANCELLED = -9  /* the progress callback asked to stop */
};

enum pf_mode { PF_MODE_NONE = 0, PF_MODE_SW = 1, PF_MODE_HW = 2 };

enum pf_path {
    PF_PATH_SLOW = 0,          /* netfilter + conntrack on the CPU */
    PF_PATH_SFO = 1,           /* software flowtable fast path */
    PF_PATH_HFO = 2,           /* forwarded by the PPE */
    PF_PATH_NOT_FORWARDED = 3, /* not routed by the router (multicast, same side, non-IP ...) */
    PF_PATH_UNPARSED = 4,      /* could not be decoded (truncated, malformed, unknown link) */
    PF_PATH_COUNT = 5
};

/* Why a packet took its path. Names (pf_reason_name) are the stable strings of the JSON output. */
enum pf_reason {
    PF_R_NONE = 0,               /* no reason (also: pf_record.bad_record of a sound record) */
    /* unparsed */
    PF_R_TRUNCATED_RECORD = 1,   /* record cut short by the end of the file */
    PF_R_BAD_INTERFACE = 2,      /* pcapng packet names an interface without IDB */
    PF_R_TRUNCATED_HEADER = 3,   /* L2/L3 headers longer than the captured bytes */
    PF_R_BAD_HEADER = 4,         /* impossible L2/L3 header */
    PF_R_UNSUPPORTED_LINKTYPE = 5,
    /* not forwarded */
    PF_R_NOT_IP = 6,             /* ARP, STP, LLDP, 802.11 management ... */
    PF_R_MULTICAST = 7,          /* multicast / broadcast destination */
    PF_R_LINK_LOCAL = 8,         /* IPv6 link-local source or destination */
    PF_R_SAME_SIDE = 9,          /* both ends on the same router side */
    PF_R_MARTIAN = 10,            /* loopback / unspecified address */
    /* slow path */
    PF_R_OFFLOAD_DISABLED = 11,  /* mode none: no flowtable */
    PF_R_CT_NEW = 12,            /* conntrack entry not confirmed yet (first packet) */
    PF_R_FLOW_ADD = 13,          /* this packet created the flowtable entry */
    PF_R_FLOW_TIMEOUT = 14,      /* the flow had expired (idle); this packet re-created it */
    PF_R_TCP_NOT_ESTABLISHED = 15,
    PF_R_TCP_FIN_RST = 16,
    PF_R_CT_INVALID = 17,        /* conntrack marks the packet invalid (no entry) */
    PF_R_CT_TABLE_FULL = 18,     /* nf_conntrack_max reached, no early-drop victim: dropped */
    PF_R_IPV4_OPTIONS = 19,
    PF_R_FRAGMENT = 20,
    PF_R_IPV6_EXT_HEADER = 21,
    PF_R_TTL_EXPIRED = 22,       /* TTL/hop limit <= 1: dropped by the router */
    PF_R_MTU_EXCEEDED = 23,
    PF_R_L4_PROTO = 24,          /* not TCP/UDP: never offloaded */
    PF_R_ICMP_ERROR = 25,        /* ICMP error (related to a connection when one matches) */
    PF_R_IIF_MISMATCH = 26,      /* arrived on another interface than the flow recorded */
    PF_R_NOT_FLOWTABLE_DEVICE = 27, /* ingress device not in the flowtable */
    PF_R_L4_TRUNCATED = 28,      /* L4 header cut by the capture: fast path cannot read it */
    PF_R_ENCAP_UNSUPPORTED = 29, /* more than one VLAN tag, or VLAN + PPPoE: fast path cannot parse */
    /* software fast path */
    PF_R_FLOW_OFFLOADED = 30,    /* mode sw: forwarded by the flowtable */
    PF_R_HW_BIND_PENDING = 31,   /* mode hw: accepted by the driver, PPE entry not bound yet */
    PF_R_PPE_BUCKET_FULL = 32,   /* all ways of the flow's FOE bucket are bound */
    PF_R_PPE_TABLE_FULL = 33,    /* reserved: whole table bound */
    PF_R_PPE_IPV6_UNSUPPORTED = 34,
    PF_R_PPE_UNSUPPORTED_ENCAP = 35, /* too many VLAN tags, tunnel ... (driver refuses) */
    PF_R_WIFI_NO_WED = 36,       /* Wi-Fi end without WED */
    PF_R_WED_2G_EXCLUDED = 37,   /* 2.4 GHz radio: WED does not cover it */
    PF_R_HW_NO_PPE = 38,         /* SoC without a PPE (or ingress never passes one) */
    PF_R_HW_AGED = 39,           /* bound entry aged out; relearning */
    /* hardware */
    PF_R_HW_FORWARDED = 40,
    /* slow path, the offload rule's own conditions (user rules, not kernel refusals) */
    PF_R_RULE_PACKETS_BELOW = 41, /* `ct ... packets/bytes ge N` not reached yet */
    PF_R_RULE_NOT_MATCHED = 42,   /* l4proto / iifname / oifname / address / ct state condition */
    PF_REASON_COUNT = 43
};

/* Flow events written to the decision log. */
enum pf_event {
    PF_EV_FLOW_ADD = 0, PF_EV_FLOW_TEARDOWN = 1, PF_EV_FLOW_DEL = 2, PF_EV_CT_EARLY_DROP = 3,
    PF_EV_HW_COMMIT = 4, PF_EV_HW_BIND = 5, PF_EV_HW_REFUSED = 6, PF_EV_HW_AGE_OUT = 7,
    PF_EV_HW_REMOVE = 8, PF_EV_COUNT = 9
};

/* Packet -> interface mapping rules (pf_config.map_rules), tried in order, first match wins. */
enum pf_map_kind {
    PF_MAP_CAPTURE_IF = 0,   /* pcapng interface id (value) */
    PF_MAP_CAPTURE_NAME = 1, /* pcapng if_name (name) */
    PF_MAP_SLL2_IFINDEX = 2, /* Linux SLL2 interface index (value) */
    PF_MAP_RADIO_BAND = 3,   /* 802.11 radiotap channel band: value 2, 5 or 6 (GHz) */
    PF_MAP_VLAN = 4,         /* an 802.1Q/802.1ad tag with id value */
    PF_MAP_PPPOE = 5,        /* PPPoE session id value, or any session when value < 0 */
    PF_MAP_MAC = 6,          /* client MAC: source MAC for ingress, destination for egress */
    PF_MAP_SUBNET = 7        /* prefix: source address for ingress, destination for egress */
};

enum pf_iface_role { PF_ROLE_LAN = 0, PF_ROLE_WAN = 1 };
enum pf_iface_kind { PF_KIND_ETHERNET = 0, PF_KIND_WIFI = 1 };
enum pf_band { PF_BAND_NONE = 0, PF_BAND_2G = 2, PF_BAND_5G = 5, PF_BAND_6G = 6 };

/* TCP conntrack states, in the order of enum tcp_conntrack (include/uapi/linux/netfilter/
 * nf_conntrack_tcp.h); index into pf_config.tcp_timeouts_s. */
enum pf_tcp_state {
    PF_TCP_NONE = 0, PF_TCP_SYN_SENT = 1, PF_TCP_SYN_RECV = 2, PF_TCP_ESTABLISHED = 3,
    PF_TCP_FIN_WAIT = 4, PF_TCP_CLOSE_WAIT = 5, PF_TCP_LAST_ACK = 6, PF_TCP_TIME_WAIT = 7,
    PF_TCP_CLOSE = 8, PF_TCP_SYN_SENT2 = 9, PF_TCP_RETRANS = 10, PF_TCP_UNACK = 11,
    PF_TCP_STATE_COUNT = 12
};

typedef struct pf_error_info {
    int32_t code;        /* PF_E_* */
    uint64_t offset;     /* byte offset in the input file the error refers to */
    char message[256];
} pf_error_info;

typedef struct pf_iface {
    char name[32];
    int32_t role;          /* pf_iface_role */
    int32_t kind;          /* pf_iface_kind */
    int32_t band;          /* pf_band (Wi-Fi only) */
    int32_t in_flowtable;  /* listed in the flowtable's devices */
    int32_t wed;           /* Wi-Fi radio attached to WED */
    int32_t shaped;        /* an SQM/cake shaper on this interface */
    uint32_t mtu;
} pf_iface;

typedef struct pf_map_rule {
    int32_t kind;          /* pf_map_kind */
    int32_t iface;         /* interface index */
    int64_t value;
    char name[32];
    uint8_t mac[6];
    uint8_t l3;            /* 4 or 6 for PF_MAP_SUBNET */
    uint8_t prefix_len;
    uint8_t addr[16];
} pf_map_rule;

/* The forward-chain rule in front of `flow add @ft` (fw4: `meta l4proto { tcp, udp }`). Every
 * condition must hold for the flow to be added. */
enum pf_cmp { PF_CMP_GE = 0, PF_CMP_GT = 1, PF_CMP_LE = 2, PF_CMP_LT = 3, PF_CMP_EQ = 4, PF_CMP_NE = 5 };
enum pf_ct_dir_sel { PF_CTDIR_ORIGINAL = 0, PF_CTDIR_REPLY = 1, PF_CTDIR_BOTH = 2 };

typedef struct pf_offload_rule {
    int32_t present;           /* 0: no `flow add` statement at all (nothing is ever offloaded) */
    uint32_t l4proto_mask;     /* bit 0 TCP, bit 1 UDP (meta l4proto set) */
    int32_t ct_count;          /* 0 none, 1 `ct <dir> packets`, 2 `ct <dir> bytes` */
    int32_t ct_count_dir;      /* pf_ct_dir_sel */
    int32_t ct_count_cmp;      /* pf_cmp */
    uint64_t ct_count_value;
    uint32_t ct_state_mask;    /* bit 0 new, 1 established, 2 related; 0 = any */
    uint32_t iif_mask;         /* interfaces allowed as input (iifname set), 0 = any */
    uint32_t oif_mask;         /* output (oifname set), 0 = any */
    uint32_t n_saddr, n_daddr; /* ip/ip6 saddr / daddr sets (prefixes), 0 = any */
    uint8_t saddr_l3[8], saddr_len[8], daddr_l3[8], daddr_len[8];
    uint8_t saddr[8][16], daddr[8][16];
} pf_offload_rule;

typedef struct pf_config {
    int32_t mode;                 /* pf_mode */
    int32_t kernel_version;       /* major*100+minor, e.g. 606 */
    uint32_t ct_max;              /* nf_conntrack_max */
    int32_t tcp_loose;            /* nf_conntrack_tcp_loose */
    uint32_t tcp_timeouts_s[12];  /* by pf_tcp_state */
    uint32_t udp_timeout_s;       /* nf_conntrack_udp_timeout (unreplied) */
    uint32_t udp_timeout_stream_s;/* nf_conntrack_udp_timeout_stream (replied) */
    uint32_t icmp_timeout_s;
    uint32_t generic_timeout_s;
    uint32_t flow_timeout_tcp_s;  /* nf_flowtable_tcp_timeout */
    uint32_t flow_timeout_udp_s;  /* nf_flowtable_udp_timeout */
    int32_t flowtable_counter;    /* flowtable `counter` flag: fast-path packets update ct counters */
    pf_offload_rule rule;         /* the offload rule of the forward chain */
    /* hardware offload (mode hw) */
    uint32_t ppe_entries;         /* FOE entries per PPE */
    uint32_t ppe_ways;            /* hash_offset: entries per bucket */
    uint32_t ppe_count;           /* number of PPEs (one per ingress GMAC) */
    int32_t ppe_ipv6;             /* IPv6 routed flows accepted */
    int32_t ppe_mt7621_static;    /* 7 STATIC entries in every 128 (MT7621) */
    int32_t wed_version;          /* 0 none, 1 (Ethernet->Wi-Fi only), 2, 3 */
    int32_t wed_2g;               /* WED also covers 2.4 GHz radios */
    uint32_t ppe_bind_rate;       /* packets per 1 s PPE tick that trigger binding */
    uint32_t ppe_check_interval_ms;
    uint32_t ppe_age_tcp_s, ppe_age_udp_s, ppe_age_tcp_fin_s, ppe_age_unbind_s;
    /* topology */
    pf_iface ifaces[16];
    uint32_t n_ifaces;
    int32_t default_lan_iface;    /* iface used for LAN-side addresses */
    int32_t default_wan_iface;
    pf_map_rule map_rules[64];    /* ingress/egress interface rules, first match wins */
    uint32_t n_map_rules;
    /* extra LAN prefixes (e.g. the LAN's global IPv6 /64), besides RFC 1918, 169.254/16, fc00::/7 */
    uint8_t lan_prefix_addr[16][16];
    uint8_t lan_prefix_len[16];
    uint8_t lan_prefix_l3[16];
    uint32_t n_lan_prefixes;
    /* outputs */
    /* table dumps, each at its time after the first packet (ns, < 0: none):
     * [0] conntrack as /proc/net/nf_conntrack, [1] PPE as /sys/kernel/debug/ppe0/entries */
    int64_t dump_at_ns[2];
    const char *dump_path[2];
    const char *log_path;         /* JSON-lines decision log, NULL for none */
    int32_t keep_decisions;       /* keep a per-packet (path, reason) array for pf_sim_decisions */
    int64_t series_bin_ns;        /* time series bin width (0: no series) */
    int32_t keep_flows;           /* keep a pf_flow_summary per connection (pf_sim_flows) */
} pf_config;

typedef struct pf_path_stats {
    uint64_t packets;
    uint64_t bytes;   /* original (wire) length */
    uint64_t flows;   /* conntrack connections with at least one packet on this path */
} pf_path_stats;

typedef struct pf_stats {
    uint64_t packets_total;
    uint64_t bytes_total;
    pf_path_stats paths[5];
    uint64_t reasons[64];
    int64_t first_ts_ns, last_ts_ns;
    uint64_t ts_backwards;        /* timestamps earlier than the previous one (clamped) */
    uint64_t ts_clamped;          /* timestamps beyond +-2^62 ns (about 2116) clamped to it */
    uint64_t dropped;             /* slow-path packets the router drops (TTL, table full) */
    uint64_t ct_created, ct_peak, ct_early_drops;
    uint64_t flows_added, flows_teardown_fin_rst, flows_timeout, flows_peak;
    uint64_t connections;         /* conntrack connections seen */
    /* hardware */
    uint64_t hw_commits, hw_refused, hw_binds, hw_age_outs, hw_removals;
    uint64_t ppe_bound_peak;
    uint64_t ppe_bound_sum;       /* sum over 1 s samples of bound entries */
    uint64_t ppe_samples;
    uint64_t shaper_bypass_packets[16], shaper_bypass_bytes[16]; /* HFO past a shaper, by egress iface */
    uint64_t shaped_packets[16], shaped_bytes[16];               /* CPU-path packets a shaper sees */
} pf_stats;

/* One bin of the time series: the packets of the bin, and the table occupancy after its last
 * packet. Bins without packets are not emitted (the series is sparse). */
typedef struct pf_series_bin {
    int64_t start_ns;             /* bin start, ns after the first packet */
    uint64_t packets[5];          /* by pf_path */
    uint64_t bytes[5];
    uint32_t ct_entries;          /* conntrack entries */
    uint32_t flows;               /* live flowtable entries */
    uint32_t ppe_bound;           /* bound FOE entries */
    uint32_t pad;
} pf_series_bin;

/* Per-connection summary (cfg.keep_flows): one record per conntrack connection, emitted when the
 * entry dies or at the end of the trace. */
typedef struct pf_flow_summary {
    uint64_t id;                  /* connection number (the decision log's "flow") */
    int64_t first_ns, last_ns;    /* first and last packet */
    int64_t offloaded_ns;         /* time spent in the flowtable (sum over its flow entries) */
    uint64_t packets[3];          /* slow, sfo, hfo */
    uint64_t bytes[3];
    uint8_t src[16], dst[16];     /* original direction */
    uint16_t sport, dport;
    uint8_t l3, proto;
    int8_t iface[2];              /* ingress interface per direction, -1 unknown */
    uint16_t flows_added;         /* flowtable entries created for it */
    uint8_t teardown;             /* last flow teardown: 0 none, 1 timeout, 2 fin_rst, 3 ct_gone */
    uint8_t hw_bound;             /* bit per direction ever bound in the PPE */
    uint8_t hw_refused;           /* PF_R_* refusal of the driver (0: accepted or not offered) */
    uint8_t end;                  /* 0 alive at the end, 1 expired, 2 early-dropped, 3 killed (reopen) */
    uint8_t tcp_state;            /* last TCP state (pf_tcp_state) */
    uint8_t pad;
} pf_flow_summary;

typedef struct pf_sim pf_sim;

/* Progress callback: called every `progress_every` records; return nonzero to cancel. */
typedef int (*pf_progress_fn)(void *ctx, uint64_t records, uint64_t bytes_done, uint64_t bytes_total);

typedef struct pf_run_opts {
    uint64_t progress_every;      /* 0: never */
    pf_progress_fn progress;
    void *progress_ctx;
    const char *annotate_path;    /* annotated pcapng output (decisions of sims[0]), NULL none */
} pf_run_opts;

typedef struct pf_run_info {
    uint64_t records;             /* packet records read */
    uint64_t file_size;
    uint64_t bytes_read;
    int32_t is_pcapng;
    uint32_t n_capture_ifaces;
    uint64_t truncated_records;
    int32_t stopped_early;        /* a fatal corruption stopped reading (see error) */
} pf_run_info;

/* Fills cfg with the defaults (mode sw, kernel 6.6, OpenWrt sysctls, MT7621 PPE, default
 * topology: one Ethernet LAN and one Ethernet WAN, both in the flowtable, MTU 1500). */
void pf_config_default(pf_config *cfg);

/* Errors: PF_E_ARG (invalid config, message says which field), PF_E_NOMEM, PF_E_IO (log). */
int pf_sim_create(const pf_config *cfg, pf_sim **out, pf_error_info *err);
void pf_sim_destroy(pf_sim *sim);   /* accepts NULL; closes the log */
void pf_sim_stats(const pf_sim *sim, pf_stats *out);
uint64_t pf_sim_decision_count(const pf_sim *sim);
/* Copies up to n decisions (one per packet record, in file order). Returns the number copied. */
uint64_t pf_sim_decisions(const pf_sim *sim, uint8_t *paths, uint8_t *reasons, uint64_t n);

/* Time series (cfg.series_bin_ns > 0): number of bins, and a copy of up to n of them.
 * At most 16 M bins are kept; pf_sim_series_truncated says whether later bins were dropped. */
uint64_t pf_sim_series_count(const pf_sim *sim);
uint64_t pf_sim_series(const pf_sim *sim, pf_series_bin *out, uint64_t n);
int pf_sim_series_truncated(const pf_sim *sim);

/* Connection summaries (cfg.keep_flows), in order of their end (then live ones by slot). */
uint64_t pf_sim_flow_count(const pf_sim *sim);
uint64_t pf_sim_flows(const pf_sim *sim, pf_flow_summary *out, uint64_t n);

/* Reads the whole capture once and feeds every packet to each of the nsims simulators.
 * Errors: those of the reader (PF_E_OPEN, _EMPTY, _FORMAT, _TRUNCATED, _CORRUPT), PF_E_IO,
 * PF_E_CANCELLED, PF_E_NOMEM. On PF_E_CORRUPT the simulators keep the packets read before the
 * bad record (info->stopped_early = 1). */
int pf_run_file(const char *path, pf_sim *const *sims, uint32_t nsims, const pf_run_opts *opts,
                pf_run_info *info, pf_error_info *err);
int pf_run_buffer(const uint8_t *buf, uint64_t len, pf_sim *const *sims, uint32_t nsims,
                  const pf_run_opts *opts, pf_run_info *info, pf_error_info *err);

const char *pf_strerror(int code);
const char *pf_reason_name(int reason);   /* "" for unknown */
const char *pf_path_name(int path);
const char *pf_event_name(int event);
