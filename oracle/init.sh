#!/bin/busybox sh
# pyflow kernel oracle: /init of the qemu guest (copied into the initramfs by oracle/run.py).
# Builds lan <-veth-> router <-veth-> wan namespaces, loads an OpenWrt-fw4-like ruleset with a
# flowtable in the router, runs /replayer on /trace.bin and prints its output between markers
# on the serial console, then powers off.  Parameters come from /params (second cpio archive).
/bin/busybox mkdir -p /proc /sys /dev /run/netns /tmp /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
. /params

X=/opt/bin/xip          # iproute2's ip (a name that is not a busybox applet, not starting with "ip")
NFT=/opt/bin/nft

fail() { echo "ORACLE-ERROR $*"; echo "===PYFLOW-ORACLE-END==="; poweroff -f; }

for m in $(cat /modules.list); do
    insmod "/modules/$m" || fail "insmod $m"
done

echo "ORACLE-T modules $(cut -d' ' -f1 /proc/uptime)"
for ns in lan router wan; do $X netns add $ns || fail "netns add $ns"; done
for ns in lan wan; do
    $X netns exec $ns /bin/sh -c 'echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6'
done
$X link add lan0 netns lan type veth peer name rlan netns router || fail "veth lan"
$X link add wan0 netns wan type veth peer name rwan netns router || fail "veth wan"
$X -n lan link set lan0 address 02:00:00:00:00:10
$X -n wan link set wan0 address 02:00:00:00:01:fe
$X -n router link set rlan address 02:00:00:00:00:01
$X -n router link set rwan address 02:00:00:00:01:01
$X -n lan link set lan0 up
$X -n wan link set wan0 up

cat > /router.sh <<EOF
echo 1 > /proc/sys/net/ipv4/ip_forward
echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
echo 1 > /proc/sys/net/ipv6/conf/default/forwarding
echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/default/rp_filter
echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad
$X link set lo up
$X link set rlan up
$X link set rwan up
echo 0 > /proc/sys/net/ipv4/conf/rlan/rp_filter
echo 0 > /proc/sys/net/ipv4/conf/rwan/rp_filter
$X addr add 198.18.0.1/30 dev rlan
$X addr add 198.18.1.1/30 dev rwan
$X neigh replace 198.18.0.2 lladdr 02:00:00:00:00:10 dev rlan nud permanent
$X neigh replace 198.18.1.2 lladdr 02:00:00:00:01:fe dev rwan nud permanent
$X -6 neigh replace fe80::2 lladdr 02:00:00:00:00:10 dev rlan nud permanent
$X -6 neigh replace fe80::2 lladdr 02:00:00:00:01:fe dev rwan nud permanent
for p in 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 169.254.0.0/16 $LAN4; do
    $X route add \$p via 198.18.0.2 dev rlan onlink || echo "ORACLE-WARN route \$p"
done
$X route add default via 198.18.1.2 dev rwan onlink
for p in fc00::/7 $LAN6; do
    $X -6 route add \$p via fe80::2 dev rlan || echo "ORACLE-WARN route \$p"
done
$X -6 route add default via fe80::2 dev rwan
EOF
$X netns exec router /bin/sh /router.sh

# wait for the links, then let the late link-state events pass (they flush routes / flows)
i=0
while [ $i -lt 50 ]; do
    st=$($X -n router -o link show up 2>/dev/null | grep -c LOWER_UP)
    [ "$st" -ge 2 ] && break
    sleep 0.1; i=$((i+1))
done
echo "ORACLE-T links $(cut -d' ' -f1 /proc/uptime) after $i polls"
sleep ${SETTLE:-2}

cat > /ruleset.nft <<EOF
table inet fw4 {
    flowtable ft {
        hook ingress priority filter
        devices = { rlan, rwan }
        counter
    }
    chain forward {
        type filter hook forward priority filter; policy accept;
        meta l4proto { tcp, udp } flow offload @ft
        ct state vmap { established : accept, related : accept }
    }
    # oracle only: every packet that reaches the forward hook (= slow path) gets DSCP CS1;
    # packets forwarded by the flowtable at ingress never get here and keep DSCP 0.
    chain oracle_mark {
        type filter hook forward priority filter + 10; policy accept;
        ip dscp set cs1
        ip6 dscp set cs1
    }
}
EOF
$X netns exec router $NFT -f /ruleset.nft || fail "nft ruleset"
$X netns exec router /bin/sh -c 'echo 0 > /proc/sys/net/netfilter/nf_conntrack_checksum' || fail "sysctl checksum"
$X netns exec router /bin/sh -c 'for f in nf_conntrack_tcp_loose nf_conntrack_tcp_be_liberal nf_conntrack_udp_timeout nf_conntrack_udp_timeout_stream nf_conntrack_tcp_timeout_established nf_flowtable_tcp_timeout nf_flowtable_udp_timeout; do echo "ORACLE-SYSCTL $f $(cat /proc/sys/net/netfilter/$f 2>/dev/null)"; done'
echo "ORACLE-KERNEL $(uname -r)"
echo "ORACLE-T start $(cut -d' ' -f1 /proc/uptime)"
[ -n "$DEBUG" ] && $X netns exec router $NFT list ruleset

echo "===PYFLOW-ORACLE-BEGIN==="
/replayer /trace.bin ${TIMEOUT_MS:-50}
echo "===PYFLOW-ORACLE-END==="
[ -n "$DEBUG" ] && $X netns exec router $NFT list flowtable inet fw4 ft
poweroff -f
