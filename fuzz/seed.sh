#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ (git-ignored) from the project's captures, logs and topology and
# from ../shared/pcaps, read in place: nothing from ../shared is committed. Run from anywhere;
# safe to re-run (existing corpus files stay, libFuzzer adds its own beside them).
set -euo pipefail
fuzz="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$fuzz")"
shared="$repo/../shared/pcaps"
corpus="$fuzz/corpus"
mkdir -p "$corpus"/{capture,decode,identify,topology,log,filter,end_to_end}

captures=("$repo"/captures/*.pcapng)
if [ -d "$shared" ]; then
  while IFS= read -r -d '' f; do captures+=("$f"); done < <(
    find "$shared/dpi" "$shared/robust" -type f \( -name '*.pcap' -o -name '*.pcapng' \
      -o -name '*.cap' -o -name '*.gz' -o -name '*.bin' \) -size -1024k -print0 | sort -z)
else
  echo "note: $shared not found; seeding from captures/ only" >&2
fi

# Whole captures for the reader and the end-to-end run, and gzip-wrapped copies of ours.
for f in "${captures[@]}"; do
  name="$(basename "$(dirname "$f")")-$(basename "$f")"
  cp -f "$f" "$corpus/capture/$name"
  cp -f "$f" "$corpus/end_to_end/$name"
done
for f in "$repo"/captures/*.pcapng; do
  gzip -c "$f" > "$corpus/capture/$(basename "$f").gz"
done

# Frames (with their link-type pick) and flow prefixes, cut from the same captures.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}" \
  cargo run --quiet --manifest-path "$repo/Cargo.toml" --example fuzz_seed -- "$corpus" "${captures[@]}"

# Logs: byte 0 picks the format (0 detect, 1 pfirewall, 2 asa, 3 panos, 4 fortigate,
# 5 zeek-tsv, 6 zeek-json, 7 netfilter, 8 filterlog, 9 cef, 10 leef, 11 checkpoint; +128 also
# audits and renders), byte 1 the UTC offset (56 = +00:00).
logseed() { { printf "\\$(printf '%03o' "$1")\\070"; cat "$2"; } > "$corpus/log/$3"; }
logs="$repo/tests/data/logs"
n=1
for f in pfirewall.log asa.log panos.log fortigate.log zeek-conn.log zeek-conn.json \
  netfilter.log filterlog.log cef.log leef.log checkpoint.log; do
  logseed $n "$logs/$f" "$f"
  logseed $((n + 128)) "$logs/$f" "audit-$f"
  n=$((n + 1))
done
for f in "$logs"/*; do logseed 0 "$f" "detect-$(basename "$f")"; done

cp -f "$repo/captures/topology.toml" "$corpus/topology/sample.toml"

i=0
while IFS= read -r expr; do
  printf '%s' "$expr" > "$corpus/filter/$i"; i=$((i + 1))
done <<'FILTERS'
verdict != permitted and interface == internal
interface == external-vip and service == av
ip in {10.0.0.0/8, 172.16.0.0/12} or ip == 2001:db8:1::/48
ip.dst == 172.25.33.99/24 and not ip.src == 10.45.16.10
port.dst == 3478 && port.src >= 50000
port.src in {50000..59999} || port in {443, 5061}
(port == 1 and (port == 2 or port == 53)) and port == 1000
duration > 2 and duration < 3s or duration >= 2600ms
packets == 6 and bytes >= 600 and bytes <= 600
transport in {tcp, udp} and protocol == sip/mtls
severity >= warning and state == S0
verdict == wrong-source or verdict < permitted
!(state == SF) and service == internal
FILTERS

for t in "$corpus"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) files"; done
