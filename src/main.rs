//! The `gregor` command line.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing::{error, info, warn};

use gregor::config::client_security::ClientSecurityConfig;
use gregor::config::{self, BrokerConfig};
use gregor::server::instance::RunningBroker;

#[derive(Parser)]
#[command(
    name = "gregor",
    version,
    about = "A Kafka-wire-compatible message broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a broker.
    Broker {
        /// A Kafka-style server.properties file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A setting by its Kafka name, e.g. --override log.dirs=/tmp/data (repeatable).
        #[arg(long = "override", value_name = "KEY=VALUE", value_parser = parse_override)]
        overrides: Vec<(String, String)>,
        /// Dev mode: a fresh temporary data directory removed on exit, topics
        /// auto-created, rebalances without delay; prints the address first.
        #[arg(long)]
        dev: bool,
        /// The port to listen on (0: any free port).
        #[arg(long)]
        port: Option<u16>,
        /// Dev mode only: a cluster of this many brokers in this process
        /// (each a voter of the metadata quorum), on `--port` and the ports
        /// after it; prints every broker's address on one line first. A
        /// `--config` file applies to every broker, but for the node's own
        /// identity, listeners, quorum and data dirs.
        #[arg(long, requires = "dev")]
        brokers: Option<usize>,
        /// Advertise and accept only the API versions of this Kafka release
        /// (3.0 to 4.3, or 4.4: gregor's own), to test an application
        /// against the Kafka its production runs.
        #[arg(long = "emulate-kafka", value_name = "RELEASE")]
        emulate_kafka: Option<String>,
    },
    /// Lists, describes and deletes consumer groups (like kafka-consumer-groups.sh).
    Groups(GroupsArgs),
    /// Creates, lists, describes, alters and deletes topics (like kafka-topics.sh and kafka-configs.sh).
    Topics(TopicsArgs),
    /// Sends stdin lines as records (like kafka-console-producer.sh).
    Produce(ProduceArgs),
    /// Prints records (like kafka-console-consumer.sh).
    Consume(ConsumeArgs),
    /// Adds, removes and lists ACLs (like kafka-acls.sh).
    Acls(AclsArgs),
    /// Alters and describes client quotas and users' SCRAM credentials (like kafka-configs.sh
    /// --entity-type users/clients/ips).
    Configs(ConfigsArgs),
    /// Describes the metadata quorum (like kafka-metadata-quorum.sh).
    MetadataQuorum(MetadataQuorumArgs),
    /// Moves partitions' replicas between brokers and log dirs (like kafka-reassign-partitions.sh).
    ReassignPartitions(ReassignArgs),
}

/// Where a console command connects, and how.
#[derive(clap::Args)]
struct ConnectionArgs {
    /// The broker to connect to.
    #[arg(long = "bootstrap-server", default_value = "localhost:9092")]
    bootstrap_server: String,
    /// Kafka client properties to connect with: security.protocol,
    /// sasl.mechanism, sasl.jaas.config, ssl.truststore.*, ssl.keystore.*,
    /// ssl.endpoint.identification.algorithm.
    #[arg(long = "command-config", value_name = "FILE")]
    command_config: Option<PathBuf>,
}

impl ConnectionArgs {
    /// The security `--command-config` asks for; its error printed.
    fn security(&self) -> Result<ClientSecurityConfig, ExitCode> {
        gregor::cli::command_config::load(self.command_config.as_deref()).map_err(|error| {
            eprintln!("Error: {error}");
            ExitCode::FAILURE
        })
    }
}

fn parse_property(text: &str) -> Result<(String, String), String> {
    parse_override(text)
}

#[derive(clap::Args)]
struct ProduceArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[arg(long)]
    topic: String,
    /// parse.key=true, key.separator=SEP (repeatable).
    #[arg(long = "property", value_parser = parse_property)]
    properties: Vec<(String, String)>,
}

#[derive(clap::Args)]
struct ConsumeArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[arg(long)]
    topic: String,
    /// Start from the earliest offset instead of the end.
    #[arg(long = "from-beginning")]
    from_beginning: bool,
    /// Only this partition.
    #[arg(long)]
    partition: Option<i32>,
    /// With --partition: the offset to start at (earliest, latest or a number).
    #[arg(long, requires = "partition")]
    offset: Option<String>,
    /// Exit after this many records.
    #[arg(long = "max-messages")]
    max_messages: Option<usize>,
    /// Exit after this long without a record.
    #[arg(long = "timeout-ms")]
    timeout_ms: Option<u64>,
    /// Consume as a member of this consumer group (committing what it prints).
    #[arg(long, conflicts_with = "partition")]
    group: Option<String>,
    /// print.key, print.offset, print.partition, print.timestamp, print.value, key.separator (repeatable).
    #[arg(long = "property", value_parser = parse_property)]
    properties: Vec<(String, String)>,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["list", "describe", "create", "alter", "delete"])))]
struct TopicsArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[arg(long)]
    list: bool,
    /// Describes --topic, or every topic.
    #[arg(long)]
    describe: bool,
    #[arg(long)]
    create: bool,
    /// Changes --partitions and/or configs (--add-config, --delete-config).
    #[arg(long)]
    alter: bool,
    #[arg(long)]
    delete: bool,
    #[arg(long)]
    topic: Option<String>,
    /// Partitions for --create (-1: the broker's num.partitions) or the new count for --alter.
    #[arg(long)]
    partitions: Option<i32>,
    /// Replication factor for --create (-1: the broker's default).
    #[arg(long = "replication-factor", default_value_t = -1)]
    replication_factor: i16,
    /// A topic config for --create, KEY=VALUE (repeatable).
    #[arg(long = "config", value_parser = parse_override)]
    configs: Vec<(String, String)>,
    /// Configs to set with --alter: KEY=VALUE[,KEY=VALUE…].
    #[arg(long = "add-config", value_delimiter = ',', value_parser = parse_override)]
    add_configs: Vec<(String, String)>,
    /// Config names to remove with --alter (comma-separated).
    #[arg(long = "delete-config", value_delimiter = ',')]
    delete_configs: Vec<String>,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["list", "describe", "delete"])))]
struct GroupsArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Lists every group.
    #[arg(long)]
    list: bool,
    /// Describes the groups given with --group: offsets and lag, or --members, or --state.
    #[arg(long)]
    describe: bool,
    /// Deletes the groups given with --group.
    #[arg(long)]
    delete: bool,
    /// A group to act on (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// With --describe: the members.
    #[arg(long, requires = "describe")]
    members: bool,
    /// With --describe: the group's state.
    #[arg(long, requires = "describe", conflicts_with = "members")]
    state: bool,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["add", "remove", "list"])))]
struct AclsArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Adds ACLs.
    #[arg(long)]
    add: bool,
    /// Removes ACLs (all of a resource's without principals).
    #[arg(long)]
    remove: bool,
    /// Lists the ACLs of the resources given, or all of them.
    #[arg(long, conflicts_with_all = ["producer", "consumer", "allow_principals", "deny_principals", "allow_hosts", "deny_hosts"])]
    list: bool,
    /// With --remove: do not ask for confirmation.
    #[arg(long)]
    force: bool,
    /// A principal to allow, Type:name, e.g. User:alice or User:* (repeatable).
    #[arg(long = "allow-principal", value_name = "PRINCIPAL")]
    allow_principals: Vec<String>,
    /// A principal to deny, Type:name (repeatable).
    #[arg(long = "deny-principal", value_name = "PRINCIPAL")]
    deny_principals: Vec<String>,
    /// A host the allowed principals may come from (repeatable; default *).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// A host the denied principals are denied from (repeatable; default *).
    #[arg(long = "deny-host", value_name = "HOST")]
    deny_hosts: Vec<String>,
    /// An operation: Read, Write, Create, Delete, Alter, Describe,
    /// ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite,
    /// CreateTokens, DescribeTokens, TwoPhaseCommit or All (the default;
    /// repeatable).
    #[arg(long = "operation", value_name = "OPERATION")]
    operations: Vec<String>,
    /// A topic, or * for all (repeatable).
    #[arg(long = "topic")]
    topics: Vec<String>,
    /// A consumer group, or * for all (repeatable).
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The cluster.
    #[arg(long)]
    cluster: bool,
    /// A transactional id, or * for all (repeatable).
    #[arg(long = "transactional-id", value_name = "ID")]
    transactional_ids: Vec<String>,
    /// literal (the default) or prefixed; for --list and --remove also any
    /// (any pattern of the name) or match (every pattern that applies to it).
    #[arg(long = "resource-pattern-type", value_name = "TYPE")]
    resource_pattern_type: Option<String>,
    /// The producer's ACLs: WRITE, DESCRIBE, CREATE on --topic; WRITE,
    /// DESCRIBE on --transactional-id.
    #[arg(long, conflicts_with_all = ["operations", "deny_principals", "deny_hosts"])]
    producer: bool,
    /// The consumer's ACLs: READ, DESCRIBE on --topic, READ on --group.
    #[arg(long, conflicts_with_all = ["operations", "deny_principals", "deny_hosts"])]
    consumer: bool,
    /// With --producer: IDEMPOTENT_WRITE on the cluster.
    #[arg(long)]
    idempotent: bool,
    /// With --list: only this principal's ACLs (repeatable).
    #[arg(long = "principal", value_name = "PRINCIPAL")]
    principals: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EntityType {
    /// Users: quotas, and SCRAM credentials.
    Users,
    /// Client ids: quotas (with users: a user's client id).
    Clients,
    /// IP addresses: connection_creation_rate.
    Ips,
}

impl From<EntityType> for gregor::cli::configs::EntityType {
    fn from(kind: EntityType) -> Self {
        match kind {
            EntityType::Users => Self::Users,
            EntityType::Clients => Self::Clients,
            EntityType::Ips => Self::Ips,
        }
    }
}

/// `--entity-type`, `--entity-name` and `--entity-default`: the names and
/// defaults in command-line order, to pair with the types in order (as
/// kafka-configs.sh pairs them), which the derive cannot express.
struct EntityArgs {
    types: Vec<EntityType>,
    names: Vec<gregor::cli::configs::EntityName>,
}

impl clap::FromArgMatches for EntityArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut matches.clone())
    }

    fn from_arg_matches_mut(matches: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        use gregor::cli::configs::EntityName;
        let indexed = |id: &str| -> Vec<usize> {
            matches
                .indices_of(id)
                .map(|indices| indices.collect())
                .unwrap_or_default()
        };
        let name_indices = indexed("entity_name");
        let default_indices = indexed("entity_default");
        let mut names: Vec<(usize, EntityName)> = matches
            .remove_many::<String>("entity_name")
            .into_iter()
            .flatten()
            .zip(name_indices)
            .map(|(name, index)| (index, EntityName::Named(name)))
            .chain(
                default_indices
                    .into_iter()
                    .map(|index| (index, EntityName::Default)),
            )
            .collect();
        names.sort_by_key(|(index, _)| *index);
        Ok(EntityArgs {
            types: matches
                .remove_many::<EntityType>("entity_type")
                .into_iter()
                .flatten()
                .collect(),
            names: names.into_iter().map(|(_, name)| name).collect(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for EntityArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        use clap::{Arg, ArgAction};
        command
            .arg(
                Arg::new("entity_type")
                    .long("entity-type")
                    .value_name("TYPE")
                    .value_parser(clap::value_parser!(EntityType))
                    .action(ArgAction::Append)
                    .required(true)
                    .help("The kind of entity: users, clients or ips; users and clients together name a user's client (topic configs: gregor topics --alter)"),
            )
            .arg(
                Arg::new("entity_name")
                    .long("entity-name")
                    .value_name("NAME")
                    .action(ArgAction::Append)
                    .help("The user, client id or IP, paired in order with the --entity-type options; --describe without one: every entity of the type"),
            )
            .arg(
                Arg::new("entity_default")
                    .long("entity-default")
                    .num_args(0)
                    .default_missing_value("")
                    .action(ArgAction::Append)
                    .help("Instead of an --entity-name: the default user, client id or IP (quotas only)"),
            )
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["alter", "describe"])))]
struct ConfigsArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Sets (--add-config) or removes (--delete-config) the entity's quotas or the user's credentials.
    #[arg(long)]
    alter: bool,
    /// Describes the entity's quotas (and a user's credentials), or every matching entity's.
    #[arg(long)]
    describe: bool,
    #[command(flatten)]
    entities: EntityArgs,
    /// Configs to set: quotas 'producer_byte_rate=1048576,consumer_byte_rate=2097152,request_percentage=50,controller_mutation_rate=10'
    /// (users, clients), 'connection_creation_rate=10' (ips); a user's credentials
    /// 'SCRAM-SHA-256=[iterations=8192,password=secret],SCRAM-SHA-512=[password=secret]' (iterations default 4096).
    #[arg(long = "add-config", value_name = "CONFIGS", requires = "alter")]
    add_config: Option<String>,
    /// Configs to delete: quota keys, or mechanisms whose credential to delete (SCRAM-SHA-256,SCRAM-SHA-512).
    #[arg(
        long = "delete-config",
        value_delimiter = ',',
        value_name = "NAMES",
        requires = "alter"
    )]
    delete_configs: Vec<String>,
}

#[derive(clap::Args)]
struct MetadataQuorumArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// A controller to connect to, on its controller listener (KIP-919),
    /// instead of a broker.
    #[arg(long = "bootstrap-controller", conflicts_with = "bootstrap_server")]
    bootstrap_controller: Option<String>,
    #[command(subcommand)]
    command: MetadataQuorumCommand,
}

#[derive(Subcommand)]
enum MetadataQuorumCommand {
    /// Describe the metadata quorum info.
    Describe {
        /// A short summary of the quorum status.
        #[arg(long)]
        status: bool,
        /// Detailed information about the status of replication.
        #[arg(long)]
        replication: bool,
        /// Human-readable output (with --replication).
        #[arg(long = "human-readable")]
        human_readable: bool,
    },
    /// Add a controller to the KRaft controller cluster: the one whose
    /// server.properties --command-config names (its node.id, the
    /// directory.id in its metadata log dir's meta.properties, its
    /// controller.listener.names endpoints), or the one the --controller-*
    /// flags name.
    AddController {
        /// Print what would be done, but do not do it.
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// gregor: the id of the controller to add (instead of reading its server.properties).
        #[arg(long = "controller-id", requires_all = ["controller_directory_id", "controller_endpoints"])]
        controller_id: Option<i32>,
        /// gregor: its metadata log dir's directory id (meta.properties directory.id).
        #[arg(long = "controller-directory-id", requires = "controller_id")]
        controller_directory_id: Option<String>,
        /// gregor: its controller endpoint, LISTENER://host:port (repeatable).
        #[arg(long = "controller-endpoint", requires = "controller_id")]
        controller_endpoints: Vec<String>,
    },
    /// Remove a controller from the KRaft controller cluster.
    RemoveController {
        /// The id of the controller to remove.
        #[arg(long = "controller-id", short = 'i')]
        controller_id: i32,
        /// The directory ID of the controller to remove.
        #[arg(long = "controller-directory-id", short = 'd')]
        controller_directory_id: String,
        /// Print what would be done, but do not do it.
        #[arg(long = "dry-run")]
        dry_run: bool,
    },
}

#[derive(clap::Args)]
struct ReassignArgs {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Generate a candidate partition reassignment configuration: each
    /// topic placed anew over --broker-list, its replicas on different
    /// racks first, keeping its replication factor (a proposal only).
    #[arg(long)]
    generate: bool,
    /// Kick off the reassignment as specified by the --reassignment-json-file option.
    #[arg(long)]
    execute: bool,
    /// Verify if the reassignment completed as specified by the
    /// --reassignment-json-file option (and then clear the throttles).
    #[arg(long)]
    verify: bool,
    /// Cancel an active reassignment.
    #[arg(long)]
    cancel: bool,
    /// List all active partition reassignments.
    #[arg(long)]
    list: bool,
    /// The JSON file with the partition reassignment configuration:
    /// {"version":1,"partitions":[{"topic":"foo","partition":1,"replicas":[1,2,3],"log_dirs":["dir1","dir2","dir3"]}]}
    /// (log_dirs optional, "any" for any dir).
    #[arg(long = "reassignment-json-file", value_name = "FILE")]
    reassignment_json_file: Option<PathBuf>,
    /// With --generate: the topics whose partitions to move,
    /// {"topics":[{"topic":"foo"},{"topic":"foo1"}],"version":1}.
    #[arg(long = "topics-to-move-json-file", value_name = "FILE")]
    topics_to_move_json_file: Option<PathBuf>,
    /// With --generate: the brokers to move them to, "0,1,2".
    #[arg(long = "broker-list", value_name = "BROKERS")]
    broker_list: Option<String>,
    /// With --execute or --cancel: the maximum time in ms to wait for log
    /// directory replica moves to begin.
    #[arg(long, value_name = "MS")]
    timeout: Option<u64>,
    /// With --execute: the movement of partitions between brokers will be
    /// throttled to this value (bytes/sec); --verify removes the throttle.
    #[arg(long, value_name = "BYTES_PER_SECOND")]
    throttle: Option<u64>,
    /// With --execute: the movement of replicas between log directories on
    /// the same broker will be throttled to this value (bytes/sec).
    #[arg(
        long = "replica-alter-log-dirs-throttle",
        value_name = "BYTES_PER_SECOND"
    )]
    replica_alter_log_dirs_throttle: Option<u64>,
    /// With --execute: run in addition to the reassignments in progress.
    #[arg(long)]
    additional: bool,
    /// With --verify or --cancel: do not clear broker or topic throttles.
    #[arg(long = "preserve-throttles")]
    preserve_throttles: bool,
    /// With --execute: refuse to change a partition's replication factor.
    #[arg(long = "disallow-replication-factor-change")]
    disallow_replication_factor_change: bool,
    /// With --generate: place replicas without regard to `broker.rack`.
    #[arg(long = "disable-rack-aware")]
    disable_rack_aware: bool,
}

fn parse_override(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Broker {
        emulate_kafka: Some(release),
        ..
    } = &cli.command
    {
        if let Err(error) = gregor::server::api_versions::emulate(release) {
            error!(%error, "--emulate-kafka");
            return ExitCode::FAILURE;
        }
        info!(release, "emulating Kafka's API versions");
    }
    match cli.command {
        Command::Broker {
            config,
            overrides,
            dev: true,
            port,
            brokers: Some(brokers),
            ..
        } if brokers > 1 => run_dev_cluster(&runtime, brokers, port, config, overrides),
        Command::Broker {
            config,
            overrides,
            dev,
            port,
            ..
        } => match broker_config(config, overrides, dev, port) {
            Ok((config, dev_data)) => runtime.block_on(run_broker(config, dev_data)),
            Err(error) => {
                error!(%error, "invalid configuration");
                ExitCode::FAILURE
            }
        },
        Command::Groups(args) => runtime.block_on(run_groups(args)),
        Command::Topics(args) => runtime.block_on(run_topics(args)),
        Command::Produce(args) => runtime.block_on(run_produce(args)),
        Command::Consume(args) => runtime.block_on(run_consume(args)),
        Command::Acls(args) => runtime.block_on(run_acls(args)),
        Command::Configs(args) => runtime.block_on(run_configs(args)),
        Command::MetadataQuorum(args) => runtime.block_on(run_metadata_quorum(args)),
        Command::ReassignPartitions(args) => runtime.block_on(run_reassign(args)),
    }
}

async fn run_produce(args: ProduceArgs) -> ExitCode {
    use std::io::BufRead;
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    let properties = gregor::cli::console::Properties(args.properties.into_iter().collect());
    let lines = std::io::stdin().lock().lines().map_while(Result::ok);
    let outcome = gregor::cli::console::produce(
        &args.connection.bootstrap_server,
        &security,
        &args.topic,
        &properties,
        lines,
    )
    .await;
    print_outcome(outcome.map(|_| String::new()))
}

async fn run_consume(args: ConsumeArgs) -> ExitCode {
    use gregor::cli::console::{consume, ConsumeOptions, Properties, StartAt};
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    let start = match args.offset.as_deref() {
        Some("earliest") => StartAt::Beginning,
        Some("latest") => StartAt::End,
        Some(number) => match number.parse() {
            Ok(offset) => StartAt::Offset(offset),
            Err(_) => {
                eprintln!("Error: --offset takes earliest, latest or a number");
                return ExitCode::FAILURE;
            }
        },
        None if args.from_beginning => StartAt::Beginning,
        None => StartAt::End,
    };
    let options = ConsumeOptions {
        partition: args.partition,
        start,
        max_messages: args.max_messages,
        timeout: args.timeout_ms.map(std::time::Duration::from_millis),
        group: args.group,
    };
    let properties = Properties(args.properties.into_iter().collect());
    let outcome = consume(
        &args.connection.bootstrap_server,
        &security,
        &args.topic,
        &properties,
        &options,
        |line| println!("{line}"),
    )
    .await;
    print_outcome(outcome.map(|count| {
        eprintln!("Processed a total of {count} messages");
        String::new()
    }))
}

async fn run_topics(args: TopicsArgs) -> ExitCode {
    use gregor::cli::topics::{run, Action};
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    let action = if args.list {
        Action::List
    } else if args.describe {
        Action::Describe
    } else if args.create {
        Action::Create {
            partitions: args.partitions.unwrap_or(-1),
            replication_factor: args.replication_factor,
            configs: args.configs,
        }
    } else if args.alter {
        Action::Alter {
            partitions: args.partitions,
            add_configs: args.add_configs,
            delete_configs: args.delete_configs,
        }
    } else {
        Action::Delete
    };
    print_outcome(
        run(
            &args.connection.bootstrap_server,
            &security,
            action,
            args.topic.as_deref(),
        )
        .await,
    )
}

/// Prints a console command's output, or its error on stderr.
fn print_outcome<E: std::fmt::Display>(outcome: Result<String, E>) -> ExitCode {
    match outcome {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("Error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_groups(args: GroupsArgs) -> ExitCode {
    use gregor::cli::groups::{run, Action, DescribeView};
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    let action = if args.list {
        Action::List
    } else if args.delete {
        Action::Delete
    } else if args.members {
        Action::Describe(DescribeView::Members)
    } else if args.state {
        Action::Describe(DescribeView::State)
    } else {
        Action::Describe(DescribeView::Offsets)
    };
    if !args.list && args.groups.is_empty() {
        eprintln!("--describe and --delete need at least one --group");
        return ExitCode::FAILURE;
    }
    print_outcome(
        run(
            &args.connection.bootstrap_server,
            &security,
            action,
            &args.groups,
        )
        .await,
    )
}

async fn run_acls(args: AclsArgs) -> ExitCode {
    use gregor::cli::acls::{run, AclOptions, Action};
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    let action = if args.add {
        Action::Add
    } else if args.remove {
        Action::Remove
    } else {
        Action::List
    };
    let options = AclOptions {
        action,
        force: args.force,
        allow_principals: args.allow_principals,
        deny_principals: args.deny_principals,
        allow_hosts: args.allow_hosts,
        deny_hosts: args.deny_hosts,
        operations: args.operations,
        topics: args.topics,
        groups: args.groups,
        cluster: args.cluster,
        transactional_ids: args.transactional_ids,
        resource_pattern_type: args.resource_pattern_type,
        producer: args.producer,
        consumer: args.consumer,
        idempotent: args.idempotent,
        principals: args.principals,
    };
    let outcome = run(
        &args.connection.bootstrap_server,
        &security,
        &options,
        &mut confirm_on_terminal,
    )
    .await;
    print_outcome(outcome)
}

/// Asks `question` on the terminal; without one (stdin closed or piped)
/// there is nobody to ask, and --force must say yes instead.
fn confirm_on_terminal(question: &str) -> Result<bool, gregor::cli::CommandError> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(gregor::cli::CommandError::Usage(
            "--remove asks for confirmation on a terminal, and stdin is not one: add --force"
                .to_string(),
        ));
    }
    println!("{question}");
    std::io::stdout().flush().ok();
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer).ok();
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

async fn run_configs(args: ConfigsArgs) -> ExitCode {
    use gregor::cli::configs::{run, Action};
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    let action = if args.alter {
        Action::Alter {
            add_config: args.add_config,
            delete_configs: args.delete_configs,
        }
    } else {
        Action::Describe
    };
    let types: Vec<gregor::cli::configs::EntityType> =
        args.entities.types.into_iter().map(Into::into).collect();
    print_outcome(
        run(
            &args.connection.bootstrap_server,
            &security,
            &types,
            &args.entities.names,
            action,
        )
        .await,
    )
}

async fn run_metadata_quorum(args: MetadataQuorumArgs) -> ExitCode {
    use gregor::cli::metadata_quorum::{
        controller_from_properties, run, Action, Bootstrap, Controller,
    };
    let action = match args.command {
        MetadataQuorumCommand::Describe {
            status,
            replication,
            human_readable,
        } => describe_action(status, replication, human_readable).map_err(str::to_string),
        MetadataQuorumCommand::AddController {
            dry_run,
            controller_id: Some(id),
            controller_directory_id,
            controller_endpoints,
        } => gregor::kafka_uuid::parse(controller_directory_id.as_deref().unwrap_or_default())
            .map_err(|error| format!("Failed to parse --controller-directory-id: {error}"))
            .and_then(|directory_id| {
                let endpoints = controller_endpoints
                    .iter()
                    .map(|text| gregor::cli::metadata_quorum::Endpoint::parse(text))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Action::AddController {
                    controller: Controller {
                        id,
                        directory_id,
                        endpoints,
                    },
                    dry_run,
                })
            }),
        MetadataQuorumCommand::AddController { dry_run, .. } => {
            match args.connection.command_config.as_deref() {
                None => Err(
                    "You must supply the configuration file of the controller you are \
                             adding when using add-controller."
                        .to_string(),
                ),
                Some(path) => controller_from_properties(path)
                    .map(|controller| Action::AddController {
                        controller,
                        dry_run,
                    })
                    .map_err(|error| error.to_string()),
            }
        }
        MetadataQuorumCommand::RemoveController {
            controller_id,
            controller_directory_id,
            dry_run,
        } => Ok(Action::RemoveController {
            id: controller_id,
            directory_id: controller_directory_id,
            dry_run,
        }),
    };
    let action = match action {
        Ok(action) => action,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    let bootstrap = match &args.bootstrap_controller {
        Some(controllers) => Bootstrap::Controllers(controllers),
        None => Bootstrap::Brokers(&args.connection.bootstrap_server),
    };
    print_outcome(run(bootstrap, &security, action).await)
}

/// `describe`'s action, or Kafka's refusal of its flags.
fn describe_action(
    status: bool,
    replication: bool,
    human_readable: bool,
) -> Result<gregor::cli::metadata_quorum::Action, &'static str> {
    use gregor::cli::metadata_quorum::Action;
    match (status, replication) {
        (true, true) => Err(
            "Only one of --status or --replication should be specified with describe sub-command",
        ),
        (false, true) => Ok(Action::Replication { human_readable }),
        (true, false) if human_readable => {
            Err("The option --human-readable is only supported along with --replication")
        }
        (true, false) => Ok(Action::Status),
        (false, false) => {
            Err("One of --status or --replication must be specified with describe sub-command")
        }
    }
}

async fn run_reassign(args: ReassignArgs) -> ExitCode {
    use gregor::cli::reassign::{run, Action};
    let usage = |message: String| {
        eprintln!("{message}");
        ExitCode::FAILURE
    };
    let actions = [
        args.generate,
        args.execute,
        args.verify,
        args.cancel,
        args.list,
    ];
    if actions.iter().filter(|chosen| **chosen).count() != 1 {
        return usage(
            "Command must include exactly one action: --generate, --execute, --verify, --cancel, --list"
                .to_string(),
        );
    }
    // Kafka's check of which options each action takes.
    let action_name = ["generate", "execute", "verify", "cancel", "list"]
        [actions.iter().position(|chosen| *chosen).unwrap_or(0)];
    let options = [
        (
            "reassignment-json-file",
            args.reassignment_json_file.is_some(),
            "execute verify cancel",
        ),
        (
            "topics-to-move-json-file",
            args.topics_to_move_json_file.is_some(),
            "generate",
        ),
        ("broker-list", args.broker_list.is_some(), "generate"),
        ("disable-rack-aware", args.disable_rack_aware, "generate"),
        ("throttle", args.throttle.is_some(), "execute"),
        (
            "replica-alter-log-dirs-throttle",
            args.replica_alter_log_dirs_throttle.is_some(),
            "execute",
        ),
        ("timeout", args.timeout.is_some(), "execute cancel"),
        ("additional", args.additional, "execute"),
        (
            "preserve-throttles",
            args.preserve_throttles,
            "verify cancel",
        ),
        (
            "disallow-replication-factor-change",
            args.disallow_replication_factor_change,
            "execute",
        ),
    ];
    if let Some((option, ..)) = options
        .iter()
        .find(|(_, given, actions)| *given && !actions.split(' ').any(|a| a == action_name))
    {
        return usage(format!(
            "Option \"[{option}]\" can't be used with action \"[{action_name}]\""
        ));
    }
    let read = |option: &str, path: &Option<PathBuf>| match path {
        None => Err(format!("Missing required argument \"[{option}]\"")),
        Some(path) => std::fs::read_to_string(path)
            .map_err(|error| format!("--{option} {}: {error}", path.display())),
    };
    let action = if args.list {
        Ok(Action::List)
    } else if args.generate {
        read("topics-to-move-json-file", &args.topics_to_move_json_file).and_then(
            |topics_to_move| {
                let list = args
                    .broker_list
                    .as_deref()
                    .ok_or_else(|| "Missing required argument \"[broker-list]\"".to_string())?;
                let brokers = list
                    .split(',')
                    .map(|id| id.trim().parse::<i32>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| format!("--broker-list {list}: {error}"))?;
                Ok(Action::Generate {
                    topics_to_move,
                    brokers,
                    rack_aware: !args.disable_rack_aware,
                })
            },
        )
    } else {
        read("reassignment-json-file", &args.reassignment_json_file).map(|plan| {
            if args.execute {
                Action::Execute {
                    plan,
                    options: gregor::cli::reassign::ExecuteOptions {
                        additional: args.additional,
                        timeout: std::time::Duration::from_millis(args.timeout.unwrap_or(10_000)),
                        disallow_replication_factor_change: args.disallow_replication_factor_change,
                        throttle: args.throttle,
                        log_dir_throttle: args.replica_alter_log_dirs_throttle,
                    },
                }
            } else if args.verify {
                Action::Verify {
                    plan,
                    preserve_throttles: args.preserve_throttles,
                }
            } else {
                Action::Cancel {
                    plan,
                    preserve_throttles: args.preserve_throttles,
                    timeout: std::time::Duration::from_millis(args.timeout.unwrap_or(10_000)),
                }
            }
        })
    };
    let action = match action {
        Ok(action) => action,
        Err(message) => return usage(message),
    };
    let security = match args.connection.security() {
        Ok(security) => security,
        Err(code) => return code,
    };
    print_outcome(run(&args.connection.bootstrap_server, &security, action).await)
}

async fn run_broker(config: BrokerConfig, dev_data: Option<tempfile::TempDir>) -> ExitCode {
    match gregor::process_limits::raise_open_files_limit() {
        Ok((before, after)) if before != after => {
            info!(
                before,
                after, "raised the open files limit to its hard limit"
            )
        }
        Ok(_) => {}
        Err(error) => warn!(%error, "cannot raise the open files limit"),
    }
    let running = match RunningBroker::start(config).await {
        Ok(running) => running,
        Err(error) => {
            error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    // Listening before the address is printed: a script may stop the
    // broker the moment it has read it.
    let stop = StopSignals::listen();
    if dev_data.is_some() {
        running.broker().linter().enable();
        // Dev mode's first stdout line is the address, for scripts to read.
        println!("localhost:{}", running.address().port());
    }
    stop.wait().await;
    info!("shutting down");
    if dev_data.is_some() {
        print_lint_summary(&running.broker().lint());
    }
    let outcome = running.shutdown().await;
    drop(dev_data);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!(%error, "shutdown failed; the next start recovers the logs");
            ExitCode::FAILURE
        }
    }
}

/// What the client linter found, on stderr as a dev broker stops.
fn print_lint_summary(findings: &[gregor::server::lint::Finding]) {
    if findings.is_empty() {
        eprintln!("gregor lint: no findings");
        return;
    }
    eprintln!("gregor lint: {} finding(s)", findings.len());
    for finding in findings {
        eprintln!(
            "  [{}] client '{}': {} (fix: {})",
            finding.rule, finding.client_id, finding.message, finding.fix
        );
    }
}

/// `--dev --brokers N`: a cluster of N brokers in this process, until
/// SIGTERM or Ctrl-C; its data is removed on exit.
fn run_dev_cluster(
    runtime: &tokio::runtime::Runtime,
    brokers: usize,
    port: Option<u16>,
    config_file: Option<PathBuf>,
    overrides: Vec<(String, String)>,
) -> ExitCode {
    let mut builder = gregor::testkit::TestCluster::builder()
        .brokers(brokers)
        .host("localhost");
    // `--port 0`: any free ports.
    match port.unwrap_or(9092) {
        0 => {}
        first => builder = builder.first_port(first),
    }
    // A `server.properties` applies to every broker, but for the settings
    // each node gets from the cluster; the layers are those of a single
    // dev broker: file, environment, dev settings, `--override`.
    if let Some(path) = &config_file {
        let file = match config::read_properties(path) {
            Ok(file) => file,
            Err(error) => {
                error!(%error, "invalid configuration");
                return ExitCode::FAILURE;
            }
        };
        let per_node: Vec<&str> = gregor::testkit::PER_NODE_SETTINGS
            .iter()
            .copied()
            .filter(|name| file.contains_key(*name))
            .collect();
        if !per_node.is_empty() {
            warn!(configs = %per_node.join(", "), file = %path.display(),
                  "ignored: the dev cluster sets these for each broker itself");
        }
        builder = builder.properties(file);
    }
    // `admin.listener` is the cluster's fault plane, not each broker's.
    let mut admin_listener = None;
    for (name, value) in DEV_SETTINGS.iter().copied().chain(
        overrides
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    ) {
        match name {
            "admin.listener" => admin_listener = Some(value.to_string()),
            _ => builder = builder.config(name, value),
        }
    }
    let admin = match &admin_listener {
        Some(address) => match runtime.block_on(tokio::net::TcpListener::bind(address)) {
            Ok(listener) => Some(listener),
            Err(error) => {
                error!(%address, %error, "cannot listen for the dev cluster's admin endpoint");
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    // Each broker's data is a temporary dir thrown away with the cluster,
    // as a single dev broker's is: its writes need not be forced to disk.
    if !overrides.iter().any(|(name, _)| name == "log.dirs") {
        gregor::durable::stop_forcing_writes();
    }
    let cluster = match builder.start() {
        Ok(cluster) => std::sync::Arc::new(std::sync::Mutex::new(Some(cluster))),
        Err(error) => {
            error!(%error, "cannot start the dev cluster");
            return ExitCode::FAILURE;
        }
    };
    let bootstrap = cluster
        .lock()
        .ok()
        .and_then(|cluster| cluster.as_ref().map(|c| c.bootstrap()))
        .unwrap_or_default();
    if let Some(listener) = admin {
        // Its plane serves each broker's journal and lint findings.
        if let Some(cluster) = cluster.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            cluster.observe();
        }
        info!(address = ?listener.local_addr().ok(), "dev cluster admin endpoint started");
        runtime.spawn(gregor::testkit::cluster_admin::run(
            std::sync::Arc::clone(&cluster),
            listener,
        ));
    }
    let stop = runtime.block_on(async { StopSignals::listen() });
    // The first stdout line is the bootstrap list, for scripts to read.
    println!("{bootstrap}");
    runtime.block_on(stop.wait());
    // Its data goes with it: no clean shutdown to wait for (each broker's
    // would hand its leaderships to brokers about to stop too).
    info!("stopping the dev cluster");
    let stopped = cluster.lock().unwrap_or_else(|p| p.into_inner()).take();
    drop(stopped);
    ExitCode::SUCCESS
}

/// What `--dev` sets before the command line's overrides.
const DEV_SETTINGS: &[(&str, &str)] = &[
    ("group.initial.rebalance.delay.ms", "0"),
    ("auto.create.topics.enable", "true"),
    // A dev broker is a test broker: its admin listener, when given one,
    // serves the fault plane.
    ("admin.fault.plane.enable", "true"),
];

/// Loads the broker's settings: file, environment, overrides; in dev mode
/// a temporary data directory, instant rebalances, and `--port`.
fn broker_config(
    config_file: Option<PathBuf>,
    mut overrides: Vec<(String, String)>,
    dev: bool,
    port: Option<u16>,
) -> Result<(BrokerConfig, Option<tempfile::TempDir>), String> {
    let mut dev_data = None;
    if dev {
        let dir = tempfile::Builder::new()
            .prefix("gregor-dev-")
            .tempdir()
            .map_err(|error| format!("cannot create a temporary data directory: {error}"))?;
        let mut dev_overrides = vec![("log.dirs".to_string(), dir.path().display().to_string())];
        dev_overrides.extend(
            DEV_SETTINGS
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        );
        dev_overrides.extend(overrides);
        overrides = dev_overrides;
        dev_data = Some(dir);
    }
    if let Some(port) = port.or(dev.then_some(9092)) {
        overrides.push((
            "listeners".to_string(),
            format!("PLAINTEXT://localhost:{port}"),
        ));
    }
    let (config, unused) =
        config::load(config_file.as_deref(), &overrides).map_err(|error| error.to_string())?;
    for name in unused {
        warn!(config = %name, "unknown or unsupported config ignored");
    }
    if let Some(dir) = &dev_data {
        if config.log_dirs.iter().all(|log_dir| log_dir == dir.path()) {
            gregor::durable::stop_forcing_writes();
        }
    }
    Ok((config, dev_data))
}

/// SIGTERM or SIGINT (Ctrl-C), listened for from the moment this is made
/// (within a runtime): one that comes before the wait still stops the
/// process cleanly, where the default action would kill it.
struct StopSignals {
    terminate: Option<tokio::signal::unix::Signal>,
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> StopSignals {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(listening) => Some(listening),
            Err(error) => {
                warn!(%error, "cannot watch {name}");
                None
            }
        };
        StopSignals {
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
            interrupt: listen(SignalKind::interrupt(), "SIGINT"),
        }
    }

    async fn wait(mut self) {
        async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.terminate) => {}
            _ = next(&mut self.interrupt) => {}
        }
    }
}
