"""The console commands on a secured broker: `--command-config` (Kafka's
client properties) on every command, `gregor acls` (kafka-acls.sh) and
`gregor configs --entity-type users` (kafka-configs.sh's SCRAM
credentials), checked against what confluent-kafka's AdminClient and
Kafka's own AclCommand see.

One broker for the module: a PLAINTEXT listener (User:ANONYMOUS, allowed
nothing) and a SASL_SSL one offering PLAIN (the super user admin, from the
listener's JAAS config) and SCRAM-SHA-256 (users the tests create with
`gregor configs`), Kafka's StandardAuthorizer and `super.users=User:admin`.
The same client.properties file serves gregor's commands and Kafka's
tools."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import (AclBindingFilter, AclOperation, AclPermissionType,
                                   AdminClient, ResourcePatternType, ResourceType,
                                   ScramMechanism)

import java_client
from conftest import GREGOR_BIN, Broker, free_port, unique_topic, wait_until
from pki import make as make_pki

pytestmark = pytest.mark.timeout(180)

ADMIN_PASSWORD = "admin-secret"
PLAIN_JAAS = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
              f'user_admin="{ADMIN_PASSWORD}" user_pat="pat-secret";')
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ACL_COMMAND = "org.apache.kafka.tools.AclCommand"
SCRAM_FAILED = ("Authentication failed during authentication due to invalid credentials "
                "with SASL mechanism SCRAM-SHA-256")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secured(pki):
    b = Broker(name="console-security", overrides={})
    b.sasl_ssl_port = free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{b.port},SASL_SSL://127.0.0.1:{b.sasl_ssl_port}"
    b.overrides.update({
        "listeners": listeners,
        "advertised.listeners": listeners,
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
        "listener.name.sasl_ssl.plain.sasl.jaas.config": PLAIN_JAAS,
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        "authorizer.class.name": AUTHORIZER,
        "super.users": "User:admin",
        "num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.num.partitions": "1",
    })
    b.start()
    b.sasl_ssl_bootstrap = f"127.0.0.1:{b.sasl_ssl_port}"
    yield b
    b.cleanup()


@pytest.fixture(scope="module")
def configs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("client-configs")


def client_properties(pki, mechanism: str, user: str, password: str) -> dict:
    module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
              else "org.apache.kafka.common.security.scram.ScramLoginModule")
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": f'{module} required username="{user}" password="{password}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(pki / "ca.pem"),
    }


def write_config(directory: Path, properties: dict) -> str:
    path = directory / f"client-{uuid.uuid4().hex[:8]}.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    return str(path)


@pytest.fixture(scope="module")
def admin_config(pki, configs_dir) -> str:
    """client.properties of the super user (PLAIN over SASL_SSL)."""
    return write_config(configs_dir, client_properties(pki, "PLAIN", "admin", ADMIN_PASSWORD))


def scram_config(pki, configs_dir, user: str, password: str) -> str:
    return write_config(configs_dir, client_properties(pki, "SCRAM-SHA-256", user, password))


def confluent_admin(b: Broker, pki) -> AdminClient:
    return AdminClient({"bootstrap.servers": b.sasl_ssl_bootstrap, "security.protocol": "SASL_SSL",
                        "sasl.mechanism": "PLAIN", "sasl.username": "admin",
                        "sasl.password": ADMIN_PASSWORD, "ssl.ca.location": str(pki / "ca.pem")})


def gregor(b: Broker, command: str, *args: str, config: str | None = None,
           stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`gregor <command> --bootstrap-server <SASL_SSL> [--command-config config] args…`."""
    argv = [GREGOR_BIN, command, "--bootstrap-server", b.sasl_ssl_bootstrap]
    if config is not None:
        argv += ["--command-config", config]
    argv += list(args)
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=90,
                          stdin=None if stdin is not None else subprocess.DEVNULL)
    assert "panicked" not in done.stderr, done.stderr
    if check:
        assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done


def create_scram_user(b: Broker, admin_config: str, user: str, password: str,
                      iterations: int = 8192) -> None:
    out = gregor(b, "configs", "--entity-type", "users", "--entity-name", user, "--alter",
                 "--add-config", f"SCRAM-SHA-256=[iterations={iterations},password={password}]",
                 config=admin_config).stdout
    assert out == f"Completed updating config for user {user}.\n"


def parse_acl_listing(text: str) -> dict[str, set[str]]:
    """AclCommand's --list output: {ResourcePattern(...): {(principal=…) …}}."""
    listing: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("Current ACLs for resource `"):
            current = line[len("Current ACLs for resource `"):].rstrip(":").rstrip("`")
            listing.setdefault(current, set())
        elif line.startswith("\t") and current is not None:
            listing[current].add(line.strip())
        elif not line.strip():
            current = None
    return listing


def confluent_listing(admin: AdminClient, principal: str) -> dict[str, set[str]]:
    """Every ACL of `principal` as confluent-kafka's describe_acls sees it, in
    AclCommand's words."""
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal,
                                  None, AclOperation.ANY, AclPermissionType.ANY)
    listing: dict[str, set[str]] = {}
    for bd in admin.describe_acls(everything).result(15):
        # librdkafka calls the cluster resource type BROKER.
        restype = "CLUSTER" if bd.restype == ResourceType.BROKER else bd.restype.name
        resource = (f"ResourcePattern(resourceType={restype}, name={bd.name}, "
                    f"patternType={bd.resource_pattern_type.name})")
        listing.setdefault(resource, set()).add(
            f"(principal={bd.principal}, host={bd.host}, operation={bd.operation.name}, "
            f"permissionType={bd.permission_type.name})")
    return listing


def only(listing: dict[str, set[str]], principal: str) -> dict[str, set[str]]:
    kept = {r: {e for e in es if f"(principal={principal}," in e} for r, es in listing.items()}
    return {r: es for r, es in kept.items() if es}


def pattern(rtype: str, name: str, pattern_type: str = "LITERAL") -> str:
    return f"ResourcePattern(resourceType={rtype}, name={name}, patternType={pattern_type})"


def entry(principal: str, operation: str, permission: str = "ALLOW", host: str = "*") -> str:
    return f"(principal={principal}, host={host}, operation={operation}, permissionType={permission})"


# =============================================================================


def test_configs_creates_describes_and_deletes_scram_credentials(secured, pki, admin_config,
                                                                 configs_dir):
    """`gregor configs --entity-type users`: the credential it creates is
    what confluent-kafka describes, the user logs in with it, and
    --delete-config removes it; too few iterations are refused before
    anything is sent, with Kafka's message."""
    user = f"sam-{uuid.uuid4().hex[:6]}"
    create_scram_user(secured, admin_config, user, "sam-secret")
    described = gregor(secured, "configs", "--describe", "--entity-type", "users",
                       "--entity-name", user, config=admin_config).stdout
    assert described == (f"SCRAM credential configs for user-principal '{user}' are "
                         "SCRAM-SHA-256=iterations=8192\n")
    everyone = gregor(secured, "configs", "--describe", "--entity-type", "users",
                      config=admin_config).stdout
    assert f"SCRAM credential configs for user-principal '{user}' are " \
           "SCRAM-SHA-256=iterations=8192" in everyone.splitlines()
    admin = confluent_admin(secured, pki)
    description = admin.describe_user_scram_credentials([user])[user].result(15)
    assert [(i.mechanism, i.iterations) for i in description.scram_credential_infos] == \
        [(ScramMechanism.SCRAM_SHA_256, 8192)]
    # The salted password gregor computed logs in (ANONYMOUS-free: no ACL is
    # needed to list no topics).
    sam = scram_config(pki, configs_dir, user, "sam-secret")
    assert gregor(secured, "topics", "--list", config=sam).returncode == 0

    too_few = gregor(secured, "configs", "--alter", "--entity-type", "users", "--entity-name", user,
                     "--add-config", "SCRAM-SHA-256=[iterations=1000,password=x]",
                     config=admin_config, check=False)
    assert too_few.returncode != 0
    assert "Iterations 1000 is less than the minimum 4096 required for SCRAM-SHA-256" in \
        too_few.stderr

    out = gregor(secured, "configs", "--alter", "--entity-type", "users", "--entity-name", user,
                 "--delete-config", "SCRAM-SHA-256", config=admin_config).stdout
    assert out == f"Completed updating config for user {user}.\n"
    gone = gregor(secured, "configs", "--describe", "--entity-type", "users", "--entity-name", user,
                  config=admin_config).stdout
    assert gone.startswith(f"Error retrieving SCRAM credential configs for user-principal '{user}': "
                           "ResourceNotFound")
    refused = gregor(secured, "topics", "--list", config=sam, check=False)
    assert refused.returncode != 0 and SCRAM_FAILED in refused.stderr


def test_a_scram_user_produces_and_consumes_with_the_acls_gregor_added(secured, pki,
                                                                       admin_config, configs_dir):
    """The user gregor configs created, with `--producer` and `--consumer`
    ACLs from gregor acls: creates the topic, produces and consumes in a
    group — every connection SCRAM over TLS, to the bootstrap broker, the
    leader and the coordinator. A topic without ACLs stays refused."""
    user = f"alice-{uuid.uuid4().hex[:6]}"
    principal = f"User:{user}"
    t, g = unique_topic("console-sec"), unique_topic("console-sec-g")
    create_scram_user(secured, admin_config, user, "alice-secret")
    alice = scram_config(pki, configs_dir, user, "alice-secret")

    added = gregor(secured, "acls", "--add", "--allow-principal", principal, "--producer",
                   "--topic", t, config=admin_config).stdout
    assert added.startswith(f"Adding ACLs for resource `{pattern('TOPIC', t)}`: \n")
    assert {line.strip() for line in added.splitlines()[1:] if line.strip()} == \
        {entry(principal, op) for op in ("WRITE", "DESCRIBE", "CREATE")}
    gregor(secured, "acls", "--add", "--allow-principal", principal, "--consumer", "--topic", t,
           "--group", g, config=admin_config)
    wait_until(lambda: entry(principal, "READ") in gregor(
        secured, "acls", "--list", "--group", g, config=admin_config).stdout,
        timeout=10, what="the consumer ACLs served")

    assert gregor(secured, "topics", "--create", "--topic", t, "--partitions", "2",
                  config=alice).stdout == f"Created topic {t}.\n"
    assert gregor(secured, "topics", "--list", config=alice).stdout.splitlines() == [t]
    lines = [f"k{i}:secret value {i}" for i in range(20)]
    gregor(secured, "produce", "--topic", t, "--property", "parse.key=true",
           "--property", "key.separator=:", config=alice, stdin="".join(f"{x}\n" for x in lines))
    consumed = gregor(secured, "consume", "--topic", t, "--group", g, "--from-beginning",
                      "--max-messages", "20", "--timeout-ms", "10000",
                      "--property", "print.key=true", "--property", "key.separator=:",
                      config=alice)
    assert sorted(consumed.stdout.splitlines()) == sorted(lines)
    assert consumed.stderr.strip().endswith("Processed a total of 20 messages")
    # The group committed what it printed: the admin sees it with gregor groups.
    rows = gregor(secured, "groups", "--describe", "--group", g, config=admin_config).stdout
    committed = [line.split() for line in rows.splitlines()[1:] if line.startswith(g)]
    assert sorted(row[2:6] for row in committed) == sorted(
        [str(p), str(n), str(n), "0"] for p, n in
        _partition_counts(secured, pki, t, 2).items())

    other = unique_topic("console-sec-other")
    gregor(secured, "topics", "--create", "--topic", other, config=admin_config)
    refused = gregor(secured, "produce", "--topic", other, config=alice, stdin="x\n", check=False)
    assert refused.returncode != 0
    assert "TopicAuthorizationFailed" in refused.stderr
    refused = gregor(secured, "consume", "--topic", t, "--group", f"{g}-other", "--from-beginning",
                     "--max-messages", "1", "--timeout-ms", "3000", config=alice, check=False)
    assert refused.returncode != 0
    assert "GroupAuthorizationFailed" in refused.stderr


def _partition_counts(b: Broker, pki, t: str, partitions: int) -> dict[int, int]:
    """The number of records in each partition, as the admin's confluent
    consumer reads the high watermarks."""
    consumer = Consumer({"bootstrap.servers": b.sasl_ssl_bootstrap, "group.id": "counts",
                         "security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
                         "sasl.username": "admin", "sasl.password": ADMIN_PASSWORD,
                         "ssl.ca.location": str(pki / "ca.pem")})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
                for p in range(partitions)}
    finally:
        consumer.close()


def test_acl_listings_agree_with_describe_acls_and_kafkas_acl_command(secured, pki, admin_config):
    """ACLs gregor acls adds (literal, prefixed, groups, the cluster,
    transactional ids, denied hosts) are listed alike by gregor acls --list,
    confluent-kafka's describe_acls and Kafka's AclCommand --list; ACLs
    AclCommand adds, gregor lists; what either removes, both stop seeing."""
    who = f"User:zed-{uuid.uuid4().hex[:6]}"
    t, g, tx = unique_topic("acl-list"), unique_topic("acl-list-g"), unique_topic("acl-list-tx")
    prefix = t[:12]
    gregor(secured, "acls", "--add", "--allow-principal", who, "--operation", "Read",
           "--operation", "DescribeConfigs", "--topic", t, "--group", g, config=admin_config)
    gregor(secured, "acls", "--add", "--deny-principal", who, "--deny-host", "10.0.0.9",
           "--operation", "write", "--topic", prefix, "--resource-pattern-type", "prefixed",
           config=admin_config)
    gregor(secured, "acls", "--add", "--allow-principal", who, "--producer", "--idempotent",
           "--topic", t, "--transactional-id", tx, config=admin_config)
    expected = {
        pattern("TOPIC", t): {entry(who, op) for op in
                              ("READ", "DESCRIBE_CONFIGS", "WRITE", "DESCRIBE", "CREATE")},
        pattern("GROUP", g): {entry(who, "READ"), entry(who, "DESCRIBE_CONFIGS")},
        pattern("TOPIC", prefix, "PREFIXED"): {entry(who, "WRITE", "DENY", "10.0.0.9")},
        pattern("CLUSTER", "kafka-cluster"): {entry(who, "IDEMPOTENT_WRITE")},
        pattern("TRANSACTIONAL_ID", tx): {entry(who, "WRITE"), entry(who, "DESCRIBE")},
    }
    admin = confluent_admin(secured, pki)
    wait_until(lambda: confluent_listing(admin, who) == expected, timeout=10,
               what="the ACLs gregor added, as describe_acls sees them")

    everything = gregor(secured, "acls", "--list", config=admin_config).stdout
    assert only(parse_acl_listing(everything), who) == expected
    mine = gregor(secured, "acls", "--list", "--principal", who, config=admin_config).stdout
    assert mine.startswith(f"ACLs for principal `{who}`\n")
    assert parse_acl_listing(mine) == expected
    # Kafka's tool and gregor's, given the same resources and the same
    # client.properties, list the same.
    java = ["--bootstrap-server", secured.sasl_ssl_bootstrap, "--command-config", admin_config]
    for resource_args in (["--topic", t], ["--group", g], ["--transactional-id", tx],
                          ["--topic", prefix, "--resource-pattern-type", "prefixed"]):
        ours = only(parse_acl_listing(gregor(secured, "acls", "--list", *resource_args,
                                             config=admin_config).stdout), who)
        theirs = only(parse_acl_listing(java_client.run_tool(ACL_COMMAND, *java, "--list",
                                                             *resource_args)), who)
        assert ours == theirs and ours, resource_args
    # MATCH: every pattern that applies to the topic t.
    matched = only(parse_acl_listing(gregor(secured, "acls", "--list", "--topic", t,
                                            "--resource-pattern-type", "match",
                                            config=admin_config).stdout), who)
    assert matched == {k: expected[k] for k in (pattern("TOPIC", t),
                                                pattern("TOPIC", prefix, "PREFIXED"))}

    # What AclCommand adds, gregor lists.
    java_client.run_tool(ACL_COMMAND, *java, "--add", "--allow-principal", who, "--allow-host",
                         "10.1.1.1", "--operation", "Alter", "--cluster")
    cluster = only(parse_acl_listing(gregor(secured, "acls", "--list", "--cluster",
                                            config=admin_config).stdout), who)
    assert cluster == {pattern("CLUSTER", "kafka-cluster"): {
        entry(who, "IDEMPOTENT_WRITE"), entry(who, "ALTER", host="10.1.1.1")}}
    # Adding what exists says so and changes nothing.
    again = gregor(secured, "acls", "--add", "--allow-principal", who, "--operation", "Read",
                   "--topic", t, config=admin_config).stdout
    assert again == (f"Acl (pattern={pattern('TOPIC', t)}, entry={entry(who, 'READ')}) "
                     "already exists.\n")

    # Removing: gregor removes one entry; AclCommand sees the rest.
    gregor(secured, "acls", "--remove", "--force", "--allow-principal", who, "--operation", "Read",
           "--topic", t, "--group", g, config=admin_config)
    expected[pattern("TOPIC", t)].discard(entry(who, "READ"))
    expected[pattern("GROUP", g)].discard(entry(who, "READ"))
    expected[pattern("CLUSTER", "kafka-cluster")].add(entry(who, "ALTER", host="10.1.1.1"))
    wait_until(lambda: confluent_listing(admin, who) == expected, timeout=10,
               what="the removal served")
    theirs = only(parse_acl_listing(java_client.run_tool(ACL_COMMAND, *java, "--list",
                                                         "--topic", t)), who)
    assert theirs == {pattern("TOPIC", t): expected[pattern("TOPIC", t)]}
    # Without --force and without a terminal to ask on, nothing is removed.
    unforced = gregor(secured, "acls", "--remove", "--topic", t, config=admin_config, check=False)
    assert unforced.returncode != 0 and "--force" in unforced.stderr
    # AclCommand removes the ACL it added, gregor the cluster ACL it added
    # and every ACL of the test's own resources.
    java_client.run_tool(ACL_COMMAND, *java, "--remove", "--force", "--allow-principal", who,
                         "--allow-host", "10.1.1.1", "--operation", "Alter", "--cluster")
    gregor(secured, "acls", "--remove", "--force", "--allow-principal", who, "--operation",
           "IdempotentWrite", "--cluster", config=admin_config)
    gregor(secured, "acls", "--remove", "--force", "--topic", t, "--group", g,
           "--transactional-id", tx, config=admin_config)
    gregor(secured, "acls", "--remove", "--force", "--topic", prefix,
           "--resource-pattern-type", "prefixed", config=admin_config)
    wait_until(lambda: confluent_listing(admin, who) == {}, timeout=10, what="every ACL removed")
    assert only(parse_acl_listing(gregor(secured, "acls", "--list", config=admin_config).stdout),
                who) == {}


def test_acl_tool_refusals(secured, pki, admin_config, configs_dir):
    """A user without ALTER on the cluster is refused by the broker; a
    command line AclCommand refuses is refused before connecting."""
    user = f"eve-{uuid.uuid4().hex[:6]}"
    create_scram_user(secured, admin_config, user, "eve-secret")
    eve = scram_config(pki, configs_dir, user, "eve-secret")
    refused = gregor(secured, "acls", "--add", "--allow-principal", f"User:{user}",
                     "--operation", "All", "--topic", "*", config=eve, check=False)
    assert refused.returncode != 0
    assert "ClusterAuthorizationFailed" in refused.stderr
    listed = gregor(secured, "acls", "--list", config=eve, check=False)
    assert listed.returncode != 0 and "ClusterAuthorizationFailed" in listed.stderr

    for args, message in [
        (["--add", "--allow-principal", "User:x", "--operation", "IdempotentWrite", "--topic", "t"],
         "ResourceType TOPIC only supports operations"),
        (["--add", "--operation", "Read", "--topic", "t"],
         "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs."),
        (["--add", "--allow-principal", "User:x", "--topic", "t", "--resource-pattern-type", "any"],
         "A '--resource-pattern-type' value of 'ANY' is not valid when adding acls."),
        (["--add", "--allow-principal", "User:x", "--consumer", "--topic", "t"],
         "With --consumer you must specify a --topic and a --group"),
        (["--add", "--allow-principal", "x", "--topic", "t"],
         "expected a string in format principalType:principalName"),
    ]:
        # An unreachable bootstrap: the refusal comes before any connection.
        done = subprocess.run([GREGOR_BIN, "acls", "--bootstrap-server", "127.0.0.1:1", *args],
                              capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
        assert "panicked" not in done.stderr


def test_bad_credentials_and_bad_properties_fail_with_a_clear_message(secured, pki, admin_config,
                                                                      configs_dir):
    """A wrong password in --command-config exits non-zero with the broker's
    message, for SCRAM and PLAIN and on every command; an unreadable or
    invalid properties file names itself; nothing panics."""
    user = f"bad-{uuid.uuid4().hex[:6]}"
    create_scram_user(secured, admin_config, user, "right-secret")
    wrong = scram_config(pki, configs_dir, user, "wrong-secret")
    for command in (["topics", "--list"], ["groups", "--list"], ["acls", "--list"],
                    ["configs", "--describe", "--entity-type", "users"],
                    ["consume", "--topic", "t", "--max-messages", "1"]):
        done = gregor(secured, *command, config=wrong, check=False)
        assert done.returncode != 0, command
        assert SCRAM_FAILED in done.stderr, (command, done.stderr)
        assert "wrong-secret" not in done.stderr
    done = gregor(secured, "produce", "--topic", "t", config=wrong, stdin="x\n", check=False)
    assert done.returncode != 0 and SCRAM_FAILED in done.stderr

    plain = write_config(configs_dir, client_properties(pki, "PLAIN", "admin", "not-it"))
    done = gregor(secured, "topics", "--list", config=plain, check=False)
    assert done.returncode != 0
    assert "Authentication failed: Invalid username or password" in done.stderr

    missing = str(configs_dir / "missing.properties")
    done = gregor(secured, "topics", "--list", config=missing, check=False)
    assert done.returncode != 0 and f"--command-config {missing}: " in done.stderr
    unknown = write_config(configs_dir, {**client_properties(pki, "PLAIN", "admin", ADMIN_PASSWORD),
                                         "sasl.mechanism": "GSSAPI"})
    done = gregor(secured, "topics", "--list", config=unknown, check=False)
    assert done.returncode != 0 and "sasl.mechanism" in done.stderr
    untrusted = write_config(configs_dir, {**client_properties(pki, "PLAIN", "admin",
                                                               ADMIN_PASSWORD),
                                           "ssl.truststore.location": str(pki / "rogue-ca.pem")})
    done = gregor(secured, "topics", "--list", config=untrusted, check=False)
    assert done.returncode != 0 and "TLS" in done.stderr
    # Without --command-config the SASL_SSL listener is not spoken to in
    # plaintext successfully: the command fails instead of hanging.
    start = time.monotonic()
    done = gregor(secured, "topics", "--list", check=False)
    assert done.returncode != 0 and time.monotonic() - start < 60
