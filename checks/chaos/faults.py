"""The faults `make chaos` injects, each on the real processes `make up` started. A fault returns
the moment it ended (the piece restarted, resumed or back), from which recovery is timed."""
import time

# Leases are the task's timeout (5 s in chaos load) + 10 s grace: freeze past that.
FREEZE_S = 20
REGISTRY_DOWN_S = 30


def kill_and_restart(piece, down_s=2):
    def fault(stack, rng):
        name = piece(stack, rng) if callable(piece) else piece
        stack.piece("kill", name)
        time.sleep(down_s)  # the fault's duration, not a wait for a condition
        ended = time.time()
        stack.up(why=f"restart {name} after kill -9")
        return ended, f"kill -9 {name}, restarted after {down_s} s"
    return fault


def some_executor(stack, rng):
    return f"svc-executor-{rng.randint(1, stack.executors)}"


def crash_postgres(stack, _rng):
    stack.piece("pg-crash")
    time.sleep(3)
    ended = time.time()
    stack.up(why="start PostgreSQL after its immediate shutdown")
    return ended, "pg_ctl stop -m immediate, started after 3 s"


def stop_registry(stack, _rng):
    stack.piece("term", "registry")
    time.sleep(REGISTRY_DOWN_S)
    ended = time.time()
    stack.up(why="start the registry again")
    return ended, f"registry stopped for {REGISTRY_DOWN_S} s"


def freeze_executor(stack, rng):
    name = some_executor(stack, rng)
    stack.piece("stop", name)
    time.sleep(FREEZE_S)
    stack.piece("cont", name)
    return time.time(), f"SIGSTOP {name} for {FREEZE_S} s (past its leases), then SIGCONT"


def rebalance(stack, _rng):
    extra = stack.executors + 1
    stack.up(executors=extra, why=f"rebalance: add svc-executor-{extra}")
    time.sleep(8)
    stack.up(why=f"rebalance: stop svc-executor-{extra} (SIGTERM, drains)")
    return time.time(), f"svc-executor-{extra} joined, worked 8 s, stopped"


FAULTS = {
    "kill-tasks": kill_and_restart("svc-tasks"),
    "kill-executor": kill_and_restart(some_executor),
    "kill-notify": kill_and_restart("svc-notify"),
    "kill-scheduler": kill_and_restart("svc-scheduler"),
    "kill-kafka": kill_and_restart("kafka", down_s=5),
    "crash-postgres": crash_postgres,
    "stop-registry": stop_registry,
    "freeze-executor": freeze_executor,
    "rebalance": rebalance,
}
