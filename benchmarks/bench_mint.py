"""Minting speed: `mint_devices` (files and manifest included) against the library's in-memory
signing rate on the same cores, measured in the same run. Target (issue #2): ratio >= 0.70.

To tell our overhead from the file system's, it also measures how many device directories per
second the target file system takes with no cryptography at all (same writer, same cores), and,
where /dev/shm exists, repeats the mint there. RSA-2048 minting must use every core.

Usage: python benchmarks/bench_mint.py [--count 100000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from certs_tool import KeyType, init_fleet, load_authority, mint_devices
from certs_tool.credentials import Issuer
from certs_tool.files import PRIVATE, PUBLIC, write_dir_atomic

_CERT, _KEY = b"c" * 620, b"k" * 240  # the sizes of an EC P-256 certificate and key PEM


def _issue_in_memory(args: tuple[str, int]) -> None:
    root, count = args
    issuer = Issuer(load_authority(Path(root), None), now=datetime.now(UTC), days=365)
    for i in range(count):
        issuer.issue(f"bench-{i:06d}", KeyType.EC_P256)


def _write_only(args: tuple[str, int]) -> None:
    directory, count = args
    os.makedirs(directory)
    for i in range(count):
        write_dir_atomic(
            os.path.join(directory, f"bench-{i:06d}"),
            {"cert.pem": (_CERT, PUBLIC), "key.pem": (_KEY, PRIVATE)},
        )


def _pool_rate(
    function: Callable[[tuple[str, int]], None], args: list[tuple[str, int]], workers: int
) -> float:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(abs, [0] * workers))  # start the workers before the clock
        started = time.perf_counter()
        list(pool.map(function, args))
        elapsed = time.perf_counter() - started
    return sum(count for _, count in args) / elapsed


def mint_rate(base: Path, count: int, workers: int, key_type: KeyType) -> float:
    root = base / f"mint-{key_type.value}-{workers}-{count}"
    init_fleet(root)
    report = mint_devices(root, count=count, workers=workers, key_type=key_type)
    assert report.minted == count
    return report.rate


def measure(base: Path, count: int, workers: int, in_memory: float) -> float:
    per_worker = max(1000, count // workers // 4)
    files = _pool_rate(
        _write_only, [(str(base / f"files-{w}"), per_worker) for w in range(workers)], workers
    )
    rate = mint_rate(base, count, workers, KeyType.EC_P256)
    # Signing and writing share the same cores: the best any minter could do here.
    bound = 1 / (1 / in_memory + 1 / files)
    print(
        f"  {base}: file system alone {files:,.0f} device directories/s, so at best "
        f"{bound:,.0f} devices/s; certs-tool mint --count {count}: {rate:,.0f} devices/s = "
        f"{count / rate:.1f} s, {rate / bound:.2f} of that bound, ratio {rate / in_memory:.2f}"
    )
    return rate / in_memory


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rsa-count", type=int, default=100)
    parser.add_argument("--dir", type=Path, help="where to mint (default: under $TMPDIR)")
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        init_fleet(base / "ca-only")
        per_worker = max(1000, args.count // workers // 4)
        in_memory = _pool_rate(
            _issue_in_memory, [(str(base / "ca-only"), per_worker)] * workers, workers
        )
        print(f"in-memory EC P-256 signing, {workers} processes: {in_memory:,.0f} credentials/s")
        rsa_one = mint_rate(base, args.rsa_count, 1, KeyType.RSA_2048)
        rsa_all = mint_rate(base, args.rsa_count, workers, KeyType.RSA_2048)
        print(f"RSA-2048 mint: 1 worker {rsa_one:,.0f}/s, {workers} workers {rsa_all:,.0f}/s, "
              f"speed-up {rsa_all / rsa_one:.2f}x on {workers} cores")  # fmt: skip
        if Path("/dev/shm").is_dir() and args.dir is None:
            with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
                measure(Path(shm), args.count, workers, in_memory)
        ratio = measure(base, args.count, workers, in_memory)
    print(f"mint/in-memory ratio on {args.dir or 'TMPDIR'}: {ratio:.2f} (target >= 0.70)")


if __name__ == "__main__":
    main()
