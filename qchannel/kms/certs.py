"""A test PKI for the KMEs and SAEs: one CA, and per name a certificate and
its private key (EC P-256).  KME certificates are TLS server certificates
for 127.0.0.1 and localhost; SAE certificates are client certificates whose
common name is the SAE ID."""
import datetime
import ipaddress
import os

from qchannel.kms.config import check_name


def _cryptography():
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise ValueError("qchannel kms-certs needs the 'cryptography' package: pip install "
                         "'qchannel[kms]'") from None
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def make_certs(directory, kmes=(), saes=(), days=365):
    """Write ``ca.pem``, ``ca.key`` and ``NAME.pem``/``NAME.key`` for every
    KME and SAE name into ``directory``; returns the paths written."""
    from qchannel.outputs import check_output_dir

    names = [check_name(n, "--kme") for n in kmes] + [check_name(n, "--sae") for n in saes]
    if not names:
        raise ValueError("kms-certs needs at least one --kme or --sae name")
    dup = sorted({n for n in names if names.count(n) > 1} | ({"ca"} & set(names)))
    if dup:
        raise ValueError(f"name {dup[0]!r} is given twice or is reserved ('ca'): every KME and "
                         f"SAE needs its own name")
    check_output_dir(directory, "kms-certs DIR")
    x509, hashes, serialization, ec, EKU, NameOID = _cryptography()
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "qchannel KMS"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(stem, key, cert):
        key_path = os.path.join(directory, f"{stem}.key")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        cert_path = os.path.join(directory, f"{stem}.pem")
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        return [cert_path, key_path]

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("qchannel KMS test CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    written = write("ca", ca_key, ca)
    for n in names:
        is_kme = n in kmes
        key = ec.generate_private_key(ec.SECP256R1())
        if is_kme:
            san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            usage = [EKU.SERVER_AUTH]
        else:
            san = [x509.DNSName(n)]
            usage = [EKU.CLIENT_AUTH]
        cert = (x509.CertificateBuilder().subject_name(name(n)).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                             False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
                .add_extension(x509.SubjectAlternativeName(san), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        written += write(n, key, cert)
    return written
