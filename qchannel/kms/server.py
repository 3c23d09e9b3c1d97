"""The KMEs: ETSI GS QKD 014 v1.1.1 over HTTPS with mutual TLS (aiohttp and
the standard ``ssl`` module).

Routes (all JSON):

- ``GET /api/v1/keys/{slave_SAE_ID}/status``
- ``GET|POST /api/v1/keys/{slave_SAE_ID}/enc_keys`` (``number``, ``size``)
- ``GET|POST /api/v1/keys/{master_SAE_ID}/dec_keys`` (``key_ID`` / ``key_IDs``)

The caller's SAE ID is the common name of its client certificate (the TLS
handshake has verified it against the CA).  A master gets keys only from the
KME of its own node, for a slave at a node it shares key with (over one
link, or relayed by trusted nodes: :mod:`qchannel.kms.topology`); a slave
gets a key only from its own KME, only for the master that took it, and
only once.  Errors are the standard's ``{"message", "details"}`` with
400 (bad request), 401 (not this SAE's keys) and 503 (not enough keys).
Key material never goes to a log.
"""
import asyncio
import base64
import json
import logging
import re
import ssl

from aiohttp import web

from qchannel.kms.config import CHUNK_BITS

log = logging.getLogger("qchannel.kms")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


class ApiError(Exception):
    def __init__(self, status, message, **details):
        super().__init__(message)
        self.status, self.message = status, message
        self.details = [{k: v} for k, v in details.items()]


def _error(err):
    return web.json_response({"message": err.message, "details": err.details},
                             status=err.status)


def server_context(ca, cert, key):
    """TLS server side: our certificate, and a client certificate signed by
    the CA required of every caller."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
    ctx.load_cert_chain(cert, key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def client_context(ca, cert, key):
    """TLS client side of an SAE (tests, examples)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.load_cert_chain(cert, key)
    return ctx


def peer_sae(request):
    """The SAE ID of the caller: the CN of its verified client certificate."""
    cert = request.transport.get_extra_info("peercert") if request.transport else None
    for rdn in (cert or {}).get("subject", ()):
        for k, v in rdn:
            if k == "commonName":
                return v
    raise ApiError(401, "no client certificate with a common name (SAE ID)")


class KME:
    """The KME of one node of a :class:`qchannel.kms.topology.Topology`."""

    def __init__(self, node, store, topology):
        self.node, self.store, self.topology = node, store, topology
        self.config = topology.kms

    def _own_sae(self, request):
        sae = peer_sae(request)
        node = self.config.node_of(sae)
        if node != self.node:
            raise ApiError(401, f"SAE {sae!r} is not attached to KME {self.node!r}",
                           sae=sae)
        return sae

    def _pair(self, request, other, role):
        """(caller, other node, hops from the master's node to the slave's)
        for a caller at this KME and an SAE at another node that key can
        reach (over one link, or relayed by trusted nodes)."""
        sae = self._own_sae(request)
        other_node = self.config.node_of(other)
        ends = (self.node, other_node) if role == "slave" else (other_node, self.node)
        hops = self.topology.hops(*ends) if other_node is not None else None
        if hops is None:
            raise ApiError(400, f"{role}_SAE_ID {other!r} is not an SAE that KME {self.node!r} "
                                f"shares key with (another node, joined by links and trusted "
                                f"relays)", **{f"{role}_SAE_ID": other})
        return sae, other_node, hops

    # -- request parameters --------------------------------------------------
    def _count(self, value, name, default, lo, hi, step=1):
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = int(value)
            except ValueError:
                raise ApiError(400, f"{name} must be an integer", **{name: value}) from None
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi \
                or value % step:
            extra = f" and a multiple of {step}" if step > 1 else ""
            raise ApiError(400, f"{name} = {value!r} must be an integer in [{lo}, {hi}]{extra}",
                           **{name: value})
        return value

    async def _json(self, request):
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise ApiError(400, "the request body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        if body.get("extension_mandatory"):
            raise ApiError(400, "no mandatory extension is supported",
                           extension_mandatory=body["extension_mandatory"])
        return body

    # -- handlers ----------------------------------------------------------
    async def status(self, request):
        slave = request.match_info["sae"]
        master, slave_node, hops = self._pair(request, slave, "slave")
        cfg = self.config
        chunks = min(self.store.pool_chunks(link) for link, _ in hops)
        return web.json_response({
            "source_KME_ID": self.node, "target_KME_ID": slave_node,
            "master_SAE_ID": master, "slave_SAE_ID": slave,
            "key_size": cfg.key_size,
            "stored_key_count": chunks * CHUNK_BITS // cfg.key_size,
            "max_key_count": cfg.max_key_count,
            "max_key_per_request": cfg.max_key_per_request,
            "max_key_size": cfg.max_key_size, "min_key_size": CHUNK_BITS,
            "max_SAE_ID_count": 0,
        })

    async def enc_keys(self, request):
        slave = request.match_info["sae"]
        master, _, hops = self._pair(request, slave, "slave")
        if request.method == "POST":
            body = await self._json(request)
            if body.get("additional_slave_SAE_IDs"):
                raise ApiError(400, "additional_slave_SAE_IDs: this KME delivers to one slave "
                                    "SAE (max_SAE_ID_count = 0)")
            number, size = body.get("number"), body.get("size")
        else:
            number, size = request.query.get("number"), request.query.get("size")
        cfg = self.config
        number = self._count(number, "number", 1, 1, cfg.max_key_per_request)
        size = self._count(size, "size", cfg.key_size, CHUNK_BITS, cfg.max_key_size, CHUNK_BITS)
        keys = self.store.take(hops, master, slave, number, size)
        if isinstance(keys, str):         # the link whose pool is short
            link = keys
            have = self.store.pool_chunks(link) * CHUNK_BITS
            raise ApiError(503, f"not enough key: the pool of link {link} holds {have} bits, "
                                f"the request needs {number * size}; retry later",
                           stored_bits=have)
        log.debug("enc_keys %s -> %s: %d key(s) of %d bits", master, slave, number, size)
        return web.json_response({"keys": [{"key_ID": k, "key": base64.b64encode(v).decode()}
                                           for k, v in keys]})

    async def dec_keys(self, request):
        master = request.match_info["sae"]
        slave, _, _ = self._pair(request, master, "master")
        if request.method == "POST":
            body = await self._json(request)
            ids = body.get("key_IDs")
            if not isinstance(ids, list) or not ids or not all(
                    isinstance(x, dict) and isinstance(x.get("key_ID"), str) for x in ids):
                raise ApiError(400, "key_IDs must be a non-empty list of {\"key_ID\": ...}")
            ids = [x["key_ID"] for x in ids]
        else:
            ids = request.query.getall("key_ID", [])
            if not ids:
                raise ApiError(400, "key_ID is missing")
        if len(ids) > self.config.max_key_per_request:
            raise ApiError(400, f"{len(ids)} key_IDs: at most max_key_per_request = "
                                f"{self.config.max_key_per_request} per request")
        bad = next((k for k in ids if not _UUID.match(k)), None)
        if bad is not None:
            raise ApiError(400, "a key_ID is not a UUID", key_ID=bad[:64])
        if len(set(ids)) != len(ids):
            raise ApiError(400, "a key_ID is given twice")
        try:
            keys = self.store.give(master, slave, ids)
        except KeyError as missing:
            raise ApiError(400, f"key_ID {missing.args[0]} is not waiting for SAE {slave!r} from "
                                f"master SAE {master!r} (unknown, or already delivered)",
                           key_ID=missing.args[0]) from None
        log.debug("dec_keys %s <- %s: %d key(s)", slave, master, len(keys))
        return web.json_response({"keys": [{"key_ID": k, "key": base64.b64encode(v).decode()}
                                           for k, v in keys]})

    def app(self):
        @web.middleware
        async def errors(request, handler):
            try:
                return await handler(request)
            except ApiError as err:
                return _error(err)

        app = web.Application(middlewares=[errors], client_max_size=2**20)
        p = "/api/v1/keys/{sae}/"
        app.router.add_get(p + "status", self.status)
        for name in ("enc_keys", "dec_keys"):
            app.router.add_get(p + name, getattr(self, name))
            app.router.add_post(p + name, getattr(self, name))
        return app


async def serve(scenario, certs, port, store_path=None, speedup=1.0, ready=None, stop=None):
    """Run one KME per node of the scenario (two-party: alice, bob; a
    trusted-node network: its nodes in order) on ports ``port``, ``port +
    1``, ... until ``stop`` (an asyncio.Event) is set, with one task per link
    filling its pool; ``ready`` is called with [(node, url)] once they
    listen."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from qchannel.kms.source import LinkFiller
    from qchannel.kms.store import KeyStore
    from qchannel.kms.topology import topology_of

    topo = topology_of(scenario)
    cfg = topo.kms
    store = KeyStore(store_path, scenario.to_dict(), topo.store_links())
    runners, filler_tasks = [], []
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        urls = []
        for i, node in enumerate(topo.nodes):
            ctx = server_context(os.path.join(certs, "ca.pem"), os.path.join(certs, f"{node}.pem"),
                                 os.path.join(certs, f"{node}.key"))
            runner = web.AppRunner(KME(node, store, topo).app(), access_log=None,
                                   handle_signals=False)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", port + i, ssl_context=ctx,
                              reuse_address=False).start()
            urls.append((node, f"https://127.0.0.1:{port + i}"))
        capacity = cfg.max_key_count * cfg.key_size // CHUNK_BITS
        for link in topo.links.values():
            filler = LinkFiller(store, link, topo, speedup, capacity, executor)
            filler_tasks.append(asyncio.ensure_future(filler.run()))
        if ready is not None:
            ready(urls)
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        for t in filler_tasks:
            t.cancel()
        for runner in runners:
            await runner.cleanup()
        # a block being distilled is of no use any more: stop its process
        # rather than wait for it (ProcessPoolExecutor has no public way)
        for proc in list(getattr(executor, "_processes", {}).values()):
            proc.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
        store.close()
