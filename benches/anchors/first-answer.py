"""First answers of the origin-request package on a new instance, against a local DynamoDB.

Lambda@Edge starts a new instance of the origin-request function when traffic grows or moves to
another region, and the visitor whose request started it waits for the import, the DynamoDB
client's setup and the first query. This measures that wait as the Python runtime sees it: each
run is a fresh `python3` process that imports the module from the packaged zip (with the zip's
own `edgekit.json`, pointed at the local server), then times, one after the other:

- `import`: loading the extension module;
- `first home`: the first event (config read, DynamoDB client built, Scan, page rendered);
- `next home`: the same event again (Scan and render on a warm client);
- `card`: a card page (GetItem, render);
- `like`: a like (UpdateItem, JSON answer).

Each event's answer is checked (status 200), so a misconfigured run fails instead of timing
errors. Lambda's runtime passes credentials in the environment; so does this script (dummy ones).

Run it on what ships, after `edgekit package` (and a build of `edgekit`, which seeds the
table):
    python3 benches/anchors/first-answer.py target/package
Options:
    --runs N          fresh processes (default 9)
    --endpoint URL    a DynamoDB-compatible server to use; without it the script starts moto from
                      target/moto-venv (which `scripts/test` installs) and stops it at the end
    --edgekit PATH the CLI that seeds the table (default: target/release/edgekit, else
                      target/debug/edgekit)
    --json            print each step's median (ms) as one JSON object instead of the table
                      (what `benches/guard` reads)
The table is a new one per invocation of this script, seeded with origin-site/data/cards.json;
on a server given with --endpoint it is left there (`first-answer-<pid>`).
"""
import argparse
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "origin-request"
REGION = "us-east-1"

# Runs in each fresh process: argv = module path, fixtures dir. Prints one JSON object of ms.
CHILD = r"""
import json, os, sys, time
clock = time.perf_counter
so, fixtures = sys.argv[1], sys.argv[2]
events = {name: open(f"{fixtures}/{name}.json").read() for name in ("home", "card", "like")}
sys.path.insert(0, os.path.dirname(so))
t = clock()
import edgekit  # as Lambda's runtime imports the handler's module, from the task's root
figures = {"import": clock() - t}
for label, name in (("first home", "home"), ("next home", "home"), ("card", "card"), ("like", "like")):
    event = json.loads(events[name])
    t = clock()
    result = edgekit.origin_request(event, None)
    figures[label] = clock() - t
    status = result.get("status")
    if status != "200":
        sys.exit(f"{label}: status {status!r}, not 200: {json.dumps(result)[:400]}")
print(json.dumps({k: v * 1000 for k, v in figures.items()}))
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except Exception:
        return False


def start_moto():
    python = ROOT / "target" / "moto-venv" / "bin" / "python"
    if not python.exists():
        sys.exit("no DynamoDB server: pass --endpoint URL, or run ./scripts/test once "
                 "(it installs moto into target/moto-venv)")
    port = free_port()
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([str(python), str(ROOT / "scripts" / "moto_server.py"),
                               "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    started = False
    try:  # stopped again on any way out but a start, Ctrl-C included
        for _ in range(150):
            if server.poll() is not None:
                break
            if answers(url + "/"):
                started = True
                return server, url
            time.sleep(0.1)
    finally:
        if not started:
            stop(server)
    log.seek(0)
    sys.exit("moto did not start:\n" + log.read().decode(errors="replace"))


def stop(server):
    server.terminate()
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def find_module(package_dir, work):
    """Extracts the origin-request zip named in packages.json into `work`."""
    manifest = package_dir / "packages.json"
    if not manifest.exists():
        sys.exit(f"{manifest} is missing: run `edgekit package` first")
    keys = [entry["key"] for name, entry in json.loads(manifest.read_text()).items()
            if name.endswith("-origin-request")]
    if len(keys) != 1:
        sys.exit(f"{manifest} names {len(keys)} origin-request packages, not one")
    with zipfile.ZipFile(package_dir / keys[0]) as z:
        z.extractall(work)
    return work / "edgekit.abi3.so", keys[0]


def seed(cli, endpoint, table, work):
    """Seeds a table named `table` with Alien Cards' items, and renames the site's table to it in
    the packaged declaration (`site.json`)."""
    source = work / "seed.site.toml"
    source.write_text((ROOT / "cloudfront/alien-cards.site.toml").read_text()
                      .replace('table_name = "alien-cards"', f'table_name = "{table}"'))
    done = subprocess.run([str(cli), "seed", "--endpoint", endpoint, "--region", REGION,
                           "--site", str(source),
                           "--items", str(ROOT / "origin-site/data/cards.json")],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"seeding {table} failed:\n{done.stderr}")
    packaged = work / "site.json"
    site = json.loads(packaged.read_text())
    for spec in site.get("tables", {}).values():
        if spec.get("table_name") == "alien-cards":
            spec["table_name"] = table
    packaged.write_text(json.dumps(site))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("package_dir", type=pathlib.Path, help="where `edgekit package` wrote")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--endpoint")
    parser.add_argument("--edgekit", dest="cli", type=pathlib.Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    cli = args.cli or next((p for p in (ROOT / "target/release/edgekit",
                                        ROOT / "target/debug/edgekit") if p.exists()), None)
    if cli is None or not cli.exists():
        sys.exit("no edgekit CLI to seed the table: `cargo build --release`, or pass --edgekit")

    server = None
    endpoint = args.endpoint
    try:
        if endpoint is None:
            server, endpoint = start_moto()
        with tempfile.TemporaryDirectory() as tmp:
            work = pathlib.Path(tmp)
            so, key = find_module(args.package_dir, work)
            table = f"first-answer-{os.getpid()}"
            seed(cli, endpoint, table, work)
            config = json.loads((work / "edgekit.json").read_text())
            regions = set(config.get("replicas", {})) | {r for rs in config.get("replicas", {}).values() for r in rs}
            config["endpoints"] = {region: endpoint for region in regions | {REGION}}
            (work / "edgekit.json").write_text(json.dumps(config))

            env = dict(os.environ, AWS_REGION=REGION, AWS_ACCESS_KEY_ID="bench",
                       AWS_SECRET_ACCESS_KEY="bench", AWS_SESSION_TOKEN="bench")
            env.pop("EDGEKIT_CONFIG", None)
            runs = []
            for _ in range(args.runs):
                done = subprocess.run([sys.executable, "-c", CHILD, str(so), str(FIXTURES)],
                                      env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"a run failed:\n{done.stderr}")
                runs.append(json.loads(done.stdout))
    finally:
        if server is not None:
            stop(server)

    if args.json:
        print(json.dumps({label: statistics.median(run[label] for run in runs) for label in runs[0]}))
        return
    print(f"{key}, {args.runs} fresh processes, DynamoDB at {endpoint} "
          f"({'moto, started by this script' if server else 'given'})")
    print(f"{'step':<12} {'median':>9} {'min':>9} {'max':>9}")
    for label in runs[0]:
        values = [run[label] for run in runs]
        print(f"{label:<12} {statistics.median(values):>6.2f} ms {min(values):>6.2f} ms "
              f"{max(values):>6.2f} ms")


if __name__ == "__main__":
    main()
