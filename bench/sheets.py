#!/usr/bin/env python3
"""Spreadsheet benchmark: a 10,000-member XLSX import (dry run, then commit) into one ward,
and a whole-city roster export (130,000 members at demo scale 10) as XLSX and CSV, with the
server's peak resident memory during each export.

Run through bench/sheets.sh (it builds the server and installs openpyxl). Everything here runs
on loopback; the server it starts is stopped when it exits. It writes bench/SHEETS.md.

Knobs (environment): BENCH_SHEETS_DB (postgres or sqlite, default postgres),
BENCH_SHEETS_SCALE (demo scale, default 10), BENCH_SHEETS_ROWS (import rows, default 10000),
CDTG_BIN (the server binary), BENCH_WORKDIR.
"""

import atexit
import datetime
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(os.environ.get("BENCH_WORKDIR", "/var/tmp/cdtg-bench/sheets"))
BIN = os.environ["CDTG_BIN"]
DB_KIND = os.environ.get("BENCH_SHEETS_DB", "postgres")
SCALE = int(os.environ.get("BENCH_SHEETS_SCALE", "10"))
ROWS = int(os.environ.get("BENCH_SHEETS_ROWS", "10000"))
PORT = 18181
BASE = f"http://127.0.0.1:{PORT}"
PG_DB = "cdtg_bench_sheets"

procs = []


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


atexit.register(stop_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def say(msg):
    print(f"[sheets] {msg}", flush=True)


def database_url():
    if DB_KIND == "postgres":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {PG_DB}"], check=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {PG_DB}"], check=True)
        return f"postgres://postgres@127.0.0.1:5432/{PG_DB}"
    WORK.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{WORK}/sheets.sqlite{suffix}").unlink(missing_ok=True)
    return f"sqlite://{WORK}/sheets.sqlite?mode=rwc"


def gql(token, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(f"{BASE}/graphql", body, {"content-type": "application/json"})
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=600) as res:
        out = json.loads(res.read())
    if out.get("errors"):
        raise SystemExit(f"GraphQL error: {out['errors']}")
    return out["data"]


def upload(token, query, variables, filename, data):
    boundary = "----cdtg-bench-sheets"
    operations = json.dumps({"query": query, "variables": variables})
    parts = []
    for name, value in (("operations", operations), ("map", json.dumps({"0": ["variables.input.file"]}))):
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode())
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n".encode())
    parts.append(data)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    req = urllib.request.Request(f"{BASE}/graphql", b"".join(parts), {
        "content-type": f"multipart/form-data; boundary={boundary}",
        "authorization": f"Bearer {token}",
    })
    with urllib.request.urlopen(req, timeout=600) as res:
        out = json.loads(res.read())
    if out.get("errors"):
        raise SystemExit(f"import error: {out['errors']}")
    return out["data"]


def rss(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    values = {}
    for line in status.splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            key, value = line.split(":")
            values[key] = int(value.split()[0]) // 1024
    return values


def roster_xlsx(groups, path):
    from openpyxl import Workbook

    rng = random.Random(7)
    family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
    middle = ["Văn", "Thị", "Minh", "Ngọc", "Quốc", "Thanh", "Hữu", "Đức"]
    given = ["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Khoa", "Lan", "Linh", "Nam", "Phúc", "Quân", "Sơn", "Tâm", "Trang", "Tuấn", "Yến"]
    orgs = ["Đoàn thanh niên", "Hội phụ nữ", "Công an", "Người dân", "Cán bộ", "Tổ trưởng tổ dân phố"]
    wb = Workbook()
    ws = wb.active
    ws["A1"] = "DANH SÁCH THÀNH VIÊN TỔ CÔNG NGHỆ SỐ CỘNG ĐỒNG"
    ws.merge_cells("A1:G1")
    ws.append([])
    ws.append(["STT", "Họ và tên", "Số điện thoại", "Tổ công nghệ số", "Chức vụ", "Đoàn thể", "Ngày tập huấn"])
    for i in range(ROWS):
        ws.append([
            i + 1,
            f"{rng.choice(family)} {rng.choice(middle)} {rng.choice(given)}",
            # Stored as a number, as Excel keeps phones: the leading 0 is gone.
            int(f"33{i:07d}"),
            groups[i % len(groups)],
            "Thành viên",
            rng.choice(orgs),
            datetime.date(2025, 1 + i % 12, 1 + i % 28),
        ])
    wb.save(path)


def main():
    url = database_url()
    env = dict(os.environ, DATABASE_URL=url, CDTG_LOG_FORMAT="text", RUST_LOG="warn")
    say(f"seeding demo scale {SCALE} into {DB_KIND}")
    started = time.monotonic()
    subprocess.run([BIN, "seed", "demo", "--scale", str(SCALE)], env=env, check=True)
    seeded = time.monotonic() - started
    server_env = dict(env, CDTG_JWT_SECRET="bench-sheets-secret-that-is-long-enough-0123456789",
                      CDTG_RATE_LIMIT_PER_USER="0", CDTG_RATE_LIMIT_PER_ADDRESS="0",
                      CDTG_REQUEST_DEADLINE_MS="600000")
    server = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{PORT}"], env=server_env)
    procs.append(server)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{BASE}/readyz", timeout=2)
            break
        except Exception:
            time.sleep(0.5)
    token = gql(None, 'mutation { login(input: {username: "admin", password: "demo-password"}) { accessToken } }')["login"]["accessToken"]
    total = gql(token, "{ members { totalCount } }")["members"]["totalCount"]
    ward = gql(token, '{ adminUnits(filter: { search: "Phước Mỹ", kind: WARD }) { nodes { id name } } }')["adminUnits"]["nodes"][0]
    groups = gql(token, "query($u: ID!) { groups(filter: { unitId: $u, kind: COMMUNITY }, first: 100) { nodes { name } } }", {"u": ward["id"]})["groups"]["nodes"]
    group_names = [g["name"] for g in groups]
    say(f"{total} members in the city; importing {ROWS} into {ward['name']} ({len(group_names)} groups)")

    path = WORK / "roster-10k.xlsx"
    WORK.mkdir(parents=True, exist_ok=True)
    roster_xlsx(group_names, path)
    data = path.read_bytes()
    mutation = "mutation($input: ImportSheetInput!) { importMembers(input: $input) { committed created updated unchanged refused } }"
    results = {}
    for commit in (False, True):
        started = time.monotonic()
        report = upload(token, mutation, {"input": {"file": None, "unitId": ward["id"], "commit": commit}}, "roster-10k.xlsx", data)["importMembers"]
        results["import_commit" if commit else "import_dry_run"] = (time.monotonic() - started, report)
        say(f"import {'commit' if commit else 'dry run'}: {results['import_commit' if commit else 'import_dry_run'][0]:.1f} s {report}")

    total = gql(token, "{ members { totalCount } }")["members"]["totalCount"]
    for fmt in ("xlsx", "csv"):
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")
        before = rss(server.pid)
        started = time.monotonic()
        req = urllib.request.Request(f"{BASE}/exports/roster.{fmt}", headers={"authorization": f"Bearer {token}"})
        size = 0
        peak = 0
        with urllib.request.urlopen(req, timeout=600) as res:
            while True:
                chunk = res.read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                peak = max(peak, rss(server.pid)["VmRSS"])
        elapsed = time.monotonic() - started
        after = rss(server.pid)
        results[f"export_{fmt}"] = (elapsed, {"bytes": size, "rss_before_mib": before["VmRSS"], "peak_rss_mib": max(after["VmHWM"], peak)})
        say(f"export {fmt}: {elapsed:.1f} s, {size / 1e6:.1f} MB, server peak RSS {max(after['VmHWM'], peak)} MiB (before: {before['VmRSS']} MiB)")

    write_report(results, total, seeded)


def write_report(results, total, seeded):
    def row(name, key, what):
        elapsed, detail = results[key]
        return f"| {name} | {elapsed:.1f} s | {what(detail)} |"

    lines = [
        "# Spreadsheet benchmark",
        "",
        f"Run {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by `bench/sheets.sh` on this 2-core machine: "
        f"{DB_KIND}, demo scale {SCALE} ({total} members after the import; seeding took {seeded:.0f} s), "
        f"server build `{os.environ.get('BENCH_PROFILE', 'release')}`. Targets: under 30 s each; the server under 100 MB during an export.",
        "",
        "| step | wall time | result |",
        "|---|---|---|",
        row(f"import {ROWS:,} members from XLSX, dry run", "import_dry_run", lambda d: f"{d['created']} created, {d['refused']} refused, nothing written"),
        row(f"import the same file, commit", "import_commit", lambda d: f"{d['created']} created, {d['updated']} updated, {d['refused']} refused, one transaction"),
        row(f"export the city roster as XLSX", "export_xlsx", lambda d: f"{d['bytes'] / 1e6:.1f} MB; server peak RSS {d['peak_rss_mib']} MiB (before {d['rss_before_mib']} MiB)"),
        row(f"export the city roster as CSV", "export_csv", lambda d: f"{d['bytes'] / 1e6:.1f} MB; server peak RSS {d['peak_rss_mib']} MiB (before {d['rss_before_mib']} MiB)"),
        "",
        "Times are measured by the client around one request (upload to answer; first byte to last for",
        "the exports). Peak RSS is the server process's `VmHWM` (reset through `/proc/<pid>/clear_refs`",
        "before each export) and the largest `VmRSS` sampled while the body arrived.",
        "",
    ]
    (HERE / "SHEETS.md").write_text("\n".join(lines))
    say(f"wrote {HERE / 'SHEETS.md'}")


if __name__ == "__main__":
    main()
