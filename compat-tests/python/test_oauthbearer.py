"""SASL/OAUTHBEARER (KIP-255, KIP-768) with Kafka's settings, on one broker
with four listeners: PLAINTEXT (admin work), SASL_PLAINTEXT and SASL_SSL
with Kafka's unsecured validator (`alg: none` tokens, options from
`listener.name.<l>.oauthbearer.sasl.jaas.config`), and SIGNED, a
SASL_PLAINTEXT listener whose tokens must be RS256-signed by a key of a
JWKS file (`sasl.oauthbearer.jwks.endpoint.url=file://...`, expected
audience and issuer).

* Real clients: confluent-kafka with an `oauth_cb` and with librdkafka's own
  unsecured token (`sasl.oauthbearer.config=principal=...`), kafka-python
  with a `sasl_oauth_token_provider`, and Kafka's Java client with Kafka's
  unsecured login (`unsecuredLoginStringClaim_sub`) produce and consume in
  groups; confluent-kafka with a signed token on SIGNED.
* The raw exchange: a refused token is answered with Kafka's JSON challenge
  (`{"status":"invalid_token"}`, error NONE), the client's 0x01 then fails
  the exchange with SASL_AUTHENTICATION_FAILED and that JSON, and nothing is
  served on that socket afterwards. Expired, re-signed, tampered, unknown
  kid, `alg: none`, HMAC-with-the-public-key, wrong audience or issuer,
  not-yet-valid: none authenticates.
* The session (KIP-368) ends when the token does; a new token renews it.
* A JWKS endpoint (https, served here with the test CA's certificate): its
  keys are fetched at start-up, confluent-kafka and kafka-python log in
  with tokens it signed; a rotated key is fetched as soon as a token names
  it (not at the hourly refresh), the retired key's tokens are refused, and
  made-up key ids do not make the broker fetch for each.
* A JWKS gregor cannot read (an unreachable endpoint, a missing file, an
  unsupported scheme) stops start-up.

Keys and tokens are made here with the openssl command line and hashlib;
nothing is committed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka import KafkaError as ConfluentError
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka.net.sasl.oauth import AbstractTokenProvider

import java_client
import kafka_wire as w
from conftest import Broker, BrokerError, free_port, kafka_python_knows, unique_topic, wait_until
from pki import TRUST_PASSWORD, java_stores
from pki import make as make_pki

pytestmark = pytest.mark.timeout(120)

NONE = 0
SASL_AUTHENTICATION_FAILED = 58
INVALID_TOKEN = '{"status":"invalid_token"}'
OAUTHBEARER = "OAUTHBEARER"
LOGIN_MODULE = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
SIGNED_HANDLER = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
AUDIENCE, ISSUER, KID = "kafka", "https://idp.test", "test-key"


# ---------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unsecured_token(sub: str, lifetime: float = 3600, **claims) -> str:
    """An unsecured JWS, as Kafka's and librdkafka's unsecured logins make them."""
    now = time.time()
    # iat in whole seconds: a fraction of a millisecond ahead of the
    # broker's clock would be "in the future" (Kafka's default skew is 0).
    return (f"{segment({'alg': 'none'})}."
            f"{segment({'sub': sub, 'iat': int(now), 'exp': now + lifetime, **claims})}.")


class RsaKey:
    """An RSA key made with openssl; signs RS256 and gives its public JWK."""

    def __init__(self, directory: Path, name: str):
        self.path = directory / f"{name}.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", str(self.path)],
                       check=True, capture_output=True)
        modulus = subprocess.run(["openssl", "rsa", "-in", str(self.path), "-noout", "-modulus"],
                                 check=True, capture_output=True, text=True).stdout
        self.n = bytes.fromhex(modulus.strip().split("=", 1)[1])

    def jwk(self, kid: str) -> dict:
        # openssl's default public exponent, 65537.
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": b64url(self.n), "e": "AQAB"}

    def sign(self, data: bytes) -> bytes:
        return subprocess.run(["openssl", "dgst", "-sha256", "-binary", "-sign", str(self.path)],
                              input=data, check=True, capture_output=True).stdout


def signed_claims(sub: str = "alice", lifetime: float = 3600, **override) -> dict:
    now = int(time.time())
    claims = {"sub": sub, "iat": now, "exp": now + int(lifetime), "aud": AUDIENCE,
              "iss": ISSUER, "scope": "kafka.produce kafka.consume"}
    claims.update(override)
    return {k: v for k, v in claims.items() if v is not None}


def jws(key: RsaKey, claims: dict, header: dict | None = None) -> str:
    signing_input = f"{segment(header or {'alg': 'RS256', 'kid': KID, 'typ': 'JWT'})}." \
                    f"{segment(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def initial_response(token: str, authzid: str = "") -> bytes:
    """RFC 7628's client initial response, as Kafka's clients send it."""
    return f"n,{'a=' + authzid if authzid else ''},\x01auth=Bearer {token}\x01\x01".encode()


# ---------------------------------------------------------------------------
# The broker
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """The identity provider's key (in the JWKS) and an impostor's (not)."""
    d = tmp_path_factory.mktemp("jwks")
    provider, impostor = RsaKey(d, "provider"), RsaKey(d, "impostor")
    jwks = d / "jwks.json"
    # A key gregor cannot use (HMAC) sits in the set too, as an identity
    # provider's set may hold one: it is skipped with a warning.
    jwks.write_text(json.dumps({"keys": [
        {"kty": "oct", "kid": "hmac", "k": b64url(b"not for signatures")},
        provider.jwk(KID)]}))
    return {"provider": provider, "impostor": impostor, "jwks": jwks}


@pytest.fixture(scope="module")
def oauth(pki, keys):
    sasl_port, sasl_ssl_port, signed_port = free_port(), free_port(), free_port()
    b = Broker(name="oauthbearer", overrides={})
    listeners = (f"PLAINTEXT://127.0.0.1:{b.port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},"
                 f"SASL_SSL://127.0.0.1:{sasl_ssl_port},SIGNED://127.0.0.1:{signed_port}")
    unsecured = f'{LOGIN_MODULE} required unsecuredLoginStringClaim_sub="admin";'
    signed = "listener.name.signed.oauthbearer."
    b.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
                                          "SASL_SSL:SASL_SSL,SIGNED:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": OAUTHBEARER,
        "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config": unsecured,
        "listener.name.sasl_ssl.oauthbearer.sasl.jaas.config": unsecured,
        f"{signed}sasl.jaas.config": f"{LOGIN_MODULE} required;",
        f"{signed}sasl.server.callback.handler.class": SIGNED_HANDLER,
        f"{signed}sasl.oauthbearer.jwks.endpoint.url": f"file://{keys['jwks']}",
        f"{signed}sasl.oauthbearer.expected.audience": AUDIENCE,
        f"{signed}sasl.oauthbearer.expected.issuer": ISSUER,
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "3",
    })
    b.start()
    b.sasl_port, b.sasl_ssl_port, b.signed_port = sasl_port, sasl_ssl_port, signed_port
    yield b
    b.cleanup()


def address(b: Broker, protocol: str) -> str:
    port = {"PLAINTEXT": b.port, "SASL_PLAINTEXT": b.sasl_port, "SASL_SSL": b.sasl_ssl_port,
            "SIGNED": b.signed_port}[protocol]
    return f"127.0.0.1:{port}"


def create_topic(b: Broker, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(15)


# ---------------------------------------------------------------------------
# Client configurations
# ---------------------------------------------------------------------------

def confluent(b: Broker, pki, protocol: str, token=None, principal: str = "alice",
              errors: list | None = None) -> dict:
    """librdkafka with an oauth_cb handing out `token()` (an unsecured token
    for `principal` by default), or with its own unsecured token when
    `token` is "builtin"."""
    config = {"bootstrap.servers": address(b, protocol), "sasl.mechanism": OAUTHBEARER,
              "security.protocol": "SASL_SSL" if protocol == "SASL_SSL" else "SASL_PLAINTEXT"}
    if token == "builtin":
        config.update({"enable.sasl.oauthbearer.unsecure.jwt": True,
                       "sasl.oauthbearer.config": f"principal={principal}"})
    else:
        make = token or (lambda: unsecured_token(principal))

        def oauth_cb(_config_str):
            return make(), time.time() + 3600, principal
        config["oauth_cb"] = oauth_cb
    if protocol == "SASL_SSL":
        config["ssl.ca.location"] = str(pki / "ca.pem")
    if errors is not None:
        config.update({"error_cb": errors.append, "log_level": 0})
    return config


class UnsecuredTokens(AbstractTokenProvider):
    def __init__(self, sub: str):
        super().__init__()
        self.sub = sub

    def token(self):
        return unsecured_token(self.sub)


def kafka_python(b: Broker, pki, protocol: str, sub: str = "alice") -> dict:
    config = {"bootstrap_servers": address(b, protocol), "security_protocol": protocol,
              "sasl_mechanism": OAUTHBEARER, "sasl_oauth_token_provider": UnsecuredTokens(sub)}
    if protocol == "SASL_SSL":
        config["ssl_cafile"] = str(pki / "ca.pem")
    return config


def java(b: Broker, pki, sub: str = "alice") -> dict:
    """Kafka's own unsecured login: OAuthBearerLoginModule makes the token."""
    return {
        "bootstrap.servers": address(b, "SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": OAUTHBEARER,
        "sasl.jaas.config": f'{LOGIN_MODULE} required unsecuredLoginStringClaim_sub="{sub}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki / "ca.pem"),
    }


def confluent_produce(config: dict, topic: str, values: list[str]) -> list[int]:
    producer = Producer({**config, "acks": "all"})
    reports = []
    for v in values:
        producer.produce(topic, value=v.encode(), partition=0,
                         on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    assert producer.flush(30) == 0
    assert all(err is None for err, _ in reports), reports
    return [offset for _, offset in reports]


def confluent_consume(config: dict, topic: str, count: int) -> list[tuple[int, str]]:
    """`count` records read in a new group, then committed."""
    consumer = Consumer({**config, "group.id": unique_topic("oauth-group"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        consumer.subscribe([topic])
        got = []
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.offset(), msg.value().decode()))
        consumer.commit(asynchronous=False)
        return got
    finally:
        consumer.close()


def authenticated_as(b: Broker, principal: str) -> int:
    return b.log_tail(100000).count(f"authenticated principal=User:{principal} ")


# ---------------------------------------------------------------------------
# Real clients
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_confluent_kafka_produces_and_consumes_with_unsecured_tokens(oauth, pki, protocol):
    topic = unique_topic("oauth-cf")
    create_topic(oauth, topic)
    before = authenticated_as(oauth, "carol")
    # An oauth_cb handing out tokens, then librdkafka's own unsecured token.
    assert confluent_produce(confluent(oauth, pki, protocol, principal="carol"), topic,
                             ["cb-0", "cb-1", "cb-2"]) == [0, 1, 2]
    builtin = confluent(oauth, pki, protocol, token="builtin", principal="carol")
    assert confluent_produce(builtin, topic, ["builtin-0", "builtin-1"]) == [3, 4]
    expected = [(0, "cb-0"), (1, "cb-1"), (2, "cb-2"), (3, "builtin-0"), (4, "builtin-1")]
    assert confluent_consume(confluent(oauth, pki, protocol, principal="carol"), topic, 5) == \
        expected
    assert confluent_consume(builtin, topic, 5) == expected
    assert authenticated_as(oauth, "carol") > before


def test_kafka_python_produces_and_consumes_with_a_token_provider(oauth, pki):
    topic = unique_topic("oauth-kp")
    create_topic(oauth, topic)
    before = authenticated_as(oauth, "dave")
    producer = KafkaProducer(acks="all", **kafka_python(oauth, pki, "SASL_SSL", "dave"))
    sent = [producer.send(topic, value=f"kp-{i}".encode(), partition=0) for i in range(4)]
    producer.flush(30)
    assert [f.get(10).offset for f in sent] == [0, 1, 2, 3]
    producer.close()
    consumer = KafkaConsumer(topic, group_id=unique_topic("oauth-kp-group"),
                             auto_offset_reset="earliest", consumer_timeout_ms=15000,
                             **kafka_python(oauth, pki, "SASL_PLAINTEXT", "dave"))
    got = []
    for msg in consumer:
        got.append((msg.offset, msg.value.decode()))
        if len(got) == 4:
            break
    consumer.commit()
    consumer.close()
    assert got == [(i, f"kp-{i}") for i in range(4)]
    assert authenticated_as(oauth, "dave") > before


def test_the_java_client_logs_in_with_kafkas_unsecured_login(oauth, pki):
    topic = unique_topic("oauth-java")
    config = java(oauth, pki, "erin")
    assert java_client.run(config, "nodes") == [f"node 1 127.0.0.1 {oauth.sasl_ssl_port}"]
    assert java_client.run(config, "create", topic, "1") == [f"created {topic}"]
    assert java_client.run(config, "produce", topic, "j-0", "j-1", "j-2") == \
        ["offset 0", "offset 1", "offset 2"]
    assert java_client.run(config, "consume", topic, unique_topic("oauth-java-group"), "3") == \
        ["record 0 j-0", "record 1 j-1", "record 2 j-2", "committed 3"]
    assert authenticated_as(oauth, "erin") >= 3


def test_a_signed_token_from_the_identity_provider_is_accepted(oauth, pki, keys):
    topic = unique_topic("oauth-signed")
    create_topic(oauth, topic)
    before = authenticated_as(oauth, "frank")
    config = confluent(oauth, pki, "SIGNED", principal="frank",
                       token=lambda: jws(keys["provider"], signed_claims("frank")))
    assert confluent_produce(config, topic, ["s-0", "s-1"]) == [0, 1]
    assert confluent_consume(config, topic, 2) == [(0, "s-0"), (1, "s-1")]
    assert authenticated_as(oauth, "frank") > before


def test_librdkafka_reports_a_refused_token(oauth, pki, keys):
    errors = []
    # An unsecured token on the signed listener.
    producer = Producer(confluent(oauth, pki, "SIGNED", errors=errors))
    deadline = time.monotonic() + 15
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    assert errors and errors[0].code() == ConfluentError._AUTHENTICATION, errors
    assert "invalid_token" in errors[0].str(), errors[0].str()


# ---------------------------------------------------------------------------
# The raw exchange
# ---------------------------------------------------------------------------

def handshake(s: socket.socket, mechanism: str, corr: int) -> tuple[int, list[str]]:
    """SaslHandshake v1: (error code, enabled mechanisms)."""
    s.sendall(w.frame(w.request_header(17, 1, corr) + w.string(mechanism)))
    r = w.Reader(w.recv_frame(s))
    assert r.i32() == corr
    error = r.i16()
    return error, [r.string() for _ in range(r.i32())]


def authenticate(s: socket.socket, token: bytes,
                 corr: int) -> tuple[int, str | None, bytes, int]:
    """SaslAuthenticate v1: (error code, error message, auth bytes, session
    lifetime ms)."""
    s.sendall(w.frame(w.request_header(36, 1, corr) + w.nbytes(token)))
    r = w.Reader(w.recv_frame(s))
    assert r.i32() == corr
    error, message = r.i16(), r.string()
    auth_bytes = r.take(r.i32())
    return error, message, auth_bytes, r.i64()


def served(s: socket.socket, corr: int) -> bool:
    """A Metadata request on `s` is answered."""
    s.sendall(w.metadata_v4_request(corr, None, allow_auto_create=False))
    got, _ = w.parse_metadata_v4(w.recv_frame(s))
    return got == corr


def refused_from_now_on(s: socket.socket, timeout: float = 5) -> bool:
    """A Metadata request on `s` gets no answer: the broker closes the
    connection (False as soon as anything comes back)."""
    try:
        s.sendall(w.metadata_v4_request(999, None, allow_auto_create=False))
    except OSError:
        return True
    s.settimeout(timeout)
    try:
        return s.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def login(b: Broker, port: int, token: str, corr: int = 1, s: socket.socket | None = None):
    """Handshake and token on `s` (or a new connection): (socket, answer)."""
    s = s or w.connect("127.0.0.1", port)
    assert handshake(s, OAUTHBEARER, corr) == (NONE, [OAUTHBEARER])
    return s, authenticate(s, initial_response(token), corr + 1)


def test_a_valid_token_authenticates_and_its_expiry_bounds_the_session(oauth, keys):
    for port, token in ((oauth.sasl_port, unsecured_token("alice", lifetime=600)),
                        (oauth.signed_port, jws(keys["provider"], signed_claims(lifetime=600)))):
        s, (error, message, final, lifetime) = login(oauth, port, token)
        with s:
            assert (error, message, final) == (NONE, None, b"")
            # No connections.max.reauth.ms: the token's remaining lifetime.
            assert 595_000 <= lifetime <= 600_000, lifetime
            assert served(s, 10)


@pytest.mark.parametrize("token", [
    "not-a-jwt",
    segment({"alg": "none"}) + "." + segment({"sub": "alice"}) + ".",  # no exp
    segment({"alg": "RS256"}) + "." + segment({"sub": "alice", "exp": 4e9}) + ".",
    segment({"alg": "none"}) + "." + segment({"sub": "alice", "exp": 4e9}) + ".c2ln",
], ids=["not-a-jwt", "no-exp", "not-alg-none", "signature-on-none"])
def test_an_invalid_unsecured_token_is_challenged_then_refused(oauth, token):
    s, answer = login(oauth, oauth.sasl_port, token)
    with s:
        assert answer == (NONE, None, INVALID_TOKEN.encode(), 0)
        assert authenticate(s, b"\x01", 3) == (SASL_AUTHENTICATION_FAILED, INVALID_TOKEN, b"", 0)
        assert refused_from_now_on(s)


def test_an_expired_unsecured_token_is_refused(oauth):
    s, answer = login(oauth, oauth.sasl_port, unsecured_token("alice", lifetime=-5))
    with s:
        assert answer == (NONE, None, INVALID_TOKEN.encode(), 0)
        assert authenticate(s, b"\x01", 3)[:2] == (SASL_AUTHENTICATION_FAILED, INVALID_TOKEN)
        assert refused_from_now_on(s)
    wait_until(lambda: "was on or after the Expiration Time" in oauth.log_tail(400), 5,
               what="the reason logged")


def test_nothing_is_served_while_a_challenge_is_outstanding(oauth):
    s, answer = login(oauth, oauth.sasl_port, unsecured_token("alice", lifetime=-5))
    with s:
        assert answer[2] == INVALID_TOKEN.encode()
        assert refused_from_now_on(s)


def test_a_malformed_message_fails_at_once_with_kafkas_message(oauth):
    with w.connect("127.0.0.1", oauth.sasl_port) as s:
        assert handshake(s, OAUTHBEARER, 1)[0] == NONE
        assert authenticate(s, b"n,,\x01auth=Basic YWxpY2U=\x01\x01", 2) == (
            SASL_AUTHENTICATION_FAILED,
            "Authentication failed during authentication due to invalid credentials with "
            "SASL mechanism OAUTHBEARER", b"", 0)
        assert refused_from_now_on(s)


def test_an_authorization_id_other_than_the_principal_is_refused(oauth):
    with w.connect("127.0.0.1", oauth.sasl_port) as s:
        assert handshake(s, OAUTHBEARER, 1)[0] == NONE
        assert authenticate(s, initial_response(unsecured_token("alice"), authzid="admin"), 2) == (
            SASL_AUTHENTICATION_FAILED,
            "Authentication failed: Client requested an authorization id (admin) that is "
            "different from the token's principal name (alice)", b"", 0)
        assert refused_from_now_on(s)


def hs256_with_the_public_key(keys) -> str:
    """The classic confusion: HMAC keyed with the (public) RSA key."""
    signing_input = f"{segment({'alg': 'HS256', 'kid': KID})}.{segment(signed_claims())}"
    mac = hmac.new(keys["provider"].n, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def tampered(keys) -> str:
    header, _, signature = jws(keys["provider"], signed_claims()).split(".")
    return f"{header}.{segment(signed_claims('admin'))}.{signature}"


FORGERIES = {
    "expired": lambda k: jws(k["provider"], signed_claims(lifetime=-120)),
    "not-yet-valid": lambda k: jws(k["provider"], signed_claims(nbf=int(time.time()) + 600)),
    "wrong-signature": lambda k: jws(k["impostor"], signed_claims()),
    "tampered-claims": tampered,
    "unknown-kid": lambda k: jws(k["provider"], signed_claims(),
                                 {"alg": "RS256", "kid": "unknown"}),
    "alg-none": lambda k: unsecured_token("alice", aud=AUDIENCE, iss=ISSUER),
    "alg-none-signed": lambda k: segment({"alg": "none", "kid": KID}) + "." +
    jws(k["provider"], signed_claims()).split(".", 1)[1],
    "hs256-public-key": hs256_with_the_public_key,
    "wrong-audience": lambda k: jws(k["provider"], signed_claims(aud="other")),
    "no-audience": lambda k: jws(k["provider"], signed_claims(aud=None)),
    "wrong-issuer": lambda k: jws(k["provider"], signed_claims(iss="https://evil.test")),
    "no-iat": lambda k: jws(k["provider"], signed_claims(iat=None)),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_or_unacceptable_signed_token_never_authenticates(oauth, keys, forge):
    s, answer = login(oauth, oauth.signed_port, forge(keys))
    with s:
        assert answer == (NONE, None, INVALID_TOKEN.encode(), 0)
        assert authenticate(s, b"\x01", 3) == (SASL_AUTHENTICATION_FAILED, INVALID_TOKEN, b"", 0)
        assert refused_from_now_on(s)
    # and the provider's own token still works on a new connection
    s, answer = login(oauth, oauth.signed_port, jws(keys["provider"], signed_claims()))
    with s:
        assert answer[0] == NONE
        assert served(s, 10)


def test_the_reason_of_a_refusal_is_logged_not_told(oauth, keys):
    s, _ = login(oauth, oauth.signed_port, FORGERIES["unknown-kid"](keys))
    with s:
        assert authenticate(s, b"\x01", 3)[1] == INVALID_TOKEN
    wait_until(lambda: 'no RS256 key in the JWKS with kid \\"unknown\\"' in oauth.log_tail(400)
               or 'no RS256 key in the JWKS with kid "unknown"' in oauth.log_tail(400), 5,
               what="the reason logged")


def test_the_session_ends_with_the_token_and_a_new_token_renews_it(oauth):
    # A token of 2.5 s: told, enforced at the next request after it.
    s, (error, _, _, lifetime) = login(oauth, oauth.sasl_port,
                                       unsecured_token("alice", lifetime=2.5))
    authenticated = time.monotonic()
    with s:
        assert error == NONE and 2000 <= lifetime <= 2500, lifetime
        assert served(s, 10)
        time.sleep(max(0.0, authenticated + 2.8 - time.monotonic()))
        assert refused_from_now_on(s)
    # Renewed on the same connection with a new token before it ends.
    s, (error, _, _, lifetime) = login(oauth, oauth.sasl_port,
                                       unsecured_token("alice", lifetime=2.5))
    first = time.monotonic()
    with s:
        assert error == NONE
        time.sleep(1.2)              # re-authentication comes at most once a second
        _, (error, _, _, lifetime) = login(oauth, oauth.sasl_port,
                                           unsecured_token("alice", lifetime=60), corr=20, s=s)
        assert error == NONE and 55_000 <= lifetime <= 60_000, lifetime
        time.sleep(max(0.0, first + 3.0 - time.monotonic()))
        assert served(s, 30)
        # Renewing as someone else is refused.
        time.sleep(1.0)
        _, answer = login(oauth, oauth.sasl_port, unsecured_token("mallory"), corr=40, s=s)
        assert answer[:2] == (SASL_AUTHENTICATION_FAILED,
                              "Cannot change principals during re-authentication from "
                              "User.alice: User.mallory")
        assert refused_from_now_on(s)


# ---------------------------------------------------------------------------
# Start-up
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("url,says", [
    # Nothing listens there: Kafka's broker does not start without its keys either.
    (f"https://127.0.0.1:{free_port()}/.well-known/jwks.json", "cannot read the JWKS endpoint"),
    ("file:///nonexistent/jwks.json", "cannot read the JWKS file /nonexistent/jwks.json"),
    ("ftp://idp.example.com/jwks.json", "unsupported URL scheme"),
], ids=["unreachable-endpoint", "missing-file", "ftp"])
def test_a_jwks_gregor_cannot_read_stops_start_up(url, says):
    b = Broker(name="oauth-bad-jwks", overrides={})
    port = free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SASL_PLAINTEXT://127.0.0.1:{port}"
    b.overrides.update({
        "listeners": listeners, "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": OAUTHBEARER,
        "listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url": url,
    })
    try:
        with pytest.raises(BrokerError, match="exited with code"):
            b.start(timeout=10)
        assert says in b.log_tail(), b.log_tail()
    finally:
        b.cleanup()


# ---------------------------------------------------------------------------
# A JWKS endpoint (https), refreshed
# ---------------------------------------------------------------------------

class JwksServer:
    """An identity provider's JWKS endpoint over TLS (the broker's test
    certificate, from the test CA); `keys` is what it serves, `gets` how
    often it was asked."""

    def __init__(self, pki, keys: list[dict]):
        import http.server
        import ssl
        import threading
        self.keys = keys
        self.gets = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.gets += 1
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200 if self.path == "/realms/kafka/certs" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pki / "broker.pem"), str(pki / "broker.key"))
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}/realms/kafka/certs"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def endpoint(pki, keys):
    """A broker whose SASL listener checks signed tokens against a JWKS
    endpoint: refreshed hourly, but at once (at most every 300 ms) when a
    token names a key id it lacks."""
    idp = JwksServer(pki, [keys["provider"].jwk(KID)])
    _, truststore = java_stores(pki, pki, "broker", "pkcs12")
    port = free_port()
    b = Broker(name="oauth-endpoint", overrides={})
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SASL_PLAINTEXT://127.0.0.1:{port}"
    prefix = "listener.name.sasl_plaintext.oauthbearer."
    b.overrides.update({
        "listeners": listeners, "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": OAUTHBEARER,
        # The IdP connection's TLS settings are JAAS options, as in Kafka:
        # here a PKCS12 truststore as keytool makes it.
        f"{prefix}sasl.jaas.config":
            f'{LOGIN_MODULE} required ssl.truststore.type="PKCS12" '
            f'ssl.truststore.location="{truststore}" '
            f'ssl.truststore.password="{TRUST_PASSWORD}";',
        f"{prefix}sasl.server.callback.handler.class": SIGNED_HANDLER,
        f"{prefix}sasl.oauthbearer.jwks.endpoint.url": idp.url,
        "sasl.oauthbearer.jwks.endpoint.refresh.ms": "3600000",
        "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms": "300",
        f"{prefix}sasl.oauthbearer.expected.audience": AUDIENCE,
        f"{prefix}sasl.oauthbearer.expected.issuer": ISSUER,
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "3",
    })
    try:
        b.start()
        b.sasl_port = port
        yield b, idp
    finally:
        b.cleanup()
        idp.close()


class SignedTokens(AbstractTokenProvider):
    def __init__(self, key: RsaKey, sub: str):
        super().__init__()
        self.key, self.sub = key, sub

    def token(self):
        return jws(self.key, signed_claims(self.sub))


def test_signed_tokens_are_checked_against_a_jwks_endpoint(endpoint, pki, keys):
    """The keys come from the identity provider's https endpoint at
    start-up: librdkafka and kafka-python log in with tokens it signed,
    and produce and consume as their principal; an impostor's token is
    refused."""
    b, idp = endpoint
    # Readiness is the PLAINTEXT port; the SASL listener is served once
    # its keys are in.
    wait_until(lambda: idp.gets >= 1, timeout=30, what="the JWKS fetched at start-up")
    topic = unique_topic("oauth-endpoint")
    create_topic(b, topic)
    config = {"bootstrap.servers": f"127.0.0.1:{b.sasl_port}", "sasl.mechanism": OAUTHBEARER,
              "security.protocol": "SASL_PLAINTEXT",
              "oauth_cb": lambda _: (jws(keys["provider"], signed_claims("grace")),
                                     time.time() + 3600, "grace")}
    assert confluent_produce(config, topic, ["e-0", "e-1"]) == [0, 1]
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{b.sasl_port}",
                             security_protocol="SASL_PLAINTEXT", sasl_mechanism=OAUTHBEARER,
                             sasl_oauth_token_provider=SignedTokens(keys["provider"], "heidi"))
    assert producer.send(topic, b"e-2").get(timeout=30).offset == 2
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=f"127.0.0.1:{b.sasl_port}",
                             security_protocol="SASL_PLAINTEXT", sasl_mechanism=OAUTHBEARER,
                             sasl_oauth_token_provider=SignedTokens(keys["provider"], "heidi"),
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=15000)
    consumer.subscribe([topic])
    kafka_python_knows(consumer, [topic])
    got = []
    for record in consumer:
        got.append((record.offset, record.value.decode()))
        if len(got) == 3:
            break
    consumer.close()
    assert got == [(0, "e-0"), (1, "e-1"), (2, "e-2")]
    assert authenticated_as(b, "grace") >= 1 and authenticated_as(b, "heidi") >= 2

    s, answer = login(b, b.sasl_port, jws(keys["impostor"], signed_claims()))
    with s:
        assert answer == (NONE, None, INVALID_TOKEN.encode(), 0)


def test_a_rotated_key_is_fetched_when_a_token_names_it(endpoint, keys, tmp_path):
    """The provider rotates its key: the first token signed with the new
    key (a kid the broker has not seen) is refused and makes the broker
    fetch the set again, at once rather than at the hourly refresh; the
    next one is accepted, and the retired key's tokens are refused from
    then on. Tokens naming made-up key ids do not make it fetch for each."""
    b, idp = endpoint
    rotated = RsaKey(tmp_path, "rotated")
    idp.keys = [rotated.jwk("rotated-1")]
    new_token = jws(rotated, signed_claims("ivan"), {"alg": "RS256", "kid": "rotated-1"})
    before = idp.gets
    s, answer = login(b, b.sasl_port, new_token)
    s.close()
    assert answer == (NONE, None, INVALID_TOKEN.encode(), 0), "not fetched yet"

    def accepted():
        s, answer = login(b, b.sasl_port, new_token)
        with s:
            return answer[:3] == (NONE, None, b"") and served(s, 10)
    wait_until(accepted, 10, interval=0.2, what="the rotated key fetched")
    assert idp.gets > before
    s, answer = login(b, b.sasl_port, jws(keys["provider"], signed_claims()))
    with s:
        assert answer == (NONE, None, INVALID_TOKEN.encode(), 0), "the retired key still works"

    # Made-up key ids: refused, and fetches stay at most one per 300 ms.
    before, started = idp.gets, time.monotonic()
    for i in range(20):
        s, answer = login(b, b.sasl_port,
                          jws(rotated, signed_claims(), {"alg": "RS256", "kid": f"made-up-{i}"}))
        s.close()
        assert answer[0] == NONE and answer[2] == INVALID_TOKEN.encode()
    time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert idp.gets - before <= elapsed / 0.3 + 1, (idp.gets - before, elapsed)

