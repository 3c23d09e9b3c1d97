"""Fixtures of the KMS tests: a test PKI, a scenario with SAEs, and real
``qchannel kms`` processes on loopback ports chosen free at test time."""
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "kms-link.toml")
LOAD_PAIRS = 4                   # load test: sae-l0..3 at alice, sae-m0..3 at bob
SAES = ["sae-a", "sae-b", "sae-c"] + [f"sae-l{i}" for i in range(LOAD_PAIRS)] + \
       [f"sae-m{i}" for i in range(LOAD_PAIRS)]


def free_ports(n):
    """``n`` consecutive free TCP ports on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free consecutive ports")


def scenario_text(max_key_count=512):
    """The example with more SAEs (sae-c has a certificate but no node) and
    its own pool size."""
    text = open(EXAMPLE).read().replace("max_key_count = 256", f"max_key_count = {max_key_count}")
    for i in range(LOAD_PAIRS):
        text += (f'\n[[kms.saes]]\nname = "sae-l{i}"\nnode = "alice"\n'
                 f'\n[[kms.saes]]\nname = "sae-m{i}"\nnode = "bob"\n')
    return text


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    from qchannel.kms.certs import make_certs

    d = tmp_path_factory.mktemp("kms-certs")
    make_certs(str(d), kmes=["alice", "bob"], saes=SAES)
    return str(d)


class KmsProcess:
    """One ``python -m qchannel kms`` subprocess; its stderr goes to a file."""

    def __init__(self, scenario, certs, store=None, speedup=200.0, tmp=None, n_kmes=2):
        self.port = free_ports(n_kmes)
        self.log = os.path.join(tmp, f"kms-{self.port}.log")
        cmd = [sys.executable, "-m", "qchannel", "kms", scenario, "--certs", certs,
               "--port", str(self.port), "--speedup", str(speedup)]
        if store:
            cmd += ["--store", store]
        self.err = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.err)
        self.lines = [self.proc.stdout.readline().decode().strip() for _ in range(n_kmes)]
        if self.proc.poll() is not None or not all(self.lines):
            raise RuntimeError(f"qchannel kms did not start: {open(self.log).read()}")
        self.url = {line.split()[1]: line.split()[2] for line in self.lines}
        self.certs = certs

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        self.err.close()

    def stderr(self):
        self.err.flush()
        return open(self.log).read()


class Sae:
    """An SAE: an aiohttp client with its own certificate, talking to one KME."""

    def __init__(self, name, kme_url, certs, session):
        from qchannel.kms.server import client_context

        self.name, self.url, self.session = name, kme_url, session
        self.ssl = client_context(os.path.join(certs, "ca.pem"),
                                  os.path.join(certs, f"{name}.pem"),
                                  os.path.join(certs, f"{name}.key"))

    async def call(self, method, other, verb, params=None, json=None):
        async with self.session.request(method, f"{self.url}/api/v1/keys/{other}/{verb}",
                                        params=params, json=json, ssl=self.ssl) as r:
            return r.status, await r.json()

    async def enc_keys(self, slave, number=1, size=None, post=False):
        body = {"number": number, **({"size": size} if size else {})}
        if post:
            return await self.call("POST", slave, "enc_keys", json=body)
        return await self.call("GET", slave, "enc_keys", params=body)

    async def dec_keys(self, master, ids, post=True):
        if post:
            return await self.call("POST", master, "dec_keys",
                                   json={"key_IDs": [{"key_ID": k} for k in ids]})
        return await self.call("GET", master, "dec_keys", params=[("key_ID", k) for k in ids])

    async def status(self, slave):
        return await self.call("GET", slave, "status")

    async def wait_keys(self, slave, count, timeout=60.0):
        """Poll status until the pool holds ``count`` keys; returns the status."""
        t0 = time.monotonic()
        while True:
            code, st = await self.status(slave)
            assert code == 200, st
            if st["stored_key_count"] >= count:
                return st
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f"the pool holds {st['stored_key_count']} keys after "
                                     f"{timeout} s, not {count}")
            await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
def kms_scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("kms-scenario") / "kms.toml"
    path.write_text(scenario_text())
    return str(path)


@pytest.fixture(scope="session")
def kms(kms_scenario, certs, tmp_path_factory):
    """A running pair of KMEs (in-memory pool) shared by the session's tests."""
    p = KmsProcess(kms_scenario, certs, tmp=str(tmp_path_factory.mktemp("kms-log")))
    yield p
    p.kill(signal.SIGTERM)


def run(coro):
    return asyncio.run(coro)
