#!/usr/bin/env python3
"""deploy/check.py — the end-to-end fault checks of the local topology (run by deploy/check.sh).

Standard library only. Each check is a function below; `deploy/check.sh [names…]` runs all of
them or the ones named (by letter or by name), then prints a summary table. The exit status is 1
when any check failed.

  a demo      the demo answers through the balancer; a token from one instance works on all
  b kill      kill -9 one instance under load: failures at most the requests in flight
  c retry     field reports sent, an instance killed among them, the set sent again: each
              idempotency key stored exactly once
  d events    a subscriber on one instance receives task events of writes made on every instance
  e login     wrong passwords spread over the instances share one login budget
  f replica   reads go to the replica, fall back to the primary while it is down, and return
  g primary   after a primary restart, and a 5 s stop, every instance recovers by itself
  h resume    a subscriber whose instance is killed resubscribes elsewhere with `after:` and
              receives every event it missed
"""

import base64
import signal
import csv
import io
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import http.client
from datetime import datetime, timedelta, timezone

DEPLOY_DIR = os.path.dirname(os.path.abspath(__file__))
RUN_DIR = os.path.join(DEPLOY_DIR, ".run")
PASSWORD = "demo-password"
RUN_ID = f"{int(time.time())}-{random.randrange(16**4):04x}"


def load_settings():
    path = os.path.join(RUN_DIR, "settings.env")
    if not os.path.exists(path):
        sys.exit("error: no topology in deploy/.run; start it with deploy/up.sh")
    settings = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("=")
            if key:
                settings[key] = value
    return settings


S = load_settings()
LB = int(S["LB_PORT"])
STATS = int(S["STATS_PORT"])
PORTS = [int(p) for p in S["INSTANCE_PORTS"].split(",")]
PG_BINDIR = S["PG_BINDIR"]


# --- output -------------------------------------------------------------------------------------


class CheckFailed(Exception):
    pass


class Recorder:
    """What one check measured and expected."""

    def __init__(self, name):
        self.name = name
        self.failures = []
        self.summary = ""

    def note(self, text):
        print(f"    {text}", flush=True)

    def expect(self, condition, text):
        mark = "ok  " if condition else "FAIL"
        print(f"  {mark} {text}", flush=True)
        if not condition:
            self.failures.append(text)
        return condition

    def require(self, condition, text):
        if not self.expect(condition, text):
            raise CheckFailed(text)


# --- HTTP and GraphQL ---------------------------------------------------------------------------


class Reply:
    def __init__(self, status, headers, body, error, started, ended):
        self.status = status
        self.headers = headers
        self.body = body
        self.error = error
        self.started = started
        self.ended = ended
        self.worker = None

    @property
    def instance(self):
        return self.headers.get("x-cdtg-instance", "")

    def ok(self):
        """HTTP 200 with `data` and without `errors`."""
        return (
            self.status == 200
            and isinstance(self.body, dict)
            and self.body.get("data") is not None
            and not self.body.get("errors")
        )

    def code(self):
        errors = (self.body or {}).get("errors") or [{}]
        return (errors[0].get("extensions") or {}).get("code")

    def describe(self):
        if self.error:
            return f"no answer: {self.error}"
        text = json.dumps(self.body, ensure_ascii=False) if self.body is not None else ""
        return f"HTTP {self.status} {text[:200]}"


def request(port, method, path, body=None, headers=None, timeout=20):
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        raw = res.read()
        reply_headers = {k.lower(): v for k, v in res.getheaders()}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return Reply(res.status, reply_headers, parsed, None, started, time.monotonic())
    except (OSError, http.client.HTTPException) as e:
        return Reply(0, {}, None, f"{type(e).__name__}: {e}", started, time.monotonic())
    finally:
        conn.close()


def gql(port, query, variables=None, token=None, headers=None, timeout=20):
    h = {"content-type": "application/json", "accept": "application/json"}
    if token:
        h["authorization"] = f"Bearer {token}"
    h.update(headers or {})
    body = json.dumps({"query": query, "variables": variables or {}})
    return request(port, "POST", "/graphql", body, h, timeout)


def data_of(reply, what):
    if not reply.ok():
        raise CheckFailed(f"{what}: {reply.describe()}")
    return reply.body["data"]


_tokens = {}


def token(user, port=None):
    """An access token for a demo account (cached for ten minutes; they live fifteen)."""
    port = port or LB
    cached = _tokens.get((user, port))
    if cached and time.monotonic() - cached[1] < 600:
        return cached[0]
    r = gql(
        port,
        "mutation($u: String!, $p: String!) { login(input: { username: $u, password: $p }) { accessToken } }",
        {"u": user, "p": PASSWORD},
        timeout=60,
    )
    t = data_of(r, f"login as {user}")["login"]["accessToken"]
    _tokens[(user, port)] = (t, time.monotonic())
    return t


def readyz(port):
    return request(port, "GET", "/readyz", timeout=3).status


def metrics(port):
    """The instance's /metrics as {'name{labels}': value}."""
    r = request(port, "GET", "/metrics", timeout=5)
    if r.status != 200:
        raise CheckFailed(f"/metrics on {port}: {r.describe()}")
    text = r.body if isinstance(r.body, str) else ""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values


# --- the topology -------------------------------------------------------------------------------


def haproxy_status():
    """{'cdtg-1': 'UP', …} from the stats page's CSV."""
    r = request(STATS, "GET", "/;csv", timeout=3)
    if r.status != 200 or not isinstance(r.body, str):
        return {}
    rows = csv.DictReader(io.StringIO(r.body.lstrip("# ")))
    return {
        row["svname"]: row["status"]
        for row in rows
        if row.get("pxname") == "cdtg_instances" and row.get("svname", "").startswith("cdtg-")
    }


def haproxy_retries():
    """HAProxy's counts of retried and redispatched requests for the instances' backend."""
    r = request(STATS, "GET", "/;csv", timeout=3)
    if r.status != 200 or not isinstance(r.body, str):
        return (0, 0)
    for row in csv.DictReader(io.StringIO(r.body.lstrip("# "))):
        if row.get("pxname") == "cdtg_instances" and row.get("svname") == "BACKEND":
            return (int(row.get("wretr") or 0), int(row.get("wredis") or 0))
    return (0, 0)


def instances_answering(wanted, attempts=30):
    """The instances that answer `{ __typename }` through the balancer, asking until every one
    of `wanted` has answered or `attempts` requests were made (HAProxy's round robin may give a
    server that just came back its first turn only after a while)."""
    seen = set()
    for _ in range(attempts):
        seen.add(gql(LB, "{ __typename }").instance)
        if wanted <= seen:
            break
    return seen


def wait_until(predicate, seconds, interval=0.1):
    """Seconds until predicate() held, or None after `seconds`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            return None
        time.sleep(interval)


def instance_pid(n):
    try:
        with open(os.path.join(RUN_DIR, f"cdtg-{n}.pid"), encoding="ascii") as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if "cdtg" in cmdline and "serve" in cmdline else None


def start_instance(n):
    r = subprocess.run(
        [os.path.join(DEPLOY_DIR, "up.sh"), "--instance", str(n)],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        raise CheckFailed(f"up.sh --instance {n} failed:\n{r.stdout}{r.stderr}")


def ensure_topology():
    """Every instance running and in rotation (an earlier check may have left one down)."""
    for n in range(1, len(PORTS) + 1):
        if instance_pid(n) is None:
            print(f"    (cdtg-{n} is not running; starting it)")
            start_instance(n)
    names = [f"cdtg-{n}" for n in range(1, len(PORTS) + 1)]
    if wait_until(lambda: all(haproxy_status().get(s) == "UP" for s in names), 30) is None:
        raise CheckFailed(f"not every instance is in rotation: {haproxy_status()}")


def pg_ctl(*args):
    cmd = [os.path.join(PG_BINDIR, "pg_ctl"), *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    # Not a pipe: a server that pg_ctl starts inherits its output and would hold a pipe open.
    with tempfile.TemporaryFile() as out:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False)
        if r.returncode != 0:
            out.seek(0)
            raise CheckFailed(f"pg_ctl {' '.join(args)}: {out.read().decode(errors='replace')}")


# --- load ---------------------------------------------------------------------------------------


class Load:
    """Workers sending a read query through the balancer in a loop, each as its own user."""

    def __init__(self, query, users, pace=0.05, port=None):
        self.query = query
        self.users = users
        self.pace = pace
        self.port = port or LB
        self.replies = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []

    def __enter__(self):
        tokens = [token(u) for u in self.users]
        for i, t in enumerate(tokens):
            th = threading.Thread(target=self.work, args=(i, t), daemon=True)
            th.start()
            self.threads.append(th)
        return self

    def work(self, worker, tok):
        while not self.stopping.is_set():
            r = gql(self.port, self.query, token=tok)
            r.worker = worker
            with self.lock:
                self.replies.append(r)
            time.sleep(self.pace)

    def __exit__(self, *exc):
        self.stopping.set()
        for th in self.threads:
            th.join(60)

    def failed(self):
        return [r for r in self.replies if not r.ok()]

    def in_flight(self, at, grace=0.05):
        """Workers with a request under way at `at`: started before it (or within `grace` after
        it, while a killed process is still going away) and not yet answered."""
        return len({r.worker for r in self.replies if r.started <= at + grace and r.ended > at})

    def by_instance(self):
        counts = {}
        for r in self.replies:
            counts[r.instance or "?"] = counts.get(r.instance or "?", 0) + 1
        return dict(sorted(counts.items()))


READ_QUERY = "{ groups(first: 5) { totalCount nodes { id name } } }"
STATS_QUERY = """{ adminUnits(filter: { search: "phuoc my" }) {
  nodes { name stats { groups members activities residentsHelped } } } }"""
LOAD_USERS = ["admin", "sontra", "phuocmy", "tanchinh"]


def report_failures(rec, failed):
    for r in failed[:5]:
        rec.note(f"failed: {r.describe()} (instance {r.instance or '?'})")


# --- field work ---------------------------------------------------------------------------------

LEADER = "phuocmy-leader"


def leader_group(port=None):
    d = data_of(gql(port or LB, "{ me { scopeGroup { id name } } }", token=token(LEADER)), "me")
    group = d["me"]["scopeGroup"]
    if not group:
        raise CheckFailed(f"{LEADER} has no group")
    return group


def new_task(title):
    """A fresh VNEID_ACTIVATION task in the group leader's group."""
    group = leader_group()
    d = data_of(
        gql(
            LB,
            """mutation($g: ID!, $t: String!) { createTask(input: {
                 groupId: $g, title: $t, kind: VNEID_ACTIVATION, target: 100000 }) { task { id } } }""",
            {"g": group["id"], "t": title},
            token=token(LEADER),
        ),
        "createTask",
    )
    return group, d["createTask"]["task"]["id"]


REPORT = """mutation($i: ReportActivityInput!) { reportActivity(input: $i) {
  created activity { id idempotencyKey } task { id progress } } }"""


def report_input(task_id, key, count, occurred_at):
    return {
        "idempotencyKey": key,
        "taskId": task_id,
        "occurredAt": occurred_at,
        "residentsHelped": count,
        "outcomes": [{"kind": "VNEID_ACTIVATED", "count": count}],
        "note": "deploy/check.sh",
    }


def iso_now(minus_seconds=60):
    t = datetime.now(timezone.utc) - timedelta(seconds=minus_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# --- WebSocket (graphql-transport-ws), just what the checks need --------------------------------


class WebSocketClosed(Exception):
    pass


class WebSocket:
    def __init__(self, port, path="/graphql", protocol="graphql-transport-ws", timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
            ).encode()
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WebSocketClosed("closed during the handshake")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if lines[0].split()[1] != "101":
            raise WebSocketClosed(f"handshake refused: {lines[0]}")
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self.fragments = b""

    def _send(self, opcode, payload):
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 65536:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        header += mask
        self.sock.sendall(bytes(header) + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send_json(self, message):
        self._send(0x1, json.dumps(message).encode())

    def _frame(self):
        """One complete frame from the buffer, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        fin, opcode, n, at = b[0] & 0x80, b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, at = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, at = struct.unpack("!Q", b[2:10])[0], 10
        if b[1] & 0x80:
            at += 4  # servers do not mask; skip a mask if one came anyway
        if len(b) < at + n:
            return None
        self.buf = b[at + n :]
        return fin, opcode, b[at : at + n]

    def recv_json(self, seconds):
        """The next JSON message, or None when nothing came in `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            frame = self._frame()
            if frame is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    return None
                if not chunk:
                    raise WebSocketClosed("connection closed")
                self.buf += chunk
                continue
            fin, opcode, payload = frame
            if opcode == 0x9:
                self._send(0xA, payload)
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise WebSocketClosed(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
            elif opcode in (0x1, 0x0):
                self.fragments += payload
                if fin:
                    text, self.fragments = self.fragments, b""
                    return json.loads(text)

    def close(self):
        try:
            self._send(0x8, struct.pack("!H", 1000))
            self.sock.close()
        except OSError:
            pass


EVENTS = "subscription($g: ID) { taskEvents(groupId: $g) { kind task { id progress } } }"
RESUMABLE_EVENTS = """subscription($g: ID, $after: ID) { taskEvents(groupId: $g, after: $after) {
  id kind occurredAt task { id title progress } } }"""


class Subscriber:
    """A taskEvents subscription over the balancer; with `resumable`, events carry their id and
    the subscription starts `after:` the id given (None: from now on)."""

    def __init__(self, tok, group_id, port=None, resumable=False, after=None, settle=1.0):
        self.ws = WebSocket(port or LB)
        self.instance = self.ws.headers.get("x-cdtg-instance", "?")
        self.ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {tok}"}})
        ack = self.ws.recv_json(10)
        if not ack or ack.get("type") != "connection_ack":
            raise CheckFailed(f"no connection_ack: {ack}")
        variables = {"g": group_id}
        if resumable:
            variables["after"] = after
        self.ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": RESUMABLE_EVENTS if resumable else EVENTS, "variables": variables},
            }
        )
        self.subscribed = time.monotonic()
        # graphql-transport-ws has no "subscribed" message: give the server a moment.
        time.sleep(settle)

    def next_event(self, seconds):
        """The next taskEvents event, or None when none came in `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            msg = self.ws.recv_json(max(deadline - time.monotonic(), 0))
            if msg is None:
                return None
            if msg.get("type") == "next":
                payload = msg.get("payload") or {}
                if payload.get("errors"):
                    raise CheckFailed(f"subscription error: {payload['errors']}")
                return (payload.get("data") or {}).get("taskEvents") or {}
            if msg.get("type") in ("error", "complete"):
                raise CheckFailed(f"subscription ended: {msg}")

    def wait_event(self, task_id, progress, seconds):
        """Seconds until an ACTIVITY_REPORTED event showing `progress` for the task, or None."""
        start = time.monotonic()
        while True:
            event = self.next_event(max(seconds - (time.monotonic() - start), 0))
            if event is None:
                return None
            task = event.get("task") or {}
            if (
                event.get("kind") == "ACTIVITY_REPORTED"
                and task.get("id") == task_id
                and task.get("progress") == progress
            ):
                return time.monotonic() - start

    def close(self):
        self.ws.close()


def events_from_every_instance(rec, label):
    """A subscriber on one instance (through the balancer) sees writes made on each instance."""
    group, task_id = new_task(f"deploy/check.sh {label} {RUN_ID}")
    tok = token(LEADER)
    sub = Subscriber(tok, group["id"])
    try:
        rec.note(f"subscriber connected through the balancer to {sub.instance}")
        progress = 0
        for n, port in enumerate(PORTS, start=1):
            count = n
            r = gql(
                port,
                REPORT,
                {"i": report_input(task_id, f"check-{label}-{RUN_ID}-{n}", count, iso_now())},
                token=tok,
            )
            if not rec.expect(r.ok(), f"reportActivity directly on cdtg-{n} (:{port})"):
                rec.note(r.describe())
                continue
            progress += count
            took = sub.wait_event(task_id, progress, 5)
            rec.expect(
                took is not None,
                f"event of the write on cdtg-{n} reached the subscriber on {sub.instance}"
                + (f" in {took * 1000:.0f} ms" if took is not None else " (nothing in 5 s)"),
            )
    finally:
        sub.close()


# --- the checks ---------------------------------------------------------------------------------


def check_demo(rec):
    """a: the demo through the balancer; one instance's token works on every instance."""
    t0 = time.monotonic()
    tok = token("admin")
    rec.note(f"login as admin through the balancer: {time.monotonic() - t0:.2f} s")
    d = data_of(
        gql(
            LB,
            """{ groups(filter: { kind: COMMUNITY }) { totalCount } members { totalCount }
                 adminUnits(filter: { search: "phuoc my" }) { nodes { name
                   groups(filter: { kind: COMMUNITY }) { totalCount } } } }""",
            token=tok,
        ),
        "the demo query",
    )
    groups, members = d["groups"]["totalCount"], d["members"]["totalCount"]
    wards = {u["name"]: u["groups"]["totalCount"] for u in d["adminUnits"]["nodes"]}
    rec.expect(groups > 1000 and members > 5000, f"the demo is seeded: {groups} groups, {members} members")
    rec.expect(any("Phước Mỹ" in n for n in wards), f"Phước Mỹ is found without diacritics: {wards}")
    first = token("sontra", PORTS[0])
    for n, port in enumerate(PORTS, start=1):
        r = gql(port, "{ me { username } }", token=first)
        rec.expect(
            r.ok() and r.body["data"]["me"]["username"] == "sontra",
            f"a token issued by cdtg-1 works on cdtg-{n}" + ("" if r.ok() else f": {r.describe()}"),
        )
    everyone = {f"cdtg-{n}" for n in range(1, len(PORTS) + 1)}
    seen = instances_answering(everyone)
    rec.expect(everyone <= seen, f"round robin reaches every instance: {sorted(seen)}")
    rec.summary = f"{groups} groups, {members} members"


def check_kill(rec, victim=2, workers=4, duration=10.0, kill_at=3.0):
    """b: kill -9 one instance under load; it leaves rotation, comes back, failures ≤ in flight."""
    pid = instance_pid(victim)
    rec.require(pid is not None, f"cdtg-{victim} runs (pid {pid})")
    down_after = None
    retries_before = haproxy_retries()
    with Load(READ_QUERY, LOAD_USERS[:workers], pace=0.02) as load:
        time.sleep(kill_at)
        killed = time.monotonic()
        os.kill(pid, 9)
        down_after = wait_until(lambda: haproxy_status().get(f"cdtg-{victim}", "").startswith("DOWN"), 10, 0.05)
        time.sleep(max(0.0, duration - kill_at - (time.monotonic() - killed)))
    failed = load.failed()
    total = len(load.replies)
    in_flight = load.in_flight(killed)
    retried, redispatched = (a - b for a, b in zip(haproxy_retries(), retries_before))
    rec.note(f"{total} requests by {workers} workers over {duration:.0f} s; per instance {load.by_instance()}")
    rec.note(f"in flight at the kill: {in_flight}; HAProxy retried {retried}, redispatched {redispatched}")
    report_failures(rec, failed)
    rec.expect(
        down_after is not None,
        f"cdtg-{victim} left rotation {down_after:.2f} s after kill -9"
        if down_after is not None
        else f"cdtg-{victim} still in rotation 10 s after kill -9",
    )
    rec.expect(
        len(failed) <= in_flight,
        f"{len(failed)} of {total} requests failed (at most the {in_flight} in flight at the kill)",
    )
    t0 = time.monotonic()
    start_instance(victim)
    ready = time.monotonic() - t0
    up = wait_until(lambda: haproxy_status().get(f"cdtg-{victim}") == "UP", 20)
    rec.expect(
        up is not None,
        f"cdtg-{victim} restarted (ready in {ready:.1f} s) and back in rotation"
        + (f" {up:.1f} s later" if up is not None else ": not UP after 20 s"),
    )
    served = instances_answering({f"cdtg-{victim}"})
    rec.expect(f"cdtg-{victim}" in served, f"cdtg-{victim} answers through the balancer again: {sorted(served)}")
    rec.summary = (
        f"{len(failed)}/{total} failed, {in_flight} in flight; out of rotation in "
        + (f"{down_after:.1f} s" if down_after is not None else "—")
    )


def check_retry(rec, victim=3, reports=20, senders=4):
    """c: a set of field reports, an instance killed among them, the set resent: once each."""
    _, task_id = new_task(f"deploy/check.sh retries {RUN_ID}")
    tok = token(LEADER)
    occurred = iso_now()
    inputs = [report_input(task_id, f"check-retry-{RUN_ID}-{i:02d}", i, occurred) for i in range(1, reports + 1)]
    expected_progress = sum(range(1, reports + 1))
    pid = instance_pid(victim)
    rec.require(pid is not None, f"cdtg-{victim} runs (pid {pid})")
    retries_before = haproxy_retries()

    first = [None] * reports
    done = threading.Semaphore(0)
    queue = list(range(reports))
    qlock = threading.Lock()

    def sender():
        while True:
            with qlock:
                if not queue:
                    return
                i = queue.pop(0)
            first[i] = gql(LB, REPORT, {"i": inputs[i]}, token=tok)
            done.release()
            time.sleep(0.05)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for th in threads:
        th.start()
    for _ in range(reports // 3):
        done.acquire(timeout=60)
    killed = time.monotonic()
    os.kill(pid, 9)
    for th in threads:
        th.join(120)
    first = [r or Reply(0, {}, None, "never sent", killed, killed) for r in first]
    in_flight = sum(1 for r in first if r.started <= killed + 0.05 and r.ended > killed)
    failed_first = [i for i, r in enumerate(first) if not r.ok()]
    replayed_first = [i for i, r in enumerate(first) if r.ok() and not r.body["data"]["reportActivity"]["created"]]
    retried, redispatched = (a - b for a, b in zip(haproxy_retries(), retries_before))
    rec.note(
        f"first pass: {reports - len(failed_first)} stored, {len(failed_first)} failed, "
        f"{len(replayed_first)} answered as replays; {in_flight} in flight at the kill of cdtg-{victim}; "
        f"HAProxy retried {retried}, redispatched {redispatched}"
    )
    for i in failed_first[:5]:
        rec.note(f"report {i + 1}: {first[i].describe()}")

    second = [gql(LB, REPORT, {"i": inputs[i]}, token=tok) for i in range(reports)]
    failed_second = [i for i, r in enumerate(second) if not r.ok()]
    for i in failed_second[:5]:
        rec.note(f"resent report {i + 1}: {second[i].describe()}")
    rec.expect(not failed_second, f"the resent set was accepted: {reports - len(failed_second)}/{reports}")
    created_again = [
        i for i, r in enumerate(second) if r.ok() and r.body["data"]["reportActivity"]["created"] and i not in failed_first
    ]
    rec.expect(
        not created_again,
        "every report stored in the first pass was answered as a replay (created: false)"
        + (f"; created again: {[i + 1 for i in created_again]}" if created_again else ""),
    )

    d = data_of(
        gql(
            LB,
            """query($t: ID!) { task(id: $t) { progress
                 activities(first: 100) { totalCount nodes { idempotencyKey } } } }""",
            {"t": task_id},
            token=tok,
        ),
        "the task's activities",
    )
    keys = [n["idempotencyKey"] for n in d["task"]["activities"]["nodes"]]
    wanted = [x["idempotencyKey"] for x in inputs]
    once = all(keys.count(k) == 1 for k in wanted) and len(keys) == len(wanted)
    rec.expect(once, f"each of the {reports} keys stored exactly once ({len(keys)} activities on the task)")
    progress = d["task"]["progress"]
    rec.expect(progress == expected_progress, f"task progress {progress} = the sum of the reports {expected_progress}")

    start_instance(victim)
    up = wait_until(lambda: haproxy_status().get(f"cdtg-{victim}") == "UP", 20)
    rec.expect(up is not None, f"cdtg-{victim} restarted and back in rotation")
    rec.summary = f"{len(failed_first)} failed in pass 1; {len(keys)} activities for {reports} keys"


def check_events(rec):
    """d: a subscriber on one instance receives events of writes on every instance."""
    events_from_every_instance(rec, "events")
    rec.summary = f"events from {len(PORTS)} instances" if not rec.failures else "events missing"


def check_login(rec, free=5, attempts=9):
    """e: wrong passwords for one username, round robin over the instances: one shared budget."""
    # A username and client address of this run only, so earlier runs' failures do not count:
    # the instances trust 127.0.0.1 as a proxy, so they take X-Forwarded-For from it as well.
    username = f"check-{RUN_ID}"
    address = f"198.51.100.{random.randrange(1, 255)}"
    rec.note(f"{attempts} wrong passwords for {username!r} from {address}, round robin over {PORTS}")
    codes = []
    for i in range(attempts):
        port = PORTS[i % len(PORTS)]
        r = gql(
            port,
            "mutation($u: String!) { login(input: { username: $u, password: \"wrong-password\" }) { accessToken } }",
            {"u": username},
            headers={"x-forwarded-for": address},
            timeout=60,
        )
        code = r.code()
        retry_after = (((r.body or {}).get("errors") or [{}])[0].get("extensions") or {}).get("retryAfter")
        rec.note(
            f"attempt {i + 1} on :{port}: HTTP {r.status} {code}"
            + (f" retryAfter={retry_after}" if retry_after is not None else "")
        )
        codes.append((port, r.status, code))
    early = codes[:free]
    late = codes[free:]
    rec.expect(
        all(code != "RATE_LIMITED" for _, _, code in early),
        f"the first {free} attempts are judged (no RATE_LIMITED): {[c for _, _, c in early]}",
    )
    refused = [(p, s, c) for p, s, c in late if c == "RATE_LIMITED" and s == 429]
    rec.expect(
        len(refused) == len(late),
        f"attempts {free + 1}–{attempts} are refused with RATE_LIMITED (HTTP 429) on every instance: "
        f"{len(refused)}/{len(late)}",
    )
    ports_refusing = sorted({p for p, _, _ in refused})
    rec.expect(
        len(ports_refusing) == len(PORTS),
        f"instances that refused: {ports_refusing}",
    )
    rec.summary = f"{len(refused)}/{len(late)} refused after {free} failures"


def replica_reads(values):
    return values.get('cdtg_db_reads_total{target="replica"}')


def primary_reads(values):
    return values.get('cdtg_db_reads_total{target="primary"}')


def check_replica(rec, workers=3):
    """f: reads go to the replica; with the replica down they go to the primary; then back."""
    before = {p: metrics(p) for p in PORTS}
    for p in PORTS:
        for _ in range(2):
            data_of(gql(p, STATS_QUERY, token=token("admin", p)), "the stats query")
    after = {p: metrics(p) for p in PORTS}
    for n, p in enumerate(PORTS, start=1):
        b, a = replica_reads(before[p]), replica_reads(after[p])
        if not rec.expect(a is not None, f"cdtg-{n} exports cdtg_db_reads_total{{target=\"replica\"}}"):
            continue
        rec.expect(a > (b or 0), f"cdtg-{n}: replica reads {b or 0:.0f} → {a:.0f} after two stats queries")

    replica_dir = os.path.join(RUN_DIR, "replica")
    stopped = False
    try:
        with Load(STATS_QUERY, LOAD_USERS[:workers]) as load:
            time.sleep(2)
            t_stop = time.monotonic()
            pg_ctl("-D", replica_dir, "-m", "fast", "-w", "stop")
            stopped = True
            rec.note(f"replica stopped in {time.monotonic() - t_stop:.2f} s")
            time.sleep(6)
        failed = load.failed()
        in_flight = load.in_flight(t_stop)
        report_failures(rec, failed)
        if failed:
            rec.note(
                "failures ended between "
                f"{min(r.ended for r in failed) - t_stop:+.2f} s and {max(r.ended for r in failed) - t_stop:+.2f} s "
                "from the stop"
            )
        rec.expect(
            len(failed) <= in_flight,
            f"with the replica stopping: {len(failed)} of {len(load.replies)} stats queries failed "
            f"(at most the {in_flight} in flight)",
        )
        mid = {p: metrics(p) for p in PORTS}
        for p in PORTS:
            data_of(gql(p, STATS_QUERY, token=token("admin", p)), "the stats query with the replica down")
        down = {p: metrics(p) for p in PORTS}
        for n, p in enumerate(PORTS, start=1):
            m, d = primary_reads(mid[p]), primary_reads(down[p])
            rec.expect(
                d is not None and d > (m or 0),
                f"cdtg-{n}: primary reads {m or 0:.0f} → {d or 0:.0f} with the replica down",
            )
            up = down[p].get("cdtg_replica_up")
            rec.expect(up == 0, f"cdtg-{n}: cdtg_replica_up {up if up is None else int(up)} with the replica down")
    finally:
        if stopped or not os.path.exists(os.path.join(replica_dir, "postmaster.pid")):
            pg_ctl("-D", replica_dir, "-l", os.path.join(RUN_DIR, "replica.log"), "-w", "start")
            rec.note("replica started again")
    back = wait_until(lambda: all(metrics(p).get("cdtg_replica_up") == 1 for p in PORTS), 30, 0.5)
    rec.expect(back is not None, "every instance reports cdtg_replica_up 1 again within 30 s")
    rec.summary = "replica reads, fallback and return" if not rec.failures else f"{len(rec.failures)} expectations failed"


def primary_recovers(rec, tok, outage, within):
    """Restarts the primary (outage 0) or stops it for `outage` seconds; then every instance
    must be ready again within `within` seconds, by itself, and the balancer must answer."""
    primary = os.path.join(RUN_DIR, "primary")
    log = os.path.join(RUN_DIR, "primary.log")
    pids = {n: instance_pid(n) for n in range(1, len(PORTS) + 1)}
    # Watch /readyz throughout: when each instance said it was not ready.
    watching = threading.Event()
    not_ready = {p: [] for p in PORTS}

    def watch(p):
        while not watching.is_set():
            asked = time.monotonic()
            if readyz(p) != 200:
                not_ready[p].append(asked)
            time.sleep(0.1)

    watchers = [threading.Thread(target=watch, args=(p,), daemon=True) for p in PORTS]
    for w in watchers:
        w.start()
    t0 = time.monotonic()
    during = {}
    if outage:
        pg_ctl("-D", primary, "-m", "fast", "-w", "stop")
        time.sleep(outage)
        during = haproxy_status()
        pg_ctl("-D", primary, "-l", log, "-w", "start")
        rec.note(f"primary stopped for {time.monotonic() - t0:.1f} s; HAProxy meanwhile: {during}")
    else:
        pg_ctl("-D", primary, "-l", log, "-m", "fast", "-w", "restart")
        rec.note(f"pg_ctl restart -m fast took {time.monotonic() - t0:.2f} s")
    back = time.monotonic()
    ready_after = {}
    for n, p in enumerate(PORTS, start=1):
        took = wait_until(lambda p=p: readyz(p) == 200, within - (time.monotonic() - back), 0.2)
        ready_after[n] = None if took is None else time.monotonic() - back
        rec.expect(
            took is not None,
            f"cdtg-{n} /readyz 200 {ready_after[n]:.1f} s after the primary was back"
            if took is not None
            else f"cdtg-{n} /readyz not 200 within {within:.0f} s",
        )
    time.sleep(0.5)
    watching.set()
    for w in watchers:
        w.join(10)
    for n, p in enumerate(PORTS, start=1):
        seen = not_ready[p]
        rec.note(
            f"cdtg-{n} /readyz not 200 when asked between {seen[0] - t0:+.1f} s and {seen[-1] - t0:+.1f} s"
            if seen
            else f"cdtg-{n} /readyz answered 200 throughout (polled every 0.1 s)"
        )
    if outage:
        rec.expect(
            all(not_ready[p] for p in PORTS),
            "every instance said it was not ready while the primary was down",
        )
        rec.expect(
            all(v.startswith("DOWN") for v in during.values()) and during,
            "HAProxy had taken every instance out of rotation",
        )
    same = {n: instance_pid(n) for n in pids}
    rec.expect(same == pids, f"no instance was restarted (pids {list(pids.values())})")
    took = wait_until(lambda: gql(LB, READ_QUERY, token=tok).ok(), within, 0.25)
    rec.expect(
        took is not None,
        f"a query through the balancer works {time.monotonic() - back:.1f} s after the primary was back"
        if took is not None
        else f"no query through the balancer worked within {within:.0f} s",
    )
    return max((v for v in ready_after.values() if v is not None), default=None)


def check_primary(rec, within=15.0, outage=5.0):
    """g: restart the primary, then stop it a while; the instances recover by themselves."""
    tok = token("admin")
    rec.note("pg_ctl restart -m fast:")
    restart = primary_recovers(rec, tok, 0, within)
    ensure_topology()
    rec.note(f"the primary stopped for {outage:.0f} s:")
    stop = primary_recovers(rec, tok, outage, within)
    ensure_topology()
    # Each instance's LISTEN connection was cut with the rest: events must flow again.
    time.sleep(3)
    events_from_every_instance(rec, "after-restart")
    fmt = lambda v: "—" if v is None else f"{v:.1f} s"  # noqa: E731
    rec.summary = f"ready again {fmt(restart)} after a restart, {fmt(stop)} after a {outage:.0f} s stop"


def check_resume(rec, writes=5, collect=3.0):
    """h: a subscriber whose instance is killed resumes elsewhere with `after:`: nothing missed."""
    group, task_id = new_task(f"deploy/check.sh resume {RUN_ID}")
    tok = token(LEADER)
    keys = iter(f"check-resume-{RUN_ID}-{k:02d}" for k in range(1, 100))
    resent = []

    def write(label):
        """One field report through the balancer, sent again once (same key) if it failed."""
        i = report_input(task_id, next(keys), 1, iso_now())
        r = gql(LB, REPORT, {"i": i}, token=tok)
        if not r.ok():
            rec.note(f"{label} failed ({r.describe()}); resending it once")
            resent.append(label)
            r = gql(LB, REPORT, {"i": i}, token=tok)
        return r

    def ours(event):
        return event.get("kind") == "ACTIVITY_REPORTED" and (event.get("task") or {}).get("id") == task_id

    def event_of_ours(sub, after, seconds):
        """The next ACTIVITY_REPORTED event of the task with an id above `after`, or None."""
        deadline = time.monotonic() + seconds
        while True:
            e = sub.next_event(max(deadline - time.monotonic(), 0))
            if e is None or (ours(e) and int(e["id"]) > after):
                return e

    victim = None
    try:
        sub = Subscriber(tok, group["id"], resumable=True)
        try:
            if sub.instance.startswith("cdtg-"):
                victim = int(sub.instance.rpartition("-")[2])
            rec.require(victim is not None, f"subscriber connected through the balancer to {sub.instance}")
            t0 = time.monotonic()
            first = write("the first report")
            rec.require(first.ok(), f"the first report was stored ({first.instance})")
            event = event_of_ours(sub, 0, 5)
            rec.require(event is not None, "its event reached the subscriber" + ("" if event else " (nothing in 5 s)"))
            last = int(event["id"])
            rec.note(
                f"event {last} reached the subscriber on {sub.instance} "
                f"{(time.monotonic() - t0) * 1000:.0f} ms after the report was sent"
            )

            pid = instance_pid(victim)
            rec.require(pid is not None, f"cdtg-{victim} runs (pid {pid})")
            killed = time.monotonic()
            os.kill(pid, 9)
            closed = None
            try:
                leftover = sub.next_event(10)
                rec.note(f"after kill -9 the socket still delivered {leftover}")
            except (WebSocketClosed, OSError) as e:
                closed = time.monotonic() - killed
                rec.note(f"kill -9 of cdtg-{victim}: the subscriber's socket closed {closed * 1000:.0f} ms later ({e})")
            rec.expect(closed is not None, f"the subscriber's socket closed when cdtg-{victim} died")
        finally:
            sub.close()

        replies = [write(f"report {k}") for k in range(2, writes + 2)]
        failed = [r for r in replies if not r.ok()]
        rec.note(
            f"{writes} reports through the balancer with cdtg-{victim} down, answered by "
            f"{sorted({r.instance or '?' for r in replies})}; {len(resent)} sent twice"
        )
        report_failures(rec, failed)
        rec.expect(not failed, f"all {writes} reports were stored: {writes - len(failed)}/{writes}")
        stored = writes - len(failed)

        # Reconnect as a client does: through the balancer, again after a moment if refused.
        state = haproxy_status().get(f"cdtg-{victim}", "?")
        rec.note(f"reconnecting {time.monotonic() - killed:.1f} s after the kill; HAProxy has cdtg-{victim} {state}")
        t0 = time.monotonic()
        resumed = None
        for _ in range(10):
            try:
                resumed = Subscriber(tok, group["id"], resumable=True, after=str(last), settle=0)
                break
            except (WebSocketClosed, CheckFailed, OSError) as e:
                rec.note(f"reconnecting: {e}")
                time.sleep(0.5)
        rec.require(resumed is not None, "reconnected through the balancer")
        reconnect = resumed.subscribed - t0
        try:
            rec.expect(
                resumed.instance not in ("?", f"cdtg-{victim}"),
                f"resubscribed with after: {last} on {resumed.instance} in {reconnect * 1000:.0f} ms",
            )
            new, skipped, others, complete = [], 0, 0, None
            end = time.monotonic() + collect
            while True:
                e = resumed.next_event(max(end - time.monotonic(), 0))
                if e is None:
                    break
                if int(e["id"]) <= last:
                    skipped += 1
                elif ours(e):
                    new.append(int(e["id"]))
                    if len(new) == stored:
                        complete = time.monotonic() - resumed.subscribed
                else:
                    others += 1
            rec.note(
                f"in {collect:.0f} s: {len(new)} events after {last} {new}, {skipped} with ids up to {last} "
                f"(skipped), {others} of other tasks"
            )
            rec.expect(
                len(new) == stored,
                f"the {stored} missed reports were replayed: {len(new)} events"
                + (f", the last {complete * 1000:.0f} ms after subscribing" if complete is not None else ""),
            )
            rec.expect(
                len(set(new)) == len(new) and new == sorted(new),
                f"their ids are distinct and increasing: {new}",
            )
            t0 = time.monotonic()
            live = write("one more report")
            rec.require(live.ok(), f"one more report was stored ({live.instance})")
            e = event_of_ours(resumed, max(new + [last]), 5)
            rec.expect(
                e is not None,
                f"then live: its event {e['id']} reached {resumed.instance} "
                f"{(time.monotonic() - t0) * 1000:.0f} ms after the report was sent"
                if e is not None
                else "then live: its event did not come in 5 s",
            )
        finally:
            resumed.close()
    finally:
        if victim is not None and instance_pid(victim) is None:
            start_instance(victim)
            up = wait_until(lambda: haproxy_status().get(f"cdtg-{victim}") == "UP", 20)
            rec.expect(up is not None, f"cdtg-{victim} restarted and back in rotation")
    rec.summary = (
        f"{len(new)}/{stored} missed events replayed"
        + (f" in {complete * 1000:.0f} ms" if complete is not None else "")
        + f"; resubscribed in {reconnect * 1000:.0f} ms"
    )


CHECKS = [
    ("a", "demo", check_demo),
    ("b", "kill", check_kill),
    ("c", "retry", check_retry),
    ("d", "events", check_events),
    ("e", "login", check_login),
    ("f", "replica", check_replica),
    ("g", "primary", check_primary),
    ("h", "resume", check_resume),
]


def main(argv):
    wanted = set(argv)
    known = {x for letter, name, _ in CHECKS for x in (letter, name)}
    unknown = wanted - known
    if unknown or "-h" in argv or "--help" in argv:
        print(__doc__)
        return 2 if unknown else 0
    results = []
    for letter, name, fn in CHECKS:
        if wanted and letter not in wanted and name not in wanted:
            continue
        rec = Recorder(name)
        print(f"\n[{letter}] {name}: {fn.__doc__.split(':', 1)[1].strip()}", flush=True)
        started = time.monotonic()
        try:
            ensure_topology()
            fn(rec)
        except CheckFailed as e:
            if str(e) not in rec.failures:
                rec.expect(False, str(e))
        except Exception as e:  # a broken check is a failed check, and the others still run
            rec.expect(False, f"{type(e).__name__}: {e}")
        results.append((letter, name, not rec.failures, rec.summary, time.monotonic() - started))
    print("\ncheck        result  time    measured")
    for letter, name, ok, summary, took in results:
        print(f"{letter} {name:<10} {'pass' if ok else 'FAIL':<7} {took:5.1f} s  {summary}")
    return 0 if results and all(ok for _, _, ok, _, _ in results) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `deploy/check.sh | head` ends quietly
    sys.exit(main(sys.argv[1:]))
