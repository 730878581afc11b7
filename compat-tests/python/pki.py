"""A throw-away PKI for the TLS and SASL_SSL tests, made with the openssl
command line in a temporary folder: a CA, a broker certificate for
localhost and 127.0.0.1, a client certificate (alice), and a second CA with
a client certificate of its own (mallory) that the broker must not trust.
Keys are unencrypted PKCS#8; `<name>-keystore.pem` holds a key and its
certificate, as Kafka's PEM keystore does; `java_stores` makes PKCS12 and
JKS stores of them with keytool. Nothing here is committed."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(d: Path, name: str) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=d)


def _cert(d: Path, ca: str, name: str, san: str | None = None, cn: str | None = None) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn or name}",
             "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", ext.name, "-out", f"{name}.pem", cwd=d)
    (d / f"{name}-keystore.pem").write_text((d / f"{name}.key").read_text()
                                            + (d / f"{name}.pem").read_text())


def another_broker_certificate(d: Path, name: str, san: str = "DNS:localhost,IP:127.0.0.1"
                               ) -> Path:
    """A new key and certificate for the broker (CN=broker) from the same
    CA, naming `san`: a rotated certificate; its PEM keystore's path."""
    _cert(d, "ca", name, san=san, cn="broker")
    return d / f"{name}-keystore.pem"


def make(d: Path) -> Path:
    _ca(d, "ca")
    _cert(d, "ca", "broker", san="DNS:localhost,IP:127.0.0.1")
    _cert(d, "ca", "alice")
    _ca(d, "rogue-ca")
    _cert(d, "rogue-ca", "mallory")
    return d


STORE_PASSWORD, KEY_PASSWORD, TRUST_PASSWORD = "store-secret", "key-secret", "trust-secret"


def _keytool(*args: str) -> None:
    # A short-lived JVM: C1 alone starts it faster.
    subprocess.run(["keytool", "-J-XX:TieredStopAtLevel=1", *args], check=True,
                   capture_output=True, text=True)


def java_stores(pki: Path, d: Path, name: str, kind: str) -> tuple[Path, Path]:
    """`name`'s keystore (its key, its certificate and the CA) and a
    truststore with the CA, as Kafka's SSL guide makes them: keytool from a
    PKCS#12 export, of `kind` PKCS12 (keytool's default since Java 9; the
    key under the store's password) or JKS (the key under its own). Made
    once per directory: keytool starts a JVM."""
    keystore, truststore = d / f"{name}.keystore.{kind}", d / f"truststore.{kind}"
    if keystore.exists() and truststore.exists():
        return keystore, truststore
    exported = d / f"{name}-export.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-in", str(pki / f"{name}.pem"),
                    "-inkey", str(pki / f"{name}.key"), "-certfile", str(pki / "ca.pem"),
                    "-name", name, "-passout", f"pass:{STORE_PASSWORD}", "-out", str(exported)],
                   check=True, capture_output=True)
    key_password = KEY_PASSWORD if kind == "jks" else STORE_PASSWORD
    _keytool("-importkeystore", "-noprompt", "-srckeystore", str(exported), "-srcstoretype",
             "PKCS12", "-srcstorepass", STORE_PASSWORD, "-srcalias", name,
             "-destkeystore", str(keystore), "-deststoretype", kind.upper(),
             "-deststorepass", STORE_PASSWORD, "-destkeypass", key_password)
    if not truststore.exists():
        _keytool("-importcert", "-noprompt", "-alias", "ca", "-file", str(pki / "ca.pem"),
                 "-keystore", str(truststore), "-storetype", kind.upper(),
                 "-storepass", TRUST_PASSWORD)
    return keystore, truststore
