"""Load on loopback: concurrent SAE pairs, each master taking one key and its
slave fetching it, against a running ``qchannel kms``.  Bounded in count
(PAIRS x ROUNDS keys) and time; checks that no key is duplicated or lost and
prints requests per second and latency percentiles (numbers for the README,
not asserted: the machine is shared)."""
import asyncio
import time

import numpy as np
import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")


from tests.kms.conftest import LOAD_PAIRS, Sae, run


ROUNDS = 48


async def _pair(kms, i, lat_enc, lat_dec, out):
    async with aiohttp.ClientSession() as sa, aiohttp.ClientSession() as sb:
        a = Sae(f"sae-l{i}", kms.url["alice"], kms.certs, sa)
        b = Sae(f"sae-m{i}", kms.url["bob"], kms.certs, sb)
        busy = 0
        for _ in range(ROUNDS):
            while True:
                t0 = time.perf_counter()
                code, got = await a.enc_keys(f"sae-m{i}")
                lat_enc.append(time.perf_counter() - t0)
                if code != 503:
                    break
                busy += 1                       # pool empty for a moment: wait and retry
                assert busy < 200, got
                await asyncio.sleep(0.05)
            assert code == 200, got
            t0 = time.perf_counter()
            code, dec = await b.dec_keys(f"sae-l{i}", [got["keys"][0]["key_ID"]])
            lat_dec.append(time.perf_counter() - t0)
            assert code == 200, dec
            out.append((got["keys"][0], dec["keys"][0]))


def test_concurrent_saes(kms, capsys):
    async def go():
        async with aiohttp.ClientSession() as s:
            await Sae("sae-l0", kms.url["alice"], kms.certs, s).wait_keys("sae-m0", 256)
        lat_enc, lat_dec, out = [], [], []
        t0 = time.perf_counter()
        await asyncio.gather(*[_pair(kms, i, lat_enc, lat_dec, out)
                               for i in range(LOAD_PAIRS)])
        return time.perf_counter() - t0, lat_enc, lat_dec, out

    wall, lat_enc, lat_dec, out = run(go())
    assert len(out) == LOAD_PAIRS * ROUNDS                       # none lost
    assert all(m == s for m, s in out)                           # both sides identical
    assert len({m["key_ID"] for m, _ in out}) == len(out)        # no ID twice
    assert len({m["key"] for m, _ in out}) == len(out)           # no key twice
    n_req = len(lat_enc) + len(lat_dec)
    ms = {name: np.percentile(np.array(v) * 1e3, [50, 90, 99])
          for name, v in (("enc_keys", lat_enc), ("dec_keys", lat_dec))}
    with capsys.disabled():
        print(f"\nkms load: {2 * LOAD_PAIRS} SAEs, {len(out)} keys, {n_req} requests in "
              f"{wall:.2f} s = {n_req / wall:.0f} requests/s; latency ms (p50/p90/p99) "
              + "; ".join(f"{k} {v[0]:.1f}/{v[1]:.1f}/{v[2]:.1f}" for k, v in ms.items()))
