"""`make chaos`: seeded fault runs against the running `make up` stack, each under steady mixed
load for its own tenant, each followed by a reconciliation (checks/chaos/reconcile.py). Prints one
table row per run; exits non-zero when any run broke a promise or a client got an unclean error."""
import argparse
import json
import random
import sys
import time
import traceback
from pathlib import Path

from faults import FAULTS
from load import Load, TargetServer, probe
from judge import judge
from reconcile import consumer_lag, gather, outbox_backlog, unfinished_tasks
from stack import ROOT, Stack, http

WARM_S = 5  # load before the fault
AFTER_S = 5  # load after recovery
SETTLE_S = 240  # after the load: every task ended, outboxes empty, consumers caught up


def settle(tenant_id):
    """Seconds until the tenant's tasks all ended, every outbox is empty and every service group
    has committed all it read; raises with what is still pending when SETTLE_S passes."""
    t0 = time.time()
    while True:
        try:
            pending = {"unfinished tasks": unfinished_tasks(tenant_id)}
            pending.update({f"outbox {k}": v for k, v in outbox_backlog().items()})
            pending.update({f"lag {k}": v for k, v in consumer_lag().items()})
        except Exception as error:  # a piece still coming back: ask again
            pending = {"error": str(error)[:200]}
        if not any(pending.values()):
            return time.time() - t0
        if time.time() - t0 > SETTLE_S:
            return f"not settled after {SETTLE_S} s: " + ", ".join(f"{k}={v}" for k, v in pending.items() if v)
        time.sleep(1)


def with_retries(what, call, seconds=90):
    deadline = time.time() + seconds
    while True:
        reply = call()
        if 200 <= reply.status < 300 or reply.status == 404:
            return reply
        if time.time() > deadline:
            raise RuntimeError(f"{what}: HTTP {reply.status} {reply.body[:200]!r} {reply.failure}")
        time.sleep(1)


def one_run(stack, number, fault_name, rng, stamp, rate):
    run_id = f"{stamp}-{number}"
    since_ms = int(time.time() * 1000) - 2000
    tenant_id, key = stack.new_tenant(f"chaos-{run_id}")
    stack.wait_until_scheduler_knows(key)
    schedule = with_retries("creating the run's schedule", lambda: http(
        "POST", f"{stack.scheduler}/v1/schedules", key,
        {"name": f"chaos {run_id}", "task": {"type": "noop", "labels": {"chaos": run_id, "kind": "scheduled"}},
         "spec": {"every": "PT2S"}})).json()
    reads = [f"{stack.api}/v1/tasks?limit=5", f"{stack.notify}/v1/overview", f"{stack.scheduler}/v1/schedules"]
    load = Load(stack.api, key, run_id, rng.random(), rate=rate, read_urls=reads)
    load.start()
    time.sleep(WARM_S)
    fault_started = time.time()
    fault_ended, what = FAULTS[fault_name](stack, rng)
    back = time.time()  # `make up` says every piece runs and answers again
    probe_s, _ = probe(stack.api, key, run_id)
    recovered_at = time.time() if probe_s is not None else None
    time.sleep(AFTER_S)
    load.stop()
    with_retries("deleting the run's schedule",
                 lambda: http("DELETE", f"{stack.scheduler}/v1/schedules/{schedule['id']}", key))
    settled = settle(tenant_id)
    verdict = judge(gather(tenant_id, since_ms), set(load.accepted), load.by_key, schedule["id"])
    if isinstance(settled, str):
        verdict.details.insert(0, settled)
    errors = sum(load.errors.values())
    unclean = sum(n for (_, clean), n in load.errors.items() if not clean)
    return {
        "run": number, "fault": fault_name, "what": what, "tenant": tenant_id,
        "accepted": len(load.accepted), "tasks": verdict.tasks, "triggers": verdict.triggers,
        "taken_over": verdict.taken_over,
        "client_errors": errors, "unclean": unclean, "abandoned": load.abandoned,
        "error_kinds": {f"{label}{'' if clean else ' (unclean)'}": n for (label, clean), n in load.errors.items()},
        "unclean_samples": load.unclean_samples,
        "lost": verdict.lost, "doubled": verdict.doubled, "stuck": verdict.stuck,
        "events_lost": verdict.events_lost, "order": verdict.order, "retries": verdict.retries,
        "projection": verdict.projection,
        "fault_s": round(fault_ended - fault_started, 1),
        "restart_s": round(back - fault_ended, 1),
        "recover_s": None if recovered_at is None else round(recovered_at - back, 1),
        "settle_s": settled if isinstance(settled, str) else round(settled, 1),
        "ok": verdict.violations() == 0 and unclean == 0 and load.abandoned == 0
        and recovered_at is not None and not isinstance(settled, str),
        "details": verdict.details,
    }


COLUMNS = [("run", 3), ("fault", 15), ("accepted", 8), ("client errors", 19), ("lost", 4), ("doubled", 7),
           ("stuck", 5), ("order/retry/proj/events", 23), ("taken over", 10), ("restart s", 9), ("recover s", 9), ("settle s", 8), ("verdict", 7)]


def row(r):
    errors = f"{r['client_errors']} ({'all clean' if not r['unclean'] else str(r['unclean']) + ' unclean'})" \
        if r["client_errors"] else "0"
    settle_s = r["settle_s"] if not isinstance(r["settle_s"], str) else "no"
    cells = [r["run"], r["fault"], f"{r['accepted']}+{r['tasks'] - r['accepted']}", errors, r["lost"], r["doubled"],
             r["stuck"], f"{r['order']}/{r['retries']}/{r['projection']}/{r['events_lost']}", r.get("taken_over", "?"),
             r.get("restart_s", "?"), r["recover_s"] if r["recover_s"] is not None else "never", settle_s, "ok" if r["ok"] else "FAIL"]
    return "| " + " | ".join(str(c).ljust(w) for c, (_, w) in zip(cells, COLUMNS)) + " |"


def header():
    names = "| " + " | ".join(n.ljust(w) for n, w in COLUMNS) + " |"
    return names + "\n|" + "|".join("-" * (w + 2) for _, w in COLUMNS) + "|"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=len(FAULTS))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--faults", default="", help="comma-separated fault names, in this order (default: all, shuffled by the seed)")
    parser.add_argument("--executors", type=int, default=2)
    parser.add_argument("--rate", type=float, default=8.0, help="submissions per second")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    rng = random.Random(seed)
    names = [n for n in args.faults.split(",") if n] or rng.sample(sorted(FAULTS), len(FAULTS))
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        sys.exit(f"chaos: unknown fault(s) {', '.join(unknown)}; known: {', '.join(sorted(FAULTS))}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = ROOT / ".taskflow" / "chaos" / stamp
    out.mkdir(parents=True, exist_ok=True)
    stack = Stack(args.executors, out)
    print(f"chaos: {args.runs} run(s), seed {seed} (repeat with SEED={seed}), faults in order: "
          f"{', '.join(names[i % len(names)] for i in range(args.runs))}; load {args.rate:g} tasks/s; output {out.relative_to(ROOT)}",
          flush=True)
    stack.up(why="chaos start")
    results = []
    print(header(), flush=True)
    with TargetServer():
        for i in range(args.runs):
            fault_name = names[i % len(names)]
            try:
                result = one_run(stack, i + 1, fault_name, rng, stamp, args.rate)
            except Exception as error:  # the run could not be judged: that fails it too
                result = {"run": i + 1, "fault": fault_name, "ok": False, "accepted": 0, "tasks": 0, "client_errors": 0,
                          "unclean": 0, "lost": "?", "doubled": "?", "stuck": "?", "order": "?", "retries": "?",
                          "projection": "?", "events_lost": "?", "recover_s": None, "settle_s": "no",
                          "details": [f"run aborted: {error}", traceback.format_exc()[-800:]]}
                stack.up(why="after an aborted run")
            results.append(result)
            print(row(result), flush=True)
    (out / "results.json").write_text(json.dumps({"seed": seed, "runs": results}, indent=2, default=str))
    (out / "table.md").write_text(header() + "\n" + "\n".join(row(r) for r in results) + "\n")
    failed = [r for r in results if not r["ok"]]
    for r in failed:
        print(f"\nrun {r['run']} ({r['fault']}) failed:", *[f"  {d}" for d in r.get("details", [])[:15]],
              *[f"  client error sample: {s}" for s in r.get("unclean_samples", [])], sep="\n")
    accepted = sum(r["accepted"] for r in results)
    print(f"\nchaos: {len(results) - len(failed)} of {len(results)} runs kept every promise; {accepted} tasks accepted; "
          f"seed {seed}; details in {(out / 'results.json').relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
