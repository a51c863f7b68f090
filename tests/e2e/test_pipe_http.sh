#!/usr/bin/env bash
# test_pipe_http.sh: pdns (remote backend, pipe connector) -> rbgw -> examples/responder.py (HTTP).
#
# Runs the same DNS checks (dig: A, AAAA, MX, SOA, CNAME chase, NXDOMAIN with SOA in authority,
# mixed-case query, AXFR count and content) against four set-ups, one pdns start each:
#
#   baseline   pdns's own http connector straight to the responder (no rbgw): proves the
#              responder and the checks are right, so a failure below points at rbgw;
#   rest       pdns -pipe-> rbgw -HTTP REST->      responder
#   post       pdns -pipe-> rbgw -HTTP post->      responder (post=yes)
#   post_json  pdns -pipe-> rbgw -HTTP post_json-> responder (post=yes,post_json=yes)
#
# For the rbgw set-ups it also checks, in the responder's log, that the upstream requests really
# arrived in the configured HTTP dialect, that rbgw exits when pdns stops, and that rbgw's stderr
# (inside pdns's log) holds no sanitizer report.
# Prints one "ok"/"FAIL" line per check; exits 1 on any failure, 77 if pdns is not installed.
set -u
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"
e2e_init

ZONE_JSON=$RBGW_SOURCE_DIR/examples/zone.json
SOA_CONTENT="ns1.example.com. hostmaster.example.com. 2024010101 10800 3600 604800 3600"

# The zone as AXFR should show it: "name ttl type content", sorted, one line per record.
EXPECTED_AXFR=$(python3 - "$ZONE_JSON" <<'EOF'
import json, sys
zone = json.load(open(sys.argv[1]))["zones"][0]
print("\n".join(sorted("%s %d %s %s" % (r["qname"].lower(), r["ttl"], r["qtype"], r["content"])
                       for r in zone["records"])))
EOF
)
EXPECTED_COUNT=$(printf '%s\n' "$EXPECTED_AXFR" | wc -l)

# check_zone LABEL PORT: the DNS assertions, against the pdns listening on PORT.
check_zone() {
    local t=$1 port=$2 out axfr
    e2e_expect "$t: A www.example.com" "$(e2e_dig "$port" +short www.example.com A)" "192.0.2.10"
    e2e_expect "$t: AAAA www.example.com" "$(e2e_dig "$port" +short www.example.com AAAA)" \
        "2001:db8::10"
    e2e_expect "$t: MX example.com" "$(e2e_dig "$port" +short example.com MX)" \
        "10 mail.example.com."
    e2e_expect "$t: SOA example.com" "$(e2e_dig "$port" +short example.com SOA)" "$SOA_CONTENT"
    e2e_expect "$t: mixed-case query WwW.ExAmPlE.CoM" \
        "$(e2e_dig "$port" +short WwW.ExAmPlE.CoM A)" "192.0.2.10"
    e2e_expect "$t: CNAME ftp.example.com is chased" "$(e2e_dig "$port" +short ftp.example.com A)" \
        "$(printf 'www.example.com.\n192.0.2.10')"

    out=$(e2e_dig "$port" +noall +comments +authority nonexist.example.com A)
    e2e_expect_grep "$t: nonexist.example.com is NXDOMAIN" "$out" "status: NXDOMAIN"
    e2e_expect_grep "$t: NXDOMAIN carries the SOA in authority" "$out" \
        "^example\\.com\\.\\s+[0-9]+\\s+IN\\s+SOA\\s+ns1\\.example\\.com\\."

    # AXFR: SOA first and last, every record of the zone exactly once in between.
    axfr=$(e2e_dig "$port" +noall +answer example.com AXFR |
        awk '$3 == "IN" { c = ""; for (i = 5; i <= NF; i++) c = c (i > 5 ? " " : "") $i;
                          print tolower($1), $2, $4, c }')
    e2e_expect "$t: AXFR has $EXPECTED_COUNT records plus the closing SOA" \
        "$(printf '%s\n' "$axfr" | grep -c .)" "$((EXPECTED_COUNT + 1))"
    e2e_expect "$t: AXFR starts and ends with the SOA" \
        "$(printf '%s\n' "$axfr" | sed -n '1p;$p' | awk '{ print $3 }' | tr '\n' ' ')" "SOA SOA "
    e2e_expect "$t: AXFR content equals examples/zone.json" \
        "$(printf '%s\n' "$axfr" | sed '$d' | sort)" "$EXPECTED_AXFR"
}

# run_setup LABEL CONNSTR [LOGTAG]: start pdns with CONNSTR, run the checks, stop it.  With
# LOGTAG, also check that the responder saw lookups in that HTTP dialect during this run.
run_setup() {
    local t=$1 connstr=$2 tag=${3:-} port before seen
    echo "# --- $t: $connstr"
    port=$(e2e_dns_port) || {
        e2e_fail "$t: free DNS port"
        return
    }
    before=$(wc -l <"$RESPONDER_LOG")
    if e2e_start_pdns "$t" "$port" "$connstr"; then
        e2e_ok "$t: pdns answers on 127.0.0.1:$port"
        check_zone "$t" "$port"
    else
        e2e_fail "$t: pdns answers on 127.0.0.1:$port"
    fi
    if [ -n "$tag" ]; then
        seen=$(tail -n +"$((before + 1))" "$RESPONDER_LOG" | grep -c "^responder: $tag lookup ")
        if [ "$seen" -gt 0 ]; then
            e2e_ok "$t: the responder received $seen lookups as $tag"
        else
            e2e_fail "$t: the responder received lookups as $tag"
        fi
    fi
    e2e_stop_pdns "$t"
    [ -n "$tag" ] && e2e_expect_clean_log "$t"
}

HTTP_PORT=$(e2e_http_port) || exit 1
RESPONDER_LOG=$E2E_TMP/responder-main.log
if ! e2e_start_responder main "$HTTP_PORT"; then
    e2e_fail "responder starts on 127.0.0.1:$HTTP_PORT"
    e2e_finish
fi
URL=http://127.0.0.1:$HTTP_PORT/dns

run_setup baseline "http:url=$URL,timeout=2000"

if [ ! -x "$RBGW_BIN" ]; then
    e2e_fail "rbgw binary is built ($RBGW_BIN)"
    e2e_finish
fi
UPSTREAM_URL=$URL
if [ "${E2E_SABOTAGE:-}" = dead-upstream ]; then
    UPSTREAM_URL=http://127.0.0.1:$(e2e_http_port)/dns
    echo "# E2E_SABOTAGE=dead-upstream: rbgw points at $UPSTREAM_URL (nothing listens)"
fi
run_setup rest "$(e2e_rbgw_connstr rest "http:url=$UPSTREAM_URL,timeout=1500")" rest
run_setup post "$(e2e_rbgw_connstr post "http:url=$UPSTREAM_URL,timeout=1500,post=yes")" post
run_setup post_json \
    "$(e2e_rbgw_connstr post_json "http:url=$UPSTREAM_URL,timeout=1500,post=yes,post_json=yes")" \
    post_json

e2e_finish
