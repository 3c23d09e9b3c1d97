"""End to end: two SAEs fetch the same key from their own KMEs and use it as
the external pre-shared key of a real TLS 1.3 session between Debian's
``openssl s_server -psk ... -nocert`` and ``openssl s_client -psk ...``."""
import base64
import shutil
import subprocess
import time

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")

from tests.kms.conftest import Sae, free_ports, run


OPENSSL = shutil.which("openssl", path="/usr/bin") or shutil.which("openssl")


def _tls_session(server_key, client_key, identity):
    """(handshake ok, what the server received, client output) of one
    s_server/s_client exchange with external PSKs given as hex."""
    port = free_ports(1)
    server = subprocess.Popen(
        [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-nocert", "-tls1_3",
         "-psk", server_key, "-psk_identity", identity, "-naccept", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        head = b""
        while b"ACCEPT" not in head:                   # it listens
            line = server.stdout.readline()
            assert line, f"openssl s_server did not start: {head!r}"
            head += line
        client = subprocess.run(
            [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3",
             "-psk", client_key, "-psk_identity", identity],
            input=b"hello over a QKD key\n", capture_output=True, timeout=20)
        time.sleep(0.2)                                # the server prints what it got
    finally:
        server.kill()
        received = server.communicate(timeout=10)[0].decode(errors="replace")
    out = client.stdout.decode(errors="replace") + client.stderr.decode(errors="replace")
    ok = client.returncode == 0 and "TLSv1.3" in out and "Cipher is (NONE)" not in out
    return ok, received, out


@pytest.mark.skipif(OPENSSL is None, reason="no openssl binary (Debian: apt install openssl)")
def test_delivered_key_is_the_psk_of_a_real_tls_session(kms):
    async def fetch():
        async with aiohttp.ClientSession() as s:
            a = Sae("sae-a", kms.url["alice"], kms.certs, s)
            b = Sae("sae-b", kms.url["bob"], kms.certs, s)
            await a.wait_keys("sae-b", 2)
            _, enc = await a.enc_keys("sae-b", number=2)
            ids = [k["key_ID"] for k in enc["keys"]]
            _, dec = await b.dec_keys("sae-a", ids)
            return enc["keys"], dec["keys"]

    enc, dec = run(fetch())
    server_psk = base64.b64decode(enc[0]["key"]).hex()     # sae-a runs the server
    client_psk = base64.b64decode(dec[0]["key"]).hex()     # sae-b the client
    ok, received, out = _tls_session(server_psk, client_psk, enc[0]["key_ID"])
    assert ok, out
    assert "hello over a QKD key" in received
    # a different key (the next one delivered) does not make a session
    other = base64.b64decode(dec[1]["key"]).hex()
    ok, received, _ = _tls_session(server_psk, other, enc[0]["key_ID"])
    assert not ok and "hello over a QKD key" not in received
