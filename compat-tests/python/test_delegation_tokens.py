"""Delegation tokens (KIP-48; issue 11) with Kafka's own tools and client:
`kafka-delegation-tokens.sh` (DelegationTokenCommand) creates, renews,
describes and expires tokens over SASL/SCRAM; the Java client logs in with
a token (`ScramLoginModule ... tokenauth="true"`) and produces and
consumes as the token's owner; the raw SCRAM exchange with the
`tokenauth=true` extension does the same, byte for byte. librdkafka and
kafka-python cannot log in with tokens (no `tokenauth` extension), so the
second client here is the raw exchange.

Kafka's rules, each asserted with its error code: no token requests on
PLAINTEXT or from a token-authenticated connection
(DELEGATION_TOKEN_REQUEST_NOT_ALLOWED); a token for someone else needs
CREATE_TOKENS on that user (DELEGATION_TOKEN_AUTHORIZATION_FAILED); only
the owner, requester or a renewer renews or expires it
(DELEGATION_TOKEN_OWNER_MISMATCH); an unknown HMAC is
DELEGATION_TOKEN_NOT_FOUND; an expired token logs in no more; describing
shows a user its own tokens only, a super user all; a broker without
`delegation.token.secret.key` answers DELEGATION_TOKEN_AUTH_DISABLED.
Tokens are kept in the metadata log: they survive a restart."""

from __future__ import annotations

import base64
import re
import socket
import time

import pytest
from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                   NewTopic, ResourcePatternType, ResourceType)

import java_client
import kafka_wire as w
from conftest import Broker, free_port, unique_topic, wait_until
from test_scram import (ALICE, BOB, SHA256, SHA512, ScramExchange, admin_alter, authenticate,
                        handshake, refused_from_now_on, served, upsertion)

pytestmark = pytest.mark.timeout(300)

NONE = 0
SASL_AUTHENTICATION_FAILED = 58
DELEGATION_TOKEN_AUTH_DISABLED = 61
DELEGATION_TOKEN_NOT_FOUND = 62
DELEGATION_TOKEN_OWNER_MISMATCH = 63
DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64
DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65
DELEGATION_TOKEN_EXPIRED = 66
CAROL = ("carol", SHA256, 4096, "carol-secret")
MALLORY = ("mallory", SHA256, 4096, "mallory-secret")
PREFIX = "dt-"


def token_broker(name: str, secret: str | None = "delegation-secret") -> Broker:
    b = Broker(name=name, overrides={})
    b.sasl_port = free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SASL_PLAINTEXT://127.0.0.1:{b.sasl_port}"
    b.overrides.update({
        "listeners": listeners, "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": f"{SHA256},{SHA512}",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # PLAINTEXT's ANONYMOUS does the set-up.
        "super.users": "User:ANONYMOUS;User:admin",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "3",
    })
    if secret:
        b.overrides["delegation.token.secret.key"] = secret
    b.users = {}
    return b


@pytest.fixture(scope="module")
def dt():
    b = token_broker("tokens")
    b.start()
    try:
        created = admin_alter(b, [upsertion(*user) for user in (ALICE, BOB, CAROL, MALLORY)])
        assert all(error is None for error in created.values()), created
        admin = AdminClient({"bootstrap.servers": b.bootstrap})
        acls = [AclBinding(ResourceType.TOPIC, PREFIX, ResourcePatternType.PREFIXED, "User:alice",
                           "*", op, AclPermissionType.ALLOW)
                for op in (AclOperation.WRITE, AclOperation.READ, AclOperation.DESCRIBE,
                           AclOperation.CREATE)]
        acls.append(AclBinding(ResourceType.GROUP, PREFIX, ResourcePatternType.PREFIXED,
                               "User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW))
        for future in admin.create_acls(acls).values():
            future.result(timeout=30)
        yield b
    finally:
        b.cleanup()


def scram_config(b: Broker, user: tuple) -> dict:
    name, mechanism, _, password = user
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                            f'username="{name}" password="{password}";',
    }


def token_config(b: Broker, token: dict, mechanism: str = SHA512) -> dict:
    """Kafka's client login with a token: its id and HMAC, `tokenauth`."""
    return {
        "bootstrap.servers": f"127.0.0.1:{b.sasl_port}",
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                            f'username="{token["id"]}" password="{token["hmac"]}" tokenauth="true";',
    }


def tool(b: Broker, config: dict, *args: str, plaintext: bool = False) -> str:
    """kafka-delegation-tokens.sh with `config` as its --command-config."""
    path = b.data_dir.parent / f"tool-{time.monotonic_ns()}.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
    server = b.bootstrap if plaintext else f"127.0.0.1:{b.sasl_port}"
    return java_client.run_tool("org.apache.kafka.tools.DelegationTokenCommand",
                                "--bootstrap-server", server, "--command-config", str(path),
                                *args)


TOKEN_LINE = re.compile(r"^(\S{22})\s+(\S+==)\s+(User:\S+)\s+(User:\S+)\s+\[([^\]]*)\]", re.M)


def tokens_in(output: str) -> list[dict]:
    """The tool's token table: id, HMAC, owner, requester, renewers."""
    return [{"id": m[1], "hmac": m[2], "owner": m[3], "requester": m[4],
             "renewers": [r.strip() for r in m[5].split(",") if r.strip()]}
            for m in TOKEN_LINE.finditer(output)]


def create(b: Broker, user: tuple, *args: str) -> dict:
    out = tool(b, scram_config(b, user), "--create", "--max-life-time-period", "-1", *args)
    made = tokens_in(out)
    assert len(made) == 1, out
    return made[0]


# --- the raw exchange ----------------------------------------------------------

def token_login(b: Broker, token: dict, mechanism: str = SHA256):
    """A SCRAM exchange with `tokenauth=true`: (socket, last answer)."""
    s = w.connect("127.0.0.1", b.sasl_port)
    assert handshake(s, mechanism, 1) == (NONE, [SHA256, SHA512])
    x = ScramExchange(mechanism, token["id"], token["hmac"])
    x.bare += ",tokenauth=true"
    error, message, first, _ = authenticate(s, x.client_first(), 2)
    if error != NONE:
        return s, (error, message, first, None)
    x.server_first(first)
    answer = authenticate(s, x.client_final(), 3)
    if answer[0] == NONE:
        assert answer[2] == x.server_final(), "the broker proves it knows the token"
    return s, answer


def create_token_raw(s: socket.socket, corr: int) -> int:
    """CreateDelegationToken v1 (no renewers, the broker's max lifetime):
    the error code."""
    s.sendall(w.frame(w.request_header(38, 1, corr) + w.i32(0) + w.i64(-1)))
    r = w.Reader(w.recv_frame(s))
    assert r.i32() == corr
    return r.i16()


# --- tests ----------------------------------------------------------------------

def test_a_token_made_with_kafkas_tool_logs_the_java_client_in_as_its_owner(dt):
    token = create(dt, ALICE, "--renewer-principal", "User:bob")
    assert (token["owner"], token["requester"], token["renewers"]) == \
        ("User:alice", "User:alice", ["User:bob"])
    assert len(base64.b64decode(token["hmac"])) == 64, "HMAC-SHA512"
    topic = unique_topic(PREFIX + "java")
    before = dt.log_tail(100000).count("principal=User:alice mechanism=Scram(Sha512) delegation_token=true")
    assert java_client.run(token_config(dt, token), "produce", topic, "t-0", "t-1") == \
        ["offset 0", "offset 1"]
    assert java_client.run(token_config(dt, token), "consume", topic, unique_topic(PREFIX + "g"),
                           "2") == ["record 0 t-0", "record 1 t-1", "committed 2"]
    after = dt.log_tail(100000).count("principal=User:alice mechanism=Scram(Sha512) delegation_token=true")
    assert after > before, "the token logged in as alice"


@pytest.mark.parametrize("mechanism", [SHA256, SHA512])
def test_the_raw_exchange_with_tokenauth_authenticates_as_the_owner(dt, mechanism):
    token = create(dt, ALICE)
    s, (error, message, _, lifetime) = token_login(dt, token, mechanism)
    with s:
        assert (error, message) == (NONE, None)
        # The session ends with the token (a day by default).
        assert 86_300_000 < lifetime <= 86_400_000, lifetime
        assert served(s, 10)
        # A token cannot beget tokens.
        assert create_token_raw(s, 11) == DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
    # The wrong HMAC, a made-up id, and the id as a user name without
    # tokenauth: refused.
    for forged in ({**token, "hmac": base64.b64encode(b"x" * 64).decode()},
                   {**token, "id": "A" * 22}):
        s, answer = token_login(dt, forged, mechanism)
        with s:
            assert answer[0] == SASL_AUTHENTICATION_FAILED, answer
            assert refused_from_now_on(s)


def test_token_requests_are_refused_where_kafka_refuses_them(dt):
    # PLAINTEXT: no identity to give a token to.
    with w.connect("127.0.0.1", dt.port) as s:
        assert create_token_raw(s, 1) == DELEGATION_TOKEN_REQUEST_NOT_ALLOWED
    # A token for alice, asked by carol: needs CREATE_TOKENS on User:alice.
    with pytest.raises(java_client.JavaClientError, match="DelegationTokenAuthorization|not authorized"):
        create(dt, CAROL, "--owner-principal", "User:alice")
    # confluent-kafka has no USER resource type: kafka-acls.sh grants it.
    java_client.run_tool("org.apache.kafka.tools.AclCommand", "--bootstrap-server", dt.bootstrap,
                         "--add", "--allow-principal", "User:carol", "--operation",
                         "CreateTokens", "--user-principal", "User:alice")
    made = create(dt, CAROL, "--owner-principal", "User:alice")
    assert (made["owner"], made["requester"]) == ("User:alice", "User:carol")


def test_renew_describe_and_expire_as_kafka_rules_them(dt):
    token = create(dt, ALICE, "--renewer-principal", "User:bob")
    # A renewer renews; someone else may not.
    out = tool(dt, scram_config(dt, BOB), "--renew", "--hmac", token["hmac"],
               "--renew-time-period", "3600000")
    assert "Completed renew operation" in out or "expiry" in out.lower(), out
    with pytest.raises(java_client.JavaClientError, match="DelegationTokenOwnerMismatch|owner"):
        tool(dt, scram_config(dt, MALLORY), "--renew", "--hmac", token["hmac"],
             "--renew-time-period", "3600000")
    with pytest.raises(java_client.JavaClientError, match="DelegationTokenNotFound|not found"):
        tool(dt, scram_config(dt, BOB), "--renew", "--hmac",
             base64.b64encode(b"y" * 64).decode(), "--renew-time-period", "1000")

    # Describing alice's tokens: alice and bob (a renewer) see it, mallory
    # nothing, the super user all. (Kafka 4.4's tool sends an empty owner
    # list without --owner-principal, which Kafka answers with no tokens.)
    def described(user, owner="User:alice"):
        out = tool(dt, scram_config(dt, user), "--describe", "--owner-principal", owner)
        return {t["id"] for t in tokens_in(out)}
    assert token["id"] in described(ALICE)
    assert token["id"] in described(BOB)
    assert token["id"] in described(BOB, owner="User:bob"), "bob renews it"
    assert described(MALLORY) == set()
    assert tokens_in(tool(dt, scram_config(dt, ALICE), "--describe")) == []
    admin_user = ("admin", SHA256, 4096, "admin-secret")
    admin_alter(dt, [upsertion(*admin_user)])
    assert token["id"] in described(admin_user)

    # Expired at once: it logs in no more, and is not described.
    out = tool(dt, scram_config(dt, ALICE), "--expire", "--hmac", token["hmac"],
               "--expiry-time-period", "-1")
    assert "Completed expire operation" in out or "expiry" in out.lower(), out
    assert token["id"] not in described(ALICE)
    s, answer = token_login(dt, token)
    with s:
        assert answer[0] == SASL_AUTHENTICATION_FAILED, answer
    with pytest.raises(java_client.JavaClientError, match="DelegationTokenNotFound|not found"):
        tool(dt, scram_config(dt, ALICE), "--renew", "--hmac", token["hmac"],
             "--renew-time-period", "1000")


def test_a_token_past_its_expiry_is_refused_and_removed(dt):
    token = create(dt, ALICE)
    tool(dt, scram_config(dt, ALICE), "--expire", "--hmac", token["hmac"],
         "--expiry-time-period", "1000")
    s, answer = token_login(dt, token)
    s.close()
    assert answer[0] == NONE, "still valid for a second"
    time.sleep(1.5)
    s, answer = token_login(dt, token)
    with s:
        assert answer[0] == SASL_AUTHENTICATION_FAILED, answer
    with pytest.raises(java_client.JavaClientError, match="DelegationTokenExpired|expired|not found"):
        tool(dt, scram_config(dt, ALICE), "--renew", "--hmac", token["hmac"],
             "--renew-time-period", "1000")


def test_tokens_survive_a_restart(dt):
    token = create(dt, ALICE)
    dt.stop()
    dt.start()
    s, answer = token_login(dt, token)
    with s:
        assert answer[0] == NONE, answer
        assert served(s, 10)


def test_a_broker_without_a_secret_has_no_tokens(tmp_path):
    b = token_broker("no-tokens", secret=None)
    b.start()
    try:
        admin_alter(b, [upsertion(*ALICE)])
        with pytest.raises(java_client.JavaClientError, match="DelegationTokenDisabled|disabled"):
            create(b, ALICE)
        s, answer = token_login(b, {"id": "A" * 22, "hmac": base64.b64encode(b"z" * 64).decode()})
        with s:
            assert answer[0] == SASL_AUTHENTICATION_FAILED
    finally:
        b.cleanup()
