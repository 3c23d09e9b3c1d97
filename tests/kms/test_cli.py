"""``qchannel kms-certs`` and ``qchannel kms``: what they write, and bad
input as one line with exit status 2 before any server starts."""
import os
import stat

import pytest

aiohttp = pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")

from qchannel import jobs
from qchannel.cli import main
from tests.kms.conftest import EXAMPLE, ROOT


def _fails(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qchannel: error:") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    return err


def test_kms_certs_writes_a_ca_and_a_pair_per_name(tmp_path, capsys):
    from cryptography import x509

    d = tmp_path / "pki"
    assert main(["kms-certs", str(d), "--kme", "alice", "--kme", "bob", "--sae", "sae-a",
                 "--sae", "sae-b"]) == 0
    names = {"ca.pem", "ca.key"} | {f"{n}.{e}" for n in ("alice", "bob", "sae-a", "sae-b")
                                    for e in ("pem", "key")}
    assert set(os.listdir(d)) == names
    for n in names:
        if n.endswith(".key"):
            assert stat.S_IMODE(os.stat(d / n).st_mode) == 0o600
    kme = x509.load_pem_x509_certificate((d / "alice.pem").read_bytes())
    san = kme.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    sae = x509.load_pem_x509_certificate((d / "sae-b.pem").read_bytes())
    cn = sae.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value
    assert cn == "sae-b"


def test_kms_certs_bad_input(tmp_path, capsys):
    _fails(capsys, ["kms-certs", str(tmp_path)], "--kme")
    _fails(capsys, ["kms-certs", str(tmp_path), "--sae", "a b"], "--sae")
    _fails(capsys, ["kms-certs", str(tmp_path), "--sae", "x", "--kme", "x"], "twice")
    f = tmp_path / "file"
    f.write_text("")
    _fails(capsys, ["kms-certs", str(f), "--sae", "x"], "existing file")
    if os.geteuid() != 0:                  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        _fails(capsys, ["kms-certs", str(ro / "pki"), "--sae", "x"], "not writable")


def _scenario(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return str(p)


def test_kms_bad_input(tmp_path, capsys):
    text = open(EXAMPLE).read()
    certs = tmp_path / "c"
    main(["kms-certs", str(certs), "--kme", "alice", "--kme", "bob", "--sae", "sae-a"])
    capsys.readouterr()
    ok = ["--certs", str(certs), "--port", "20000"]
    _fails(capsys, ["kms", os.path.join(ROOT, "examples", "decoy_bb84_50km.toml")] + ok,
           "[kms]")
    _fails(capsys, ["kms", os.path.join(ROOT, "examples", "backbone.toml")] + ok,
           "[kms]", "network")
    _fails(capsys, ["kms", os.path.join(ROOT, "examples", "repeater.toml")] + ok,
           "repeater-chain")
    _fails(capsys, ["kms", _scenario(tmp_path, text.replace('ec = "cascade"', ""))] + ok,
           "postprocess.ec")
    _fails(capsys, ["kms", EXAMPLE, "--certs", str(tmp_path / "none"), "--port", "20000"],
           "--certs")
    _fails(capsys, ["kms", EXAMPLE, "--certs", str(tmp_path), "--port", "20000"], "ca.pem")
    _fails(capsys, ["kms", EXAMPLE] + ok[:3] + ["65535"], "--port")
    _fails(capsys, ["kms", EXAMPLE] + ok[:3] + ["0"], "--port")
    _fails(capsys, ["kms", EXAMPLE] + ok + ["--speedup", "0"], "--speedup")
    _fails(capsys, ["kms", EXAMPLE] + ok + ["--store", str(tmp_path)], "--store")
    _fails(capsys, ["kms", EXAMPLE] + ok + ["--store", str(tmp_path / "no" / "s.db")],
           "--store")
    (certs / "bob.key").write_text("garbage")
    _fails(capsys, ["kms", EXAMPLE] + ok, "bob")


@pytest.mark.parametrize("change, words", [
    (('node = "bob"', 'node = "carol"'), ("kms.saes[1].node", "'alice', 'bob'")),
    (('name = "sae-b"', 'name = "sae-a"'), ("kms.saes[1].name", "twice")),
    (('name = "sae-b"', 'name = "bob"'), ("kms.saes[1].name",)),
    (('name = "sae-b"', 'name = "sae/b"'), ("kms.saes[1].name",)),
    (("key_size = 256", "key_size = 100"), ("kms.key_size",)),
    (("key_size = 256", "key_size = 300"), ("kms.key_size", "multiple")),
    (("key_size = 256", "key_size = 8192"), ("kms.key_size", "max_key_size")),
    (("max_key_count = 256", "max_key_count = 0"), ("kms.max_key_count",)),
    (("max_key_per_request = 128", "max_key_per_request = 1e9"), ("kms.max_key_per_request",)),
    (("max_key_count = 256", "max_keys = 256"), ("kms.max_keys",)),
])
def test_kms_section_is_validated(tmp_path, capsys, change, words):
    text = open(EXAMPLE).read()
    assert change[0] in text
    path = _scenario(tmp_path, text.replace(change[0], change[1], 1))
    with pytest.raises(ValueError) as err:
        jobs.load(path)
    for w in words:
        assert w in str(err.value)
    _fails(capsys, ["run", path], *words)


def test_kms_section_round_trips_and_sweeps():
    sc = jobs.load(EXAMPLE)
    assert sc.kms.node_of("sae-a") == "alice" and sc.kms.node_of("sae-b") == "bob"
    assert type(sc).from_dict(sc.to_dict()) == sc
    assert sc.replace(**{"kms.saes[1].node": "alice"}).kms.node_of("sae-b") == "alice"
    assert sc.replace(**{"kms.max_key_count": 10}).kms.max_key_count == 10


def test_kms_port_in_use_is_one_line(tmp_path, capsys):
    import socket

    certs = tmp_path / "c"
    main(["kms-certs", str(certs), "--kme", "alice", "--kme", "bob", "--sae", "sae-a"])
    capsys.readouterr()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        _fails(capsys, ["kms", EXAMPLE, "--certs", str(certs), "--port", str(port - 1)])
