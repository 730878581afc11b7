//! `gregor configs`: `kafka-configs.sh` (Kafka's `ConfigCommand`) for the
//! `users`, `clients` and `ips` entity types: client quotas, and users'
//! SCRAM credentials.
//!
//! The `--entity-type`s name one entity, each paired in order with an
//! `--entity-name` or `--entity-default` (`users` and `clients` together:
//! one user's client). Quotas (`producer_byte_rate`, `consumer_byte_rate`,
//! `request_percentage` and `controller_mutation_rate` for users and
//! clients, `connection_creation_rate` for IPs) are altered with one
//! AlterClientQuotas entry, after a DescribeClientQuotas of the entity so
//! that deleting a key it does not set is refused, as ConfigCommand refuses
//! it; `--describe` sends one strict DescribeClientQuotas and prints a line
//! per entity found.
//!
//! A user's SCRAM credentials are altered with one
//! AlterUserScramCredentials request and described with
//! DescribeUserScramCredentials. The password never leaves this process:
//! as Kafka's admin client does, the command salts and hashes it (PBKDF2
//! with a fresh random salt) and sends only the salted password.
//!
//! Topic configs are `gregor topics --alter --add-config`.

use std::fmt::Write as _;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterUserScramCredentialsRequest, DescribeClientQuotasRequest,
    DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;
use ring::rand::{SecureRandom, SystemRandom};

use super::{broker_error, CommandError};
use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;
use crate::metadata::scram::ScramMechanism;

const CLIENT_ID: &str = "gregor-configs";
/// Kafka's `ConfigCommand.DEFAULT_SCRAM_ITERATIONS`.
const DEFAULT_ITERATIONS: u32 = 4096;
/// Kafka's admin client salts with this many random bytes.
const SALT_BYTES: usize = 32;
/// The quota configs of users, clients and a user's clients (Kafka's
/// `QuotaConfig.isClientOrUserQuotaConfig`).
const QUOTA_CONFIGS: &[&str] = &[
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];
/// The quota config of IPs (`QuotaConfig.ipConfigs`).
const IP_QUOTA_CONFIG: &str = "connection_creation_rate";
/// The highest version of DescribeClientQuotas and AlterClientQuotas sent.
const CLIENT_QUOTAS_VERSION: i16 = 1;

/// An `--entity-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityType {
    Users,
    Clients,
    Ips,
}

impl EntityType {
    /// As the command line and ConfigCommand's messages name it.
    fn name(self) -> &'static str {
        match self {
            EntityType::Users => "users",
            EntityType::Clients => "clients",
            EntityType::Ips => "ips",
        }
    }

    /// The type of a client quota entity on the wire.
    fn wire(self) -> &'static str {
        match self {
            EntityType::Users => "user",
            EntityType::Clients => "client-id",
            EntityType::Ips => "ip",
        }
    }
}

/// An `--entity-name NAME` or an `--entity-default`, paired in
/// command-line order with the `--entity-type`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityName {
    Named(String),
    Default,
}

/// What the command does to the entity.
#[derive(Debug, Clone)]
pub enum Action {
    /// `--alter`: `--add-config` (as one string: quotas
    /// `producer_byte_rate=1024,…`, credentials
    /// `SCRAM-SHA-256=[iterations=8192,password=…],…`) and `--delete-config`
    /// (quota keys and mechanism names).
    Alter {
        add_config: Option<String>,
        delete_configs: Vec<String>,
    },
    /// `--describe`: an entity type without a name matches every name
    /// (and every user's credentials).
    Describe,
}

/// How an entity type is named: what DescribeClientQuotas matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Component {
    /// `--entity-name NAME`: MATCH_TYPE_EXACT.
    Exact(String),
    /// `--entity-default` (or an empty name): MATCH_TYPE_DEFAULT.
    Default,
    /// No name (describe only): MATCH_TYPE_SPECIFIED, any name or the default.
    Any,
}

impl Component {
    fn match_type(&self) -> i8 {
        match self {
            Component::Exact(_) => 0,
            Component::Default => 1,
            Component::Any => 2,
        }
    }

    /// The entity's name on the wire: none for the default.
    fn name(&self) -> Option<&str> {
        match self {
            Component::Exact(name) => Some(name),
            Component::Default | Component::Any => None,
        }
    }
}

/// A credential to set: the mechanism, its iterations and the password.
#[derive(Clone, PartialEq, Eq)]
struct Upsertion {
    mechanism: ScramMechanism,
    iterations: u32,
    password: String,
}

impl std::fmt::Debug for Upsertion {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upsertion")
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// A quota key to set to a value, or to remove (`None`).
#[derive(Debug, Clone, PartialEq)]
struct QuotaOp {
    key: String,
    value: Option<f64>,
}

/// What `--alter` sends, decided before connecting.
#[derive(Debug, PartialEq)]
struct AlterPlan {
    /// The entity: each type with its name, `Default` for the default.
    entity: Vec<(EntityType, Component)>,
    /// One AlterClientQuotas entry's ops (none: no request): the
    /// additions, then the deletions.
    quota_ops: Vec<QuotaOp>,
    /// The credentials to set and the mechanisms to delete (the entity
    /// is then one named user).
    upsertions: Vec<Upsertion>,
    scram_deletions: Vec<ScramMechanism>,
}

impl AlterPlan {
    /// ConfigCommand's line for a done alter: the first entity type and
    /// its name decide it.
    fn completed(&self) -> String {
        match self.entity.first() {
            Some((kind, Component::Exact(name))) => {
                let kind = kind.name();
                let singular = kind.strip_suffix('s').unwrap_or(kind);
                format!("Completed updating config for {singular} {name}.\n")
            }
            Some((kind, _)) => format!(
                "Completed updating default config for {} in the cluster.\n",
                kind.name()
            ),
            None => String::new(),
        }
    }

    /// The user whose credentials change, if any do.
    fn scram_user(&self) -> Option<&str> {
        if self.upsertions.is_empty() && self.scram_deletions.is_empty() {
            return None;
        }
        self.entity.iter().find_map(|(kind, component)| match kind {
            EntityType::Users => component.name(),
            _ => None,
        })
    }
}

/// Whose SCRAM credentials `--describe` prints after the quotas.
#[derive(Debug, PartialEq, Eq)]
enum ScramDescribe {
    None,
    Every,
    User(String),
}

/// What `--describe` sends, decided before connecting.
#[derive(Debug, PartialEq)]
struct DescribePlan {
    components: Vec<(EntityType, Component)>,
    scram: ScramDescribe,
}

fn usage(message: impl Into<String>) -> CommandError {
    CommandError::Usage(message.into())
}

/// The entity types paired in order with the names, checked as
/// ConfigCommand checks them: `--alter` needs a name (or the default) for
/// every type, `--describe` leaves the types without one matching any
/// name. An empty name is the default, as ConfigCommand reads it.
fn pair_entities(
    types: &[EntityType],
    names: &[EntityName],
    alter: bool,
) -> Result<Vec<(EntityType, Component)>, CommandError> {
    if types.is_empty() {
        return Err(usage("At least one entity type must be specified"));
    }
    let mut duplicates: Vec<&str> = Vec::new();
    for (index, kind) in types.iter().enumerate() {
        if types[..index].contains(kind) && !duplicates.contains(&kind.name()) {
            duplicates.push(kind.name());
        }
    }
    if !duplicates.is_empty() {
        return Err(usage(format!(
            "Duplicate entity type(s) specified: {}",
            duplicates.join(",")
        )));
    }
    if types.len() > 1
        && !(types.contains(&EntityType::Users) && types.contains(&EntityType::Clients))
    {
        return Err(usage(
            "Only 'users' and 'clients' entity types may be specified together",
        ));
    }
    if alter && names.len() != types.len() {
        return Err(usage(
            "An entity name must be specified for every entity type",
        ));
    }
    if names.len() > types.len() {
        return Err(usage("More entity names specified than entity types"));
    }
    Ok(types
        .iter()
        .enumerate()
        .map(|(index, kind)| {
            let component = match names.get(index) {
                Some(EntityName::Named(name)) if !name.is_empty() => Component::Exact(name.clone()),
                Some(_) => Component::Default,
                None => Component::Any,
            };
            (*kind, component)
        })
        .collect())
}

/// Splits `text` at each `separator` outside square brackets, as
/// ConfigCommand splits `--add-config` (`a=1,b=[x,y]`).
fn split_outside_brackets(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            c if c == separator && depth == 0 => {
                parts.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// `--add-config` as ConfigCommand reads it: `key=value` pairs separated by
/// commas, a value in `[...]` may hold commas and `=`, and every bracket is
/// then dropped from the value. A key given twice keeps its last value
/// (ConfigCommand reads them into a `Properties`).
fn parse_add_config(text: &str) -> Result<Vec<(String, String)>, CommandError> {
    let mut added: Vec<(String, String)> = Vec::new();
    for pair in split_outside_brackets(text, ',') {
        let [key, value] = split_outside_brackets(pair, '=')[..] else {
            return Err(usage(
                "Invalid entity config: all configs to be added must be in the format \"key=val\" or \"key=[val1,val2]\" to group values which contain commas.",
            ));
        };
        let key = key.trim().to_string();
        let value = value.replace(['[', ']'], "").trim().to_string();
        match added.iter_mut().find(|(seen, _)| *seen == key) {
            Some(entry) => entry.1 = value,
            None => added.push((key, value)),
        }
    }
    Ok(added)
}

/// `text` as Java's `Double.parseDouble` reads it (as ConfigCommand reads
/// a quota's value): surrounding whitespace and a trailing `d`/`f` are
/// allowed, `NaN` and `Infinity` are spelt so, hex floats are not read.
fn parse_java_double(text: &str) -> Option<f64> {
    let text = text.trim_matches(|c: char| c <= ' ');
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned == "NaN" || unsigned == "Infinity" {
        let value = if unsigned == "NaN" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if text.starts_with('-') { -value } else { value });
    }
    let number = text.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(text);
    if number.is_empty()
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || ".eE+-".contains(c))
    {
        return None;
    }
    number.parse().ok()
}

/// `value` as Java's `Double.toString` writes it (as ConfigCommand prints
/// a quota): the shortest digits that read back as `value`, in plain
/// notation with at least one fractional digit from 10^-3 up to 10^7
/// (`1024.0`, `12.5`), otherwise as `d.dddE±n` (`1.048576E7`, `1.0E-4`).
pub fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_string();
    }
    if (1e-3..1e7).contains(&value.abs()) {
        let plain = value.to_string();
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

/// `[iterations=N,]password=P` for `mechanism` (iterations -1 or absent:
/// 4096; fewer than the mechanism's minimum is refused).
fn parse_credential(mechanism: ScramMechanism, value: &str) -> Result<Upsertion, CommandError> {
    // The value is not echoed: it holds the password.
    let invalid = || {
        usage(format!(
            "Invalid credential property {mechanism}=[hidden]: expected [iterations=<n>,]password=<password>"
        ))
    };
    let (iterations, rest) = match value.strip_prefix("iterations=") {
        Some(rest) => {
            let (number, rest) = rest.split_once(',').ok_or_else(invalid)?;
            let iterations: i64 = number.parse().map_err(|_| invalid())?;
            (iterations, rest)
        }
        None => (-1, value),
    };
    let password = rest.strip_prefix("password=").ok_or_else(invalid)?;
    let iterations = match iterations {
        -1 => i64::from(DEFAULT_ITERATIONS),
        n => n,
    };
    let minimum = mechanism.min_iterations();
    if iterations < i64::from(minimum) {
        return Err(usage(format!(
            "Iterations {iterations} is less than the minimum {minimum} required for {mechanism}"
        )));
    }
    Ok(Upsertion {
        mechanism,
        iterations: u32::try_from(iterations).map_err(|_| invalid())?,
        password: password.to_string(),
    })
}

/// The `keys` that are not `valid`, in order.
fn unexpected<'a>(
    keys: impl Iterator<Item = &'a str>,
    valid: impl Fn(&str) -> bool,
) -> Vec<&'a str> {
    keys.filter(|key| !valid(key)).collect()
}

/// What `--alter` of the entity sends, checked as ConfigCommand checks it
/// before it connects: which keys each entity type takes (quotas for
/// clients and a user's clients; quotas and credentials for a user;
/// `connection_creation_rate` for IPs), the values, the credentials.
fn plan_alter(
    types: &[EntityType],
    names: &[EntityName],
    add_config: Option<&str>,
    delete_configs: &[String],
) -> Result<AlterPlan, CommandError> {
    let entity = pair_entities(types, names, true)?;
    if add_config.is_none() && delete_configs.is_empty() {
        return Err(usage(
            "At least one of --add-config or --delete-config must be specified with --alter",
        ));
    }
    let added = match add_config {
        Some(text) => parse_add_config(text)?,
        None => Vec::new(),
    };
    if let Some((key, _)) = added.iter().find(|(key, _)| {
        !key.chars()
            .all(|c| c.is_ascii_alphanumeric() || "$._-".contains(c))
    }) {
        return Err(usage(format!(
            "Invalid character found for config key: {key}"
        )));
    }
    let deleted: Vec<&str> = delete_configs.iter().map(|name| name.trim()).collect();
    let added_keys = || added.iter().map(|(key, _)| key.as_str());
    let is_quota = |key: &str| QUOTA_CONFIGS.contains(&key);
    let is_scram = |key: &str| ScramMechanism::from_name(key).is_some();
    match (entity[0].0, entity.len()) {
        (EntityType::Ips, _) => {
            let unexpected = unexpected(added_keys().chain(deleted.iter().copied()), |key| {
                key == IP_QUOTA_CONFIG
            });
            if !unexpected.is_empty() {
                return Err(usage(format!(
                    "Only connection quota configs can be added for 'ips' using --bootstrap-server. Unexpected config names: {}",
                    unexpected.join(", ")
                )));
            }
        }
        (EntityType::Users, 1) => {
            let valid = |key: &str| is_quota(key) || is_scram(key);
            for (keys, verb) in [
                (unexpected(added_keys(), valid), "added"),
                (unexpected(deleted.iter().copied(), valid), "deleted"),
            ] {
                if !keys.is_empty() {
                    return Err(usage(format!(
                        "Only quota and SCRAM credential configs can be {verb} for 'users' using --bootstrap-server. Unexpected config names: {}",
                        keys.join(",")
                    )));
                }
            }
            let scram = added_keys().chain(deleted.iter().copied()).any(is_scram);
            let quota = added_keys().chain(deleted.iter().copied()).any(is_quota);
            if scram && quota {
                // Kafka 4.4's words: the two are different requests.
                return Err(usage("Cannot alter both quota and SCRAM credential configs simultaneously for 'users' using --bootstrap-server."));
            }
            if scram && entity[0].1 == Component::Default {
                return Err(usage("The use of --entity-default or --user-defaults is not allowed with User SCRAM Credentials using --bootstrap-server."));
            }
        }
        // A client, or a user's client.
        _ => {
            for (keys, verb) in [
                (unexpected(added_keys(), is_quota), "added"),
                (unexpected(deleted.iter().copied(), is_quota), "deleted"),
            ] {
                if !keys.is_empty() {
                    return Err(usage(format!(
                        "Only quota configs can be {verb} for 'clients' using --bootstrap-server. Unexpected config names: {}",
                        keys.join(",")
                    )));
                }
            }
        }
    }
    let mut quota_ops = Vec::new();
    let mut upsertions = Vec::new();
    for (key, value) in &added {
        match ScramMechanism::from_name(key) {
            Some(mechanism) => upsertions.push(parse_credential(mechanism, value)?),
            None => {
                let parsed = parse_java_double(value).ok_or_else(|| {
                    usage(format!(
                        "Cannot parse quota configuration value for {key}: {value}"
                    ))
                })?;
                quota_ops.push(QuotaOp {
                    key: key.clone(),
                    value: Some(parsed),
                });
            }
        }
    }
    let mut scram_deletions = Vec::new();
    for key in deleted {
        match ScramMechanism::from_name(key) {
            Some(mechanism) => scram_deletions.push(mechanism),
            None => quota_ops.push(QuotaOp {
                key: key.to_string(),
                value: None,
            }),
        }
    }
    Ok(AlterPlan {
        entity,
        quota_ops,
        upsertions,
        scram_deletions,
    })
}

/// What `--describe` sends: the entity types as DescribeClientQuotas
/// components, and a user's (or every user's) credentials when the
/// entity is users alone and not the default, as ConfigCommand does.
fn plan_describe(types: &[EntityType], names: &[EntityName]) -> Result<DescribePlan, CommandError> {
    let components = pair_entities(types, names, false)?;
    let scram = match components.as_slice() {
        [(EntityType::Users, Component::Exact(user))] => ScramDescribe::User(user.clone()),
        [(EntityType::Users, Component::Any)] => ScramDescribe::Every,
        _ => ScramDescribe::None,
    };
    Ok(DescribePlan { components, scram })
}

/// ConfigCommand refuses an IP entity name that is neither an address nor
/// a host name that resolves.
async fn check_ip_names(components: &[(EntityType, Component)]) -> Result<(), CommandError> {
    for (kind, component) in components {
        if let (EntityType::Ips, Component::Exact(name)) = (kind, component) {
            let resolves = name.parse::<std::net::IpAddr>().is_ok()
                || tokio::net::lookup_host((name.as_str(), 0))
                    .await
                    .is_ok_and(|mut addresses| addresses.next().is_some());
            if !resolves {
                return Err(usage(format!(
                    "The entity name for ips must be a valid IP or resolvable host, but it is: {name}"
                )));
            }
        }
    }
    Ok(())
}

fn str_bytes(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

/// The strict DescribeClientQuotas filter for `components`.
fn describe_quotas_request(components: &[(EntityType, Component)]) -> DescribeClientQuotasRequest {
    DescribeClientQuotasRequest::default()
        .with_components(
            components
                .iter()
                .map(|(kind, component)| {
                    ComponentData::default()
                        .with_entity_type(str_bytes(kind.wire()))
                        .with_match_type(component.match_type())
                        .with_match(component.name().map(str_bytes))
                })
                .collect(),
        )
        .with_strict(true)
}

/// The AlterClientQuotas request of `plan`: one entry, a removal sent as
/// the Java admin client sends it (value 0.0, remove).
fn alter_quotas_request(plan: &AlterPlan) -> AlterClientQuotasRequest {
    let entity = plan
        .entity
        .iter()
        .map(|(kind, component)| {
            EntityData::default()
                .with_entity_type(str_bytes(kind.wire()))
                .with_entity_name(component.name().map(str_bytes))
        })
        .collect();
    let ops = plan
        .quota_ops
        .iter()
        .map(|op| {
            OpData::default()
                .with_key(str_bytes(&op.key))
                .with_value(op.value.unwrap_or(0.0))
                .with_remove(op.value.is_none())
        })
        .collect();
    AlterClientQuotasRequest::default()
        .with_entries(vec![EntryData::default().with_entity(entity).with_ops(ops)])
        .with_validate_only(false)
}

/// ConfigCommand's line for one entity's quotas: the entity as user,
/// client-id and ip parts (`user-principal 'u'`, `the default client-id`),
/// then each `key=value`.
fn quota_line(entity: &[(&str, Option<&str>)], values: &[(&str, f64)]) -> String {
    let parts: Vec<String> = [
        ("user", "user-principal"),
        ("client-id", "client-id"),
        ("ip", "ip"),
    ]
    .into_iter()
    .filter_map(|(kind, label)| {
        entity
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, name)| match name {
                Some(name) => format!("{label} '{name}'"),
                None => format!("the default {label}"),
            })
    })
    .collect();
    let values: Vec<String> = values
        .iter()
        .map(|(key, value)| format!("{key}={}", java_double(*value)))
        .collect();
    format!(
        "Quota configs for {} are {}\n",
        parts.join(", "),
        values.join(", ")
    )
}

/// Runs the command for the entity the `types` and `names` pair into,
/// against `bootstrap`, connecting with `security`, and returns what it
/// prints.
pub async fn run(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    types: &[EntityType],
    names: &[EntityName],
    action: Action,
) -> Result<String, CommandError> {
    match action {
        Action::Alter {
            add_config,
            delete_configs,
        } => {
            let plan = plan_alter(types, names, add_config.as_deref(), &delete_configs)?;
            check_ip_names(&plan.entity).await?;
            let scram = match plan.scram_user() {
                Some(user) => Some(scram_request(user, &plan)?),
                None => None,
            };
            let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
            if !plan.quota_ops.is_empty() {
                alter_quotas(&mut connection, &plan).await?;
            }
            if let Some(request) = scram {
                let response = connection.request(request, 0).await?;
                for result in &response.results {
                    broker_error(
                        result.error_code,
                        result.error_message.as_ref(),
                        "AlterUserScramCredentials",
                    )?;
                }
            }
            Ok(plan.completed())
        }
        Action::Describe => {
            let plan = plan_describe(types, names)?;
            check_ip_names(&plan.components).await?;
            let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
            let mut out = describe_quotas(&mut connection, &plan.components).await?;
            let scram = match &plan.scram {
                ScramDescribe::None => None,
                ScramDescribe::Every => Some(None),
                ScramDescribe::User(user) => Some(Some(user.as_str())),
            };
            if let Some(user) = scram {
                out.push_str(&describe_scram(&mut connection, user).await?);
            }
            Ok(out)
        }
    }
}

/// The entity's quotas as the broker holds them (ConfigCommand looks
/// them up first so that deleting a key that is not set is refused), then
/// the one AlterClientQuotas entry.
async fn alter_quotas(connection: &mut Connection, plan: &AlterPlan) -> Result<(), CommandError> {
    let response = connection
        .request(describe_quotas_request(&plan.entity), CLIENT_QUOTAS_VERSION)
        .await?;
    broker_error(
        response.error_code,
        response.error_message.as_ref(),
        "DescribeClientQuotas",
    )?;
    let current = response.entries.unwrap_or_default();
    let set = |key: &str| {
        current
            .first()
            .is_some_and(|entry| entry.values.iter().any(|value| value.key.as_str() == key))
    };
    let missing: Vec<&str> = plan
        .quota_ops
        .iter()
        .filter(|op| op.value.is_none() && !set(&op.key))
        .map(|op| op.key.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!("Invalid config(s): {}", missing.join(","))));
    }
    let response = connection
        .request(alter_quotas_request(plan), CLIENT_QUOTAS_VERSION)
        .await?;
    for entry in &response.entries {
        broker_error(
            entry.error_code,
            entry.error_message.as_ref(),
            "AlterClientQuotas",
        )?;
    }
    Ok(())
}

/// A line per entity that matches `components` exactly and sets a quota.
async fn describe_quotas(
    connection: &mut Connection,
    components: &[(EntityType, Component)],
) -> Result<String, CommandError> {
    let response = connection
        .request(describe_quotas_request(components), CLIENT_QUOTAS_VERSION)
        .await?;
    broker_error(
        response.error_code,
        response.error_message.as_ref(),
        "DescribeClientQuotas",
    )?;
    let mut out = String::new();
    for entry in response.entries.unwrap_or_default() {
        let entity: Vec<(&str, Option<&str>)> = entry
            .entity
            .iter()
            .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref()))
            .collect();
        let values: Vec<(&str, f64)> = entry
            .values
            .iter()
            .map(|v| (v.key.as_str(), v.value))
            .collect();
        out.push_str(&quota_line(&entity, &values));
    }
    Ok(out)
}

/// The AlterUserScramCredentials request of `plan` for `user`, each
/// password salted.
fn scram_request(
    user: &str,
    plan: &AlterPlan,
) -> Result<AlterUserScramCredentialsRequest, CommandError> {
    let upsertions = plan
        .upsertions
        .iter()
        .map(|upsertion| salted(user, upsertion))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AlterUserScramCredentialsRequest::default()
        .with_deletions(
            plan.scram_deletions
                .iter()
                .map(|mechanism| {
                    ScramCredentialDeletion::default()
                        .with_name(str_bytes(user))
                        .with_mechanism(mechanism.code())
                })
                .collect(),
        )
        .with_upsertions(upsertions))
}

/// The upsertion as sent: a fresh random salt and the salted password.
fn salted(user: &str, upsertion: &Upsertion) -> Result<ScramCredentialUpsertion, CommandError> {
    let mut salt = [0u8; SALT_BYTES];
    SystemRandom::new().fill(&mut salt).map_err(|_| {
        CommandError::Client(ClientError::Protocol(
            "the system's random source failed: no salt for the credential".to_string(),
        ))
    })?;
    let salted_password = upsertion.mechanism.salted_password(
        upsertion.password.as_bytes(),
        &salt,
        upsertion.iterations,
    );
    Ok(ScramCredentialUpsertion::default()
        .with_name(str_bytes(user))
        .with_mechanism(upsertion.mechanism.code())
        .with_iterations(i32::try_from(upsertion.iterations).unwrap_or(i32::MAX))
        .with_salt(Bytes::copy_from_slice(&salt))
        .with_salted_password(Bytes::from(salted_password)))
}

/// Each user's mechanisms and iterations, as ConfigCommand prints them.
async fn describe_scram(
    connection: &mut Connection,
    user: Option<&str>,
) -> Result<String, CommandError> {
    let request = DescribeUserScramCredentialsRequest::default()
        .with_users(user.map(|name| vec![UserName::default().with_name(str_bytes(name))]));
    let response = connection.request(request, 0).await?;
    broker_error(
        response.error_code,
        response.error_message.as_ref(),
        "DescribeUserScramCredentials",
    )?;
    let mut out = String::new();
    for result in &response.results {
        let name = result.user.as_str();
        if let Some(error) = ResponseError::try_from_code(result.error_code) {
            let message = result.error_message.as_ref().map_or("", |m| m.as_str());
            writeln!(
                out,
                "Error retrieving SCRAM credential configs for user-principal '{name}': {error}: {message}"
            )
            .ok();
            continue;
        }
        let infos: Vec<String> = result
            .credential_infos
            .iter()
            .map(|info| {
                let mechanism = ScramMechanism::from_code(info.mechanism)
                    .map_or_else(|| format!("UNKNOWN({})", info.mechanism), |m| m.to_string());
                format!("{mechanism}=iterations={}", info.iterations)
            })
            .collect();
        writeln!(
            out,
            "SCRAM credential configs for user-principal '{name}' are {}",
            infos.join(", ")
        )
        .ok();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use EntityType::{Clients, Ips, Users};

    fn named(name: &str) -> EntityName {
        EntityName::Named(name.to_string())
    }

    fn exact(name: &str) -> Component {
        Component::Exact(name.to_string())
    }

    fn alter(
        types: &[EntityType],
        names: &[EntityName],
        add: Option<&str>,
        delete: &[&str],
    ) -> Result<AlterPlan, String> {
        let delete: Vec<String> = delete.iter().map(|s| s.to_string()).collect();
        plan_alter(types, names, add, &delete).map_err(|e| e.to_string())
    }

    fn set(key: &str, value: f64) -> QuotaOp {
        QuotaOp {
            key: key.to_string(),
            value: Some(value),
        }
    }

    fn remove(key: &str) -> QuotaOp {
        QuotaOp {
            key: key.to_string(),
            value: None,
        }
    }

    #[test]
    fn add_config_is_split_as_configcommand_splits_it() {
        assert_eq!(
            parse_add_config(
                "SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=b]"
            )
            .unwrap(),
            [
                (
                    "SCRAM-SHA-256".to_string(),
                    "iterations=8192,password=alice-secret".to_string()
                ),
                ("SCRAM-SHA-512".to_string(), "password=b".to_string()),
            ]
        );
        assert!(parse_add_config("SCRAM-SHA-256=password=x").is_err());
        // A Properties: the last value of a key wins, in the key's place.
        assert_eq!(
            parse_add_config("a=1, b = 2 ,a=3").unwrap(),
            [
                ("a".to_string(), "3".to_string()),
                ("b".to_string(), "2".to_string())
            ]
        );
    }

    #[test]
    fn entity_types_pair_in_order_with_names_and_defaults() {
        assert_eq!(
            pair_entities(&[Users, Clients], &[named("u"), named("c")], true).unwrap(),
            [(Users, exact("u")), (Clients, exact("c"))]
        );
        assert_eq!(
            pair_entities(&[Clients, Users], &[EntityName::Default, named("u")], true).unwrap(),
            [(Clients, Component::Default), (Users, exact("u"))]
        );
        // An empty name is the default, as ConfigCommand reads it.
        assert_eq!(
            pair_entities(&[Ips], &[named("")], true).unwrap(),
            [(Ips, Component::Default)]
        );
        // Describe: a type without a name matches any.
        assert_eq!(
            pair_entities(&[Users, Clients], &[named("u")], false).unwrap(),
            [(Users, exact("u")), (Clients, Component::Any)]
        );
        let refused = |types: &[EntityType], names: &[EntityName], alter: bool| {
            pair_entities(types, names, alter).unwrap_err().to_string()
        };
        assert_eq!(
            refused(&[Users, Clients], &[named("u")], true),
            "An entity name must be specified for every entity type"
        );
        assert_eq!(
            refused(&[Users], &[], true),
            "An entity name must be specified for every entity type"
        );
        assert_eq!(
            refused(&[Users], &[named("a"), named("b")], false),
            "More entity names specified than entity types"
        );
        assert_eq!(
            refused(&[Users, Users], &[named("a"), named("b")], true),
            "Duplicate entity type(s) specified: users"
        );
        assert_eq!(
            refused(&[Users, Ips], &[named("a"), named("b")], true),
            "Only 'users' and 'clients' entity types may be specified together"
        );
        assert_eq!(
            refused(&[], &[], false),
            "At least one entity type must be specified"
        );
    }

    #[test]
    fn quota_alters_are_one_entry_of_sets_then_removals() {
        let plan = alter(
            &[Clients],
            &[named("c")],
            Some("producer_byte_rate=1024,consumer_byte_rate=2048"),
            &["request_percentage"],
        )
        .unwrap();
        assert_eq!(
            plan,
            AlterPlan {
                entity: vec![(Clients, exact("c"))],
                quota_ops: vec![
                    set("producer_byte_rate", 1024.0),
                    set("consumer_byte_rate", 2048.0),
                    remove("request_percentage"),
                ],
                upsertions: vec![],
                scram_deletions: vec![],
            }
        );
        assert_eq!(
            plan.completed(),
            "Completed updating config for client c.\n"
        );
        assert_eq!(plan.scram_user(), None);
        let request = alter_quotas_request(&plan);
        assert!(!request.validate_only);
        let [entry] = &request.entries[..] else {
            panic!("{request:?}")
        };
        assert_eq!(
            entry
                .entity
                .iter()
                .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref()))
                .collect::<Vec<_>>(),
            [("client-id", Some("c"))]
        );
        assert_eq!(
            entry
                .ops
                .iter()
                .map(|op| (op.key.as_str(), op.value, op.remove))
                .collect::<Vec<_>>(),
            [
                ("producer_byte_rate", 1024.0, false),
                ("consumer_byte_rate", 2048.0, false),
                ("request_percentage", 0.0, true),
            ]
        );

        // A user's client: the first type decides the line.
        let plan = alter(
            &[Users, Clients],
            &[named("u"), named("c")],
            Some("request_percentage=12.5"),
            &[],
        )
        .unwrap();
        assert_eq!(plan.entity, [(Users, exact("u")), (Clients, exact("c"))]);
        assert_eq!(plan.completed(), "Completed updating config for user u.\n");
        let entity = &alter_quotas_request(&plan).entries[0].entity;
        assert_eq!(
            entity
                .iter()
                .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref()))
                .collect::<Vec<_>>(),
            [("user", Some("u")), ("client-id", Some("c"))]
        );
        let plan = alter(
            &[Clients, Users],
            &[named("c"), EntityName::Default],
            None,
            &["consumer_byte_rate"],
        )
        .unwrap();
        assert_eq!(
            plan.completed(),
            "Completed updating config for client c.\n"
        );
        assert_eq!(
            alter_quotas_request(&plan).entries[0].entity[1].entity_name,
            None
        );

        // Defaults and IPs.
        let completed = |types: &[EntityType], names: &[EntityName], add: &str| {
            alter(types, names, Some(add), &[]).unwrap().completed()
        };
        assert_eq!(
            completed(&[Users], &[EntityName::Default], "consumer_byte_rate=1"),
            "Completed updating default config for users in the cluster.\n"
        );
        assert_eq!(
            completed(
                &[Users, Clients],
                &[EntityName::Default, named("c")],
                "consumer_byte_rate=1"
            ),
            "Completed updating default config for users in the cluster.\n"
        );
        assert_eq!(
            completed(&[Ips], &[named("1.2.3.4")], "connection_creation_rate=10"),
            "Completed updating config for ip 1.2.3.4.\n"
        );
        assert_eq!(
            completed(
                &[Ips],
                &[EntityName::Default],
                "connection_creation_rate=10"
            ),
            "Completed updating default config for ips in the cluster.\n"
        );
    }

    #[test]
    fn quota_keys_and_values_are_checked_as_configcommand_checks_them() {
        let refused = |types: &[EntityType], add: Option<&str>, delete: &[&str]| {
            let names: Vec<EntityName> = types.iter().map(|_| named("x")).collect();
            alter(types, &names, add, delete).unwrap_err()
        };
        assert_eq!(
            refused(&[Clients], Some("producer_byte_rate=fast"), &[]),
            "Cannot parse quota configuration value for producer_byte_rate: fast"
        );
        assert_eq!(
            refused(&[Users], Some("consumer_byte_rate=1e3x"), &[]),
            "Cannot parse quota configuration value for consumer_byte_rate: 1e3x"
        );
        assert_eq!(
            refused(&[Clients], Some("foo=1,SCRAM-SHA-256=[password=x]"), &[]),
            "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: foo,SCRAM-SHA-256"
        );
        assert_eq!(
            refused(&[Users, Clients], None, &["SCRAM-SHA-256"]),
            "Only quota configs can be deleted for 'clients' using --bootstrap-server. Unexpected config names: SCRAM-SHA-256"
        );
        assert_eq!(
            refused(&[Ips], Some("foo=1,producer_byte_rate=5"), &[]),
            "Only connection quota configs can be added for 'ips' using --bootstrap-server. Unexpected config names: foo, producer_byte_rate"
        );
        assert_eq!(
            refused(&[Ips], None, &["connection_creation_rate", "foo"]),
            "Only connection quota configs can be added for 'ips' using --bootstrap-server. Unexpected config names: foo"
        );
        assert_eq!(
            refused(&[Clients], Some("connection_creation_rate=5"), &[]),
            "Only quota configs can be added for 'clients' using --bootstrap-server. Unexpected config names: connection_creation_rate"
        );
        assert_eq!(
            refused(&[Users], Some("retention.ms=5"), &[]),
            "Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: retention.ms"
        );
        assert_eq!(
            refused(&[Users], None, &[]),
            "At least one of --add-config or --delete-config must be specified with --alter"
        );
        assert_eq!(
            alter(
                &[Users],
                &[EntityName::Default],
                Some("SCRAM-SHA-256=[password=x]"),
                &[]
            )
            .unwrap_err(),
            "The use of --entity-default or --user-defaults is not allowed with User SCRAM Credentials using --bootstrap-server."
        );
        // Java's Double.parseDouble reads these.
        let plan = alter(
            &[Ips],
            &[named("::1")],
            Some("connection_creation_rate= 2d "),
            &[],
        )
        .unwrap();
        assert_eq!(plan.quota_ops, [set("connection_creation_rate", 2.0)]);
    }

    #[test]
    fn a_users_quotas_and_credentials_alter_in_separate_commands() {
        // As Kafka 4.4's tool: one request kind per command.
        let mixed = alter(
            &[Users],
            &[named("alice")],
            Some("SCRAM-SHA-256=[password=p=q,r],producer_byte_rate=1024"),
            &[],
        );
        assert!(mixed.is_err_and(|e| e.contains("Cannot alter both quota and SCRAM")));
        let plan = alter(
            &[Users],
            &[named("alice")],
            Some("producer_byte_rate=1024"),
            &["consumer_byte_rate"],
        )
        .unwrap();
        assert_eq!(
            plan.quota_ops,
            [
                set("producer_byte_rate", 1024.0),
                remove("consumer_byte_rate")
            ]
        );
        let plan = alter(
            &[Users],
            &[named("alice")],
            Some("SCRAM-SHA-256=[password=p=q,r]"),
            &["SCRAM-SHA-512"],
        )
        .unwrap();
        assert_eq!(
            plan.upsertions,
            [Upsertion {
                mechanism: ScramMechanism::Sha256,
                iterations: 4096,
                password: "p=q,r".to_string(),
            }]
        );
        assert_eq!(plan.scram_deletions, [ScramMechanism::Sha512]);
        assert_eq!(plan.scram_user(), Some("alice"));
        let request = scram_request("alice", &plan).unwrap();
        assert_eq!(request.upsertions.len(), 1);
        assert_eq!(request.deletions[0].mechanism, 2);
        assert_eq!(
            plan.completed(),
            "Completed updating config for user alice.\n"
        );
    }

    #[test]
    fn credentials_default_to_4096_iterations_and_refuse_fewer() {
        let refused = |text: &str| alter(&[Users], &[named("u")], Some(text), &[]).unwrap_err();
        assert_eq!(
            refused("SCRAM-SHA-512=[iterations=1000,password=x]"),
            "Iterations 1000 is less than the minimum 4096 required for SCRAM-SHA-512"
        );
        let invalid = refused("SCRAM-SHA-256=[iterations=many,password=hunter2]");
        assert!(
            invalid.starts_with("Invalid credential property SCRAM-SHA-256="),
            "{invalid}"
        );
        assert!(!invalid.contains("hunter2"));
        assert!(alter(&[Users], &[named("u")], None, &["SCRAM-SHA-1"]).is_err());
        let plan = alter(
            &[Users],
            &[named("u")],
            Some("SCRAM-SHA-512=[iterations=8192,password=x]"),
            &[],
        )
        .unwrap();
        assert_eq!(plan.upsertions[0].iterations, 8192);
        assert!(plan.quota_ops.is_empty());
    }

    #[test]
    fn describe_filters_exact_default_or_any_name_strictly() {
        let plan = plan_describe(&[Users, Clients], &[named("u"), EntityName::Default]).unwrap();
        assert_eq!(plan.scram, ScramDescribe::None);
        let request = describe_quotas_request(&plan.components);
        assert!(request.strict);
        assert_eq!(
            request
                .components
                .iter()
                .map(|c| (c.entity_type.as_str(), c.match_type, c._match.as_deref()))
                .collect::<Vec<_>>(),
            [("user", 0, Some("u")), ("client-id", 1, None)]
        );
        let plan = plan_describe(&[Clients], &[]).unwrap();
        let request = describe_quotas_request(&plan.components);
        assert_eq!(
            (
                request.components[0].entity_type.as_str(),
                request.components[0].match_type,
                request.components[0]._match.as_deref()
            ),
            ("client-id", 2, None)
        );
        // Users alone: their credentials too, unless the default.
        let scram = |names: &[EntityName]| plan_describe(&[Users], names).unwrap().scram;
        assert_eq!(scram(&[named("u")]), ScramDescribe::User("u".to_string()));
        assert_eq!(scram(&[]), ScramDescribe::Every);
        assert_eq!(scram(&[EntityName::Default]), ScramDescribe::None);
        assert_eq!(
            plan_describe(&[Ips], &[]).unwrap().scram,
            ScramDescribe::None
        );
    }

    #[test]
    fn quota_lines_read_as_configcommand_prints_them() {
        assert_eq!(
            quota_line(
                &[("client-id", Some("X"))],
                &[("producer_byte_rate", 1024.0)]
            ),
            "Quota configs for client-id 'X' are producer_byte_rate=1024.0\n"
        );
        // Parts in the order user, client-id, ip, whatever the broker's.
        assert_eq!(
            quota_line(
                &[("client-id", Some("c")), ("user", Some("u"))],
                &[("producer_byte_rate", 1024.0), ("request_percentage", 12.5)]
            ),
            "Quota configs for user-principal 'u', client-id 'c' are producer_byte_rate=1024.0, request_percentage=12.5\n"
        );
        assert_eq!(
            quota_line(
                &[("user", None), ("client-id", None)],
                &[("consumer_byte_rate", 1.048576e7)]
            ),
            "Quota configs for the default user-principal, the default client-id are consumer_byte_rate=1.048576E7\n"
        );
        assert_eq!(
            quota_line(
                &[("ip", Some("1.2.3.4"))],
                &[("connection_creation_rate", 10.0)]
            ),
            "Quota configs for ip '1.2.3.4' are connection_creation_rate=10.0\n"
        );
        assert_eq!(
            quota_line(&[("ip", None)], &[("connection_creation_rate", 10.0)]),
            "Quota configs for the default ip are connection_creation_rate=10.0\n"
        );
    }

    #[test]
    fn doubles_print_as_java_s_double_to_string() {
        let cases = [
            (1024.0, "1024.0"),
            (12.5, "12.5"),
            (12.34, "12.34"),
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-3.0, "-3.0"),
            (0.001, "0.001"),
            (0.0005, "5.0E-4"),
            (1.5e-5, "1.5E-5"),
            (9_999_999.0, "9999999.0"),
            (1e7, "1.0E7"),
            (1.048576e7, "1.048576E7"),
            (-2.5e10, "-2.5E10"),
            (9.223372036854776e18, "9.223372036854776E18"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (value, text) in cases {
            assert_eq!(java_double(value), text, "{value:?}");
        }
    }

    #[test]
    fn quota_values_parse_as_java_s_parse_double() {
        for (text, value) in [
            ("1024", 1024.0),
            (" 12.5 ", 12.5),
            ("1e3", 1000.0),
            ("1.5E-3", 0.0015),
            ("+7", 7.0),
            ("2d", 2.0),
            ("2.5F", 2.5),
            (".5", 0.5),
            ("5.", 5.0),
            ("Infinity", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(parse_java_double(text), Some(value), "{text}");
        }
        assert!(parse_java_double("NaN").unwrap().is_nan());
        for text in [
            "", "fast", "inf", "infinity", "nan", "1e", ".", "1,5", "0x10", "d", "NaNd",
        ] {
            assert_eq!(parse_java_double(text), None, "{text}");
        }
    }

    #[test]
    fn the_salted_password_is_pbkdf2_of_the_password_with_a_fresh_salt() {
        let upsertion = Upsertion {
            mechanism: ScramMechanism::Sha256,
            iterations: 4096,
            password: "pencil".to_string(),
        };
        let first = salted("user", &upsertion).unwrap();
        let second = salted("user", &upsertion).unwrap();
        assert_eq!(first.salt.len(), SALT_BYTES);
        assert_ne!(first.salt, second.salt);
        assert_eq!(
            first.salted_password.as_ref(),
            ScramMechanism::Sha256
                .salted_password(b"pencil", &first.salt, 4096)
                .as_slice()
        );
        assert_eq!((first.mechanism, first.iterations), (1, 4096));
    }
}
