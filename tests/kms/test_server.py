"""ETSI GS QKD 014 key delivery through real ``qchannel kms`` processes and
real HTTPS clients with client certificates (aiohttp)."""
import base64
import os
import ssl

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")

from tests.kms.conftest import Sae, run


async def _pair(kms, session, master="sae-a", slave="sae-b"):
    a = Sae(master, kms.url["alice"], kms.certs, session)
    b = Sae(slave, kms.url["bob"], kms.certs, session)
    await a.wait_keys(slave, 8)
    return a, b


def test_two_saes_get_identical_keys_by_id(kms):
    async def go():
        async with aiohttp.ClientSession() as s:
            a, b = await _pair(kms, s)
            code, st = await a.status("sae-b")
            assert code == 200
            assert st["source_KME_ID"] == "alice" and st["target_KME_ID"] == "bob"
            assert st["master_SAE_ID"] == "sae-a" and st["slave_SAE_ID"] == "sae-b"
            assert (st["key_size"], st["min_key_size"], st["max_key_size"]) == (256, 256, 4096)
            assert st["max_key_count"] == 512 and st["max_key_per_request"] == 128
            assert st["max_SAE_ID_count"] == 0 and 0 < st["stored_key_count"] <= 512
            # GET and POST, default and explicit sizes
            code, got = await a.enc_keys("sae-b", number=3)
            assert code == 200 and len(got["keys"]) == 3
            code, got2 = await a.enc_keys("sae-b", number=1, size=512, post=True)
            assert code == 200
            keys = got["keys"] + got2["keys"]
            assert [len(base64.b64decode(k["key"])) for k in keys] == [32, 32, 32, 64]
            ids = [k["key_ID"] for k in keys]
            assert len(set(ids)) == 4
            code, dec = await b.dec_keys("sae-a", ids[:2], post=True)
            assert code == 200 and dec["keys"] == keys[:2]
            code, dec = await b.dec_keys("sae-a", ids[2:3], post=False)
            assert code == 200 and dec["keys"] == keys[2:3]
            code, dec = await b.dec_keys("sae-a", ids[3:], post=False)
            assert code == 200 and dec["keys"] == keys[3:]
            assert len({k["key"] for k in keys}) == 4       # four different keys
    run(go())


def test_roles_are_symmetric(kms):
    """An SAE at bob may be the master too: it gets bob's copy, sae-a alice's."""
    async def go():
        async with aiohttp.ClientSession() as s:
            a, b = await _pair(kms, s)
            code, got = await b.enc_keys("sae-a", number=2)
            assert code == 200
            code, dec = await a.dec_keys("sae-b", [k["key_ID"] for k in got["keys"]])
            assert code == 200 and dec["keys"] == got["keys"]
    run(go())


def test_a_key_goes_once_to_each_side(kms):
    async def go():
        async with aiohttp.ClientSession() as s:
            a, b = await _pair(kms, s)
            _, got = await a.enc_keys("sae-b", number=2)
            ids = [k["key_ID"] for k in got["keys"]]
            assert (await b.dec_keys("sae-a", ids[:1]))[0] == 200
            code, err = await b.dec_keys("sae-a", ids[:1])          # second time: refused
            assert code == 400 and ids[0] in err["message"] and isinstance(err["details"], list)
            # all or nothing: a request with one spent ID delivers none of the others
            code, _ = await b.dec_keys("sae-a", ids)
            assert code == 400
            code, dec = await b.dec_keys("sae-a", ids[1:])
            assert code == 200 and dec["keys"] == got["keys"][1:]
            # an ID nobody issued, and one twice in a request
            fake = "12345678-1234-4234-8234-123456789abc"
            assert (await b.dec_keys("sae-a", [fake]))[0] == 400
            _, got = await a.enc_keys("sae-b")
            kid = got["keys"][0]["key_ID"]
            assert (await b.dec_keys("sae-a", [kid, kid]))[0] == 400
            assert (await b.dec_keys("sae-a", [kid]))[0] == 200
    run(go())


def test_other_saes_are_refused(kms):
    async def go():
        async with aiohttp.ClientSession() as s:
            a, b = await _pair(kms, s)
            c_alice = Sae("sae-c", kms.url["alice"], kms.certs, s)    # a CA-signed stranger
            c_bob = Sae("sae-c", kms.url["bob"], kms.certs, s)
            code, err = await c_alice.enc_keys("sae-b")
            assert code == 401 and "sae-c" in err["message"]
            assert (await c_alice.status("sae-b"))[0] == 401
            _, got = await a.enc_keys("sae-b")
            kid = got["keys"][0]["key_ID"]
            assert (await c_bob.dec_keys("sae-a", [kid]))[0] == 401
            # an SAE of the link at the wrong KME, or asking for a pair it is not in
            assert (await Sae("sae-b", kms.url["alice"], kms.certs, s).enc_keys("sae-a"))[0] \
                == 401
            other_slave = Sae("sae-m0", kms.url["bob"], kms.certs, s)
            assert (await other_slave.dec_keys("sae-a", [kid]))[0] == 400
            assert (await a.enc_keys("sae-c"))[0] == 400           # slave not on a link
            assert (await a.enc_keys("sae-l0"))[0] == 400          # slave at the same node
            # the key is still there for the right slave
            code, dec = await b.dec_keys("sae-a", [kid])
            assert code == 200 and dec["keys"] == got["keys"]
    run(go())


def test_tls_refuses_clients_without_a_valid_certificate(kms, tmp_path):
    from qchannel.kms.certs import make_certs

    ca = os.path.join(kms.certs, "ca.pem")

    async def go(ctx):
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{kms.url['alice']}/api/v1/keys/sae-b/status", ssl=ctx) as r:
                return r.status

    no_cert = ssl.create_default_context(cafile=ca)
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        run(go(no_cert))
    make_certs(str(tmp_path), kmes=[], saes=["sae-a"])   # same name, another CA
    forged = ssl.create_default_context(cafile=ca)
    forged.load_cert_chain(str(tmp_path / "sae-a.pem"), str(tmp_path / "sae-a.key"))
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        run(go(forged))
    kme_as_client = ssl.create_default_context(cafile=ca)   # a server cert is no SAE's
    kme_as_client.load_cert_chain(os.path.join(kms.certs, "bob.pem"),
                                  os.path.join(kms.certs, "bob.key"))
    with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
        run(go(kme_as_client))


def test_limits_give_the_standard_errors(kms):
    async def go():
        async with aiohttp.ClientSession() as s:
            a, b = await _pair(kms, s)
            for params in ({"number": 0}, {"number": 129}, {"number": "x"}, {"size": 100},
                           {"size": 8192}, {"size": 264}):
                code, err = await a.call("GET", "sae-b", "enc_keys", params=params)
                assert code == 400, params
                assert set(err) == {"message", "details"} and err["message"]
            for body in ({"number": 1, "additional_slave_SAE_IDs": ["sae-m0"]},
                         {"number": 1, "extension_mandatory": [{"x": 1}]}, [1, 2]):
                assert (await a.call("POST", "sae-b", "enc_keys", json=body))[0] == 400
            async with s.post(f"{a.url}/api/v1/keys/sae-b/enc_keys", data=b"{not json",
                              ssl=a.ssl) as r:
                assert r.status == 400
            assert (await b.call("GET", "sae-a", "dec_keys"))[0] == 400          # no key_ID
            assert (await b.dec_keys("sae-a", ["not-a-uuid"]))[0] == 400
            assert (await b.call("POST", "sae-a", "dec_keys", json={"key_IDs": []}))[0] == 400
    run(go())


def test_exhausted_pool_answers_503_at_once(kms):
    """More key than the pool holds: 503 with a message, no wait, nothing taken."""
    import time

    async def go():
        async with aiohttp.ClientSession() as s:
            a, _ = await _pair(kms, s)
            t0 = time.monotonic()
            code, err = await a.enc_keys("sae-b", number=128, size=4096)   # 2^19 > 512 * 256
            took = time.monotonic() - t0
            assert code == 503 and "not enough key" in err["message"]
            assert took < 10     # generous: the point is that it does not wait for keys
    run(go())


def test_key_material_never_in_the_log(kms):
    async def go():
        async with aiohttp.ClientSession() as s:
            a, b = await _pair(kms, s)
            _, got = await a.enc_keys("sae-b", number=4)
            await b.dec_keys("sae-a", [k["key_ID"] for k in got["keys"]])
            return got["keys"]

    keys = run(go())
    log = kms.stderr()
    assert "block" in log                                   # the log is there
    for k in keys:
        raw = base64.b64decode(k["key"])
        for form in (k["key"], raw.hex(), raw.hex().upper(), k["key"][:12]):
            assert form not in log
