"""The report of benches/side_by_side.py: the machine's description, every
run's raw numbers and the Markdown tables for BENCHMARKS.md."""

import os
import platform
import statistics
import subprocess

from side_by_side import ROOT, SSH


def machine(args):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def output(command):
        try:
            r = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return [
        ("CPU", model),
        ("cores (`nproc`)", str(len(os.sched_getaffinity(0)))),
        ("kernel", platform.release()),
        ("rustc", output(["rustc", "-V"])),
        ("OpenSSH", output([SSH, "-V"])),
        *([("OpenSSH 10", output([os.path.join(args.openssh10, "usr/bin/ssh"), "-V"]))]
          if args.openssh10 else []),
        ("conch commit", output(["git", "describe", "--always", "--dirty"])),
    ]


def fmt(value, digits=1):
    return "–" if value is None else f"{value:.{digits}f}"


def print_report(args, pairs, concurrent_results, loads, machine_rows):
    all_pairs = pairs

    def baseline_for(cipher):
        return next((p for p in all_pairs if p.client_name == "ssh" and p.server.name == "sshd"
                     and p.forced_cipher == cipher), None)

    baseline = baseline_for(None)
    held = [p for p in pairs if p.forced_cipher]
    pairs = [p for p in pairs if not p.forced_cipher]
    print()
    print("## Raw numbers")
    print()
    for pair in pairs + held:
        provider = f"; crypto provider: {pair.provider}" if pair.provider else ""
        print(f"{pair.name}: kex {pair.kex}, cipher {pair.cipher} "
              f"(from {pair.algorithms_source or '?'}){provider}")
        for i, (wall, cpu, server_cpu) in enumerate(pair.downloads, 1):
            print(f"  download {i}: {args.bytes} bytes in {wall:.3f} s = "
                  f"{args.bytes / wall / 1e6:.1f} MB/s; CPU client {cpu:.2f} s, "
                  f"server {fmt(server_cpu, 2)} s")
        for i, (wall, cpu, server_cpu) in enumerate(pair.forwarded, 1):
            print(f"  forwarded {i}: {args.forward_bytes} bytes in {wall:.3f} s = "
                  f"{args.forward_bytes / wall / 1e6:.1f} MB/s; CPU client {fmt(cpu, 2)} s, "
                  f"server {fmt(server_cpu, 2)} s")
        if pair.connections:
            wall, cpu, server_cpu = pair.connections
            print(f"  {args.connections} connections: {wall:.3f} s = "
                  f"{wall / args.connections * 1000:.2f} ms each; CPU client "
                  f"{cpu / args.connections * 1000:.2f} ms, server "
                  f"{fmt(server_cpu and server_cpu / args.connections * 1000, 2)} ms each")
        if pair.failure:
            print(f"  FAILED: {pair.failure}")
    for name, values in concurrent_results:
        print(f"{name}, {args.sessions} concurrent sessions:")
        for line in values.get("stdout", "").splitlines():
            print(f"  {line}")
        if values.get("stderr", "").strip():
            for line in values["stderr"].strip().splitlines()[-20:]:
                print(f"  stderr: {line}")
    print()
    print(f"Load average (1 min): {loads[0]:.2f} at the start, {loads[1]:.2f} at the end.")

    def mbps(pair):
        if not pair.downloads or pair.failure:
            return None
        return statistics.median(args.bytes / wall / 1e6 for wall, _, _ in pair.downloads)

    def cpu_per_gb(pair):
        if not pair.downloads or pair.failure:
            return None
        totals = [cpu + (server or 0) for _, cpu, server in pair.downloads]
        return statistics.median(totals) / (args.bytes / 1e9)

    def per_connection_ms(pair):
        if not pair.connections or pair.failure:
            return None
        return pair.connections[0] / args.connections * 1000

    base_mbps = mbps(baseline) if baseline else None
    base_ms = per_connection_ms(baseline) if baseline else None
    print()
    print("## Table")
    print()
    size = f"{args.bytes / 1e9:g} GB" if args.bytes >= 1e9 else f"{args.bytes / 1e6:g} MB"
    size += f" (`{args.producer}`)"
    print(f"| client ↔ server | key exchange | cipher | {size} download, MB/s "
          f"(median of {args.runs}) | vs ssh↔sshd | CPU s per GB (client + server) "
          f"| connect+exec+close, ms each ({args.connections} in a row) | vs ssh↔sshd |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for pair in pairs:
        speed = mbps(pair)
        ms = per_connection_ms(pair)
        speed_ratio = speed / base_mbps if speed and base_mbps else None
        # > 1 means faster than ssh↔sshd in both ratio columns.
        ms_ratio = base_ms / ms if ms and base_ms else None
        failed = " (failed)" if pair.failure else ""
        print(f"| {pair.name}{failed} | {pair.kex} | {pair.cipher} | {fmt(speed, 0)} "
              f"| {fmt(speed_ratio, 2)} | {fmt(cpu_per_gb(pair), 2)} | {fmt(ms, 1)} "
              f"| {fmt(ms_ratio, 2)} |")
    print()
    print("Ratios: the pair's speed over `ssh`↔sshd's (above 1: faster), for "
          "throughput and for time per connection alike.")
    if held:
        print()
        print(f"| client ↔ server, both held to | {size} download, MB/s (median of {args.runs}) "
              "| vs ssh↔sshd on the same cipher | CPU s per GB (client + server) |")
        print("|---|---:|---:|---:|")
        for pair in held:
            speed = mbps(pair)
            base = baseline_for(pair.forced_cipher)
            base_speed = mbps(base) if base else None
            ratio = speed / base_speed if speed and base_speed else None
            failed = " (failed)" if pair.failure else ""
            print(f"| {pair.name}{failed}, {pair.forced_cipher} | {fmt(speed, 0)} "
                  f"| {fmt(ratio, 2)} | {fmt(cpu_per_gb(pair), 2)} |")

    def forwarded_mbps(pair):
        if not pair.forwarded:
            return None
        return statistics.median(args.forward_bytes / wall / 1e6 for wall, _, _ in pair.forwarded)

    def forwarded_cpu_per_gb(pair, side):
        values = [run[side] for run in pair.forwarded if run[side] is not None]
        if not values:
            return None
        return statistics.median(values) / (args.forward_bytes / 1e9)

    if any(p.forwarded for p in pairs):
        base = forwarded_mbps(baseline) if baseline else None
        fsize = f"{args.forward_bytes / 1e9:g} GB" if args.forward_bytes >= 1e9 \
            else f"{args.forward_bytes / 1e6:g} MB"
        print()
        print(f"| client ↔ server | {fsize} through `-L`, MB/s (median of {args.runs}) "
              "| vs ssh↔sshd | client CPU s per GB | server CPU s per GB |")
        print("|---|---:|---:|---:|---:|")
        for pair in pairs:
            speed = forwarded_mbps(pair)
            ratio = speed / base if speed and base else None
            print(f"| {pair.name} | {fmt(speed, 0)} | {fmt(ratio, 2)} "
                  f"| {fmt(forwarded_cpu_per_gb(pair, 1), 2)} "
                  f"| {fmt(forwarded_cpu_per_gb(pair, 2), 2)} |")
    if any(p.rate for p in pairs):
        base = baseline.rate if baseline else None
        print()
        print(f"| client ↔ server | full sessions per second, {args.rate_clients} clients at once "
              f"({args.rate_sessions} sessions) | vs ssh↔sshd | vs the same client ↔ sshd "
              "| server CPU ms per session (with its shells) | sessions per server CPU second, "
              "vs the same client ↔ sshd |")
        print("|---|---:|---:|---:|---:|---:|")
        for pair in pairs:
            if not pair.rate:
                continue
            same_client = next((p for p in pairs if p.client_name == pair.client_name
                                and p.server.name == "sshd" and p.rate), None)
            server_ms = pair.rate_server_ms
            sshd_ms = same_client.rate_server_ms if same_client else None
            print(f"| {pair.name} | {pair.rate:.1f} | {fmt(base and pair.rate / base, 2)} "
                  f"| {fmt(same_client and pair.rate / same_client.rate, 2)} "
                  f"| {fmt(server_ms, 2)} "
                  f"| {fmt(server_ms and sshd_ms and sshd_ms / server_ms, 2)} |")
    if any(p.compressed for p in pairs):
        csize = f"{args.compressed_bytes / 1e6:g} MB"

        def compressed_mbps(pair):
            return statistics.median(args.compressed_bytes / wall / 1e6
                                     for wall, _, _ in pair.compressed)

        def compressed_cpu_per_gb(pair):
            totals = [cpu + (server or 0) for _, cpu, server in pair.compressed]
            return statistics.median(totals) / (args.compressed_bytes / 1e9)

        base = compressed_mbps(baseline) if baseline and baseline.compressed else None
        print()
        print(f"| client ↔ server, `-C` | {csize} of text, MB/s (median of {args.runs}) "
              "| vs ssh↔sshd | CPU s per GB of text (client + server) |")
        print("|---|---:|---:|---:|")
        for pair in pairs:
            if not pair.compressed:
                continue
            speed = compressed_mbps(pair)
            ratio = speed / base if base else None
            print(f"| {pair.name} | {fmt(speed, 0)} | {fmt(ratio, 2)} "
                  f"| {fmt(compressed_cpu_per_gb(pair), 2)} |")
    if concurrent_results:
        print()
        print(f"| {args.sessions} concurrent sessions, one process | total time | all open after "
              "| peak memory per session (client process) | client CPU | conchd memory per "
              "session (with its session) | conchd CPU |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, v in concurrent_results:
            if "error" in v:
                print(f"| {name} | failed: {v['error']} | | | | | |")
                continue
            print(f"| {name} | {v.get('total_wall_s', '?')} s | {v.get('all_open_s', '?')} s "
                  f"| {v.get('peak_per_session_kib', '?')} KiB "
                  f"| {v.get('client_cpu_s', '?')} s "
                  f"| {v.get('server_rss_per_session_kib', '?')} KiB "
                  f"| {v.get('server_cpu_s', '?')} s |")
    print()
    print("| | |")
    print("|---|---|")
    for key, value in machine_rows:
        print(f"| {key} | {value} |")
    print(f"| load average (1 min) | {loads[0]:.2f} at the start, {loads[1]:.2f} at the end |")
