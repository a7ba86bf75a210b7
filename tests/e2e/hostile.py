"""Tools of an attacker on the same network, for the hardening tests (issue 11): raw nvhttp requests from a
chosen loopback source address (127.0.0.0/8 only), a step-by-step pairing client whose stages the test
interleaves with other requests, idle-connection holders and junk floods.

Everything here talks to a host on loopback; nothing leaves the machine.
"""

from __future__ import annotations

import http.client
import os
import socket
import time
from pathlib import Path
from xml.etree import ElementTree

STOCK_UNIQUEID = "0123456789ABCDEF"  # what moonlight-python (and older clients) send as uniqueid


def loopback(n: int) -> str:
    """The n-th extra loopback source address: 127.0.1.n / 127.0.2.n ... (never 127.0.0.1)."""
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def get(host, path: str, query: str = "", source: str = "127.0.0.1", uniqueid: str = STOCK_UNIQUEID,
        timeout: float = 10.0) -> tuple[int, ElementTree.Element | None, bytes]:
    """GET http://host/path?uniqueid=..&uuid=..&query from `source`; returns (HTTP status, XML root, body)."""
    conn = http.client.HTTPConnection(host.address, host.ports["http"], timeout=timeout, source_address=(source, 0))
    try:
        conn.request("GET", f"/{path}?uniqueid={uniqueid}&uuid={os.urandom(4).hex()}{query}")
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        root = None
    return r.status, root, body


def field(root, tag):
    e = root.find(tag) if root is not None else None
    return e.text if e is not None else None


class StepPair:
    """The client side of the pairing exchange, one stage per call, from a chosen source address and
    uniqueid (the byte layout is that of the stock client, moonlight_python.pairing)."""

    def __init__(self, host, identity_dir: Path, pin: str, source: str = "127.0.0.1",
                 uniqueid: str = STOCK_UNIQUEID, device: str = "roth"):
        from moonlight_python.identity import Identity

        self.host, self.pin, self.source, self.uniqueid, self.device = host, pin, source, uniqueid, device
        self.identity = Identity(str(identity_dir))
        self.salt = os.urandom(16)
        from moonlight_python import pairing as p

        self._p = p
        self.key = p._hash_data("sha256", self.salt + pin.encode())[:16]

    def _get(self, query: str, timeout: float = 10.0):
        return get(self.host, "pair", f"&devicename={self.device}&updateState=1&{query}", source=self.source,
                   uniqueid=self.uniqueid, timeout=timeout)

    def stage1(self, timeout: float = 30.0):
        return self._get(f"phrase=getservercert&salt={self.salt.hex()}&clientcert={self.identity.cert_pem.hex()}",
                         timeout)

    def stage2(self):
        self.challenge = os.urandom(16)
        status, root, body = self._get(f"clientchallenge={self._p._aes_encrypt_ecb(self.challenge, self.key).hex()}")
        resp = field(root, "challengeresponse")
        if resp:
            plain = self._p._aes_decrypt_ecb(bytes.fromhex(resp), self.key)
            self.server_hash, self.server_challenge = plain[:32], plain[32:48]
        return status, root, body

    def stage3(self):
        self.client_secret = os.urandom(16)
        h = self._p._hash_data("sha256", self.server_challenge + self.identity.cert_signature() + self.client_secret)
        return self._get(f"serverchallengeresp={self._p._aes_encrypt_ecb(h, self.key).hex()}")

    def stage4(self):
        secret = self.client_secret + self._p._sign_data(self.identity, self.client_secret)
        return self._get(f"clientpairingsecret={secret.hex()}")

    def unpair(self):
        return get(self.host, "unpair", source=self.source, uniqueid=self.uniqueid)


def hold_connections(address: str, port: int, count: int, per_source: int, first_source: int = 0,
                     send: bytes = b"") -> list[socket.socket]:
    """Opens `count` TCP connections to address:port, `per_source` from each extra loopback address, and keeps
    them open (sending `send` once, e.g. half a request head). Connections the host refuses are skipped."""
    socks = []
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((loopback(first_source + i // per_source), 0))
            s.settimeout(2)
            s.connect((address, port))
            if send:
                s.sendall(send)
            s.setblocking(True)  # so that recv(MSG_DONTWAIT | MSG_PEEK) probes without waiting
            socks.append(s)
        except socket.timeout:
            s.close()
            break  # the host's backlog is full: no point in queueing more
        except OSError:
            s.close()
    return socks


def is_open(s: socket.socket) -> bool:
    """Whether the host still holds this connection open (no FIN or reset seen)."""
    try:
        return s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def udp_flood(address: str, ports: list[int], count: int, sources: int = 4, size: int = 200) -> None:
    """Sends `count` junk datagrams round-robin to `ports` from `sources` extra loopback addresses."""
    socks = []
    for n in range(sources):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((loopback(100 + n), 0))
        socks.append(s)
    junk = os.urandom(size)
    for i in range(count):
        try:
            socks[i % sources].sendto(junk, (address, ports[i % len(ports)]))
        except OSError:
            pass
    for s in socks:
        s.close()


def wait_until(predicate, timeout: float = 10.0, what: str = "condition", poll: float = 0.05):
    """Polls `predicate` until it returns a truthy value (returned) or the deadline passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(poll)
