"""Multi-hop key delivery: two SAEs whose nodes share no link get the same
key by trusted-node one-time-pad relay, through real ``qchannel kms`` KMEs
of a trusted-node-network scenario."""
import os

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")

from qchannel import jobs
from qchannel.kms.topology import topology_of
from tests.kms.conftest import ROOT, KmsProcess, Sae, run


NETWORK = os.path.join(ROOT, "examples", "kms-network.toml")


@pytest.fixture(scope="module")
def net_kms(tmp_path_factory):
    from qchannel.kms.certs import make_certs

    d = tmp_path_factory.mktemp("kms-net")
    make_certs(str(d / "c"), kmes=["alice", "relay", "bob"], saes=["sae-a", "sae-b", "sae-r"])
    p = KmsProcess(NETWORK, str(d / "c"), speedup=50, tmp=str(d), n_kmes=3)
    yield p
    p.kill()


def test_route_is_the_network_jobs_widest_path():
    topo = topology_of(jobs.load(NETWORK))
    assert topo.hops("alice", "bob") == [("alice--relay", "alice"), ("relay--bob", "relay")]
    assert topo.hops("bob", "alice") == [("relay--bob", "bob"), ("alice--relay", "relay")]
    assert topo.hops("relay", "bob") == [("relay--bob", "relay")]
    assert topo.hops("alice", "alice") is None
    assert [lk.rate_bps for lk in topo.links.values()] == [8000.0, 4000.0]


def test_relayed_keys_are_identical_and_consume_every_hop(net_kms):
    async def go():
        async with aiohttp.ClientSession() as s:
            a = Sae("sae-a", net_kms.url["alice"], net_kms.certs, s)
            b = Sae("sae-b", net_kms.url["bob"], net_kms.certs, s)
            r = Sae("sae-r", net_kms.url["relay"], net_kms.certs, s)
            st = await a.wait_keys("sae-b", 8)
            assert st["target_KME_ID"] == "bob" and st["source_KME_ID"] == "alice"
            code, got = await a.enc_keys("sae-b", number=4)
            assert code == 200
            code, dec = await b.dec_keys("sae-a", [k["key_ID"] for k in got["keys"]])
            assert code == 200 and dec["keys"] == got["keys"]
            # the other direction, and a direct neighbour of each
            code, got = await b.enc_keys("sae-a", number=2, size=512)
            code2, dec = await a.dec_keys("sae-b", [k["key_ID"] for k in got["keys"]])
            assert (code, code2) == (200, 200) and dec["keys"] == got["keys"]
            for master, slave, at in ((r, "sae-a", a), (r, "sae-b", b)):
                code, got = await master.enc_keys(slave)
                _, dec = await at.dec_keys("sae-r", [got["keys"][0]["key_ID"]])
                assert code == 200 and dec["keys"] == got["keys"]
            # relayed key is not the relay's business: sae-r cannot fetch it
            _, got = await a.enc_keys("sae-b")
            assert (await r.dec_keys("sae-a", [got["keys"][0]["key_ID"]]))[0] == 400
    run(go())
