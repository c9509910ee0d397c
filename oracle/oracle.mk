# pyflow kernel oracle (issue 6), included by the repo Makefile.
#   make kernel-oracle TRACE=path.pcap [ORACLE_OUT=out.json] [ORACLE_ARGS='--runs 3 --max-gap 5 --lan-prefix 2001:db8:1::/64']
#       replays TRACE through Debian bookworm's cloud kernel (qemu, TCG) with an nftables flowtable and
#       writes the per-packet kernel paths (default tests/golden/kernel/NAME.json) plus NAME.restamped.pcap.
#       Needs root on Debian bookworm the first time (apt-get installs qemu-system-x86 busybox-static
#       nftables iproute2 gcc kmod; apt-get download fetches the kernel); cache: ~/.cache/pyflow-oracle.
#   make kernel-goldens [GOLDENS='udp_gap40 tcp_rst']
#       regenerates the committed goldens of tests/golden/kernel (all, or the named ones).
ORACLE_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ORACLE_PYTHON ?= $(or $(PYTHON),python3)

.PHONY: kernel-oracle kernel-goldens

kernel-oracle:
	@test -n "$(TRACE)" || { echo "usage: make kernel-oracle TRACE=path.pcap [ORACLE_OUT=out.json] [ORACLE_ARGS=...]" >&2; exit 2; }
	$(ORACLE_PYTHON) $(ORACLE_DIR)/run.py $(TRACE) $(if $(ORACLE_OUT),-o $(ORACLE_OUT)) $(ORACLE_ARGS)

kernel-goldens:
	$(ORACLE_PYTHON) $(ORACLE_DIR)/make_goldens.py $(GOLDENS)
