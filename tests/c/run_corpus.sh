#!/bin/sh
# run_corpus.sh: runs test_reader_asan (ASan + UBSan) over every capture of $PCAPS/*/ (through
# the mmap path and the memory path), then over copies of a few captures truncated at every byte
# offset of their first $TRUNC_BYTES bytes. Fails on any sanitizer report, crash or hang.
PCAPS=${PCAPS:-/work/shared/pcaps}
TRUNC_BYTES=${TRUNC_BYTES:-300}
BIN=${BIN:-./test_reader_asan}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0; files=0; okfiles=0; errfiles=0

run() { # file, mode flag
    timeout 20 "$BIN" -q $2 "$1" > "$TMP/out" 2> "$TMP/err"
    rc=$?
    if [ $rc -gt 1 ] || [ -s "$TMP/err" ]; then
        echo "FAIL rc=$rc $2 $1"; head -20 "$TMP/err"; fails=$((fails + 1))
    fi
    return $rc
}

for f in "$PCAPS"/*/*; do
    case "$f" in *.md) continue ;; esac
    files=$((files + 1))
    if run "$f" ""; then okfiles=$((okfiles + 1)); else errfiles=$((errfiles + 1)); fi
    grep -h "error" "$TMP/out" | sed "s|^|$(basename "$f"): |" >> "$TMP/errors"
    run "$f" -m
done
echo "corpus: $files files, $okfiles read to the end, $errfiles with an error"
[ -f "$TMP/errors" ] && sed 's/offset [0-9]*/offset N/; s/0x[0-9a-f]*/0xN/g; s/[0-9][0-9]*/N/g' "$TMP/errors" \
    | cut -d: -f2- | sort | uniq -c | sort -rn

# truncated copies: one classic pcap, one pcapng per kind of interesting structure
for f in "$PCAPS/encap/zeek__pppoe-over-qinq.pcap" "$PCAPS/encap/wiresharkdeb__many_interfaces.1.pcapng" \
         "$PCAPS/encap/pcapplusplus__pcapng-example.pcapng" "$PCAPS/encap/zeek__radiotap.pcap" \
         "$PCAPS/encap/zeek__icmp6-destunreach-ip6ext-udp.pcap" "$PCAPS/encap/zeek__linux_dlt_sll2.pcap"; do
    [ -f "$f" ] || continue
    n=0
    while [ $n -le "$TRUNC_BYTES" ]; do
        head -c $n "$f" > "$TMP/t.pcap"
        run "$TMP/t.pcap" "" || true
        run "$TMP/t.pcap" -m || true
        n=$((n + 1))
    done
    echo "truncated copies of $(basename "$f"): 0..$TRUNC_BYTES bytes done"
done
echo "failures: $fails"
[ $fails -eq 0 ]
