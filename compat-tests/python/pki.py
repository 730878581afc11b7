"""A throw-away PKI for the TLS and SASL_SSL tests, made with the openssl
command line in a temporary folder: a CA, a broker certificate for
localhost and 127.0.0.1, a client certificate (alice), and a second CA with
a client certificate of its own (mallory) that the broker must not trust.
Keys are unencrypted PKCS#8; `<name>-keystore.pem` holds a key and its
certificate, as Kafka's PEM keystore does. Nothing here is committed."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(d: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)


def _cert(d: Path, ca: str, name: str, san: str | None = None) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", ext.name, "-out", f"{name}.pem", cwd=d)
    (d / f"{name}-keystore.pem").write_text((d / f"{name}.key").read_text()
                                            + (d / f"{name}.pem").read_text())


def make(d: Path) -> Path:
    _ca(d, "ca")
    _cert(d, "ca", "broker", san="DNS:localhost,IP:127.0.0.1")
    _cert(d, "ca", "alice")
    _ca(d, "rogue-ca")
    _cert(d, "rogue-ca", "mallory")
    return d
