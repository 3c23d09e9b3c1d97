"""``qchannel kms`` and ``qchannel kms-certs``: the checks before any work,
then the servers."""
import os
import sys


def _need_aiohttp():
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise ValueError("qchannel kms needs the 'aiohttp' package: pip install "
                         "'qchannel[kms]'") from None


def check_kms_scenario(scenario):
    """The topology of a decoy-BB84 scenario with [kms] and real
    post-processing, or of a trusted-node network with [kms]."""
    from qchannel import jobs
    from qchannel.kms.topology import topology_of

    job = jobs.job_for(scenario)
    if job.name not in ("decoy-bb84", "trusted-node-network"):
        raise ValueError(f"qchannel kms serves decoy-bb84 and trusted-node-network scenarios, "
                         f"not a {job.name} scenario")
    topo = topology_of(scenario)        # [kms] is there and names nodes that exist
    if job.name == "decoy-bb84":
        if scenario.postprocess.ec == "estimate":
            raise ValueError("postprocess.ec = 'estimate' distils no key: qchannel kms serves "
                             "distilled keys, set postprocess.ec = 'cascade' or 'ldpc'")
        if scenario.is_free_space:
            raise ValueError(f"channel.type = {scenario.channel.type!r}: qchannel kms needs a "
                             f"fiber link ('fiber'), whose blocks give a stream of key")
        if job.check is not None:
            job.check(scenario)
    return topo


def check_certs(certs, nodes):
    if not os.path.isdir(certs):
        raise ValueError(f"--certs {certs} is not a folder (write one with qchannel kms-certs)")
    for stem in ("ca",) + tuple(nodes):
        for ext in ((".pem",) if stem == "ca" else (".pem", ".key")):
            path = os.path.join(certs, stem + ext)
            if not os.path.isfile(path):
                raise ValueError(f"--certs {certs} has no {stem + ext}: write it with qchannel "
                                 f"kms-certs {certs} --kme {' --kme '.join(nodes)} --sae ...")


def check_store(path):
    if os.path.isdir(path):
        raise ValueError(f"--store {path} is a folder: give a file name")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--store {path}: folder {parent} does not exist or is not writable")


def cmd_kms(args):
    import asyncio
    import logging
    import signal
    import ssl

    from qchannel import jobs
    from qchannel.params import check_int, check_real

    scenario = jobs.load(args.scenario)
    topo = check_kms_scenario(scenario)
    nodes = topo.nodes
    port = check_int("--port", args.port, 1, 65535 - (len(nodes) - 1))
    speedup = check_real("--speedup", args.speedup, 0.0, 1e9, lo_open=True)
    check_certs(args.certs, nodes)
    if args.store is not None:
        check_store(args.store)
    _need_aiohttp()
    from qchannel.kms.server import serve, server_context

    for node in nodes:    # unreadable or mismatched certificates: before listening
        try:
            server_context(os.path.join(args.certs, "ca.pem"),
                           os.path.join(args.certs, f"{node}.pem"),
                           os.path.join(args.certs, f"{node}.key"))
        except ssl.SSLError as err:
            raise ValueError(f"--certs {args.certs}: the certificate of KME {node} cannot be "
                             f"used ({err.reason or err})") from None
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="qchannel kms: %(levelname)s %(message)s")

    def ready(urls):
        for node, url in urls:
            print(f"KME {node} {url}")
        sys.stdout.flush()

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(scenario, args.certs, port, args.store, speedup, ready=ready, stop=stop)

    asyncio.run(main())
    return 0


def cmd_kms_certs(args):
    from qchannel.kms.certs import make_certs

    written = make_certs(args.dir, kmes=args.kme or (), saes=args.sae or ())
    print(f"qchannel kms-certs: wrote {len(written)} files to {args.dir}")
    return 0


def add_kms_commands(sub):
    from qchannel.params import parse_number

    k = sub.add_parser("kms", help="serve a scenario's keys to applications over ETSI GS QKD 014",
                       description="Start one key management entity (KME) per node of SCENARIO "
                                   "(alice on --port, bob on --port + 1; a trusted-node network's "
                                   "nodes in order), HTTPS with mutual TLS, "
                                   "serving ETSI GS QKD 014 v1.1.1 key delivery to the SAEs its "
                                   "[kms] section attaches; the key pool fills with keys the "
                                   "simulation distils, at the simulated key rate times "
                                   "--speedup.  Runs until SIGINT or SIGTERM.")
    k.add_argument("scenario", help="decoy-bb84 or trusted-node-network scenario TOML file "
                                    "with a [kms] section")
    k.add_argument("--certs", required=True, metavar="DIR",
                   help="folder written by qchannel kms-certs (ca.pem, NODE.pem, NODE.key)")
    k.add_argument("--port", required=True, type=parse_number, help="first TCP port")
    k.add_argument("--store", metavar="FILE", help="SQLite file that keeps pools and delivery "
                   "state across restarts (default: in memory)")
    k.add_argument("--speedup", type=parse_number, default=1.0,
                   help="release keys this many times faster than simulated time (default 1)")
    k.set_defaults(func=cmd_kms)
    c = sub.add_parser("kms-certs", help="write a test CA and certificates for KMEs and SAEs")
    c.add_argument("dir", help="output folder")
    c.add_argument("--kme", action="append", metavar="NAME", help="a KME (node) name; repeat")
    c.add_argument("--sae", action="append", metavar="NAME", help="an SAE ID; repeat")
    c.set_defaults(func=cmd_kms_certs)
    return sub
