"""Helpers for the distributed mode's tests: a real Redis server on 127.0.0.1, writer and worker processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

from .conftest import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A `redis-server` process of our own on a free loopback port, with its append-only file in `directory`."""

    def __init__(self, directory: Path, *, aof: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run `make system-deps` (scripts/install-system-deps).")
        self.binary = binary
        self.directory = directory
        self.aof = aof
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes" if self.aof else "no",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=20)
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


class Role:
    """A `scrape worker` or `scrape writer` process."""

    def __init__(self, args: list[str], log: Path, *, wrapper: list[str] | None = None) -> None:
        self.log = log
        self.handle = log.open("ab")
        command = [*(wrapper or [sys.executable, "-m", "scraper"]), *args]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SCRAPE_ALLOW_PRIVATE": "1"},
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()
        return int(self.process.returncode)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def worker(url: str, log: Path, *extra: str) -> Role:
    return Role(["worker", "--redis", url, "--redelivery-after", "3", "--threads", "4", *extra], log)


def writer(url: str, archives: Path, log: Path, *extra: str, kill_in_commit: int = 0) -> Role:
    """A writer; with `kill_in_commit` it kills itself (SIGKILL) inside that archive commit (bench/killhook.py)."""
    wrapper = [sys.executable, str(ROOT / "bench" / "killhook.py"), str(kill_in_commit)] if kill_in_commit else None
    return Role(
        ["writer", "--redis", url, "--archives", str(archives), "--redelivery-after", "3", "--lease", "20", *extra],
        log,
        wrapper=wrapper,
    )


def crawl(url: str, schedule: Path, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`scrape crawl SCHEDULE --redis URL`: send the run and wait for its result."""
    return subprocess.run(
        [sys.executable, "-m", "scraper", "crawl", str(schedule), "--redis", url, *extra],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
