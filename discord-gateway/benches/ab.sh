#!/usr/bin/env bash
# Alternating A/B rounds of two builds of a fanout bench (`gateway_load` or
# `loopback_floor`), with a summary per side.
#
#   discord-gateway/benches/ab.sh A B ROUNDS [bench arguments...]
#
# A and B are each a bench binary, optionally preceded by environment
# settings for a trial switch: "/tmp/gl_new", or "LANES=2 /tmp/gl_trial".
# Copy each binary out of target/release/deps first: cargo rebuilds that
# path. The runs go A, B, A, B...: on a shared two-core machine p99 spreads
# about 2x from run to run, so one pair says little, and alternating gives
# each side its share of the machine's slow minutes. Two sides that are the
# same binary with the same settings are refused (an A/B of a stale copy
# once passed for a result).
#
# Example, four rounds at 1 M deliveries/s:
#   discord-gateway/benches/ab.sh /tmp/gl_main /tmp/gl_new 4 \
#       --sessions 5000 --rate 200 --warmup 6 --seconds 10
set -euo pipefail

if [ $# -lt 3 ]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
side_a=$1 side_b=$2 rounds=$3
shift 3

# The binary of a side (its last word) and its settings (the words before).
binary() { local words; read -ra words <<<"$1"; echo "${words[-1]}"; }
settings() { local words; read -ra words <<<"$1"; echo "${words[@]:0:${#words[@]}-1}"; }

for side in "$side_a" "$side_b"; do
    [ -x "$(binary "$side")" ] || { echo "ab.sh: $(binary "$side") is not an executable" >&2; exit 2; }
done
if cmp -s "$(binary "$side_a")" "$(binary "$side_b")" &&
    [ "$(settings "$side_a")" = "$(settings "$side_b")" ]; then
    echo "ab.sh: A and B are the same binary with the same settings" >&2
    exit 2
fi

# One run of a side; prints "cpu_us user_us per_write p50_ms p99_ms" (a
# dash for a figure the bench did not print: the floor prints no user
# time), and the run's output when it failed.
run() {
    local out
    # shellcheck disable=SC2046 # the settings are words on purpose
    if ! out=$(env $(settings "$1") "$(binary "$1")" "${@:2}" 2>&1); then
        echo "ab.sh: a run of '$1' failed:" >&2
        echo "$out" >&2
        return 1
    fi
    awk '
        /µs per deliver/ && cpu == "" { for (i = 1; i < NF; i++) if ($(i + 1) == "µs") { cpu = $i; break } }
        /µs \(user\) per deliver/ && usr == "" { for (i = 1; i < NF; i++) if ($(i + 1) == "µs") { usr = $i; break } }
        /deliveries per write/ && per == "" { for (i = 2; i <= NF; i++) if ($i == "deliveries" && $(i + 1) ~ /^per/) { per = $(i - 1); break } }
        # A latency in milliseconds, from "80.3ms", "1.1s", "950µs" or
        # "71.8 ms" (the unit in the next word).
        function ms(value, next_word,    unit, n) {
            n = value; sub(/[^0-9.].*$/, "", n)
            unit = value; sub(/^[0-9.]+/, "", unit)
            if (unit == "") unit = next_word
            sub(/[,;]$/, "", unit)
            if (unit == "s") return n * 1000
            if (unit == "µs" || unit == "us") return n / 1000
            if (unit == "ns") return n / 1000000
            return n + 0
        }
        /latency/ && p50 == "" {
            for (i = 1; i < NF; i++) {
                if ($i == "p50") p50 = ms($(i + 1), $(i + 2))
                if ($i == "p99") p99 = ms($(i + 1), $(i + 2))
            }
        }
        END { printf "%s %s %s %s %s\n", (cpu == "" ? "-" : cpu), (usr == "" ? "-" : usr), (per == "" ? "-" : per), (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99) }
    ' <<<"$out"
}

results=$(mktemp)
trap 'rm -f "$results"' EXIT
printf '%-5s %-4s %12s %8s %10s %9s %9s\n' round side "µs/delivery" "user µs" "per write" "p50 ms" "p99 ms"
for round in $(seq 1 "$rounds"); do
    for side in A B; do
        if [ "$side" = A ]; then spec=$side_a; else spec=$side_b; fi
        line=$(run "$spec" "$@")
        echo "$side $line" >>"$results"
        # shellcheck disable=SC2086 # five figures
        printf '%-5s %-4s %12s %8s %10s %9s %9s\n' "$round" "$side" $line
    done
done

echo
echo "A: $side_a"
echo "B: $side_b"
printf '%-4s %-20s %-20s %-20s %-20s %-20s\n' side "µs/delivery" "user µs" "per write" "p50 ms" "p99 ms"
for side in A B; do
    cells=()
    for col in 2 3 4 5 6; do
        cells+=("$(awk -v s="$side" -v c="$col" '$1 == s && $c != "-" { print $c }' "$results" |
            sort -g | awk '{ v[NR] = $1 } END {
                if (NR == 0) { print "-"; exit }
                m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                printf "%g (%g-%g)\n", m, v[1], v[NR]
            }')")
    done
    printf '%-4s %-20s %-20s %-20s %-20s %-20s\n' "$side" "${cells[@]}"
done
echo "(median, then the range, over $rounds rounds)"
