#!/usr/bin/env bash
# One million passthrough round trips stay under 1 GiB of memory (issue 6, "Speed").
# - `iovsim run` on the default platform (one VM in passthrough mode, 64 B request/response
#   against the echo peer) with workload.count = 1,000,100 and workload.warmup = 100: exactly
#   1,000,000 measured round trips after the warm-up (workload.count includes the warm-up).
# - Every response echoed its request (rr.verified = 1,000,100), the histogram holds the
#   1,000,000 measured round trips, and nothing was sent that did not come back.
# - The peak resident set size of the run, read by a small python wrapper with
#   resource.getrusage(RUSAGE_CHILDREN).ru_maxrss (kilobytes on Linux; no extra package), is
#   below 1 GiB = 1,048,576 KiB.
# The wall and CPU times are printed, not asserted (the machine is shared); on the 2-core
# development machine the run takes about 15-20 s of CPU time.
set -euo pipefail
# shellcheck source=testbenches/lib/common.bash
source "$(dirname "$0")/lib/common.bash"
tb_setup "$@"

MEASURED=1000000
WARMUP=100
COUNT=$((MEASURED + WARMUP))
LIMIT_KIB=$((1024 * 1024))  # 1 GiB

# Writes "<max RSS in KiB> <wall seconds> <CPU seconds>" to rss.txt after running the command;
# fails with the child's exit status if it fails.
"$PY" - "$SCRATCH/rss.txt" "$IOVSIM" run --out big --set workload.count=$COUNT \
    --set workload.warmup=$WARMUP >"$SCRATCH/big.out" 2>"$SCRATCH/big.err" <<'PYEOF' ||
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
rc = subprocess.call(cmd)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    f.write(f"{ru.ru_maxrss} {wall:.1f} {ru.ru_utime + ru.ru_stime:.1f}\n")
sys.exit(rc)
PYEOF
    fail "iovsim run of $COUNT round trips failed" "exit 0" "$(tail -5 "$SCRATCH/big.err")"

read -r rss_kib wall_s cpu_s <"$SCRATCH/rss.txt"
echo "1,000,000 passthrough round trips: max RSS ${rss_kib} KiB, ${wall_s} s wall, ${cpu_s} s CPU"
check_eq "responses verified (measured + warm-up)" "$COUNT" "$(stat big rr.verified)"
check_eq "requests sent" "$COUNT" "$(stat big rr.sent)"
check_eq "measured round trips" "$MEASURED" "$(stat big latency_ns.rtt.count)"
check_contains "passthrough, 64 B frames" big.out "run: passthrough rr, 64 B frames"
check_py "max resident set size under 1 GiB" "rss > 0 and rss < limit" rss="$rss_kib" \
    limit="$LIMIT_KIB"
