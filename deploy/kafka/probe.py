#!/usr/bin/env python3
"""Readiness probe for the local Kafka broker: does it give a real Metadata answer?

A port that accepts connections is not enough (a half-started broker, or something else on the
port), and starting a JVM admin client costs seconds. So this speaks the Kafka wire protocol
directly: one Metadata request (v4: non-flexible, supported by Kafka 1.0 through 4.x) asking for
all topics, and it checks that the answer lists at least one broker.

usage: probe.py HOST PORT [TIMEOUT_SECONDS]   exit 0 = answers, 1 = does not (reason on stderr)
"""
import socket
import struct
import sys

API_METADATA = 3
VERSION = 4
CORRELATION_ID = 0x7A5C


def kstring(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request() -> bytes:
    header = struct.pack(">hhi", API_METADATA, VERSION, CORRELATION_ID) + kstring("taskflow-probe")
    # topics: null array (-1) = all topics; allow_auto_topic_creation: false
    body = struct.pack(">i", -1) + struct.pack(">?", False)
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def read_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        buf += chunk
    return buf


def main() -> int:
    host, port = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(request())
            (size,) = struct.unpack(">i", read_exact(sock, 4))
            resp = read_exact(sock, size)
    except (OSError, ConnectionError) as e:
        print(f"kafka probe: {host}:{port}: {e}", file=sys.stderr)
        return 1
    # response header v0: correlation_id; body v4: throttle_time_ms, brokers[...]
    correlation, _throttle, n_brokers = struct.unpack(">iii", resp[:12])
    if correlation != CORRELATION_ID:
        print(f"kafka probe: unexpected correlation id {correlation}", file=sys.stderr)
        return 1
    if n_brokers < 1:
        print("kafka probe: metadata answer lists no broker yet", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
