#!/usr/bin/env python3
"""Conch side by side with OpenSSH over loopback (issue 5), in one run.

Run through benches/side-by-side.sh, which builds the binaries and raises
the open-files limit; see BENCHMARKS.md, "Side by side with OpenSSH".

In a fresh temp dir it generates an Ed25519 host key (shared by both
servers) and an Ed25519 user key, starts OpenSSH's sshd and conchd on free
loopback ports, and for each pair client <-> server of
conch/ssh x conchd/sshd measures:

  download     `head -c BYTES /dev/zero` run remotely (or, with --producer
               dd, `dd` writing 1 MiB blocks), the client's stdout a
               pipe that this script splices to /dev/null while counting the
               bytes (no copy to user space); wall time from starting the
               client to its exit, as MB/s (10^6 bytes). Median of --runs.
  forwarded    --forward-bytes pushed by this script through the client's
               `-N -L PORT:127.0.0.1:SINK` to a local sink that counts them
               (the forward's target, reached from the server's side); wall
               time from the first byte sent to the sink's EOF, as MB/s,
               and the client's CPU time over the transfer (/proc/PID/stat)
               plus the server's, as CPU s per GB. Median of --runs.
  connections  --connections sequential runs of the client with `true` as
               the command (connect, key exchange, public-key login, exec,
               exit status, close); total wall time / count.
  rate         --rate-sessions such sessions with --rate-clients (8) clients
               running at once: sessions served per second, and the
               server's CPU per session (its processes and the shells it
               ran), which the clients sharing its cores do not blur.
  compressed   only with --compressed-bytes N: N bytes of text (`yes`)
               downloaded with the client's -C (zlib@openssh.com, which
               sshd and conchd allow by default), MB/s of text delivered
               and CPU per GB of it. Median of --runs.

The runs are interleaved (run 1 of every pair, then run 2, ...) so that
load drifting over the run hits every pair alike. The CPU time of each
client (from wait4) and of the server (its listener's own and reaped
children's time, /proc/PID/stat) is recorded too: on a shared machine CPU
per GB is steadier than wall time.

With --openssh10 [DIR], OpenSSH 10 unpacked in DIR (by `scripts/test`,
default /opt/openssh10) joins as a third server, sshd 10, and a third
client, `ssh` 10: the rows conch<->sshd 10, ssh 10<->conchd and
ssh 10<->sshd 10 (ML-KEM, its default key exchange, where both ends have it).

Then one process (benches/src/bin/concurrent_sessions.rs) opens --sessions
concurrent sessions against a fresh conchd, holds them all open at once, and
reports the total time and the peak memory per session.

Prints every run's raw numbers, then the Markdown tables for BENCHMARKS.md
(side_by_side_report.py).
"""

import argparse
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
PIPE_SIZE = 1 << 20
START_TIMEOUT = 15.0
USER_HZ = os.sysconf("SC_CLK_TCK")


def log(message):
    print(message, file=sys.stderr, flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 200 MB, 20 connections, 1 run, 200 sessions")
    parser.add_argument("--runs", type=int, help="downloads per pair (median reported; default 3)")
    parser.add_argument("--bytes", type=int, help="bytes per download (default 2000000000)")
    parser.add_argument("--producer", choices=sorted(PRODUCERS), default="head",
                        help="what the server runs to send the download's bytes: head "
                             "(`head -c`, 4 KiB writes; the default, as in every earlier "
                             "table) or dd (1 MiB writes, so the producer costs the shared "
                             "cores less and the SSH implementations are compared)")
    parser.add_argument("--forward-bytes", type=int,
                        help="bytes per forwarded transfer (default 1000000000)")
    parser.add_argument("--compressed-bytes", type=int, default=0,
                        help="also download this many bytes of text with -C (compression); "
                             "default 0: not run")
    parser.add_argument("--connections", type=int,
                        help="sequential connections per pair (default 200)")
    parser.add_argument("--sessions", type=int, help="concurrent sessions (default 1000)")
    parser.add_argument("--max-connecting", type=int, default=0,
                        help="at most this many of the concurrent sessions opening at a time "
                             "(default 0: all at once)")
    parser.add_argument("--bin-dir", default=os.path.join(ROOT, "target", "release"),
                        help="where conch, conchd and concurrent_sessions are")
    parser.add_argument("--pure-dir",
                        help="also run the binaries built with --no-default-features (the "
                             "pure-Rust crypto provider) found here")
    parser.add_argument("--openssh10", nargs="?", const="/opt/openssh10", metavar="DIR",
                        help="also run OpenSSH 10 unpacked in DIR (default /opt/openssh10, "
                             "where scripts/test puts it): rows for ssh 10 and sshd 10")
    parser.add_argument("--russh", metavar="BIN",
                        help="also run this russh client (benches/russh-client, built with "
                             "`cargo build --release` there) against sshd and conchd: "
                             "downloads and connections only")
    parser.add_argument("--ciphers",
                        default="aes128-gcm@openssh.com,chacha20-poly1305@openssh.com",
                        help="also download with each pair held to each of these ciphers "
                             "(comma-separated; empty: none), one table row per cipher")
    parser.add_argument("--rate-sessions", type=int,
                        help="sessions per pair for the rate measurement (default 400)")
    parser.add_argument("--rate-clients", type=int, default=8,
                        help="clients running at once for the rate measurement (default 8)")
    parser.add_argument("--only", default="download,forwarded,connections,rate,concurrent",
                        help="comma-separated subset of "
                             "download,forwarded,connections,rate,concurrent")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds one client run may take before it is killed")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, keys)")
    args = parser.parse_args()
    quick = args.quick
    args.runs = args.runs or (1 if quick else 3)
    args.bytes = args.bytes or (200_000_000 if quick else 2_000_000_000)
    args.forward_bytes = args.forward_bytes or (100_000_000 if quick else 1_000_000_000)
    args.connections = args.connections or (20 if quick else 200)
    args.sessions = args.sessions or (200 if quick else 1000)
    args.rate_sessions = args.rate_sessions or (40 if quick else 400)
    args.only = set(args.only.split(","))
    return args


# ----------------------------------------------------------------- setup

class Setup:
    """Keys, known_hosts and the servers, in one temp dir."""

    def __init__(self, keep):
        self.dir = tempfile.mkdtemp(prefix="conch-side-by-side-")
        self.keep = keep
        self.user = current_user()
        self.host_key = self.keygen("host_ed25519")
        self.user_key = self.keygen("user_ed25519")
        self.authorized_keys = self.path("authorized_keys")
        shutil.copy(self.user_key + ".pub", self.authorized_keys)
        self.known_hosts = self.path("known_hosts")
        open(self.known_hosts, "w").close()
        self.servers = []
        self.client_env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}

    def path(self, name):
        return os.path.join(self.dir, name)

    def keygen(self, name):
        path = self.path(name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path],
                       check=True, stdin=subprocess.DEVNULL)
        return path

    def trust(self, port):
        with open(self.host_key + ".pub") as f:
            key_type, key = f.read().split()[:2]
        with open(self.known_hosts, "a") as f:
            f.write(f"[127.0.0.1]:{port} {key_type} {key}\n")

    def start_sshd(self, name="sshd", sshd=SSHD, extra_config=""):
        """sshd (or another build's, with extra_config lines for it)."""
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755)
        port = free_port()
        log_name = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
        config = self.path(f"{log_name}_config")
        with open(config, "w") as f:
            f.write(extra_config)
            f.write(f"""# conch side-by-side benchmark
ListenAddress 127.0.0.1:{port}
HostKey {self.host_key}
PidFile {self.path("sshd.pid")}
AuthorizedKeysFile {self.authorized_keys}
LogLevel ERROR
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxSessions 100
MaxStartups 2000
LoginGraceTime 60
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
# sshd runs commands with the login shell, `bash -c`, and bash reads
# ~/.bashrc when sshd starts it (unless it thinks it is nested): on a
# machine whose .bashrc does real work, that work would be timed as sshd's.
# SHLVL=1 makes bash skip it. conchd has no SetEnv: it runs the login
# shell as sshd does, and bash reads ~/.bashrc under it, so connection
# figures want a ~/.bashrc that does nothing much (BENCHMARKS.md).
SetEnv SHLVL=1
""")
            if openssh_version(sshd) >= (9, 8):
                # 9.8's per-source penalties would slow down a client that
                # connects hundreds of times from one address.
                f.write("PerSourcePenalties no\n")
        subprocess.run([sshd, "-t", "-f", config], check=True)
        server = Server(name, [sshd, "-D", "-f", config, "-E", self.path(f"{log_name}.log")],
                        port, self.path(f"{log_name}.stderr"))
        self.servers.append(server)
        self.trust(port)
        return server

    def start_conchd(self, name, binary):
        port = free_port()
        log_name = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
        # As sshd's config here (MaxStartups 2000): the concurrent-sessions
        # run opens 1,000 connections from one address at once.
        server = Server(name, [binary, "--host-key", self.host_key,
                               "--authorized-keys", self.authorized_keys,
                               "--max-startups", "2000",
                               "--per-source-max-startups", "none",
                               "-p", str(port), "-q"],
                        port, self.path(f"{log_name}.stderr"))
        self.servers.append(server)
        self.trust(port)
        return server

    def stop(self, server):
        server.stop()
        self.servers.remove(server)

    def close(self):
        for server in list(self.servers):
            self.stop(server)
        if self.keep:
            log(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def client_command(self, client, port, command, verbose=False, cipher=None):
        return ([client, "-F", "none", "-i", self.user_key,
                 "-o", f"UserKnownHostsFile={self.known_hosts}",
                 "-o", "StrictHostKeyChecking=yes",
                 "-o", "BatchMode=yes",
                 "-o", "IdentitiesOnly=yes"]
                + (["-v"] if verbose else [])
                + (["-o", f"Ciphers={cipher}"] if cipher else [])
                + ["-p", str(port), f"{self.user}@127.0.0.1", command])


class Server:
    """A server process listening on 127.0.0.1:port; stop() kills it."""

    def __init__(self, name, command, port, stderr_path):
        self.name = name
        self.port = port
        self.stderr_path = stderr_path
        with open(stderr_path, "w") as stderr:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                            stdout=stderr, stderr=stderr)
        self.pid = self.process.pid
        deadline = time.monotonic() + START_TIMEOUT
        while not banner_ok(port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                with open(stderr_path) as f:
                    raise SystemExit(f"{name} did not start ({' '.join(command)}):\n{f.read()}")
            time.sleep(0.05)

    def cpu_seconds(self):
        """Own plus reaped children's CPU time (sshd forks per connection)."""
        return proc_cpu_seconds(self.pid, children=True)

    def peak_rss_kib(self):
        return proc_status_kib(self.pid, "VmHWM")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def banner_ok(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssh_version(sshd=SSHD):
    r = subprocess.run([sshd, "-V"], capture_output=True, text=True)
    m = re.search(r"OpenSSH_(\d+)\.(\d+)", r.stdout + r.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def current_user():
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


def proc_cpu_seconds(pid, children=False):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields 14-17 of the line (utime stime cutime cstime) are 12-15 here.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / USER_HZ


def proc_status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


# --------------------------------------------------------------- running

class RunFailed(Exception):
    pass


def run_client(setup, command, timeout, count_stdout=False):
    """Runs a client to its end: (wall seconds, CPU seconds, stdout bytes,
    stderr text). Raises RunFailed on a non-zero exit or a timeout."""
    stderr = tempfile.TemporaryFile(dir=setup.dir)
    read_end = None
    if count_stdout:
        read_end, write_end = os.pipe()
        try:
            fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except (OSError, AttributeError):
            pass
        stdout = write_end
    else:
        stdout = subprocess.DEVNULL
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout,
                               stderr=stderr, env=setup.client_env)
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    received = 0
    try:
        if count_stdout:
            os.close(write_end)
            received = drain(read_end)
        # wait4 rather than Popen.wait: it also gives the client's CPU time.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
    finally:
        timer.cancel()
        if read_end is not None:
            os.close(read_end)
        if process.returncode is None:
            process.kill()
            process.wait()
    if timed_out.is_set():
        raise RunFailed(f"timed out after {timeout:.0f} s: {' '.join(command)}")
    stderr.seek(0)
    errors = stderr.read().decode(errors="replace")
    stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RunFailed(f"{' '.join(command)}: exit status {code}\n{errors.strip()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, received, errors


def drain(fd):
    """Counts what arrives on fd, splicing it to /dev/null (no copy)."""
    total = 0
    null = os.open("/dev/null", os.O_WRONLY)
    try:
        while True:
            try:
                moved = os.splice(fd, null, 1 << 30)
            except OSError:
                return total + drain_by_reading(fd)
            if not moved:
                return total
            total += moved
    finally:
        os.close(null)


def drain_by_reading(fd):
    total = 0
    buffer = bytearray(PIPE_SIZE)
    with os.fdopen(os.dup(fd), "rb", buffering=0) as f:
        while True:
            n = f.readinto(buffer)
            if not n:
                return total
            total += n


def server_cpu_during(server, action):
    """Runs action(); returns (its result, the server's CPU seconds spent)."""
    before = server.cpu_seconds()
    result = action()
    # sshd's per-connection processes are counted once the listener reaps
    # them, a moment after the client exits.
    time.sleep(0.2)
    after = server.cpu_seconds()
    return result, (after - before if before is not None and after is not None else None)


# ------------------------------------------------------------------ pairs

class Pair:
    def __init__(self, client_name, client_binary, server, cipher=None):
        self.client_name = client_name
        self.client = client_binary
        self.server = server
        # A cipher both sides are held to (`-o Ciphers=`), or None for
        # each side's own preference.
        self.forced_cipher = cipher
        self.name = f"{label(client_name)}↔{label(server.name)}"
        self.downloads = []        # (wall, client cpu, server cpu)
        self.forwarded = []        # (wall, client cpu, server cpu)
        self.compressed = []       # (wall, client cpu, server cpu), with -C
        self.connections = None    # (wall total, client cpu, server cpu)
        self.rate = None           # sessions per second, clients at once
        self.rate_server_ms = None # server CPU ms per session in that run
        self.kex = self.cipher = "?"
        self.algorithms_source = ""
        self.provider = None
        self.failure = None


def label(name):
    """`conch`, `conchd` (pure Rust), sshd: program names in code style, as the
    rest of BENCHMARKS.md writes them (sshd stays plain, as the issue does)."""
    if name == "sshd" or name.startswith("sshd "):
        return name
    program, _, rest = name.partition(" ")
    return f"`{program}`" + (f" {rest}" if rest else "")


def negotiated(setup, pair, probe):
    """The key exchange and server-to-client cipher the pair settles on."""
    command = setup.client_command(pair.client, pair.server.port, "true", verbose=True)
    try:
        _, _, _, errors = run_client(setup, command, 60)
    except RunFailed as e:
        errors = str(e)
    provider = re.search(r"crypto provider: (.*)", errors)
    if provider:
        pair.provider = provider.group(1).strip()
    kex = re.search(r"kex: algorithm: (\S+)", errors)
    cipher = re.search(r"kex: server->client cipher: (\S+) MAC: (\S+)", errors)
    if kex and cipher:
        mac = cipher.group(2)
        pair.kex = kex.group(1)
        pair.cipher = cipher.group(1) + ("" if mac == "<implicit>" else f" + {mac}")
        pair.algorithms_source = "-v"
        return
    # conch -v does not print them: ask the library, whose defaults conch
    # uses (with either crypto provider: they differ in speed, not names).
    if probe and os.path.exists(probe):
        result = subprocess.run(
            [probe, "--algorithms", "--port", str(pair.server.port), "--user", setup.user,
             "--identity", setup.user_key, "--host-key", setup.host_key + ".pub"],
            capture_output=True, text=True, timeout=60)
        values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        if "kex" in values:
            pair.kex = values["kex"]
            mac = values.get("mac", "(aead)")
            pair.cipher = values["cipher"] + ("" if mac == "(aead)" else f" + {mac}")
            pair.algorithms_source = "conch-tokio defaults"


# The remote commands that write a download's `size` bytes. GNU head
# writes 4 KiB at a time, so on two cores it takes a large share of the CPU
# the pair shares with it (BENCHMARKS.md); dd writes 1 MiB blocks and counts
# bytes, not blocks (`iflag=count_bytes`), so both send exactly `size`.
PRODUCERS = {
    "head": "head -c {size} /dev/zero",
    "dd": "dd if=/dev/zero bs=1M count={size} iflag=count_bytes status=none",
}


def download(setup, pair, size, timeout, producer="head"):
    command = setup.client_command(pair.client, pair.server.port,
                                   PRODUCERS[producer].format(size=size),
                                   cipher=pair.forced_cipher)
    (wall, cpu, received, _), server_cpu = server_cpu_during(
        pair.server, lambda: run_client(setup, command, timeout, count_stdout=True))
    if received != size:
        raise RunFailed(f"{pair.name}: received {received} bytes, expected {size}")
    return wall, cpu, server_cpu


def compressed(setup, pair, size, timeout):
    """Downloads `size` bytes of text with the client's -C (Compression
    yes): the same measure as `download`, over a compressed session."""
    command = setup.client_command(pair.client, pair.server.port,
                                   f"yes 'conch side-by-side compressible text' | head -c {size}")
    command.insert(1, "-C")
    (wall, cpu, received, _), server_cpu = server_cpu_during(
        pair.server, lambda: run_client(setup, command, timeout, count_stdout=True))
    if received != size:
        raise RunFailed(f"{pair.name}: received {received} bytes, expected {size}")
    return wall, cpu, server_cpu


def forwarded(setup, pair, size, timeout):
    """Pushes `size` bytes through the client's `-N -L` to a counting sink;
    returns the wall time from the first byte sent to the sink's EOF, the
    client's CPU seconds over that time and the server's over the run."""
    return server_cpu_during(pair.server, lambda: forward_once(setup, pair, size, timeout))


def forward_once(setup, pair, size, timeout):
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    sink.settimeout(timeout)
    received = [0]
    done = threading.Event()

    def count():
        try:
            conn, _ = sink.accept()
            conn.settimeout(timeout)
            while True:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                received[0] += len(chunk)
            conn.close()
        except OSError:
            pass
        done.set()

    threading.Thread(target=count, daemon=True).start()
    port = free_port()
    # The client's usual command line without a command, `-N -L` before
    # the destination.
    command = setup.client_command(pair.client, pair.server.port, "")[:-1]
    command[-1:-1] = ["-N", "-L", f"127.0.0.1:{port}:127.0.0.1:{sink.getsockname()[1]}"]
    client = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=setup.client_env)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                out = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if client.poll() is not None or time.monotonic() > deadline:
                    raise RunFailed(f"{pair.name}: the -L listener did not come up")
                time.sleep(0.05)
        buf = bytes(1 << 20)
        cpu_before = proc_cpu_seconds(client.pid)
        start = time.monotonic()
        left = size
        while left > 0:
            n = out.send(buf[:min(left, len(buf))])
            left -= n
        out.shutdown(socket.SHUT_WR)
        if not done.wait(timeout):
            raise RunFailed(f"{pair.name}: forwarded transfer timed out")
        wall = time.monotonic() - start
        cpu_after = proc_cpu_seconds(client.pid)
        out.close()
    finally:
        client.terminate()
        try:
            client.wait(5)
        except subprocess.TimeoutExpired:
            client.kill()
            client.wait()
        sink.close()
    if received[0] != size:
        raise RunFailed(f"{pair.name}: forwarded {received[0]} bytes, expected {size}")
    cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    return wall, cpu


def connections(setup, pair, count, timeout):
    command = setup.client_command(pair.client, pair.server.port, "true")

    def run_all():
        wall = cpu = 0.0
        for _ in range(count):
            w, c, _, _ = run_client(setup, command, timeout)
            wall += w
            cpu += c
        return wall, cpu

    (wall, cpu), server_cpu = server_cpu_during(pair.server, run_all)
    return wall, cpu, server_cpu


def session_rate(setup, pair, total, clients, timeout):
    """Full sessions served per second (connect, key exchange, auth, exec
    `true`, close) with `clients` clients running at once, as a fleet tool
    would open them (issue 21): each of `clients` threads runs the client
    until `total` sessions have ended. Returns (sessions per second, the
    failures' messages)."""
    command = setup.client_command(pair.client, pair.server.port, "true")
    lock = threading.Lock()
    left = [total]
    failures = []

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                run_client(setup, command, timeout)
            except RunFailed as e:
                with lock:
                    failures.append(str(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - start), failures


def concurrent(setup, name, conchd_binary, client_binary, sessions, max_connecting):
    server = setup.start_conchd(f"{name} (concurrent)", conchd_binary)
    try:
        command = [client_binary, "--port", str(server.port), "--user", setup.user,
                   "--identity", setup.user_key, "--host-key", setup.host_key + ".pub",
                   "--sessions", str(sessions), "--server-pid", str(server.pid),
                   "--max-connecting", str(max_connecting)]
        tcp_before = tcp_counters()
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        tcp_after = tcp_counters()
        values = {}
        for line in result.stdout.splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
        if result.returncode != 0:
            values.setdefault("error", result.stderr.strip() or f"exit {result.returncode}")
        # A full accept queue drops SYNs, and the client resends them after
        # a second: this says whether that happened (counts are system-wide).
        tcp = " ".join(f"{key}={tcp_after[key] - tcp_before.get(key, 0)}"
                       for key in sorted(tcp_after))
        values["stdout"] = result.stdout + f"tcp_counters={tcp}\n"
        values["stderr"] = result.stderr
        return values
    finally:
        setup.stop(server)


# --------------------------------------------------------- kernel counters

def tcp_counters():
    """Listen-queue overflows and SYN retransmissions, from /proc/net/netstat."""
    wanted = ("ListenOverflows", "ListenDrops", "TCPSynRetrans")
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            return {key: int(table[key]) for key in wanted if key in table}
    return {}


# ------------------------------------------------------------------- main

def interrupted(*_):
    raise KeyboardInterrupt()


def main():
    # The report's module imports this one's constants: imported here, once
    # this module is loaded under its own name.
    from side_by_side_report import fmt, machine, print_report

    args = parse_args()
    bins = {"conch": os.path.join(args.bin_dir, "conch"),
            "conchd": os.path.join(args.bin_dir, "conchd"),
            "concurrent_sessions": os.path.join(args.bin_dir, "concurrent_sessions")}
    openssh10 = None
    if args.openssh10:
        # OpenSSH 10 split sshd into sshd, sshd-session and sshd-auth: the
        # unpacked sshd must be told where its helpers are (sshd_config(5)).
        helpers = os.path.join(args.openssh10, "usr/lib/openssh")
        openssh10 = {"sshd": os.path.join(args.openssh10, "usr/sbin/sshd"),
                     "ssh": os.path.join(args.openssh10, "usr/bin/ssh"),
                     "config": f"SshdSessionPath {helpers}/sshd-session\n"
                               f"SshdAuthPath {helpers}/sshd-auth\n"}
        for binary in (openssh10["sshd"], openssh10["ssh"]):
            if not os.access(binary, os.X_OK):
                raise SystemExit(f"missing {binary} (sudo scripts/test --setup-only unpacks "
                                 "OpenSSH 10 into /opt/openssh10)")
    for binary in [SSHD, SSH, *bins.values()]:
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"missing {binary} (run benches/side-by-side.sh, which builds it)")
    pure = None
    if args.pure_dir:
        pure = {"conch": os.path.join(args.pure_dir, "conch"),
                "conchd": os.path.join(args.pure_dir, "conchd")}
        for key in ("conch", "conchd"):
            if not os.access(pure[key], os.X_OK):
                raise SystemExit(f"missing {pure[key]} (built with --no-default-features)")
    if os.geteuid() != 0:
        log("warning: not root; sshd can only log in the user running it")

    loads = [os.getloadavg()[0]]
    machine_rows = machine(args)
    setup = Setup(args.keep)
    signal.signal(signal.SIGTERM, interrupted)
    pairs = []
    concurrent_results = []
    try:
        sshd = setup.start_sshd()
        conchd = setup.start_conchd("conchd", bins["conchd"])
        pairs = [Pair("conch", bins["conch"], conchd),
                 Pair("conch", bins["conch"], sshd),
                 Pair("ssh", SSH, conchd),
                 Pair("ssh", SSH, sshd)]
        if openssh10:
            sshd10 = setup.start_sshd("sshd 10", openssh10["sshd"], openssh10["config"])
            pairs += [Pair("conch", bins["conch"], sshd10),
                      Pair("ssh 10", openssh10["ssh"], conchd),
                      Pair("ssh 10", openssh10["ssh"], sshd10)]
        if pure:
            conchd_pure = setup.start_conchd("conchd (pure Rust)", pure["conchd"])
            pairs += [Pair("conch (pure Rust)", pure["conch"], conchd_pure),
                      Pair("conch (pure Rust)", pure["conch"], sshd),
                      Pair("ssh", SSH, conchd_pure)]
        if args.russh:
            pairs += [Pair("russh", args.russh, sshd), Pair("russh", args.russh, conchd)]
        for pair in pairs:
            if pair.client_name == "russh":
                # It prints no algorithms, and conch's probe would give
                # conch's: only the held-cipher rows say what it ran.
                pair.kex = pair.cipher = "russh's default"
                continue
            negotiated(setup, pair, bins["concurrent_sessions"])
            log(f"{pair.name}: {pair.kex}, {pair.cipher}")
        # The same pairs held to one cipher on both sides (issue 21: compare
        # like with like; ssh's own default is chacha20-poly1305, conch's
        # AES-GCM), for the download only.
        for cipher in filter(None, args.ciphers.split(",")):
            for base in list(pairs):
                if base.forced_cipher:
                    continue
                pair = Pair(base.client_name, base.client, base.server, cipher)
                pair.kex, pair.cipher, pair.provider = base.kex, cipher, base.provider
                pair.algorithms_source = "-o Ciphers"
                pairs.append(pair)

        if "download" in args.only:
            for run in range(1, args.runs + 1):
                for pair in pairs:
                    if pair.failure:
                        continue
                    try:
                        result = download(setup, pair, args.bytes, args.timeout, args.producer)
                    except RunFailed as e:
                        pair.failure = str(e)
                        log(f"{pair.name}: download FAILED: {e}")
                        continue
                    pair.downloads.append(result)
                    log(f"{pair.name}: download {run}/{args.runs}: "
                        f"{args.bytes / result[0] / 1e6:.1f} MB/s ({result[0]:.2f} s)")

        if "forwarded" in args.only:
            for run in range(1, args.runs + 1):
                for pair in pairs:
                    if pair.failure or pair.forced_cipher or pair.client_name == "russh":
                        continue
                    try:
                        (wall, cpu), server_cpu = forwarded(
                            setup, pair, args.forward_bytes, args.timeout)
                    except RunFailed as e:
                        pair.failure = str(e)
                        log(f"{pair.name}: forwarded FAILED: {e}")
                        continue
                    pair.forwarded.append((wall, cpu, server_cpu))
                    log(f"{pair.name}: forwarded {run}/{args.runs}: "
                        f"{args.forward_bytes / wall / 1e6:.1f} MB/s ({wall:.2f} s)")

        if args.compressed_bytes:
            for run in range(1, args.runs + 1):
                for pair in pairs:
                    if pair.failure or pair.forced_cipher or pair.client_name == "russh":
                        continue
                    try:
                        result = compressed(setup, pair, args.compressed_bytes, args.timeout)
                    except RunFailed as e:
                        pair.failure = str(e)
                        log(f"{pair.name}: compressed FAILED: {e}")
                        continue
                    pair.compressed.append(result)
                    log(f"{pair.name}: compressed {run}/{args.runs}: "
                        f"{args.compressed_bytes / result[0] / 1e6:.1f} MB/s ({result[0]:.2f} s)")

        if "connections" in args.only:
            for pair in pairs:
                if pair.failure or pair.forced_cipher:
                    continue
                try:
                    pair.connections = connections(setup, pair, args.connections, args.timeout)
                except RunFailed as e:
                    pair.failure = str(e)
                    log(f"{pair.name}: connections FAILED: {e}")
                    continue
                log(f"{pair.name}: {args.connections} connections: "
                    f"{pair.connections[0] / args.connections * 1000:.1f} ms each")

        if "rate" in args.only:
            for pair in pairs:
                if pair.failure or pair.forced_cipher:
                    continue
                (rate, failures), server_cpu = server_cpu_during(
                    pair.server, lambda: session_rate(setup, pair, args.rate_sessions,
                                                      args.rate_clients, args.timeout))
                if failures:
                    pair.failure = f"{len(failures)} of {args.rate_sessions} sessions failed: " \
                                   f"{failures[0]}"
                    log(f"{pair.name}: rate FAILED: {pair.failure}")
                    continue
                pair.rate = rate
                # The server's own cost of a session (its processes and the
                # shells it ran), apart from the clients', which on one
                # machine share the cores with it and bound the rate.
                pair.rate_server_ms = (server_cpu * 1000 / args.rate_sessions
                                       if server_cpu is not None else None)
                log(f"{pair.name}: {rate:.1f} sessions/s with {args.rate_clients} clients, "
                    f"server CPU {fmt(pair.rate_server_ms, 2)} ms a session")

        if "concurrent" in args.only:
            # Against the default conchd only: the crypto provider changes the
            # bulk ciphers, which one echoed line per session hardly uses.
            runs = [("`conchd`", bins["conchd"], bins["concurrent_sessions"])]
            for name, conchd_binary, client_binary in runs:
                values = concurrent(setup, name, conchd_binary, client_binary, args.sessions,
                                    args.max_connecting)
                concurrent_results.append((name, values))
                log(f"{name}: {args.sessions} concurrent sessions: "
                    + (f"FAILED: {values['error']}" if "error" in values
                       else f"{values.get('total_wall_s')} s, "
                            f"{values.get('peak_per_session_kib')} KiB per session"))
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        setup.close()
    loads.append(os.getloadavg()[0])
    print_report(args, pairs, concurrent_results, loads, machine_rows)


if __name__ == "__main__":
    main()
