#!/usr/bin/env python3
"""The client × feature table of docs/compatibility.md, from a compat run.

compat-tests/python/results_plugin.py writes every test's outcome to
target/compat-results.json (or $GREGOR_COMPAT_RESULTS). This script maps
each test to the (feature, client) cells it really exercises, with the
declarative MAPPING below (per test file, and per test-name regex where a
file mixes clients or features), and renders a Markdown table: rows are
features, columns clients; a cell is "✓ n" (n passing tests, none
failing), "✗" (a mapped test failed or errored), "–" (mapped tests ran,
none passed: skipped or xfailed) or blank (no test covers it).

    feature_table.py --print                      # the table on stdout
    feature_table.py --write docs/compatibility.md
    feature_table.py --check docs/compatibility.md
    feature_table.py --check-mapping              # every test in the results mapped
    feature_table.py --check-files                # every test_*.py has a MAPPING entry

--check fails when a cell the committed table marks ✓ is not ✓ in the
results (a claim the run does not back); other counts and new ✓ cells
are fine. --check-mapping fails on a test of the results that no rule
maps, --check-files on a test file without a MAPPING entry (or an entry
without its file). `--nodeids FILE` takes node ids (`pytest
--collect-only -q` output) instead of results, every one counted as
passing: a preview of what the mapping claims, never written to a doc.

Mapping rules: MAPPING[file] is a list of (regex, cells); a test's cells
are the union of the cells of every rule whose regex matches its name
(the node id after "file.py::", parameters included, re.search). A test
no rule matches is unmapped. A rule with no cells (NO_CLIENT) maps tests
that drive no client: the checker's own tests, start-up refusals. Map a
client only where the test drives it for that feature and fails if it
misbehaves; clients used only to set up or to look (an admin creating a
topic, a reader checking what another client wrote) are left out unless
what they see is the point of the test.

Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = REPO_ROOT / "compat-tests" / "python"
DEFAULT_RESULTS = REPO_ROOT / "target" / "compat-results.json"
START = "<!-- client-feature-table:start -->"
END = "<!-- client-feature-table:end -->"

# ---------------------------------------------------------------------------
# columns: clients
# ---------------------------------------------------------------------------

KCAT = "kcat"
CK = "confluent-kafka"
KP = "kafka-python"
AIO = "aiokafka"
JAVA = "Java client"
STREAMS = "Kafka Streams"
TOOLS = "Kafka tools"
FRANZ = "franz-go"
SARAMA = "Sarama"
KGO = "kafka-go"
GCLI = "gregor CLI"
WIRE = "raw wire"
HTTP = "admin HTTP"

CLIENTS = [KCAT, CK, KP, AIO, JAVA, STREAMS, TOOLS, FRANZ, SARAMA, KGO, GCLI, WIRE, HTTP]
CLIENT_LEGEND = {
    KCAT: "kcat",
    CK: "confluent-kafka-python (librdkafka)",
    KP: "kafka-python",
    AIO: "aiokafka",
    JAVA: "Kafka's Java client (kafka-clients)",
    STREAMS: "Kafka Streams",
    TOOLS: "Kafka's command-line tools (kafka-topics, console producer/consumer, "
           "kafka-consumer-groups, kafka-acls, kafka-configs, kafka-delegation-tokens, "
           "kafka-metadata-quorum, kafka-reassign-partitions, kafka-cluster, kafka-features, "
           "kafka-get-offsets, kafka-delete-records, kafka-log-dirs, kafka-transactions, "
           "kafka-leader-election, kafka-producer-perf-test, kafka-consumer-perf-test)",
    FRANZ: "franz-go",
    SARAMA: "Sarama",
    KGO: "segmentio/kafka-go",
    GCLI: "gregor's console commands (`gregor topics`, `groups`, `produce`, `consume`, "
          "`configs`, `acls`, `reassign-partitions`, `metadata-quorum`)",
    WIRE: "requests built by the tests themselves (kafka_wire.py, GroupWire, TxnWire, "
          "hand-made SASL exchanges and TLS sockets)",
    HTTP: "the admin listener's HTTP API (/health, /metrics, fault plane)",
}

# ---------------------------------------------------------------------------
# rows: features
# ---------------------------------------------------------------------------

PRODUCE = "produce & consume"
COMPRESSION = "compression codecs"
IDEMPOTENT = "idempotent producer"
TXN = "transactions, read_committed"
CLASSIC = "classic consumer groups"
KIP848 = "KIP-848 consumer groups"
MIGRATION = "group protocol migration"
STREAMS_GROUPS = "streams groups (KIP-1071)"
OFFSETS = "offsets, ListOffsets, seeking"
SESSIONS = "fetch sessions (KIP-227)"
TOPICS = "topics, partitions, records admin"
CONFIGS = "topic & broker configs"
QUOTAS = "client quotas"
COMPACTION = "compaction"
CLUSTER = "cluster admin & metadata quorum"
ACL = "ACLs & authorization"
TLS = "TLS"
PLAIN = "SASL/PLAIN"
SCRAM = "SASL/SCRAM"
OAUTH = "SASL/OAUTHBEARER"
TOKENS = "delegation tokens"
REPLICATION = "replication & leader failover"
REASSIGNMENT = "partition reassignment"
DURABILITY = "durability (restart, kill -9, disks)"
FAULTS = "fault injection, lost responses"
VERSIONS = "API versions"
BAD_INPUT = "bad input & bounds"
OPERATIONS = "operations (--dev, compose, metrics)"

FEATURES = [PRODUCE, COMPRESSION, IDEMPOTENT, TXN, CLASSIC, KIP848, MIGRATION, STREAMS_GROUPS,
            OFFSETS,
            SESSIONS, TOPICS, CONFIGS, QUOTAS, COMPACTION, CLUSTER, ACL, TLS, PLAIN, SCRAM, OAUTH,
            TOKENS, REPLICATION, REASSIGNMENT, DURABILITY, FAULTS, VERSIONS, BAD_INPUT, OPERATIONS]


def on(clients, *features) -> list[tuple[str, str]]:
    """The cells (feature, client) of every client in `clients` (one or a
    tuple) for every feature."""
    if isinstance(clients, str):
        clients = (clients,)
    return [(feature, client) for client in clients for feature in features]


NO_CLIENT: list[tuple[str, str]] = []  # mapped on purpose: drives no client
ALL = r""                              # every test of the file
CODEC = r"\[[^\]]*\b(gzip|snappy|lz4|zstd)\b[^\]]*\]"  # a compressed parameter


def names(*tests: str) -> str:
    """A regex matching these test functions (any parameters)."""
    return r"^(" + "|".join(tests) + r")(\[|$)"


# ---------------------------------------------------------------------------
# the mapping: test file -> [(test-name regex, cells)]
# ---------------------------------------------------------------------------

MAPPING: dict[str, list[tuple[str, list[tuple[str, str]]]]] = {
    "test_acls.py": [
        # grant()/revoke() and the checks use confluent-kafka's admin (CreateAcls
        # as the super user); the actor of each case is named per test.
        (names("test_acl_apis_with_confluent_kafka"), on(CK, ACL)),
        (names("test_acl_apis_with_kafka_python"), on(KP, ACL)),
        (names("test_acl_apis_need_cluster_alter_and_describe",
               "test_acl_apis_without_an_authorizer_are_security_disabled"),
         on((CK, KP, WIRE), ACL)),
        (names("test_acl_command_adds_lists_and_removes"), on((TOOLS, CK), ACL)),
        (names("test_config_command_alters_scram_credentials"),
         on(TOOLS, ACL, SCRAM) + on(KP, ACL)),
        (names("test_produce_needs_write_on_the_topic",
               "test_an_unknown_topic_without_describe_is_unauthorized_not_unknown",
               "test_fetch_needs_read_on_the_topic",
               "test_consuming_in_a_group_needs_read_on_the_group",
               "test_offset_commit_needs_read_on_the_group",
               "test_metadata_hides_topics_alice_may_not_describe",
               "test_groups_are_listed_described_and_deleted_by_acl",
               "test_offset_fetch_and_offset_delete_need_group_and_topic_rights"),
         on((CK, KP, WIRE), ACL)),
        (names("test_metadata_auto_creates_only_with_create"), on((KP, WIRE), ACL)),
        (names("test_create_topics_needs_create", "test_delete_topics_needs_delete"),
         on((CK, KP), ACL)),
        (names("test_create_partitions_needs_alter",
               "test_configs_need_describe_configs_and_alter_configs",
               "test_delete_records_needs_delete", "test_the_super_user_needs_no_acls"),
         on(CK, ACL)),
        (names("test_list_offsets_needs_describe", "test_transactional_ids_need_write",
               "test_idempotent_producer_needs_idempotent_write_or_write_on_some_topic",
               "test_transaction_listings_are_filtered",
               "test_cluster_and_topic_describing_apis", "test_deny_overrides_allow",
               "test_prefixed_acls",
               "test_allow_everyone_if_no_acl_found_applies_to_resources_without_any_acl",
               "test_acls_for_another_host_do_not_apply",
               "test_forged_transaction_markers_are_refused", "test_authorized_operations"),
         on((CK, WIRE), ACL)),
        (names("test_group_membership_requests_need_read_on_the_group",
               "test_transactional_offset_commits_need_the_group",
               "test_anonymous_is_a_principal_like_any_other",
               "test_a_forged_follower_fetch_is_refused",
               "test_a_forged_follower_fetch_does_not_move_the_high_watermark",
               "test_raft_voter_changes_need_cluster_alter"),
         on(WIRE, ACL)),
        (names("test_java_producer_needs_write"), on((JAVA, TOOLS), ACL)),
    ],
    "test_admin_configs.py": [
        (names("test_describe_defaults_confluent", "test_describe_broker_resource",
               "test_alter_configs_replaces_all_overrides_confluent",
               "test_alter_configs_invalid_confluent",
               "test_alter_configs_unknown_topic_and_broker_resource",
               "test_incremental_set_and_delete_confluent",
               "test_incremental_append_subtract_confluent",
               "test_incremental_invalid_confluent", "test_incremental_unknown_topic"),
         on(CK, CONFIGS)),
        (names("test_describe_defaults_kafka_python_with_synonyms",
               "test_static_log_retention_ms_synonyms",
               "test_describe_broker_resource_synonyms", "test_alter_configs_kafka_python"),
         on(KP, CONFIGS)),
        (names("test_describe_raw_versions_types_and_documentation"), on(WIRE, CONFIGS)),
        (names("test_topic_created_with_configs_reports_source_1",
               "test_static_broker_settings_are_topic_defaults",
               "test_max_message_bytes_takes_effect", "test_retention_bytes_takes_effect",
               "test_retention_ms_takes_effect"),
         on((CK, KP), CONFIGS)),
        (names("test_describe_specific_keys"), on((KP, WIRE), CONFIGS)),
        (names("test_describe_unknown_topic"), on((CK, WIRE), CONFIGS)),
        (names("test_create_partitions_confluent", "test_delete_records_confluent"),
         on(CK, TOPICS)),
        (names("test_create_partitions_kafka_python", "test_delete_records_kafka_python",
               "test_describe_log_dirs"), on(KP, TOPICS)),
        (names("test_admin_state_survives_sigterm_and_sigkill"),
         on(CK, CONFIGS, TOPICS, DURABILITY) + on(KP, CONFIGS)),
    ],
    "test_admin_http.py": [
        (names("test_health_and_metrics_reflect_clients"),
         on(HTTP, OPERATIONS) + on((CK, KP), OPERATIONS)),
        (names("test_changes_need_a_json_content_type",
               "test_the_fault_plane_is_off_unless_enabled",
               "test_an_admin_token_guards_everything_but_metrics_and_health"),
         on(HTTP, OPERATIONS)),
    ],
    "test_api_versions.py": [
        (ALL, on(WIRE, VERSIONS)),
    ],
    "test_bad_input.py": [
        # raw requests; confluent-kafka only checks the broker still serves
        (ALL, on(WIRE, BAD_INPUT)),
        (names("test_api_versions_unsupported_version", "test_api_versions_v0_lists_required_apis"),
         on(WIRE, VERSIONS)),
    ],
    "test_bounds.py": [
        (names("test_a_fetch_stays_within_max_bytes_summed_over_its_partitions",
               "test_only_the_first_batch_of_the_first_partition_with_data_may_exceed",
               "test_the_brokers_fetch_max_bytes_caps_consumers_and_followers",
               "test_create_topics_refuses_more_than_10000_partitions_in_one_request",
               "test_create_partitions_refuses_more_than_10000_new_partitions",
               "test_strings_too_long_for_the_internal_records_are_refused",
               "test_a_connection_over_its_address_limit_is_closed_at_once",
               "test_overrides_give_an_address_its_own_limit",
               "test_at_max_connections_new_clients_wait_until_one_closes",
               "test_idle_and_stalled_connections_are_closed_after_connections_max_idle_ms",
               "test_a_client_that_never_reads_its_responses_is_closed",
               "test_queued_max_request_bytes_holds_requests_until_the_pool_has_room",
               "test_the_controller_port_allocates_what_arrives_not_what_is_claimed"),
         on(WIRE, BAD_INPUT)),
        (names("test_confluent_kafka_fetch_limits"), on(CK, BAD_INPUT)),
        (names("test_kafka_python_fetch_limits"), on(KP, BAD_INPUT)),
        (names("test_admin_clients_see_policy_violation",
               "test_offset_metadata_stays_within_what_a_record_holds",
               "test_clients_carry_on_across_idle_disconnects"),
         on((CK, KP), BAD_INPUT)),
        (names("test_a_hostile_load_leaves_the_broker_serving_within_its_memory_bound"),
         on((WIRE, CK), BAD_INPUT)),
    ],
    "test_broker_configs.py": [
        (names("test_describe_broker_lists_every_documented_config_confluent",
               "test_append_subtract_and_delete_restore_defaults"), on(CK, CONFIGS)),
        (names("test_describe_broker_kafka_python_keys_types_and_synonyms",
               "test_alter_configs_kafka_python_broker_resource"), on(KP, CONFIGS)),
        (names("test_per_broker_and_cluster_default_sources_and_synonyms",
               "test_dynamic_message_max_bytes_takes_effect_on_existing_topics"),
         on((CK, KP, WIRE), CONFIGS)),
        (names("test_read_only_configs_are_refused",
               "test_per_broker_configs_cannot_be_cluster_defaults",
               "test_bad_values_are_refused", "test_validate_only_changes_nothing",
               "test_dynamic_log_retention_ms_deletes_old_segments"),
         on((CK, WIRE), CONFIGS)),
        (names("test_dynamic_configs_survive_restarts"),
         on((CK, KP, WIRE), CONFIGS) + on(CK, DURABILITY)),
    ],
    "test_client_quotas.py": [
        # set_quotas()/describe_all() are raw requests that set up and look;
        # the kafka-python reader only checks what a producer wrote.
        (names("test_kafka_configs_alters_and_describes_client_quotas"), on(TOOLS, QUOTAS)),
        (names("test_franz_go_describes_with_every_match_type",
               "test_franz_go_alter_validation_and_validate_only"), on(FRANZ, QUOTAS)),
        (names("test_raw_describe_and_alter_at_each_version",
               "test_request_percentage_throttles_a_busy_client",
               "test_connection_creation_rate_closes_connections_over_it"), on(WIRE, QUOTAS)),
        (names("test_confluent_producer_over_producer_byte_rate_is_throttled",
               "test_controller_mutation_rate_throttles_librdkafka_old_versions"),
         on(CK, QUOTAS)),
        (names("test_kafka_python_producer_over_a_user_and_client_quota_is_throttled",
               "test_kafka_python_consumer_over_consumer_byte_rate_is_throttled",
               "test_controller_mutation_rate_refuses_kafka_python_with_error_89"),
         on(KP, QUOTAS)),
        (names("test_byte_rate_quotas_hold_a_producer_and_a_consumer_within_20_percent"),
         on((CK, KP), QUOTAS)),
        (names("test_quota_apis_need_cluster_describe_configs_and_alter_configs"),
         on((WIRE, TOOLS), QUOTAS, ACL)),
        (names("test_a_user_quota_applies_to_the_authenticated_principal"),
         on(CK, QUOTAS, PLAIN)),
        (names("test_quotas_survive_a_restart"), on(WIRE, QUOTAS, DURABILITY) + on(CK, QUOTAS)),
        (names("test_metrics_show_each_metered_clients_rate",
               "test_metrics_show_each_clients_throttle_time"),
         on((CK, KP), QUOTAS) + on(HTTP, QUOTAS, OPERATIONS)),
    ],
    "test_cluster_admin.py": [
        (ALL, on((CK, KP), CLUSTER)),
    ],
    "test_cluster_coordinators.py": [
        (names("test_consumer_group_offsets_survive_the_coordinator_broker_kill",
               "test_offsets_committed_before_a_quick_restart_of_the_coordinator_broker_survive"),
         on((CK, KP), CLASSIC, REPLICATION)),
        (names("test_transactions_go_on_after_the_coordinator_broker_is_killed"),
         on((CK, KP), TXN, REPLICATION)),
    ],
    "test_cluster_kill_rounds.py": [
        # confluent-kafka's idempotent acks=all load, checked with kafka-python
        (ALL, on(CK, IDEMPOTENT, REPLICATION) + on(KP, REPLICATION)),
    ],
    "test_cluster_quorum.py": [
        (names("test_three_brokers_share_one_metadata_quorum",
               "test_a_paused_active_controller_fences_no_broker_when_it_wakes"),
         on(CK, CLUSTER)),
        (names("test_kafka_metadata_quorum_describes_the_quorum"), on(TOOLS, CLUSTER)),
        (names("test_a_broker_that_is_not_a_voter_follows_the_quorum"),
         on(CK, CLUSTER, REPLICATION) + on(KP, REPLICATION)),
    ],
    "test_quorum_voters.py": [
        # The load's producer and admin (confluent-kafka) and the final read
        # (kafka-python) are what "no downtime" is measured with.
        (names("test_a_quorum_grows_from_three_voters_to_five_and_back_while_topics_are_created"),
         on((JAVA, TOOLS, WIRE, CK, KP), CLUSTER)),
        (names("test_a_voter_restarted_on_another_port_has_its_entry_updated",
               "test_a_quorum_found_through_bootstrap_servers_as_kafka_4_configures_it"),
         on((TOOLS, WIRE, CK, KP), CLUSTER)),
    ],
    "test_cli_operations.py": [
        # Kafka's tools print what gregor's must match; confluent-kafka
        # produces and sets the throttles, kafka-python reads back.
        (names("test_metadata_quorum_describe_prints_what_kafkas_tool_prints",
               "test_metadata_quorum_removes_a_controller_and_adds_it_back"),
         on((GCLI, TOOLS), CLUSTER)),
        (names("test_reassign_partitions_moves_a_replica_under_acks_all_produce",
               "test_reassign_partitions_places_a_new_replica_in_the_log_dir_asked"),
         on(GCLI, REASSIGNMENT) + on(TOOLS, REASSIGNMENT) + on((CK, KP), REASSIGNMENT, REPLICATION)),
        (names("test_reassign_partitions_cancels_a_held_back_reassignment_and_refuses_bad_input"),
         on(GCLI, REASSIGNMENT, BAD_INPUT) + on(CK, REASSIGNMENT)),
        (names("test_reassign_partitions_generate_is_rack_aware_as_kafkas"),
         on((GCLI, TOOLS), REASSIGNMENT) + on(CK, REASSIGNMENT)),
    ],
    "test_bootstrap_controller.py": [
        # --bootstrap-controller / bootstrap.controllers (KIP-919)
        (names("test_api_versions_on_a_controller_listener_advertise_the_controller_apis"),
         on(WIRE, VERSIONS, CLUSTER)),
        (names("test_describe_cluster_on_a_controller_listener_names_the_voters"),
         on(WIRE, CLUSTER)),
        (names("test_a_broker_api_on_a_controller_listener_closes_the_connection"),
         on(WIRE, VERSIONS, BAD_INPUT)),
        (names("test_kafka_metadata_quorum_tool_with_bootstrap_controller",
               "test_kafka_cluster_features_and_configs_tools_with_bootstrap_controller",
               "test_a_restarted_voter_rejoins_through_the_shared_listener"),
         on(TOOLS, CLUSTER)),
        (names("test_kafka_reassign_partitions_list_with_bootstrap_controller"),
         on(TOOLS, REASSIGNMENT)),
        (names("test_gregors_metadata_quorum_command_with_bootstrap_controller"),
         on((GCLI, TOOLS), CLUSTER)),
        (names("test_java_admin_with_bootstrap_controllers"), on(JAVA, CLUSTER)),
    ],
    "test_cluster_replication_throttles.py": [
        (names("test_kafka_reassign_partitions_throttle_holds_the_new_replica_back"),
         on(TOOLS, REASSIGNMENT) + on(CK, REASSIGNMENT, REPLICATION)),
        (names("test_a_leader_throttle_answers_the_catching_up_replica_without_records"),
         on(FRANZ, REASSIGNMENT) + on(CK, REASSIGNMENT, REPLICATION)),
    ],
    "test_cluster_reassignment.py": [
        (names("test_kafka_reassign_partitions_moves_replicas_without_losing_a_record"),
         on(TOOLS, REASSIGNMENT) + on((CK, KP), REASSIGNMENT, REPLICATION)),
        (names("test_a_stuck_reassignment_is_listed_and_cancelled_and_bad_ones_refused"),
         on(WIRE, REASSIGNMENT) + on(CK, REASSIGNMENT)),
        (names("test_franz_go_reassigns_lists_and_cancels"),
         on(FRANZ, REASSIGNMENT, PRODUCE) + on(CK, REASSIGNMENT)),
        (names("test_kafka_cluster_unregister_removes_a_stopped_broker"),
         on(TOOLS, CLUSTER) + on(FRANZ, REASSIGNMENT) + on(CK, CLUSTER)),
        (names("test_a_reassignment_survives_the_death_of_the_active_controller"),
         on(TOOLS, REASSIGNMENT) + on(WIRE, REASSIGNMENT) + on(CK, REASSIGNMENT, REPLICATION)
         + on(KP, REPLICATION)),
        (names("test_a_reassignment_with_log_dirs_places_the_new_replicas_in_the_dirs_asked"),
         on((TOOLS, KP), REASSIGNMENT) + on(CK, REASSIGNMENT, REPLICATION)),
    ],
    "test_cluster_replication.py": [
        (names("test_replicated_topic_spreads_leaders_and_copies_logs_byte_for_byte",
               "test_a_killed_leader_is_replaced_without_losing_acknowledged_records",
               "test_acks_all_needs_min_insync_replicas_but_acks_1_does_not",
               "test_consumers_validate_their_position_after_a_leader_change",
               "test_a_stalled_follower_leaves_the_isr_after_the_lag_time_and_rejoins",
               "test_a_restarted_broker_serves_nothing_before_it_has_caught_up_with_the_metadata"),
         on((CK, KP), REPLICATION)),
        (names("test_a_stopped_broker_hands_its_leaderships_over_before_it_exits"),
         on(CK, REPLICATION)),
        (names("test_unclean_election_only_when_allowed_and_preferred_election_moves_leaders_back"),
         on((CK, KP), REPLICATION, CLUSTER)),
    ],
    "test_cluster_security.py": [
        (names("test_replication_and_failover_run_on_secured_listeners"),
         on(CK, REPLICATION, PLAIN, TLS)),
        (names("test_scram_users_and_acls_through_the_secured_cluster"),
         on(CK, SCRAM, ACL, TXN, TLS)),
        # the controller port's own framing, over plain TCP, TLS and SASL_SSL
        (names("test_impostors_on_the_controller_port_are_refused"), on(WIRE, TLS, ACL)),
        (r"^test_impostors_on_the_controller_port_are_refused\[controllers-sasl_ssl\]",
         on(WIRE, PLAIN)),
        # the Java Admin bootstrapping from the controllers (KIP-919)
        (names("test_kafka_clients_bootstrap_from_the_secured_controller_listener"),
         on(JAVA, CLUSTER, TLS, ACL)),
        (r"^test_kafka_clients_bootstrap_from_the_secured_controller_listener"
         r"\[controllers-sasl_ssl\]", on(JAVA, PLAIN)),
    ],
    "test_cluster_storage.py": [
        (names("test_retention_never_deletes_what_followers_have_not_copied"),
         on(CK, REPLICATION, DURABILITY)),
        (names("test_an_fsync_failure_on_the_leader_moves_leadership_without_loss"),
         on((CK, KP), REPLICATION, DURABILITY)),
    ],
    "test_compaction.py": [
        (names("test_compaction_keeps_the_latest_record_of_every_key",
               "test_keyless_records_are_refused_on_compacted_topics"),
         on((CK, KP), COMPACTION)),
    ],
    "test_confluent_kafka.py": [
        (names("test_produce_consume_roundtrip", "test_multiple_batches_append_in_order",
               "test_multi_partition_topic", "test_long_poll_returns_new_record_promptly",
               "test_fetch_limits_smaller_than_a_batch",
               "test_concurrent_producers_same_partition", "test_large_record_near_limit",
               "test_log_append_time_topic"),
         on(CK, PRODUCE)),
        (names("test_consume_batches_produced_by_kafka_python"), on((CK, KP), PRODUCE)),
        (r"^test_consume_batches_produced_by_kafka_python" + CODEC,
         on((CK, KP), COMPRESSION)),
        (r"^(test_produce_consume_roundtrip|test_offsets_for_times|test_assign_middle_offset)"
         + CODEC, on(CK, COMPRESSION)),
        (names("test_offsets_for_times", "test_list_offsets_admin",
               "test_watermarks_empty_and_filled", "test_assign_middle_offset",
               "test_seek_to_middle_offset", "test_offset_past_end_resets_to_earliest",
               "test_offset_past_end_with_reset_error"),
         on(CK, OFFSETS)),
        (names("test_create_topic_with_partitions_and_configs",
               "test_create_topic_segment_bytes_config_is_honoured",
               "test_create_topic_invalid_config", "test_log_append_time_topic"),
         on(CK, TOPICS, CONFIGS)),
        (names("test_create_topics_mixed_batch", "test_create_topic_validate_only",
               "test_create_topic_already_exists", "test_create_topic_invalid_name",
               "test_create_topic_max_length_name", "test_create_topic_invalid_layout",
               "test_delete_topic", "test_metadata_lists_broker_and_topics",
               "test_auto_create_on_produce", "test_auto_create_on_metadata",
               "test_no_auto_create_when_disabled"),
         on(CK, TOPICS)),
    ],
    "test_console.py": [
        (names("test_topics_create_alter_describe_delete"), on(GCLI, TOPICS, CONFIGS)),
        (names("test_groups_describe_shows_offsets_lag_and_members"),
         on((GCLI, CK), CLASSIC)),
        (names("test_console_producer_and_consumer"), on((GCLI, CK), PRODUCE)),
        (names("test_console_consumers_in_a_group_share_partitions_and_commit"),
         on(GCLI, PRODUCE, CLASSIC)),
        (names("test_configs_sets_describes_and_deletes_client_quotas"),
         on((GCLI, TOOLS), QUOTAS)),
    ],
    "test_console_security.py": [
        # --command-config: the admin logs in with PLAIN, users with SCRAM, on SASL_SSL
        (names("test_configs_creates_describes_and_deletes_scram_credentials",
               "test_bad_credentials_and_bad_properties_fail_with_a_clear_message"),
         on(GCLI, SCRAM, PLAIN, TLS)),
        (names("test_a_scram_user_produces_and_consumes_with_the_acls_gregor_added"),
         on(GCLI, ACL, SCRAM, PLAIN, TLS, PRODUCE, CLASSIC, TOPICS)),
        (names("test_acl_listings_agree_with_describe_acls_and_kafkas_acl_command"),
         on((GCLI, TOOLS, CK), ACL)),
        (names("test_acl_tool_refusals"), on(GCLI, ACL)),
    ],
    "test_delegation_tokens.py": [
        # every test makes its tokens with kafka-delegation-tokens.sh, logged in over SCRAM
        (ALL, on(TOOLS, TOKENS, SCRAM)),
        (names("test_a_token_made_with_kafkas_tool_logs_the_java_client_in_as_its_owner"),
         on(JAVA, TOKENS)),
        (names("test_the_raw_exchange_with_tokenauth_authenticates_as_the_owner",
               "test_token_requests_are_refused_where_kafka_refuses_them",
               "test_renew_describe_and_expire_as_kafka_rules_them",
               "test_a_token_past_its_expiry_is_refused_and_removed",
               "test_tokens_survive_a_restart", "test_a_broker_without_a_secret_has_no_tokens"),
         on(WIRE, TOKENS)),
        # CREATE_TOKENS on another user, granted with kafka-acls.sh
        (names("test_token_requests_are_refused_where_kafka_refuses_them"), on(TOOLS, ACL)),
    ],
    "test_describe_topic_partitions.py": [
        (ALL, on(WIRE, TOPICS)),
    ],
    "test_dev_mode.py": [
        (names("test_dev_mode_serves_and_cleans_up"), on(CK, OPERATIONS)),
        (names("test_dev_cluster_in_one_process_replicates_and_cleans_up",
               "test_dev_cluster_takes_a_server_properties_file"),
         on((CK, KP), OPERATIONS, REPLICATION)),
        (names("test_dev_cluster_fault_plane_isolates_kills_and_moves_leaders",
               "test_dev_cluster_pauses_a_leader_and_cuts_a_brokers_clients"),
         on((CK, KP), OPERATIONS, REPLICATION, FAULTS) + on(HTTP, FAULTS, OPERATIONS)),
        (names("test_dev_cluster_kills_a_leader_when_a_scheduled_fault_comes_due",
               "test_dev_cluster_cuts_the_network_one_way_between_brokers"),
         on(CK, OPERATIONS, REPLICATION, FAULTS) + on(HTTP, FAULTS, OPERATIONS)),
        (names("test_dev_cluster_serves_each_brokers_own_plane"),
         on((CK, KP), OPERATIONS, REPLICATION, FAULTS, DURABILITY) + on(HTTP, FAULTS, OPERATIONS)),
    ],
    "test_docker_compose_config.py": [
        (ALL, on(CK, OPERATIONS, REPLICATION)),
    ],
    "test_durability.py": [
        (ALL, on(CK, DURABILITY)),
    ],
    "test_fault_campaign.py": [
        # the checker on hand-written histories, and the nemesis's network cuts
        (names("test_a_clean_history_has_no_anomaly",
               "test_an_acknowledged_record_missing_from_the_log_is_lost",
               "test_an_acknowledged_record_at_another_offset_is_misplaced",
               "test_a_value_twice_in_the_log_is_a_duplicate",
               "test_an_aborted_transaction_read_committed_is_an_aborted_read",
               "test_a_consumer_given_records_of_a_transaction_absent_from_the_log"
               "_read_aborted_data",
               "test_part_of_a_committed_transaction_missing_is_torn_and_lost",
               "test_part_of_a_transaction_of_unknown_outcome_is_torn",
               "test_a_consumed_record_the_log_no_longer_holds_is_an_inconsistent_read",
               "test_offsets_going_backwards_within_an_assignment_are_nonmonotonic",
               "test_a_consumer_jumping_over_a_record_skips_it",
               "test_a_record_below_the_final_committed_offset_that_no_consumer_got_is_skipped",
               "test_resuming_below_an_acknowledged_commit_loses_committed_offsets",
               "test_a_final_committed_offset_below_an_acknowledged_commit_is_lost",
               "test_run_level_failures_are_reported",
               "test_a_cut_link_drops_traffic_both_ways_and_heals"), NO_CLIENT),
        (names("test_short_fault_campaign_finds_no_anomaly"),
         on((CK, KP), IDEMPOTENT, TXN, CLASSIC, REPLICATION, FAULTS)),
    ],
    "test_version_emulation.py": [
        (names("test_kafka_broker_api_versions_sees_kafka_3_6"), on(TOOLS, VERSIONS)),
        (names("test_kafka_python_probes_the_emulated_release"), on(KP, VERSIONS)),
        (names("test_clients_see_a_3_6_broker"),
         on(JAVA, VERSIONS, KIP848, CLASSIC) + on(CK, VERSIONS, PRODUCE, CLASSIC)),
        (names("test_an_unknown_release_stops_start_up"), on(GCLI, OPERATIONS)),
        (names("test_kafka_4_0_and_4_1_are_emulated"),
         on(TOOLS, VERSIONS) + on(CK, VERSIONS, KIP848) + on(KP, VERSIONS, CLASSIC)),
    ],
    "test_time_travel.py": [
        (names("test_a_dead_members_session_expires_when_the_clock_passes_it"),
         on((CK, KP), CLASSIC) + on(HTTP, FAULTS)),
        (names("test_an_open_transaction_is_aborted_when_the_clock_passes_its_timeout"),
         on((CK, KP), TXN) + on(HTTP, FAULTS)),
        (names("test_retention_deletes_what_the_clock_has_aged"),
         on((CK, KP), TOPICS) + on(HTTP, FAULTS)),
    ],
    "test_newest_versions.py": [
        (names("test_franz_go_asks_at_the_newest_versions"),
         on(FRANZ, VERSIONS, OFFSETS, CLASSIC) + on(HTTP, FAULTS)),
        (names("test_franz_go_commits_transactional_offsets_by_topic_id"),
         on(FRANZ, VERSIONS, TXN) + on(CK, CLASSIC)),
        (names("test_txn_offset_commit_v6_answers_by_topic_id"), on(WIRE, VERSIONS, TXN)),
    ],
    "test_lint.py": [
        (names("test_a_retry_without_idempotence_that_duplicates_is_found",
               "test_a_transaction_left_open_until_its_timeout_is_found"), on((CK, HTTP), FAULTS)),
        (names("test_commits_past_the_high_watermark_and_backwards_are_found",
               "test_a_metadata_storm_is_found"), on((KP, CK, HTTP), FAULTS)),
        (names("test_a_dev_broker_prints_its_findings_when_it_stops"), on(KP, OPERATIONS)),
        (r"^test_auto_commit_beside_manual_commits_is_found\[confluent-",
         on((CK, HTTP), CLASSIC, FAULTS)),
        (r"^test_auto_commit_beside_manual_commits_is_found\[kafka-python-",
         on((KP, HTTP), CLASSIC, FAULTS)),
        (r"^test_auto_commit_beside_manual_commits_is_found\[java-",
         on((JAVA, HTTP), CLASSIC, FAULTS)),
        (names("test_a_heartbeat_storm_is_found",
               "test_a_consumer_that_polls_too_slowly_for_its_group_is_found"),
         on((CK, KP), CLASSIC, FAULTS) + on(HTTP, FAULTS)),
        (names("test_clients_on_api_versions_kafka_4_removed_are_found"),
         on((KCAT, KP), VERSIONS, FAULTS) + on(CK, PRODUCE) + on(HTTP, FAULTS)),
        (names("test_an_idempotent_producer_with_6_in_flight_or_a_sequence_gap_is_found"),
         on((WIRE, HTTP), FAULTS, IDEMPOTENT) + on((CK, KP), IDEMPOTENT)),
    ],
    "test_features.py": [
        (names("test_kafka_features_and_franz_go_update_and_describe_features"),
         on((TOOLS, FRANZ), CLUSTER, VERSIONS)),
        (names("test_clients_follow_the_finalized_levels"),
         on(JAVA, TXN, KIP848, VERSIONS) + on(TOOLS, CLUSTER)),
        (names("test_finalized_levels_survive_a_restart"), on(TOOLS, CLUSTER, DURABILITY)),
    ],
    "test_fault_plane.py": [
        (names("test_confluent_producer_retries_through_injected_errors"), on(CK, FAULTS)),
        (names("test_idempotent_producer_survives_injected_disconnects_without_duplicates"),
         on(CK, FAULTS, IDEMPOTENT)),
        (names("test_kafka_python_producer_retries_through_not_leader",
               "test_latency_pause_and_client_scoping"), on(KP, FAULTS)),
        (names("test_error_faults_on_admin_apis_reach_both_admin_clients",
               "test_throttle_faults_reach_clients_as_quota_throttles",
               "test_a_broker_cut_off_from_its_clients_holds_or_refuses_their_requests",
               "test_a_scheduled_fault_waits_for_its_records",
               "test_answers_lost_on_the_way_back_duplicate_only_a_producer_without_idempotence",
               "test_a_slow_disk_and_scheduled_cuts"),
         on((CK, KP), FAULTS)),
    ],
    "test_go_clients.py": [
        (r"^test_produce_offsets_codec_and_read_back\[franz\]", on(FRANZ, PRODUCE, COMPRESSION)),
        (r"^test_produce_offsets_codec_and_read_back\[sarama\]", on(SARAMA, PRODUCE, COMPRESSION)),
        (r"^test_produce_offsets_codec_and_read_back\[kafka-go\]", on(KGO, PRODUCE, COMPRESSION)),
        (names("test_produce_offsets_codec_and_read_back"), on(CK, PRODUCE, COMPRESSION)),
        (r"^test_group_consume_and_commit\[franz\]", on(FRANZ, CLASSIC, PRODUCE)),
        (r"^test_group_consume_and_commit\[sarama\]", on(SARAMA, CLASSIC, PRODUCE)),
        (r"^test_group_consume_and_commit\[kafka-go\]", on(KGO, CLASSIC, PRODUCE)),
        # franz-go's zstd and Sarama's snappy batches read by the others
        (names("test_franz_go_produces_sarama_and_kafka_go_consume"),
         on((FRANZ, SARAMA, KGO), PRODUCE, CLASSIC, COMPRESSION)),
        # each transactional library reads both libraries' transactions
        (names("test_transactions_commit_and_abort"), on((FRANZ, SARAMA, CK), TXN)),
        (names("test_franz_go_consume_transform_produce_exactly_once"),
         on(FRANZ, TXN, CLASSIC)),
        (names("test_franz_go_consumer_group_protocol"), on((FRANZ, CK), KIP848)),
        (r"^test_scram_over_tls\[franz\]", on(FRANZ, SCRAM, TLS, PRODUCE, CLASSIC, TXN)),
        (r"^test_scram_over_tls\[sarama\]", on(SARAMA, SCRAM, TLS, PRODUCE, CLASSIC, TXN)),
        (r"^test_scram_over_tls\[kafka-go\]", on(KGO, SCRAM, TLS, PRODUCE, CLASSIC)),
        (r"^test_scram_wrong_password_is_refused\[franz\]", on(FRANZ, SCRAM, TLS)),
        (r"^test_scram_wrong_password_is_refused\[sarama\]", on(SARAMA, SCRAM, TLS)),
        (r"^test_scram_wrong_password_is_refused\[kafka-go\]", on(KGO, SCRAM, TLS)),
    ],
    "test_fetch_sessions.py": [
        (names("test_a_session_answers_only_what_changed",
               "test_a_full_cache_keeps_its_young_sessions"), on(WIRE, SESSIONS)),
        (names("test_the_java_client_reads_through_incremental_sessions"),
         on(JAVA, SESSIONS, PRODUCE)),
        (names("test_franz_go_reads_through_incremental_sessions"), on(FRANZ, SESSIONS, PRODUCE)),
        # librdkafka fetches without sessions: only that it still reads everything
        (names("test_librdkafka_reads_without_sessions"), on(CK, PRODUCE)),
        # gregor's own replica fetchers in sessions, under librdkafka's acks=all
        (names("test_followers_replicate_through_sessions"), on(CK, REPLICATION)),
    ],
    "test_groups_aiokafka.py": [
        (ALL, on(AIO, CLASSIC)),
        (names("test_three_members_leave_crash_rejoin",
               "test_committed_offsets_survive_broker_restart"), on(AIO, PRODUCE)),
        (names("test_committed_offsets_survive_broker_restart"), on(AIO, DURABILITY)),
    ],
    "test_groups_confluent.py": [
        (ALL, on(CK, CLASSIC)),
        (names("test_committed_offsets_survive_broker_restart",
               "test_live_group_survives_broker_restart"), on(CK, DURABILITY)),
    ],
    "test_groups_consumer_protocol.py": [
        (names("test_three_librdkafka_members_split_six_partitions_and_a_killed_ones_move",
               "test_a_member_that_closes_hands_its_partitions_over_at_once"),
         on(CK, KIP848)),
        (names("test_describe_and_list_show_a_consumer_group"), on((CK, TOOLS, WIRE), KIP848)),
        (names("test_the_java_client_consumes_with_the_consumer_protocol"),
         on(JAVA, KIP848, PRODUCE)),
        (names("test_raw_heartbeat_error_cases",
               "test_a_regex_subscription_picks_up_topics_created_later"), on(WIRE, KIP848)),
        (names("test_members_epochs_and_assignments_survive_a_broker_restart"),
         on(CK, KIP848, DURABILITY) + on(WIRE, KIP848)),
    ],
    "test_groups_kafka_python.py": [
        (ALL, on(KP, CLASSIC)),
        (names("test_committed_offsets_survive_broker_restart"), on(KP, DURABILITY)),
        (names("test_mixed_clients_in_one_group"), on(CK, CLASSIC)),
    ],
    "test_groups_migration.py": [
        (names("test_classic_members_of_two_clients_upgrade_and_downgrade_under_load"),
         on((CK, KP), MIGRATION)),
        (names("test_the_java_client_classic_and_consumer_members_share_a_group"),
         on(JAVA, MIGRATION)),
        (names("test_raw_upgrade_classic_member_rules_and_downgrade",
               "test_raw_downgrade_when_the_last_consumer_member_is_fenced",
               "test_a_classic_static_member_taking_the_last_consumer_instance_downgrades",
               "test_the_migration_policy"), on(WIRE, MIGRATION)),
        (names("test_a_converted_group_with_a_classic_member_survives_a_restart"),
         on(WIRE, MIGRATION, DURABILITY)),
    ],
    "test_groups_wire.py": [
        (ALL, on(WIRE, CLASSIC)),
        (names("test_group_and_offsets_written_while_offsets_topic_is_created"),
         on(WIRE, DURABILITY)),
    ],
    "test_idempotence.py": [
        (names("test_init_producer_id_fresh_ids_never_reused",
               "test_raw_producer_state_survives_restarts"), on(WIRE, IDEMPOTENT, DURABILITY)),
        (names("test_raw_sequence_epoch_and_duplicate_rules"), on(WIRE, IDEMPOTENT)),
        (names("test_confluent_idempotent_through_cutting_proxy"), on(CK, IDEMPOTENT, FAULTS)),
        (names("test_kafka_python_idempotent_through_cutting_proxy"),
         on(KP, IDEMPOTENT, FAULTS)),
        (names("test_kill9_under_idempotent_confluent_producer"), on(CK, IDEMPOTENT, DURABILITY)),
    ],
    "test_java_client.py": [
        # the idempotent producer is Kafka 4's default; confluent-kafka reads back
        (names("test_produce_consume_commit_and_admin_offsets"),
         on(JAVA, PRODUCE, IDEMPOTENT, CLASSIC, OFFSETS) + on(CK, PRODUCE)),
        (names("test_transactions_committed_and_aborted"), on((JAVA, CK), TXN)),
        (names("test_kafka_topics_console_producer_consumer_and_consumer_groups"),
         on(TOOLS, TOPICS, CONFIGS, PRODUCE, CLASSIC)),
        (names("test_producer_every_acks_with_every_codec"),
         on(JAVA, PRODUCE, COMPRESSION, IDEMPOTENT) + on(CK, PRODUCE, COMPRESSION)),
        (names("test_consumer_seeks_by_time"), on((JAVA, CK), OFFSETS)),
        (names("test_admin_topic_configs_partitions_records_and_log_dirs"),
         on((JAVA, CK), TOPICS, CONFIGS)),
        (names("test_admin_create_topics_reports_the_new_topics_configs"),
         on(JAVA, TOPICS, CONFIGS) + on(CK, CONFIGS)),
        (r"^test_admin_consumer_groups\[classic\]", on((JAVA, CK, KP), CLASSIC)),
        (r"^test_admin_consumer_groups\[consumer\]", on((JAVA, CK), KIP848)),
        (names("test_admin_transactions_and_producers"),
         on(JAVA, TXN, IDEMPOTENT) + on((KP, CK), TXN)),
        (names("test_admin_cluster_features_and_leader_elections"), on((JAVA, CK, KP), CLUSTER)),
    ],
    "test_kafka_python.py": [
        (names("test_produce_consume_roundtrip", "test_multiple_batches_append_in_order",
               "test_multi_partition_topic", "test_fetch_limits_smaller_than_a_batch",
               "test_long_poll_returns_new_record_promptly", "test_log_append_time_topic"),
         on(KP, PRODUCE)),
        # librdkafka's zstd batches read by kafka-python
        (names("test_consume_batches_produced_by_confluent"), on((KP, CK), PRODUCE, COMPRESSION)),
        (r"^(test_produce_consume_roundtrip|test_offsets_for_times|test_assign_seek_middle_offset)"
         + CODEC, on(KP, COMPRESSION)),
        (names("test_offsets_for_times", "test_list_offsets_admin",
               "test_beginning_end_offsets_empty_and_filled", "test_assign_seek_middle_offset",
               "test_seek_while_consuming", "test_offset_past_end_resets_to_earliest",
               "test_offset_past_end_without_reset_policy"),
         on(KP, OFFSETS)),
        (names("test_create_topic_with_partitions_and_configs", "test_create_topic_invalid_config",
               "test_log_append_time_topic"),
         on(KP, TOPICS, CONFIGS)),
        (names("test_create_topic_validate_only", "test_create_topic_already_exists",
               "test_create_topic_invalid_name", "test_create_topic_max_length_name",
               "test_create_topic_invalid_layout", "test_delete_topic",
               "test_metadata_lists_broker_and_topics", "test_auto_create_on_produce",
               "test_auto_create_on_metadata", "test_no_auto_create_when_disabled"),
         on(KP, TOPICS)),
    ],
    "test_kafka_streams.py": [
        # a word count with a repartition topic and a compacted changelog, in a
        # classic group; its output read back by confluent-kafka and kafka-python
        (names("test_word_count"), on(STREAMS, PRODUCE, COMPACTION, TOPICS)),
        (r"^test_word_count\[.*-classic\]", on(STREAMS, CLASSIC)),
        # group.protocol=streams: the broker assigns the tasks (KIP-1071)
        (r"^test_word_count\[.*-streams\]", on(STREAMS, STREAMS_GROUPS)),
        (r"^test_word_count\[exactly_once_v2-", on((STREAMS, CK, KP), TXN)),
        (r"^test_word_count\[at_least_once-", on((CK, KP), PRODUCE)),
        (names("test_restart_restores_counts"),
         on(STREAMS, TXN, CLASSIC, COMPACTION) + on((CK, KP), TXN)),
        (names("test_crash_mid_transaction_is_aborted"), on((STREAMS, CK, KP), TXN)),
    ],
    "test_kafka_tools.py": [
        # Kafka's own tools; confluent-kafka only writes the records and checks
        # what the tools report (offsets, log start offsets, reads).
        (names("test_kafka_get_offsets_lists_latest_earliest_max_timestamp_and_by_time"),
         on(TOOLS, OFFSETS)),
        (names("test_kafka_delete_records_moves_the_log_start_offsets",
               "test_kafka_log_dirs_describes_the_partitions_and_their_sizes"), on(TOOLS, TOPICS)),
        (names("test_kafka_transactions_lists_describes_and_aborts_an_open_transaction"),
         on(TOOLS, TXN)),
        # the consumer perf test reads in a classic group and commits on close
        (names("test_kafka_producer_and_consumer_perf_tests_move_every_record"),
         on(TOOLS, PRODUCE, CLASSIC)),
        (names("test_kafka_leader_election_answers_for_partitions_needing_none_or_unknown"),
         on(TOOLS, CLUSTER)),
        (names("test_kafka_leader_election_gives_partitions_back_to_their_preferred_leaders"),
         on(TOOLS, CLUSTER, REPLICATION)),
    ],
    "test_kcat.py": [
        (names("test_metadata_list", "test_metadata_list_json_single_topic"), on(KCAT, TOPICS)),
        (names("test_produce_consume_roundtrip_with_headers", "test_consume_json_envelope",
               "test_consume_exits_at_end_of_partition", "test_consume_from_offset_one_count_one",
               "test_second_produce_appends"), on(KCAT, PRODUCE)),
        (names("test_consume_from_offset_one_count_one"), on(KCAT, OFFSETS)),
    ],
    "test_min_insync_replicas.py": [
        (names("test_confluent_acks_all_needs_min_insync_replicas"), on(CK, REPLICATION, CONFIGS)),
        (names("test_kafka_python_acks_all_needs_min_insync_replicas"), on(KP, REPLICATION)),
    ],
    "test_oauthbearer.py": [
        (names("test_confluent_kafka_produces_and_consumes_with_unsecured_tokens",
               "test_a_signed_token_from_the_identity_provider_is_accepted",
               "test_librdkafka_reports_a_refused_token"), on(CK, OAUTH)),
        (r"^test_confluent_kafka_produces_and_consumes_with_unsecured_tokens\[SASL_SSL\]",
         on(CK, TLS)),
        (names("test_kafka_python_produces_and_consumes_with_a_token_provider"),
         on(KP, OAUTH, TLS)),
        (names("test_the_java_client_logs_in_with_kafkas_unsecured_login"), on(JAVA, OAUTH, TLS)),
        (names("test_a_valid_token_authenticates_and_its_expiry_bounds_the_session",
               "test_an_invalid_unsecured_token_is_challenged_then_refused",
               "test_an_expired_unsecured_token_is_refused",
               "test_nothing_is_served_while_a_challenge_is_outstanding",
               "test_a_malformed_message_fails_at_once_with_kafkas_message",
               "test_an_authorization_id_other_than_the_principal_is_refused",
               "test_a_forged_or_unacceptable_signed_token_never_authenticates",
               "test_the_reason_of_a_refusal_is_logged_not_told",
               "test_the_session_ends_with_the_token_and_a_new_token_renews_it",
               "test_a_rotated_key_is_fetched_when_a_token_names_it"), on(WIRE, OAUTH)),
        (names("test_signed_tokens_are_checked_against_a_jwks_endpoint"),
         on((CK, KP, WIRE), OAUTH)),
        # a broker that must refuse to start: no client
        (names("test_a_jwks_gregor_cannot_read_stops_start_up"), NO_CLIENT),
    ],
    "test_sasl.py": [
        # confluent-kafka on SASL_PLAINTEXT, kafka-python and Java on SASL_SSL
        (names("test_three_clients_produce_and_consume_over_both_sasl_listeners"),
         on((CK, KP, JAVA), PLAIN) + on((KP, JAVA), TLS)),
        (names("test_wrong_passwords_and_unknown_users_are_refused"), on((CK, KP, JAVA), PLAIN)),
        (names("test_nothing_but_authentication_is_served_before_it",
               "test_a_forged_plain_exchange_never_authenticates",
               "test_the_right_password_authenticates_and_the_connection_is_served",
               "test_an_unsupported_mechanism_is_refused_with_the_enabled_ones",
               "test_sasl_on_a_plaintext_listener_is_an_illegal_state"), on(WIRE, PLAIN)),
    ],
    "test_scram.py": [
        (names("test_admin_creates_users_and_three_clients_produce_and_consume"),
         on((CK, AIO), SCRAM, TLS) + on(KP, SCRAM)),
        (names("test_transactions_over_scram"), on(CK, SCRAM, TLS, TXN)),
        (names("test_bad_credentials_are_refused",
               "test_deleted_and_changed_credentials_stop_working",
               "test_clients_re_authenticate_on_their_own"), on(CK, SCRAM)),
        (r"^test_bad_credentials_are_refused\[(wrong-password|unknown-user)\]", on(KP, SCRAM)),
        (names("test_clients_re_authenticate_on_their_own"), on(KP, SCRAM)),
        (names("test_the_right_proof_authenticates_and_the_server_signature_verifies",
               "test_a_forged_client_final_never_authenticates",
               "test_a_failed_authentication_is_answered_after_the_failure_delay",
               "test_the_client_first_message_of_an_unknown_credential_fails_at_once",
               "test_nothing_but_authentication_is_served_before_it",
               "test_alter_user_scram_credentials_semantics",
               "test_the_session_lifetime_is_told_and_enforced",
               "test_re_authentication_renews_the_session",
               "test_an_expired_session_can_still_re_authenticate",
               "test_a_bad_re_authentication_closes_the_connection",
               "test_re_authentication_keeps_the_mechanism",
               "test_re_authentication_is_limited_to_once_a_second",
               "test_a_v0_session_expires_too"), on(WIRE, SCRAM)),
        (names("test_credentials_survive_a_restart_and_a_crash"),
         on(CK, SCRAM, DURABILITY) + on(WIRE, SCRAM)),
        (names("test_the_java_client_produces_and_consumes_over_scram"),
         on(JAVA, SCRAM, TLS, TXN)),
    ],
    "test_replica_log_dirs.py": [
        (names("test_a_replica_moves_under_produce_and_consume_losing_and_duplicating_nothing"),
         on(JAVA, REASSIGNMENT) + on(CK, REASSIGNMENT, DURABILITY)),
        (names("test_a_move_to_an_unknown_dir_or_of_an_unknown_partition_gets_kafkas_errors"),
         on((JAVA, KP), REASSIGNMENT)),
        (names("test_describe_log_dirs_shows_the_future_replica_and_its_lag_during_a_slow_copy"),
         on((JAVA, KP), REASSIGNMENT) + on(HTTP, FAULTS)),
        (names("test_kill_9_mid_move_keeps_every_acknowledged_record_and_the_move_resumes"),
         on(JAVA, REASSIGNMENT) + on(CK, DURABILITY)),
    ],
    "test_storage_safety.py": [
        (names("test_keyless_records_on_a_compacted_topic_fail_alone_with_record_errors",
               "test_timestamps_out_of_range_are_refused_with_invalid_timestamp"),
         on((WIRE, CK, KP), BAD_INPUT)),
        (names("test_a_batch_cannot_claim_more_offsets_than_it_has_records",
               "test_an_acks_0_produce_that_fails_closes_the_connection"), on(WIRE, BAD_INPUT)),
        (names("test_a_torn_tail_is_cut_at_a_clean_restart",
               "test_enospc_mid_request_loses_nothing_acknowledged_and_duplicates_nothing",
               "test_a_really_full_disk_loses_nothing_acknowledged",
               "test_topics_survive_a_crash_that_leaves_the_metadata_committed_id_unreadable"),
         on((CK, KP), DURABILITY)),
        (names("test_an_fsync_failure_takes_only_its_log_dir_offline"),
         on((CK, KP, WIRE), DURABILITY)),
        (names("test_topics_deleted_while_a_consumer_reads_them_never_fail_on_storage"),
         on((CK, KP), TOPICS) + on(CK, DURABILITY)),
    ],
    "test_cluster_streams.py": [
        # Kafka Streams EOS on 3 brokers through a Streams kill -9 and the
        # group coordinator's kill -9, its output read back by confluent-kafka
        # and kafka-python with read_committed
        (names("test_streams_counts_exactly_once_through_instance_and_broker_kills"),
         on(STREAMS, TXN, REPLICATION, DURABILITY) + on((CK, KP), TXN)),
        (r"\[classic\]", on(STREAMS, CLASSIC)),
        (r"\[streams\]", on(STREAMS, STREAMS_GROUPS)),
    ],
    "test_streams_groups.py": [
        (names("test_a_restarted_coordinator_knows_the_group"),
         on(WIRE, STREAMS_GROUPS, DURABILITY)),
        # StreamsGroupHeartbeat/StreamsGroupDescribe built by streams_wire.py, and
        # through franz-go's kmsg (gregor-go-client franz streams)
        (names("test_two_members_hand_tasks_over_only_after_revocation_franz"),
         on(FRANZ, STREAMS_GROUPS)),
        (names("test_heartbeat_validation_answers_kafkas_errors", "test_group_max_size_reached",
               "test_streams_version_downgraded_refuses_streams_groups"),
         on((WIRE, FRANZ), STREAMS_GROUPS)),
        (names("test_blank_group_ids_are_refused",
               "test_a_join_refused_for_its_topology_creates_no_group",
               "test_topologies_naming_kafkas_internal_topics_are_refused",
               "test_topology_is_fixed_by_the_first_member",
               "test_missing_source_topics_then_internal_topics_created_then_tasks",
               "test_fencing_and_unknown_members",
               "test_static_member_leaves_for_a_while_and_is_replaced",
               "test_shutdown_application_is_told_to_every_member",
               "test_initial_rebalance_delay_holds_the_first_assignment",
               "test_the_delayed_assignment_is_computed_when_the_delay_ends",
               "test_interactive_query_endpoints",
               "test_classic_and_consumer_group_apis_on_a_streams_group",
               "test_join_group_on_a_streams_group_with_members_is_refused"),
         on(WIRE, STREAMS_GROUPS)),
    ],
    "test_tls.py": [
        (names("test_ssl_and_plaintext_listeners_serve_both_clients",
               "test_inline_pem_keystore_on_a_named_listener",
               "test_client_auth_required_accepts_only_certificates_from_the_truststore"),
         on((CK, KP), TLS)),
        (names("test_a_plaintext_client_on_the_ssl_port_gets_no_kafka_answer"), on(WIRE, TLS)),
        (names("test_the_java_client_over_ssl_with_a_client_certificate"), on(JAVA, TLS)),
        (names("test_client_auth_requested_lets_clients_without_a_certificate_in",
               "test_ssl_enabled_protocols_and_cipher_suites_limit_the_handshake"),
         on((CK, WIRE), TLS)),
        (names("test_an_encrypted_key_is_read_with_ssl_key_password"), on(CK, TLS)),
        (names("test_the_certificate_names_the_principal_through_the_mapping_rules"),
         on(CK, TLS, ACL)),
        (names("test_pkcs12_and_jks_stores_as_keytool_writes_them"),
         on((CK, KP, JAVA, GCLI), TLS)),
        (names("test_a_listener_keystore_is_replaced_at_run_time"),
         on((TOOLS, CK, KP, WIRE), TLS)),
        # brokers that must refuse to start: no client
        (names("test_start_up_refuses_what_gregor_cannot_honour",
               "test_start_up_names_what_is_wrong_with_a_key_store"), NO_CLIENT),
    ],
    "test_transactions.py": [
        # TxnWire: the raw protocol, step by step
        (names("test_find_coordinator_for_transactional_ids", "test_raw_transaction_lifecycle",
               "test_end_txn_for_unknown_transactional_id", "test_wrong_producer_id_and_epoch",
               "test_end_txn_without_partitions_is_invalid",
               "test_transaction_timeout_above_maximum",
               "test_transactional_produce_outside_the_transaction",
               "test_admin_apis_unknown_ids_and_filters",
               "test_concurrent_init_while_transaction_open_aborts_it",
               "test_lso_is_the_first_offset_of_the_oldest_open_transaction",
               "test_aborted_transaction_spanning_segments",
               "test_txn_offset_commit_checks_group_membership",
               "test_transactional_id_expires_only_when_idle"), on(WIRE, TXN)),
        # kafka-python's admin on a confluent-kafka transactional producer
        (names("test_kafka_python_admin_describes_live_transaction"), on((KP, CK), TXN)),
        (names("test_lso_is_the_first_offset_of_the_oldest_open_transaction"), on(CK, TXN)),
        (names("test_aborted_transaction_spanning_segments"),
         on((CK, KP), TXN) + on(WIRE, DURABILITY)),
        (names("test_transactional_id_expires_only_when_idle"), on(WIRE, DURABILITY)),
    ],
    "test_transactions_confluent.py": [
        (ALL, on(CK, TXN)),
        (names("test_commit_abort_commit_across_topics_and_partitions",
               "test_open_transaction_holds_back_read_committed",
               "test_consume_transform_produce_exactly_once_across_worker_kill",
               "test_compacted_topic_with_transactions"), on(KP, TXN)),
        (r"^test_commit_abort_commit_across_topics_and_partitions" + CODEC, on(CK, COMPRESSION)),
        (names("test_consume_transform_produce_exactly_once_across_worker_kill"), on(CK, CLASSIC)),
        (names("test_compacted_topic_with_transactions"), on(CK, COMPACTION)),
    ],
    "test_transactions_kafka_python.py": [
        (ALL, on(KP, TXN)),
        (names("test_commit_and_abort_with_offsets",
               "test_consume_transform_produce_exactly_once_across_restart"), on(CK, TXN)),
        (names("test_consume_transform_produce_exactly_once_across_restart"), on(KP, CLASSIC)),
    ],
    "test_transactions_recovery.py": [
        (names("test_open_transaction_across_restart", "test_open_transaction_times_out_after_kill",
               "test_transactions_survive_kill", "test_mixed_run_with_kill",
               "test_transaction_state_reloaded_from_small_segments"), on(CK, TXN, DURABILITY)),
        (names("test_open_transaction_across_restart", "test_transactions_survive_kill",
               "test_mixed_run_with_kill"), on(KP, TXN)),
        (names("test_lost_transactional_responses_confluent"), on(CK, TXN, FAULTS)),
        (names("test_lost_end_txn_response_kafka_python"), on(KP, TXN, FAULTS)),
    ],
}


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------

class Run:
    """Outcomes by node id, and where they came from."""

    def __init__(self, tests: dict[str, str], source: str, meta: dict, preview: bool = False):
        self.tests = tests
        self.source = source
        self.meta = meta
        self.preview = preview


def load_results(path: Path) -> Run:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        sys.exit(f"feature_table: no results at {path} (run `pytest compat-tests/python` first; "
                 "results_plugin.py writes them, or pass --results)")
    except ValueError as e:
        sys.exit(f"feature_table: {path} is not JSON: {e}")
    if document.get("format") != 1:
        sys.exit(f"feature_table: {path}: unknown format {document.get('format')!r}")
    tests = {nodeid: entry["outcome"] for nodeid, entry in document["tests"].items()}
    return Run(tests, str(path), document)


def load_nodeids(path: Path) -> Run:
    lines = (sys.stdin if str(path) == "-" else open(path)).read().splitlines()
    tests = {line.strip(): "passed" for line in lines if "::" in line}
    return Run(tests, str(path), {}, preview=True)


def split(nodeid: str) -> tuple[str, str]:
    """(test file name, test name) of a node id, whatever directory pytest
    named the file from."""
    file, _, name = nodeid.partition("::")
    return file.replace("\\", "/").rsplit("/", 1)[-1], name


def cells_of(nodeid: str) -> list[tuple[str, str]] | None:
    """The cells a test maps to; None when no rule maps it."""
    file, name = split(nodeid)
    rules = MAPPING.get(file)
    if rules is None:
        return None
    cells, matched = [], False
    for pattern, rule_cells in rules:
        if re.search(pattern, name):
            matched = True
            cells += [c for c in rule_cells if c not in cells]
    return cells if matched else None


def tally(run: Run) -> tuple[dict[tuple[str, str], Counter], list[str], list[str]]:
    """Outcome counts per cell; unmapped node ids; node ids mapped to no cell."""
    per_cell: dict[tuple[str, str], Counter] = {}
    unmapped, no_cell = [], []
    for nodeid, outcome in run.tests.items():
        cells = cells_of(nodeid)
        if cells is None:
            unmapped.append(nodeid)
            continue
        if not cells:
            no_cell.append(nodeid)
        for cell in cells:
            per_cell.setdefault(cell, Counter())[outcome] += 1
    return per_cell, sorted(unmapped), sorted(no_cell)


def mark(counts: Counter | None) -> str:
    if not counts:
        return ""
    if counts["failed"] or counts["error"]:
        return "✗"
    if counts["passed"]:
        return f"✓ {counts['passed']}"
    return "–"  # ran, none passed: skipped, xfailed or xpassed


def render(run: Run, per_cell) -> str:
    used = [c for c in CLIENTS if any((f, c) in per_cell for f in FEATURES)]
    lines = ["| feature | " + " | ".join(used) + " |",
             "|---|" + "---|" * len(used)]
    for feature in FEATURES:
        row = [mark(per_cell.get((feature, client))) for client in used]
        lines.append(f"| {feature} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def provenance(run: Run, writing: bool = False) -> str:
    if run.preview:
        return (f"Preview from the node ids in {run.source}, every test counted as passing "
                "(not a run).")
    meta = run.meta
    summary = ", ".join(f"{n} {outcome}" for outcome, n in meta.get("summary", {}).items())
    commit = meta.get("commit")
    at = f" at commit `{commit[:12]}`" if commit else ""
    by = "Generated by `compat-tests/feature_table.py --write` from" if writing else "From"
    return (f"{by} the compat run of {meta.get('finished', '?')}{at}: "
            f"{len(run.tests)} tests ({summary}).")


def legend(used: list[str]) -> str:
    columns = "; ".join(f"{c}: {CLIENT_LEGEND[c]}" for c in CLIENTS if c in used)
    return ("✓ n: n tests pass, none fails; ✗: a test fails; –: tests ran, none passed "
            f"(skipped); blank: no test. Columns — {columns}.")


def used_clients(per_cell) -> list[str]:
    return [c for c in CLIENTS if any((f, c) in per_cell for f in FEATURES)]


# ---------------------------------------------------------------------------
# the document
# ---------------------------------------------------------------------------

def region(text: str, doc: Path) -> tuple[int, int]:
    start, end = text.find(START), text.find(END)
    if start < 0 or end < 0 or end < start:
        sys.exit(f"feature_table: {doc} has no {START} ... {END} region")
    return start + len(START), end


def committed_table(doc: Path) -> tuple[list[str], dict[str, list[str]]]:
    """(columns, {feature: cells}) of the table between the markers; empty
    when there is none yet."""
    text = doc.read_text()
    a, b = region(text, doc)
    rows = [line.strip() for line in text[a:b].splitlines() if line.strip().startswith("|")]
    if not rows:
        return [], {}
    parse = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]  # noqa: E731
    columns = parse(rows[0])[1:]
    table = {}
    for line in rows[1:]:
        cells = parse(line)
        if set("".join(cells)) <= set("-: "):
            continue  # the separator
        table[cells[0]] = cells[1:]
    return columns, table


def check_doc(doc: Path, per_cell) -> list[str]:
    columns, table = committed_table(doc)
    if not table:
        print(f"feature_table: {doc} has no committed table yet: nothing to check",
              file=sys.stderr)
    problems = []
    for feature, cells in table.items():
        for column, committed in zip(columns, cells):
            if not committed.startswith("✓"):
                continue
            if feature not in FEATURES or column not in CLIENTS:
                problems.append(f"{feature} × {column}: committed {committed!r}, but the table "
                                "has no such row or column any more")
                continue
            now = mark(per_cell.get((feature, column)))
            if not now.startswith("✓"):
                problems.append(f"{feature} × {column}: committed {committed!r}, this run "
                                f"{now or 'no test'!r}")
    return problems


def write_doc(doc: Path, run: Run, per_cell) -> None:
    text = doc.read_text()
    a, b = region(text, doc)
    body = "\n".join(["", provenance(run, writing=True), "", render(run, per_cell), "",
                      legend(used_clients(per_cell)), ""])
    doc.write_text(text[:a] + body + text[b:])


def check_files() -> list[str]:
    on_disk = {p.name for p in TESTS_DIR.glob("test_*.py")}
    problems = [f"{name}: no MAPPING entry in compat-tests/feature_table.py"
                for name in sorted(on_disk - set(MAPPING))]
    problems += [f"{name}: MAPPING entry for a file that does not exist"
                 for name in sorted(set(MAPPING) - on_disk)]
    return problems


def unused_rules(run: Run) -> list[str]:
    """Rules that match no test, when the results hold every test file (a
    partial run would flag the rules of the tests it left out)."""
    by_file: dict[str, list[str]] = {}
    for nodeid in run.tests:
        file, name = split(nodeid)
        by_file.setdefault(file, []).append(name)
    if {p.name for p in TESTS_DIR.glob("test_*.py")} - set(by_file):
        return []
    out = []
    for file, tests in sorted(by_file.items()):
        for pattern, _ in MAPPING.get(file, []):
            if not any(re.search(pattern, name) for name in tests):
                out.append(f"{file}: rule {pattern!r} matches no test of this run")
    return out


# ---------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    source = ap.add_mutually_exclusive_group()
    source.add_argument("--results", type=Path,
                        default=Path(os.environ.get("GREGOR_COMPAT_RESULTS") or DEFAULT_RESULTS),
                        help="results_plugin.py's JSON (default $GREGOR_COMPAT_RESULTS or "
                             "target/compat-results.json)")
    source.add_argument("--nodeids", type=Path, metavar="FILE",
                        help="node ids, one a line (pytest --collect-only -q; - for stdin), "
                             "all counted as passing: a preview of the mapping")
    ap.add_argument("--print", action="store_true", help="print the table")
    ap.add_argument("--write", type=Path, metavar="DOC", help="replace the table in DOC")
    ap.add_argument("--check", type=Path, metavar="DOC",
                    help="fail if a ✓ of DOC's table is not ✓ in the results")
    ap.add_argument("--check-mapping", action="store_true",
                    help="fail if a test of the results is not mapped")
    ap.add_argument("--check-files", action="store_true",
                    help="fail if a test_*.py file has no MAPPING entry")
    args = ap.parse_args(argv)
    if args.write and args.nodeids:
        ap.error("--write takes real results, not --nodeids")

    problems = check_files() if args.check_files else []
    if args.check_files and not (args.print or args.write or args.check or args.check_mapping):
        for p in problems:
            print(f"feature_table: {p}", file=sys.stderr)
        return 1 if problems else 0

    run = load_nodeids(args.nodeids) if args.nodeids else load_results(args.results)
    per_cell, unmapped, no_cell = tally(run)

    # The table first, then what is wrong with it (the end of a CI log).
    if args.print or not (args.write or args.check or args.check_mapping or args.check_files):
        print(provenance(run))
        print()
        print(render(run, per_cell))
        print()
        print(legend(used_clients(per_cell)))
        if no_cell:
            print(f"\n({len(no_cell)} tests drive no client and fill no cell: the fault "
                  "campaign's checker and network tests, brokers that must refuse to start.)")
        sys.stdout.flush()

    failed = bool(problems)
    for p in problems:
        print(f"feature_table: {p}", file=sys.stderr)
    if args.check_mapping:
        for note in unused_rules(run):
            print(f"feature_table: warning: {note}", file=sys.stderr)
        for nodeid in unmapped:
            print(f"feature_table: unmapped: {nodeid}", file=sys.stderr)
        if unmapped:
            print(f"feature_table: {len(unmapped)} of {len(run.tests)} tests unmapped: add them "
                  "to MAPPING in compat-tests/feature_table.py", file=sys.stderr)
            failed = True
    if args.check:
        claims = check_doc(args.check, per_cell)
        for p in claims:
            print(f"feature_table: unbacked claim: {p}", file=sys.stderr)
        if claims:
            print(f"feature_table: {len(claims)} ✓ of {args.check} not backed by "
                  f"{run.source}", file=sys.stderr)
            failed = True
    if args.write:
        ran = {split(nodeid)[0] for nodeid in run.tests}
        missing = sorted({p.name for p in TESTS_DIR.glob("test_*.py")} - ran)
        if missing:
            print(f"feature_table: warning: the results hold no test of {len(missing)} test "
                  f"files ({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): "
                  "a partial run makes a partial table", file=sys.stderr)
        write_doc(args.write, run, per_cell)
        print(f"feature_table: wrote the table into {args.write}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
