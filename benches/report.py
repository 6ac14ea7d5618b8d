#!/usr/bin/env python3
"""Prints the in-process part of BENCHMARKS.md from criterion's results.

Run after `cargo bench -p conch-benches`:

    python3 benches/report.py [CRITERION_DIR]

CRITERION_DIR defaults to target/criterion at the repository root. The
tables show each benchmark's estimate (criterion's slope when it has one,
else the mean of the samples) and the ratios the targets of issue 5 are
about. Times are the benchmark thread's CPU time (see
benches/benches/common/mod.rs).

Results of `cargo bench -p conch-benches --features ring` include the ring
provider's ciphers, labelled `<cipher>[ring]`: they are listed next to the
pure-Rust ones, and a last table gives ring's speed-up over pure Rust.
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
# Data bytes per packet in the pair: the default maximum packet size.
PAIR_PACKET = 32 * 1024
PAIR_TARGET = 0.85
HANDSHAKE_TARGET = 1.5


# full_id -> when its result was written, to prefer the latest run's.
MTIMES = {}


def load(directory):
    """full_id -> (nanoseconds, bytes of throughput or None)."""
    results = {}
    for dirpath, _, files in os.walk(directory):
        if not dirpath.endswith(os.sep + "new") or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        point = (est.get("slope") or est["mean"])["point_estimate"]
        throughput = (bench.get("throughput") or {}).get("Bytes")
        results[bench["full_id"]] = (point, throughput)
        MTIMES[bench["full_id"]] = os.path.getmtime(os.path.join(dirpath, "estimates.json"))
    return results


def newest(results, prefix):
    """The most recently measured benchmark whose id starts with prefix."""
    ids = [k for k in results if k.startswith(prefix)]
    return max(ids, key=lambda k: MTIMES.get(k, 0), default=None)


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}" if ns / scale < 100 else f"{ns / scale:.0f} {unit}"
    return f"{ns:.0f} ns"


def mib_s(ns, nbytes):
    return nbytes / MIB / (ns / 1e9)


def cell(results, full_id):
    if full_id not in results:
        return "–"
    ns, nbytes = results[full_id]
    if nbytes:
        return f"{fmt_time(ns)} ({mib_s(ns, nbytes):.0f} MiB/s)"
    return fmt_time(ns)


def ratio(results, a, b):
    if a not in results or b not in results:
        return None
    return results[a][0] / results[b][0]


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}"


RING = "[ring]"


def split_provider(label):
    """`aes128-gcm@openssh.com[ring]` -> (`aes128-gcm@openssh.com`, True):
    the cipher (and MAC) without the provider tag, and whether it is ring's."""
    if RING in label:
        return label.replace(RING, "", 1), True
    return label, False


def label_order(label):
    """Sorts a ring cipher right after its pure-Rust counterpart."""
    base, ring = split_provider(label)
    return (base, ring)


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine():
    model = "?"
    for line in run(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    print("| | |")
    print("|---|---|")
    print(f"| CPU | {model} |")
    print(f"| cores (`nproc`) | {run(['nproc'])} |")
    print(f"| rustc | {run(['rustc', '--version'])} |")
    print(f"| commit | {run(['git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD'])} |")
    print()


def packet_table(results):
    ciphers = sorted({k.split("/")[1] for k in results if k.startswith("packet/")},
                     key=label_order)
    sizes = sorted({int(k.rsplit("/", 1)[1]) for k in results if k.startswith("packet/")})
    print("| cipher | payload | seal | open | seal+open | raw seal | raw open | raw seal+open "
          "| overhead seal | overhead open | overhead seal+open |")
    print("|---|---:|---|---|---|---|---|---|---:|---:|---:|")
    for c in ciphers:
        for s in sizes:
            ids = {op: f"packet/{c}/{op}/{s}" for op in
                   ("seal", "open", "roundtrip", "raw-seal", "raw-open", "raw-roundtrip")}
            row = [c, f"{s // 1024} KiB"]
            row += [cell(results, ids[op]) for op in
                    ("seal", "open", "roundtrip", "raw-seal", "raw-open", "raw-roundtrip")]
            row += [fmt_ratio(ratio(results, ids[op], ids["raw-" + op]))
                    for op in ("seal", "open", "roundtrip")]
            print("| " + " | ".join(row) + " |")
    print()
    print("Overhead is the provider's time over the raw AEAD call's on the same buffer "
          "(1.00: none): the `aes-gcm` crate's, or ring's own for `[ring]` rows.")
    print()


def pair_table(results):
    print(f"| cipher | channels | time per 256 MiB | throughput | vs raw seal+open (32 KiB) "
          f"| vs provider seal+open (32 KiB) | target ≥ {PAIR_TARGET:.0%} |")
    print("|---|---:|---|---:|---:|---:|---|")

    def key(full_id):
        _, _, label, count = full_id.split("/", 3)
        return (label, int("".join(ch for ch in count if ch.isdigit()) or 0))

    def order(full_id):
        label, count = key(full_id)
        return (label_order(label), count)

    verdicts = []
    # pair/download-256MiB/<cipher>/<n>ch
    ids = [k for k in results if k.startswith("pair/") and k.count("/") == 3]
    for k in sorted(ids, key=order):
        label, count = key(k)
        ns, nbytes = results[k]
        tput = mib_s(ns, nbytes)
        vs = {}
        for kind, op in (("raw", "raw-roundtrip"), ("provider", "roundtrip")):
            base = f"packet/{label}/{op}/{PAIR_PACKET}"
            if base in results:
                b_ns, b_bytes = results[base]
                vs[kind] = tput / mib_s(b_ns, b_bytes)
        # The raw crate call when there is one; otherwise the provider's own
        # seal+open, which calls the cipher and MAC crates directly.
        against = vs.get("raw", vs.get("provider"))
        met = "–" if against is None else ("met" if against >= PAIR_TARGET else "NOT met")
        verdicts.append(met)
        print(f"| {label} | {count} | {fmt_time(ns)} | {tput:.0f} MiB/s "
              f"| {fmt_ratio(vs.get('raw'))} | {fmt_ratio(vs.get('provider'))} | {met} |")
    print()
    print("The target compares with the raw AEAD call where the benchmarks have one (ring's "
          "for `[ring]` rows), else with the provider's seal+open (which calls the cipher and "
          "MAC crates directly).")
    print()
    return verdicts


def provider_table(results):
    """ring's speed-up over the pure-Rust provider, cipher by cipher: packet
    seal+open per payload size, and in-memory pair throughput. Nothing when
    no `[ring]` results exist."""
    rows = []
    for k in results:
        parts = k.split("/")
        if len(parts) != 4:
            continue
        if parts[0] == "packet" and parts[2] == "roundtrip":
            label, order, what = parts[1], (0, int(parts[3])), f"seal+open {int(parts[3]) // 1024} KiB"
        elif parts[0] == "pair":
            count = int("".join(ch for ch in parts[3] if ch.isdigit()) or 0)
            label, order, what = parts[2], (1, count), f"pair, {parts[3]}"
        else:
            continue
        base, ring = split_provider(label)
        pure_id = k.replace(label, base, 1)
        if not ring or pure_id not in results:
            continue
        (p_ns, p_bytes), (r_ns, r_bytes) = results[pure_id], results[k]
        rows.append(((base, order), base, what, mib_s(p_ns, p_bytes), mib_s(r_ns, r_bytes),
                     p_ns / r_ns))
    rows.sort()
    if not rows:
        return
    print("#### ring provider vs pure Rust\n")
    print("| cipher | measure | pure Rust | ring | ring speed-up |")
    print("|---|---|---:|---:|---:|")
    for _, base, what, pure, ring, speedup in rows:
        print(f"| {base} | {what} | {pure:.0f} MiB/s | {ring:.0f} MiB/s | {speedup:.2f}x |")
    print()
    print("`cargo bench -p conch-benches --features ring`; the pair rows have both peers on "
          "the same provider.")
    print()


def handshake_table(results):
    kex = newest(results, "handshake-crypto/kex-both-sides/")
    sign = newest(results, "handshake-crypto/sign/")
    verify = newest(results, "handshake-crypto/verify/")
    for k in (kex, sign, verify):
        if k:
            print(f"- `{k}`: {cell(results, k)}")
    print()
    print(f"| session | time per session | its public-key crypto | ratio | target ≤ {HANDSHAKE_TARGET}x |")
    print("|---|---|---|---:|---|")
    for login, signatures in (("password", 1), ("publickey-ed25519", 2)):
        k = f"handshake/session/{login}"
        if k not in results:
            continue
        ns = results[k][0]
        crypto = None
        if kex and sign and verify:
            crypto = results[kex][0] + signatures * (results[sign][0] + results[verify][0])
        r = None if crypto is None else ns / crypto
        met = "–" if r is None else ("met" if r <= HANDSHAKE_TARGET else "NOT met")
        print(f"| {login} | {fmt_time(ns)} | {'–' if crypto is None else fmt_time(crypto)} "
              f"| {fmt_ratio(r)} | {met} |")
    print()


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else ROOT / "target" / "criterion"
    results = load(directory)
    if not results:
        sys.exit(f"no criterion results under {directory}: run `cargo bench -p conch-benches` first")
    print("#### Machine\n")
    machine()
    print("#### Packet hot path\n")
    packet_table(results)
    print("#### In-memory pair\n")
    pair_table(results)
    print("#### In-memory handshake\n")
    handshake_table(results)
    provider_table(results)


if __name__ == "__main__":
    main()
