"""A reference clock for the load test: an independent process that wakes every 10 ms against
absolute deadlines, at SCHED_RR priority 50 (above the media workers' 10, so it never waits
behind them), and writes each wakeup's lateness as "unix_seconds,late_ms" lines. What it sees
late, the machine did (host stalls, the kernel); what only our packets show, we did.

    python3 reference-clock.py OUT.csv SECONDS [PRIORITY]

PRIORITY (default 50) set to the workers' 10 shows what a thread of theirs waits for.
"""
import os
import sys
import time

out_path, seconds = sys.argv[1], float(sys.argv[2])
priority = int(sys.argv[3]) if len(sys.argv) > 3 else 50
try:
    os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(priority))
except (PermissionError, AttributeError):
    pass  # unprivileged: still a reference, a weaker one (the output says which)
policy = 'rr' if os.sched_getscheduler(0) == getattr(os, 'SCHED_RR', -1) else 'normal'
period = 0.010
with open(out_path, 'w') as out:
    out.write(f'# policy {policy} {priority}\n')
    start = time.monotonic()
    n = 0
    while True:
        n += 1
        target = start + n * period
        now = time.monotonic()
        if now - start > seconds:
            break
        if target > now:
            time.sleep(target - now)
        late_ms = (time.monotonic() - target) * 1000
        out.write(f'{time.time():.6f},{late_ms:.3f}\n')
