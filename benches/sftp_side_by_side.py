#!/usr/bin/env python3
"""SFTP side by side (issue 19): `conch sftp` and OpenSSH's `sftp`, each
against OpenSSH's sshd (`internal-sftp`) and against conchd, in one run.

For each pair client <-> server it downloads and uploads one file of
--bytes random bytes (default 1 GB, 10^9) with a batch file (`get` / `put`)
and records the wall time (MB/s, 10^6 bytes/s, median of --runs runs,
interleaved across pairs), the client's CPU time and its peak RSS (from
wait4), and checks the copy's SHA-256. Prints the raw runs and a Markdown
table for BENCHMARKS.md. Targets (issue 19): download at least 1.5x and
upload at least 1.2x OpenSSH sftp's throughput, client memory under 64 MiB.

    cargo build --release -p conch-cli --bins
    python3 benches/sftp_side_by_side.py [--bytes N] [--runs N] [--bin-dir target/release]

Run as root (sshd logs in the user running it). Uses the helpers of
side_by_side.py (keys, known_hosts, server processes).
"""

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import side_by_side as sbs  # noqa: E402

SFTP = "/usr/bin/sftp"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bytes", type=int, default=1_000_000_000, help="file size (default 10^9)")
    p.add_argument("--runs", type=int, default=3, help="runs per pair and direction (median)")
    p.add_argument("--bin-dir", default=os.path.join(sbs.ROOT, "target", "release"),
                   help="where conch and conchd are")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per transfer")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    return p.parse_args()


class SftpSetup(sbs.Setup):
    """side_by_side's setup, with sshd serving internal-sftp and conchd
    serving its own SFTP over a directory."""

    def start_sshd(self):
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            os.makedirs("/run/sshd", mode=0o755)
        port = sbs.free_port()
        config = self.path("sshd_config")
        with open(config, "w") as f:
            f.write(f"""# conch sftp side-by-side benchmark
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
UseDNS no
PrintMotd no
Subsystem sftp internal-sftp
""")
        subprocess.run([sbs.SSHD, "-t", "-f", config], check=True)
        server = sbs.Server("sshd", [sbs.SSHD, "-D", "-f", config, "-E", self.path("sshd.log")],
                            port, self.path("sshd.stderr"))
        self.servers.append(server)
        self.trust(port)
        return server

    def start_conchd_sftp(self, binary, root):
        port = sbs.free_port()
        server = sbs.Server("conchd", [binary, "--host-key", self.host_key,
                                       "--authorized-keys", self.authorized_keys,
                                       "-p", str(port), "-q", "--sftp-root", root],
                            port, self.path("conchd.stderr"))
        self.servers.append(server)
        self.trust(port)
        return server

    def sftp_command(self, client, port, batch):
        common = ["-F", "none" if client != SFTP else "/dev/null", "-i", self.user_key,
                  "-o", f"UserKnownHostsFile={self.known_hosts}",
                  "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]
        if client == SFTP:
            return [SFTP] + common + ["-o", "IdentitiesOnly=yes", "-P", str(port),
                                      "-b", batch, f"{self.user}@127.0.0.1"]
        return [client, "sftp"] + common + ["--no-agent", "-P", str(port), "-b", batch,
                                            f"{self.user}@127.0.0.1"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def timed(command, env, timeout):
    """Runs command; returns (seconds, client CPU seconds, peak RSS in KiB).

    The peak is the client's own VmHWM, sampled from /proc every 10 ms
    (wait4's ru_maxrss would count this script's memory, inherited at the
    fork, too)."""
    start = time.monotonic()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    deadline = start + timeout
    peak = 0
    while True:
        hwm = sbs.proc_status_kib(proc.pid, "VmHWM")
        if hwm:
            peak = max(peak, hwm)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"timed out: {' '.join(command)}")
        time.sleep(0.01)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{proc.stderr.read().decode()}")
    return elapsed, usage.ru_utime + usage.ru_stime, peak


def main():
    args = parse_args()
    setup = SftpSetup(args.keep)
    try:
        root = setup.path("served")
        os.makedirs(root)
        source = os.path.join(root, "source.bin")
        with open(source, "wb") as f:
            subprocess.run(["head", "-c", str(args.bytes), "/dev/urandom"], stdout=f, check=True)
        want = sha256(source)
        conch = os.path.join(args.bin_dir, "conch")
        servers = {"sshd": setup.start_sshd(),
                   "conchd": setup.start_conchd_sftp(os.path.join(args.bin_dir, "conchd"), root)}
        clients = {"OpenSSH sftp": SFTP, "conch sftp": conch}
        local = setup.path("local.bin")
        results = {}
        for run in range(args.runs):
            for cname, client in clients.items():
                for sname, server in servers.items():
                    # sshd serves absolute paths, conchd its root as /.
                    remote_dir = root if sname == "sshd" else "/"
                    for direction in ("download", "upload"):
                        batch = setup.path("batch")
                        with open(batch, "w") as f:
                            if direction == "download":
                                f.write(f"get {remote_dir}/source.bin {local}\n")
                            else:
                                f.write(f"put {local} {remote_dir}/upload.bin\n")
                        if direction == "upload" and not os.path.exists(local):
                            continue
                        cmd = setup.sftp_command(client, server.port, batch)
                        secs, cpu, rss = timed(cmd, setup.client_env, args.timeout)
                        check = local if direction == "download" else os.path.join(root, "upload.bin")
                        if sha256(check) != want:
                            raise SystemExit(f"{cname} -> {sname} {direction}: SHA-256 differs")
                        mbs = args.bytes / secs / 1e6
                        sbs.log(f"run {run + 1} {cname} <-> {sname} {direction}: "
                                f"{mbs:.1f} MB/s, client CPU {cpu:.2f} s, peak RSS {rss / 1024:.1f} MiB")
                        results.setdefault((cname, sname, direction), []).append((mbs, cpu, rss))
        print(f"\nSFTP, {args.bytes / 1e9:g} GB, median of {args.runs}:\n")
        print("| client | server | direction | MB/s | client CPU s | client peak RSS MiB |")
        print("|---|---|---|---:|---:|---:|")
        for (cname, sname, direction), rows in sorted(results.items()):
            print(f"| {cname} | {sname} | {direction} "
                  f"| {statistics.median(r[0] for r in rows):.1f} "
                  f"| {statistics.median(r[1] for r in rows):.2f} "
                  f"| {max(r[2] for r in rows) / 1024:.1f} |")
    finally:
        setup.close()


if __name__ == "__main__":
    main()
