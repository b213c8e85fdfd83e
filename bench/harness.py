#!/usr/bin/env python3
"""CDTG benchmark harness: seeds, starts the arms, runs wrk, validates, writes RESULTS.md.

Called by bench/run.sh (which builds and installs what this needs); standard library only,
plus matplotlib for the chart (bench/chart.py). Everything it starts it stops, also on
Ctrl-C or an error. Load goes only to 127.0.0.1.

Arms (all reading the same seeded data):
  cdtg-pg      CDTG release build on PostgreSQL (database cdtg_bench_s<scale>)
  floor        bench/floor: one hand-written SQL statement per query, JSON built by PostgreSQL
  postgraphile PostGraphile 5 (amber preset) over the same PostgreSQL database
  cdtg-sqlite  CDTG release build on SQLite (a file under the work directory)
"""

from __future__ import annotations

import argparse
import atexit
import base64
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_TCP = "postgres://postgres@127.0.0.1:5432"
# Every arm talks to PostgreSQL over the Unix socket: the same transport for all arms, and the
# one that never had the 40 ms Nagle stalls of sqlx 0.9 on TCP (CDTG now sets TCP_NODELAY itself).
PG_SOCKET_DIR = "/var/run/postgresql"
PORTS = {"cdtg-pg": 18081, "cdtg-sqlite": 18082, "floor": 18090, "postgraphile": 18078}
ARMS_PG = ["cdtg-pg", "floor", "postgraphile"]
ALL_QUERIES = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
Q4_CAP = 200  # CDTG pages hold at most 100: Q4 asks for two pages (aliases) = up to 200 groups
OCCURRED_AT = "2026-11-01T03:00:00Z"
SEARCH_TEXT = "mắm"  # CDTG folds it; the floor and PostGraphile get the folded "mam"
SEARCH_FOLDED = "mam"
JWT_SECRET = "bench-secret-bench-secret-bench-secret-0123456789"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------
# Processes: everything started here is remembered and stopped at exit (by its own id).
# ------------------------------------------------------------------------------------------

STARTED: list[subprocess.Popen] = []


def start(name: str, argv: list[str], env: dict[str, str], logdir: Path, cwd: Path | None = None):
    out = open(logdir / f"{name}.log", "wb")
    p = subprocess.Popen(
        argv, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        cwd=cwd, start_new_session=True,
    )
    STARTED.append(p)
    return p


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)  # its own session: the process and its children
            p.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if p in STARTED:
        STARTED.remove(p)


def stop_all() -> None:
    for p in list(STARTED):
        stop(p)


atexit.register(stop_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# ------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------


def sh(argv: list[str], **kw) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw).stdout


def sh_measured(argv: list[str]) -> tuple[float, float]:
    """Runs a command to completion; returns its wall time (s) and peak RSS (MB, its own
    `ru_maxrss` from wait4, not that of earlier children)."""
    t = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    return time.time() - t, usage.ru_maxrss / 1024


def psql(db: str, sql: str) -> str:
    return sh(["psql", f"{PG_TCP}/{db}", "-v", "ON_ERROR_STOP=1", "-AtXq", "-c", sql]).strip()


def post(url: str, body: dict, token: str | None = None, timeout: float = 60) -> dict:
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 404/405 on GET): it is up
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up within {seconds} s")


def gid(type_name: str, row: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{row}".encode()).decode().rstrip("=")


def cpu_ms_each(pids: list[int]) -> dict[int, float]:
    """CPU time (utime + stime, ms) of each process still alive."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) * 1000.0 / CLK_TCK
        except (FileNotFoundError, IndexError, ValueError):
            pass
    return out


def cpu_ms(pids: list[int]) -> float:
    return sum(cpu_ms_each(pids).values())


def cpu_delta_ms(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots: processes alive at both ends, plus new ones in full.
    A process that exited in between (a pool closing an idle connection) is not counted."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def reset_peak_rss(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ------------------------------------------------------------------------------------------
# Queries: one document per arm. The floor mirrors CDTG's answer shape; PostGraphile answers
# the same question in its own shapes (see README.md for where it differs).
# ------------------------------------------------------------------------------------------

CDTG_Q = {
    "Q1": """query Q1($id: ID!) { group(id: $id) { id name kind status establishedOn
  unit { id name kind parent { id name kind parent { id name kind } } } } }""",
    "Q2": """query Q2($id: ID!) { adminUnit(id: $id) { id name groups(first: 50) { nodes {
  id name status
  members(first: 20) { nodes { id fullName phone affiliation } }
  tasks(first: 20, filter: { status: [OPEN] }) { nodes { id title status dueOn progress } } } } } }""",
    "Q3": """query Q3($id: ID!) {
  adminUnit(id: $id) { id name
    stats { groups members activities residentsHelped vneidActivations tasksDone: tasks(status: DONE)
            targets { indicator periodStart periodEnd target actual progress } }
    children(first: 20) { nodes { id name children(first: 50) { nodes { id name
      stats { groups members residentsHelped tasksDone: tasks(status: DONE) } } } } } }
  districts: statsBreakdown(unitId: $id, by: [CHILD_UNIT]) { rows { unit { id name }
    stats { groups members residentsHelped tasksDone: tasks(status: DONE) } } } }""",
    "Q5": """query Q5($search: String!) { products(filter: { search: $search }, first: 20) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { id name category ocopStars group { name } listings { platform status } } } }""",
    "Q6": """mutation Q6($input: ReportActivityInput!) { reportActivity(input: $input) {
  activity { id } task { progress } created } }""",
}

CDTG_Q4_GROUP = "nodes { id name kind status members(first: 20) { nodes { id fullName phone affiliation } } }"

PG_Q = {
    "Q1": """query Q1($id: BigInt!) { groupByRowId(rowId: $id) { rowId name kind status establishedOn
  adminUnitByUnitId { rowId name kind adminUnitByParentId { rowId name kind
    adminUnitByParentId { rowId name kind } } } } }""",
    "Q2": """query Q2($id: BigInt!) { adminUnitByRowId(rowId: $id) { rowId name
  subtreeGroups(first: 50) { nodes { rowId name status
    membershipsByGroupId(first: 20, condition: { leftOn: null }) {
      nodes { memberByMemberId { rowId fullName phone affiliation } } }
    tasksByGroupId(first: 20, condition: { status: "OPEN" }, orderBy: [DUE_ON_ASC, PRIMARY_KEY_ASC]) {
      nodes { rowId title status dueOn progress } } } } } }""",
    "Q3": """query Q3($id: BigInt!) { benchCityDashboard(cityId: $id) }""",
    "Q4": """query Q4($id: BigInt!, $first: Int!) { adminUnitByRowId(rowId: $id) { rowId name
  subtreeGroups(first: $first) { nodes { rowId name kind status
    membershipsByGroupId(condition: { leftOn: null }) {
      nodes { memberByMemberId { rowId fullName phone affiliation } } } } } } }""",
    "Q5": """query Q5($search: String!) { benchSearchProducts(search: $search, first: 20) {
  totalCount pageInfo { hasNextPage endCursor }
  nodes { rowId name category ocopStars groupByGroupId { name }
    listingsByProductId(orderBy: [PLATFORM_ASC, PRIMARY_KEY_ASC]) { nodes { platform status } } } } }""",
    "Q6": """mutation Q6($input: CreateActivityInput!) { createActivity(input: $input) {
  activity { rowId } } }""",
}

# Fields of each CDTG document that need a database fetch: with batching (DataLoaders) each
# costs at most one statement however many rows it returns, so this count (plus
# PER_REQUEST_STATEMENTS) bounds "statements per request by nesting depth". Q6 is a mutation:
# its statements are fixed by the service (no nesting), reported without a bound.
FETCH_FIELDS = {
    "Q1": 4,  # group, unit, parent, parent
    "Q2": 4,  # adminUnit, groups, members, tasks
    # adminUnit; city stats: 4 families (groups, members, tasks, activities); targets; target
    # actuals over the target period: 2 families (activities, tasks); children; children;
    # ward stats: 4 families; statsBreakdown: 4 families + the row units
    "Q3": 19,
    "Q4": 5,  # adminUnit, page 1, page 2, members of page 1, members of page 2
    "Q5": 4,  # products, totalCount, group, listings
}
# The signed-in user joined to their scope, looked up once per request (one statement since
# d58a11d "Authenticate each request with one statement").
PER_REQUEST_STATEMENTS = 1


@dataclass
class Ids:
    city: int
    group: int
    ward: int
    district: int
    district_groups: int
    tasks: list[tuple[int, int]]  # (task row id, group row id)


def discover_ids(db: str) -> Ids:
    city = int(psql(db, "SELECT id FROM admin_units WHERE depth = 0 ORDER BY id LIMIT 1"))
    group = int(psql(db, """SELECT g.id FROM groups g JOIN admin_units u ON u.id = g.unit_id
        WHERE g.kind = 'COMMUNITY' AND u.depth = 3 ORDER BY g.id LIMIT 1"""))
    # The ward with the most groups (Q2 needs at least 50).
    ward = int(psql(db, """SELECT u.id FROM admin_units u JOIN groups g
        ON g.unit_path >= u.path AND g.unit_path < bench_path_hi(u.path)
        WHERE u.depth = 2 GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT 1"""))
    # The district with the fewest groups (but some): every group of it fits Q4 at scale 1.
    row = psql(db, """SELECT u.id, count(*) FROM admin_units u JOIN groups g
        ON g.unit_path >= u.path AND g.unit_path < bench_path_hi(u.path)
        WHERE u.depth = 1 GROUP BY u.id ORDER BY count(*), u.id LIMIT 1""")
    district, district_groups = (int(x) for x in row.split("|"))
    # Tasks that accept reports and whose progress counts residents helped.
    rows = psql(db, """SELECT id, group_id FROM tasks WHERE status = 'IN_PROGRESS'
        AND kind IN ('ONLINE_SAFETY', 'COMMUNICATION', 'SURVEY', 'OTHER') ORDER BY id LIMIT 32""")
    tasks = [tuple(int(x) for x in r.split("|")) for r in rows.splitlines()]
    return Ids(city, group, ward, district, district_groups, tasks)  # type: ignore[arg-type]


@dataclass
class Request:
    path: str
    body: dict
    token: str | None = None
    tasks: list[str] = field(default_factory=list)  # Q6: "<gid> <row> <group row>" lines


def build_requests(arm: str, ids: Ids, token: str | None, q4_cursor: str | None) -> dict[str, Request]:
    tasks = [f"{gid('Task', t)} {t} {g}" for t, g in ids.tasks]
    q4_first = min(ids.district_groups, Q4_CAP)
    if arm.startswith("cdtg"):
        pages = f"p1: groups(first: 100) {{ {CDTG_Q4_GROUP} }}"
        if q4_first > 100:
            pages += f' p2: groups(first: {q4_first - 100}, after: "{q4_cursor}") {{ {CDTG_Q4_GROUP} }}'
        else:
            pages = f"p1: groups(first: {q4_first}) {{ {CDTG_Q4_GROUP} }}"
        q4 = f"query Q4($id: ID!) {{ adminUnit(id: $id) {{ id name {pages} }} }}"

        def g(q: str, v: dict) -> Request:
            return Request("/graphql", {"query": q, "variables": v}, token)

        return {
            "Q1": g(CDTG_Q["Q1"], {"id": gid("Group", ids.group)}),
            "Q2": g(CDTG_Q["Q2"], {"id": gid("AdminUnit", ids.ward)}),
            "Q3": g(CDTG_Q["Q3"], {"id": gid("AdminUnit", ids.city)}),
            "Q4": g(q4, {"id": gid("AdminUnit", ids.district)}),
            "Q5": g(CDTG_Q["Q5"], {"search": SEARCH_TEXT}),
            "Q6": Request("/graphql", {"query": CDTG_Q["Q6"], "variables": {"input": {
                "idempotencyKey": "__KEY__", "taskId": "__TASK__", "occurredAt": OCCURRED_AT,
                "residentsHelped": 1}}}, token, tasks),
        }
    if arm == "floor":
        return {
            "Q1": Request("/q1", {"id": ids.group}),
            "Q2": Request("/q2", {"id": ids.ward}),
            "Q3": Request("/q3", {"id": ids.city}),
            "Q4": Request("/q4", {"id": ids.district, "first": q4_first}),
            "Q5": Request("/q5", {"search": SEARCH_FOLDED, "first": 20}),
            # ids are numbers in JSON: the Lua script substitutes the quoted placeholder text
            "Q6": Request("/q6", {"id": "__TASKROW__", "residents": 1, "occurred_at": OCCURRED_AT,
                                  "key": "__KEY__"}, None, tasks),
        }

    def p(q: str, v: dict) -> Request:
        return Request("/graphql", {"query": PG_Q[q], "variables": v})

    return {
        "Q1": p("Q1", {"id": str(ids.group)}),
        "Q2": p("Q2", {"id": str(ids.ward)}),
        "Q3": p("Q3", {"id": str(ids.city)}),
        "Q4": p("Q4", {"id": str(ids.district), "first": q4_first}),
        "Q5": p("Q5", {"search": SEARCH_FOLDED}),
        "Q6": Request("/graphql", {"query": PG_Q["Q6"], "variables": {"input": {"activity": {
            "taskId": "__TASKROW__", "groupId": "__GROUPROW__", "occurredAt": OCCURRED_AT,
            "residentsHelped": 1, "vneidActivations": 0, "progressDelta": "1",
            "idempotencyKey": "__KEY__", "requestHash": "bench", "createdAt": OCCURRED_AT}}}},
            None, tasks),
    }


def body_bytes(req: Request) -> str:
    text = json.dumps(req.body, ensure_ascii=False)
    # The floor's Q6 id is a JSON number: unquote its placeholder.
    return text.replace('"id": "__TASKROW__"', '"id": __TASKROW__')


# ------------------------------------------------------------------------------------------
# Content checks on one sample answer per arm and query: the same question gets the same
# figures from every arm (the floor, on the same data, is the reference).
# ------------------------------------------------------------------------------------------


def summarize(arm: str, q: str, ans: dict) -> dict:
    d = ans["data"]
    if arm == "postgraphile":
        if q == "Q1":
            g = d["groupByRowId"]
            return {"group": g["name"], "district": g["adminUnitByUnitId"]["adminUnitByParentId"]["adminUnitByParentId"]["name"]}
        if q == "Q2":
            gs = d["adminUnitByRowId"]["subtreeGroups"]["nodes"]
            return {"groups": len(gs), "members": sum(len(g["membershipsByGroupId"]["nodes"]) for g in gs),
                    "tasks": sum(len(g["tasksByGroupId"]["nodes"]) for g in gs)}
        if q == "Q3":
            return summarize("floor", q, d["benchCityDashboard"])
        if q == "Q4":
            gs = d["adminUnitByRowId"]["subtreeGroups"]["nodes"]
            return {"groups": len(gs), "members": sum(len(g["membershipsByGroupId"]["nodes"]) for g in gs)}
        if q == "Q5":
            c = d["benchSearchProducts"]
            return {"total": c["totalCount"], "nodes": len(c["nodes"]),
                    "listings": sum(len(n["listingsByProductId"]["nodes"]) for n in c["nodes"])}
        if q == "Q6":
            return {"created": bool(d["createActivity"]["activity"]["rowId"])}
    # CDTG and the floor share the answer's shape.
    if q == "Q1":
        g = d["group"]
        return {"group": g["name"], "district": g["unit"]["parent"]["parent"]["name"]}
    if q == "Q2":
        gs = d["adminUnit"]["groups"]["nodes"]
        return {"groups": len(gs), "members": sum(len(g["members"]["nodes"]) for g in gs),
                "tasks": sum(len(g["tasks"]["nodes"]) for g in gs)}
    if q == "Q3":
        u = d["adminUnit"]
        s = u["stats"]
        wards = [w for c in u["children"]["nodes"] for w in c["children"]["nodes"]]
        rows = d["districts"]["rows"]
        return {"groups": s["groups"], "members": s["members"], "residentsHelped": s["residentsHelped"],
                "tasksDone": s["tasksDone"], "targets": len(s["targets"]),
                "districts": len(rows), "district_groups": sum(r["stats"]["groups"] for r in rows),
                "wards": len(wards), "ward_members": sum(w["stats"]["members"] for w in wards)}
    if q == "Q4":
        u = d["adminUnit"]
        gs = [g for k, v in u.items() if k in ("groups", "p1", "p2") for g in v["nodes"]]
        return {"groups": len(gs), "members": sum(len(g["members"]["nodes"]) for g in gs)}
    if q == "Q5":
        c = d["products"]
        return {"total": c["totalCount"], "nodes": len(c["nodes"]),
                "listings": sum(len(n["listings"]) for n in c["nodes"])}
    return {"created": bool(d["reportActivity"]["activity"]["id"])}


def sample_check(arm: str, q: str, base: str, req: Request, ids: Ids) -> dict:
    """Sends one request (Q6: with a fresh key) and returns the summary of its answer."""
    text = body_bytes(req)
    if req.tasks:
        t, g = ids.tasks[0]
        text = (text.replace("__KEY__", f"sample-{arm}-{time.time_ns()}")
                .replace("__TASKROW__", str(t)).replace("__GROUPROW__", str(g))
                .replace("__TASK__", gid("Task", t)))
    r = urllib.request.Request(base + req.path, data=text.encode(), method="POST")
    r.add_header("Content-Type", "application/json")
    if req.token:
        r.add_header("Authorization", f"Bearer {req.token}")
    with urllib.request.urlopen(r, timeout=60) as resp:
        ans = json.loads(resp.read())
    if "errors" in ans:
        raise RuntimeError(f"{arm} {q}: errors in the sample answer: {json.dumps(ans)[:500]}")
    return summarize(arm, q, ans)


def alone_ms(base: str, req: Request, n: int = 15) -> list[float]:
    """Latency of `n` requests sent one after another (no concurrent load), in ms: what one
    dashboard costs when it is the only thing the server does ("per dashboard")."""
    text = body_bytes(req).encode()
    out = []
    for _ in range(n):
        r = urllib.request.Request(base + req.path, data=text, method="POST")
        r.add_header("Content-Type", "application/json")
        if req.token:
            r.add_header("Authorization", f"Bearer {req.token}")
        t0 = time.perf_counter()
        with urllib.request.urlopen(r, timeout=60) as resp:
            body = resp.read()
        out.append((time.perf_counter() - t0) * 1000)
        if b'"errors"' in body:
            raise RuntimeError(f"{base}{req.path}: errors in an answer: {body[:300]!r}")
    return out


# ------------------------------------------------------------------------------------------
# Arms
# ------------------------------------------------------------------------------------------


@dataclass
class Arm:
    name: str
    db: str  # "postgres" | "sqlite"
    proc: subprocess.Popen
    base: str
    requests: dict[str, Request]
    pg_db: str | None  # the PostgreSQL database it reads, for backend CPU and xact counts

    def pids(self) -> list[int]:
        return [self.proc.pid]


# The CDTG arm's pool on PostgreSQL, sized to this machine: two cores that PostgreSQL shares
# with every arm and with wrk. Sixteen connections (the server's default, meant for a database
# on a host of its own) let eight concurrent reports queue on the rollup rows inside PostgreSQL,
# where every waiter costs a backend's context switches; eight keep Q2's parallel nested pages
# supplied (four starved them). The measurements: bench/README.md, "Where a report waits, and a
# pool sized to the machine".
CDTG_PG_POOL = "8"


def cdtg_env(url: str, port: int) -> dict[str, str]:
    env = {
        "DATABASE_URL": url, "CDTG_BIND": f"127.0.0.1:{port}", "CDTG_JWT_SECRET": JWT_SECRET,
        # Benchmarks measure throughput, not the abuse limits: both limits off (RESULTS.md says so).
        "CDTG_RATE_LIMIT_PER_USER": "0", "CDTG_RATE_LIMIT_PER_ADDRESS": "0",
        # One token for the whole run.
        "CDTG_ACCESS_TOKEN_TTL_SECS": "86400",
        "CDTG_LOG_FORMAT": "text",
    }
    if url.startswith("postgres"):
        env["CDTG_DB_MAX_CONNECTIONS"] = CDTG_PG_POOL
    return env


def login(base: str) -> str:
    ans = post(base + "/graphql", {"query": 'mutation { login(input: {username: "admin", password: "demo-password"}) { accessToken } }'})
    return ans["data"]["login"]["accessToken"]


def set_targets(base: str, token: str, city: int) -> None:
    """The city's targets for 2026, so the dashboard's `targets` has something to compute."""
    for indicator, value in (("RESIDENTS_HELPED", 300000), ("VNEID_ACTIVATIONS", 40000), ("TASKS_DONE", 4000)):
        ans = post(base + "/graphql", {"query": """mutation($i: SetUnitTargetInput!) {
            setUnitTarget(input: $i) { __typename } }""", "variables": {"i": {
            "unitId": gid("AdminUnit", city), "indicator": indicator, "periodStart": "2026-01-01",
            "periodEnd": "2026-12-31", "targetValue": value}}}, token)
        if "errors" in ans:
            raise RuntimeError(f"setUnitTarget: {ans['errors']}")


def q4_cursor(base: str, token: str, district: int) -> str | None:
    ans = post(base + "/graphql", {"query": """query($id: ID!) { adminUnit(id: $id) {
        groups(first: 100) { pageInfo { endCursor } } } }""", "variables": {"id": gid("AdminUnit", district)}}, token)
    return ans["data"]["adminUnit"]["groups"]["pageInfo"]["endCursor"]


# ------------------------------------------------------------------------------------------
# Measurement
# ------------------------------------------------------------------------------------------


def pg_backend_pids(db: str) -> list[int]:
    out = psql(db, f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}' AND pid <> pg_backend_pid()")
    return [int(x) for x in out.split()]


def pg_xacts(db: str) -> int:
    return int(psql(db, f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{db}'"))


def cdtg_statements(base: str) -> int | None:
    try:
        text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    except OSError:
        return None
    m = re.search(r"^cdtg_db_statements_total (\d+)", text, re.M)
    return int(m.group(1)) if m else None


# How long wrk waits for one response before counting it as failed. At scale 1 every arm
# answers in milliseconds, and 10 s means something is wrong. Above it the comparison arms'
# dashboards take 7–17 s each on a slow day (the floor's and PostGraphile's Q3 at scale 100):
# a 10 s limit turned those slow answers into failures and the arms' figures into nothing, so
# large runs wait a minute and measure them.
WRK_TIMEOUT_S = {"small": 10, "large": 60}


def run_wrk(arm: Arm, q: str, seconds: int, conns: int, workdir: Path, tag: str,
            timeout_s: int = WRK_TIMEOUT_S["small"]) -> dict:
    req = arm.requests[q]
    bodyf = workdir / f"body-{arm.name}-{q}.json"
    bodyf.write_text(body_bytes(req))
    env = {"BENCH_BODY_FILE": str(bodyf), "BENCH_KEY_PREFIX": f"{tag}-{time.time_ns()}"}
    if req.token:
        env["BENCH_AUTH"] = f"Bearer {req.token}"
    if req.tasks:
        tf = workdir / f"tasks-{arm.name}.txt"
        tf.write_text("\n".join(req.tasks) + "\n")
        env["BENCH_TASKS_FILE"] = str(tf)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", f"{timeout_s}s",
         "-s", str(BENCH / "lua" / "graphql.lua"), arm.base + req.path],
        env={**os.environ, **env}, capture_output=True, text=True,
        timeout=seconds + timeout_s + 60,
    )
    m = re.search(r"^BENCH_RESULT (.*)$", out.stdout, re.M)
    if not m:
        raise RuntimeError(f"wrk printed no result for {arm.name} {q}:\n{out.stdout}\n{out.stderr}")
    return json.loads(m.group(1))


def measured_run(arm: Arm, q: str, seconds: int, conns: int, workdir: Path, tag: str,
                 timeout_s: int = WRK_TIMEOUT_S["small"]) -> dict:
    pid = arm.proc.pid
    reset_peak_rss(pid)
    stm0 = cdtg_statements(arm.base) if arm.name.startswith("cdtg") else None
    x0 = pg_xacts(arm.pg_db) if arm.pg_db else None
    c0 = cpu_ms([pid])
    pg0 = cpu_ms_each(pg_backend_pids(arm.pg_db)) if arm.pg_db else {}
    r = run_wrk(arm, q, seconds, conns, workdir, tag, timeout_s)
    # wrk has stopped, but the server may still be answering requests that were in flight:
    # wait until it is idle, so their cost lands in this run and not in the next arm's.
    quiesce(arm)
    c1 = cpu_ms([pid])
    pg1 = cpu_ms_each(pg_backend_pids(arm.pg_db)) if arm.pg_db else {}
    rss = peak_rss_mb(pid)
    stm1 = cdtg_statements(arm.base) if stm0 is not None else None
    n = max(r["responses"], 1)
    res = {
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
        "requests": r["requests"], "responses": r["responses"],
        "failures": r["non200"] + r["error_bodies"] + r["socket_errors"] + r["timeouts"],
        "non200": r["non200"], "error_bodies": r["error_bodies"],
        "socket_errors": r["socket_errors"], "timeouts": r["timeouts"], "sample": r["sample"],
        "cpu_ms_per_req": (c1 - c0) / n,
        "pg_cpu_ms_per_req": cpu_delta_ms(pg0, pg1) / n if arm.pg_db else None,
        "rss_mb": rss,
        "stmts_per_req": (stm1 - stm0) / n if stm1 is not None and stm0 is not None else None,
    }
    res["xacts_per_req"] = (pg_xacts(arm.pg_db) - x0) / n if arm.pg_db else None
    return res


def pg_active(db: str) -> int:
    """Statements running on `db` now (this probe's own session aside)."""
    return int(psql(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state = 'active' AND pid <> pg_backend_pid()"))


def quiesce(arm: Arm) -> None:
    """Waits until the arm's database counters stop moving: the server has finished the
    requests still in flight when wrk stopped, and PostgreSQL backends, which publish their
    counters at most once a second, have published them. On PostgreSQL it first waits (at most
    a minute) for the statements still running: a comparison arm's dashboard at scale 100 runs
    for seconds after wrk has gone, and would otherwise load the next arm's run."""
    if arm.pg_db:
        for _ in range(120):
            if pg_active(arm.pg_db) == 0:
                break
            time.sleep(0.5)

    def probe():
        if arm.pg_db:
            return pg_xacts(arm.pg_db)
        return cdtg_statements(arm.base)

    last = probe()
    for _ in range(5):
        time.sleep(1.0)
        now = probe()
        if now == last:
            return
        last = now


# ------------------------------------------------------------------------------------------
# One scale: seed, start, check, load
# ------------------------------------------------------------------------------------------


def seed(args, scale: int, dbs: list[str], workdir: Path) -> tuple[str, Path, dict]:
    """Seeds fresh databases; returns them and, per database, the seed's time and peak RSS and
    the time of a full rollup rebuild and check."""
    pg_db = f"cdtg_bench_s{scale}"
    seeding: dict = {}
    sqlite = workdir / f"cdtg_bench_s{scale}.sqlite"
    if "postgres" in dbs:
        log(f"seeding PostgreSQL {pg_db} at scale {scale}")
        sh(["psql", f"{PG_TCP}/postgres", "-AtXq", "-c", f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"])
        sh(["psql", f"{PG_TCP}/postgres", "-AtXq", "-c", f"CREATE DATABASE {pg_db}"])
        seeding["postgres"] = seed_and_check(args, scale, f"{PG_TCP}/{pg_db}")
        sh(["psql", f"{PG_TCP}/{pg_db}", "-v", "ON_ERROR_STOP=1", "-AtXq", "-f", str(BENCH / "sql" / "setup.sql")])
        # PostGraphile's dashboard: the floor's own Q3 statement as a function (closest honest
        # equivalent: PostGraphile has no aggregates in the amber preset).
        q3 = (BENCH / "floor" / "sql" / "q3.sql").read_text().replace("$1", "city_id")
        sh(["psql", f"{PG_TCP}/{pg_db}", "-v", "ON_ERROR_STOP=1", "-AtXq", "-c",
            "CREATE OR REPLACE FUNCTION bench_city_dashboard(city_id bigint) RETURNS json "
            f"LANGUAGE sql STABLE AS $fn$ SELECT ({q3})::json $fn$"])
        sh(["psql", f"{PG_TCP}/{pg_db}", "-AtXq", "-c", "VACUUM ANALYZE"])
    if "sqlite" in dbs:
        log(f"seeding SQLite {sqlite} at scale {scale}")
        for suffix in ("", "-wal", "-shm"):
            Path(str(sqlite) + suffix).unlink(missing_ok=True)
        seeding["sqlite"] = seed_and_check(args, scale, f"sqlite://{sqlite}?mode=rwc")
    return pg_db, sqlite, seeding


def seed_and_check(args, scale: int, url: str) -> dict:
    """`cdtg seed demo`, then `migrate rebuild-rollups` and `migrate verify-rollups`: the
    maintenance paths at this scale, timed."""
    seconds, rss = sh_measured([args.cdtg, "seed", "demo", "--scale", str(scale), "--database-url", url])
    log(f"  seeded in {seconds:.0f} s, peak RSS {rss:.0f} MB")
    rebuild, rebuild_rss = sh_measured([args.cdtg, "migrate", "rebuild-rollups", "--database-url", url])
    log(f"  rollups rebuilt in {rebuild:.0f} s, peak RSS {rebuild_rss:.0f} MB")
    verify, _ = sh_measured([args.cdtg, "migrate", "verify-rollups", "--database-url", url])
    log(f"  rollups verified equal to the facts in {verify:.0f} s")
    return {"seed_s": round(seconds, 1), "seed_rss_mb": round(rss), "rebuild_s": round(rebuild, 1),
            "rebuild_rss_mb": round(rebuild_rss), "verify_s": round(verify, 1)}


def start_arms(args, dbs: list[str], arms_wanted: list[str], pg_db: str, sqlite: Path,
               workdir: Path) -> tuple[list[Arm], Ids]:
    pg_socket_url = f"postgres://postgres@localhost/{pg_db}?host={PG_SOCKET_DIR}"
    ids = discover_ids(pg_db) if "postgres" in dbs else None
    arms: list[Arm] = []
    procs: dict[str, tuple[subprocess.Popen, str]] = {}
    want = [a for a in arms_wanted if (a == "cdtg-sqlite") == False or "sqlite" in dbs]
    want = [a for a in want if a == "cdtg-sqlite" or "postgres" in dbs]
    for name in want:
        port = PORTS[name]
        base = f"http://127.0.0.1:{port}"
        if name == "cdtg-pg":
            p = start(name, [args.cdtg, "serve"], cdtg_env(pg_socket_url, port), workdir)
            wait_http(base + "/metrics", p)
        elif name == "cdtg-sqlite":
            p = start(name, [args.cdtg, "serve"], cdtg_env(f"sqlite://{sqlite}?mode=rwc", port), workdir)
            wait_http(base + "/metrics", p)
        elif name == "floor":
            p = start(name, [args.floor], {"FLOOR_DATABASE_URL": pg_socket_url, "FLOOR_BIND": f"127.0.0.1:{port}"}, workdir)
            wait_http(base + "/q1", p)
        else:
            node_bin = Path(args.node_dir) / "node_modules" / ".bin"
            p = start(name, [str(node_bin / "node"), str(node_bin / "postgraphile"),
                             "-P", "postgraphile/presets/amber",
                             "-c", f"postgres://postgres@localhost/{pg_db}?host={PG_SOCKET_DIR}",
                             "-s", "public", "-n", "127.0.0.1", "-p", str(port)],
                      {"PATH": f"{node_bin}:{os.environ['PATH']}", "NODE_ENV": "production",
                       "GRAPHILE_ENV": "production"}, workdir, cwd=Path(args.node_dir))
            wait_http(base + "/graphql", p)
        procs[name] = (p, base)
    if ids is None:
        raise RuntimeError("the ids are read from PostgreSQL: include it (BENCH_DBS) or extend discover_ids")
    # Targets and the Q4 cursor come from CDTG itself.
    cursor = None
    for name in ("cdtg-pg", "cdtg-sqlite"):
        if name in procs:
            _, base = procs[name]
            token = login(base)
            set_targets(base, token, ids.city)
            cursor = q4_cursor(base, token, ids.district)
            arms.append(Arm(name, "sqlite" if name.endswith("sqlite") else "postgres", procs[name][0], base,
                            build_requests(name, ids, token, cursor), None if name.endswith("sqlite") else pg_db))
    if "cdtg-pg" not in procs and "postgres" in dbs:
        # The floor and PostGraphile read the targets too: set them in SQL the same way.
        psql(pg_db, f"""INSERT INTO unit_targets (unit_id, indicator, period_start, period_end, target_value, created_at, updated_at)
            SELECT {ids.city}, i, '2026-01-01', '2026-12-31', v, now(), now()
            FROM (VALUES ('RESIDENTS_HELPED', 300000), ('VNEID_ACTIVATIONS', 40000), ('TASKS_DONE', 4000)) t(i, v)
            ON CONFLICT DO NOTHING""")
    for name in ("floor", "postgraphile"):
        if name in procs:
            arms.append(Arm(name, "postgres", procs[name][0], procs[name][1],
                            build_requests(name, ids, None, cursor), pg_db))
    order = {n: i for i, n in enumerate(ARMS_PG + ["cdtg-sqlite"])}
    arms.sort(key=lambda a: order[a.name])
    return arms, ids


def run_scale(args, scale: int, workdir: Path) -> tuple[list[dict], dict, list[str]]:
    dbs = args.dbs
    # Above scale 1, only the queries whose growth with the data is the question (the dashboard).
    queries = args.queries if scale == 1 else [q for q in args.queries if q in args.large_queries]
    # A dashboard over ten times the data takes about a second alone: 8 connections for 5 s
    # complete nothing (each request waits behind seven others). Fewer connections, longer runs.
    duration, connections = ((args.duration, args.connections) if scale == 1
                             else (max(args.duration, args.large_duration), args.large_connections))
    wrk_timeout = WRK_TIMEOUT_S["small" if scale == 1 else "large"]
    pg_db, sqlite, seeding = seed(args, scale, dbs, workdir)
    arms, ids = start_arms(args, dbs, args.arms, pg_db, sqlite, workdir)
    problems: list[str] = []
    # Same question, same answer: every arm's sample summary against the floor's (or CDTG-PG's).
    checks: dict = {}
    single_statements: dict[tuple[str, str], int] = {}
    for q in queries:
        sums = {}
        for a in arms:
            # CDTG's statements for exactly one request, alone (under load, requests in flight
            # at the start and end of a run blur the per-request delta of slow queries).
            s0 = cdtg_statements(a.base) if a.name.startswith("cdtg") else None
            sums[a.name] = sample_check(a.name, q, a.base, a.requests[q], ids)
            if s0 is not None:
                single_statements[(a.name, q)] = cdtg_statements(a.base) - s0
        ref_name = "floor" if "floor" in sums else next(iter(sums))
        ref = sums[ref_name]
        for name, summ in sums.items():
            common = {k: v for k, v in summ.items() if k in ref}
            diff = {k: (v, ref[k]) for k, v in common.items() if v != ref[k]}
            # PostGraphile's Q5 matches on the folded name like the others: the same totals.
            if diff and q != "Q6":
                problems.append(f"scale {scale} {q}: {name} differs from {ref_name}: {diff}")
        checks[q] = sums
        log(f"  {q} answers: " + "; ".join(f"{n}={s}" for n, s in sums.items()))
    if args.expect_q2_groups and "Q2" in checks:
        for name, s in checks["Q2"].items():
            if s.get("groups") != 50:
                problems.append(f"scale {scale} Q2: {name} returned {s.get('groups')} groups, not 50")
    rows: list[dict] = []
    alone: dict[str, list[float]] = {}
    tag = f"s{scale}"
    for q in queries:
        # Warm-up: every arm, untimed (caches, prepared statements, JIT).
        for a in arms:
            run_wrk(a, q, args.warmup, connections, workdir, f"{tag}-warm-{a.name}", wrk_timeout)
            quiesce(a)
        if q == "Q3":
            for a in arms:
                alone[a.name] = alone_ms(a.base, a.requests[q])
                log(f"  s{scale} Q3 alone {a.name:12s} median {statistics.median(alone[a.name]):.1f} ms")
        for rnd in range(1, args.rounds + 1):
            # Interleaved A/B/C/D, rotating who goes first, so drift hits every arm alike.
            k = (rnd - 1) % len(arms)
            for a in arms[k:] + arms[:k]:
                la = load_average()
                r = measured_run(a, q, duration, connections, workdir, f"{tag}-{a.name}-{q}-{rnd}",
                                 wrk_timeout)
                r.update({"scale": scale, "db": a.db, "arm": a.name, "query": q, "round": rnd, "loadavg": la})
                rows.append(r)
                log(f"  s{scale} {q} r{rnd} {a.name:12s} {r['rps']:8.1f} req/s p99 {r['p99_ms']:7.1f} ms "
                    f"cpu {r['cpu_ms_per_req']:.2f} ms/req rss {r['rss_mb']:.0f} MB"
                    + (f" stmts {r['stmts_per_req']:.2f}" if r["stmts_per_req"] is not None else "")
                    + (f" xacts {r['xacts_per_req']:.2f}" if r["xacts_per_req"] is not None else "")
                    + (f" FAILURES {r['failures']}: {r['sample']}" if r["failures"] else ""))
                if r["failures"]:
                    problems.append(f"scale {scale} {q} {a.name} round {rnd}: {r['failures']} failed "
                                    f"responses (non-200 {r['non200']}, error bodies {r['error_bodies']}, "
                                    f"socket {r['socket_errors']}, timeouts {r['timeouts']}): {r['sample']}")
    for a in arms:
        stop(a.proc)
    info = {"ids": ids.__dict__, "checks": checks, "q4_first": min(ids.district_groups, Q4_CAP),
            "single_statements": {f"{a}|{q}": n for (a, q), n in single_statements.items()},
            "q3_alone_ms": alone, "seeding": seeding}
    return rows, info, problems


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def main() -> int:
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default=env("BENCH_SCALES", "1"), help="comma-separated, e.g. 1,10,100")
    ap.add_argument("--dbs", default=env("BENCH_DBS", "postgres,sqlite"))
    ap.add_argument("--arms", default=env("BENCH_ARMS", "cdtg-pg,floor,postgraphile,cdtg-sqlite"))
    ap.add_argument("--queries", default=env("BENCH_QUERIES", ",".join(ALL_QUERIES)))
    ap.add_argument("--large-queries", default=env("BENCH_LARGE_QUERIES", "Q3"),
                    help="the queries run at scales above 1 (default: the dashboard, Q3)")
    ap.add_argument("--large-connections", type=int, default=int(env("BENCH_LARGE_CONNECTIONS", "2")),
                    help="wrk connections above scale 1")
    ap.add_argument("--large-duration", type=int, default=int(env("BENCH_LARGE_DURATION", "15")),
                    help="seconds per measured run above scale 1 (at least --duration)")
    ap.add_argument("--duration", type=int, default=int(env("BENCH_DURATION", "5")), help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=int(env("BENCH_WARMUP", "2")), help="seconds of warm-up per arm and query")
    ap.add_argument("--rounds", type=int, default=int(env("BENCH_ROUNDS", "3")))
    ap.add_argument("--connections", type=int, default=int(env("BENCH_CONNECTIONS", "8")))
    ap.add_argument("--cdtg", default=env("CDTG_BIN", "/var/tmp/cdtg-target/release/cdtg"))
    ap.add_argument("--floor", default=env("FLOOR_BIN", "/var/tmp/cdtg-target/release/cdtg-bench-floor"))
    ap.add_argument("--node-dir", default=env("BENCH_NODE_DIR", "/var/tmp/cdtg-bench-node"))
    ap.add_argument("--workdir", default=env("BENCH_WORKDIR", "/var/tmp/cdtg-bench/run"))
    ap.add_argument("--out", default=env("BENCH_OUT", str(BENCH)))
    args = ap.parse_args()
    args.scales = [int(s) for s in args.scales.split(",") if s]
    args.dbs = [d for d in args.dbs.split(",") if d]
    args.arms = [a for a in args.arms.split(",") if a]
    args.queries = [q for q in args.queries.split(",") if q]
    args.large_queries = [q for q in args.large_queries.split(",") if q]
    args.expect_q2_groups = True
    if args.rounds < 3:
        log("note: fewer than 3 rounds: medians are weak")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    # Made now, not at the end: a missing --out directory must not throw away an hour's run.
    out.mkdir(parents=True, exist_ok=True)

    started = time.time()
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load_start": load_average(),
            "args": {k: v for k, v in vars(args).items() if k not in ("cdtg", "floor", "node_dir", "workdir", "out")},
            "cpus": os.cpu_count(), "git": sh(["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"]).strip()}
    all_rows, infos, problems = [], {}, []
    for scale in args.scales:
        rows, info, probs = run_scale(args, scale, workdir)
        all_rows += rows
        infos[scale] = info
        problems += probs
    meta["load_end"] = load_average()
    meta["elapsed_s"] = round(time.time() - started)
    result = {"meta": meta, "rows": all_rows, "infos": {str(k): v for k, v in infos.items()}, "problems": problems}
    (out / "results.json").write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    import report  # bench/report.py: RESULTS.md and the chart
    report.write(result, out)
    log(f"done in {meta['elapsed_s']} s; RESULTS.md and results.png written to {out}")
    if problems:
        log("PROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    sys.exit(main())
