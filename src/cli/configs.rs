//! `gregor configs`: `kafka-configs.sh` (Kafka's `ConfigCommand`) for the
//! `users` entity type — SCRAM credentials, altered with one
//! AlterUserScramCredentials request and described with
//! DescribeUserScramCredentials. The password never leaves this process:
//! as Kafka's admin client does, the command salts and hashes it
//! (PBKDF2 with a fresh random salt) and sends only the salted password.
//! Topic configs are `gregor topics --alter --add-config`.

use std::fmt::Write as _;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
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
/// Kafka's user quota configs, which `ConfigCommand` alters with
/// AlterClientQuotas: gregor has no client quotas yet.
const QUOTA_CONFIGS: &[&str] = &[
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];

/// What the command does to the user(s).
#[derive(Debug, Clone)]
pub enum Action {
    /// `--alter --entity-name <user>`: `--add-config` (as one string,
    /// `SCRAM-SHA-256=[iterations=8192,password=…],…`) and `--delete-config`
    /// (mechanism names).
    Alter {
        user: String,
        add_config: Option<String>,
        delete_configs: Vec<String>,
    },
    /// `--describe [--entity-name <user>]`: every user without a name.
    Describe { user: Option<String> },
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

fn usage(message: impl Into<String>) -> CommandError {
    CommandError::Usage(message.into())
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
/// then dropped from the value.
fn parse_add_config(text: &str) -> Result<Vec<(String, String)>, CommandError> {
    split_outside_brackets(text, ',')
        .into_iter()
        .map(|pair| match split_outside_brackets(pair, '=').as_slice() {
            [key, value] => Ok((
                key.trim().to_string(),
                value.replace(['[', ']'], "").trim().to_string(),
            )),
            _ => Err(usage(
                "Invalid entity config: all configs to be added must be in the format \"key=val\" or \"key=[val1,val2]\" to group values which contain commas.",
            )),
        })
        .collect()
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

/// The credentials to set and the mechanisms to delete, checked as
/// ConfigCommand checks them for users.
fn plan_alter(
    add_config: Option<&str>,
    delete_configs: &[String],
) -> Result<(Vec<Upsertion>, Vec<ScramMechanism>), CommandError> {
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
    let quota = |name: &str| QUOTA_CONFIGS.contains(&name);
    let unknown = |names: &mut dyn Iterator<Item = &str>| {
        names
            .filter(|name| ScramMechanism::from_name(name).is_none() && !quota(name))
            .collect::<Vec<_>>()
            .join(",")
    };
    let unknown_added = unknown(&mut added.iter().map(|(key, _)| key.as_str()));
    if !unknown_added.is_empty() {
        return Err(usage(format!("Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: {unknown_added}")));
    }
    let unknown_deleted = unknown(&mut deleted.iter().copied());
    if !unknown_deleted.is_empty() {
        return Err(usage(format!("Only quota and SCRAM credential configs can be deleted for 'users' using --bootstrap-server. Unexpected config names: {unknown_deleted}")));
    }
    let quotas: Vec<&str> = added
        .iter()
        .map(|(key, _)| key.as_str())
        .chain(deleted.iter().copied())
        .filter(|name| quota(name))
        .collect();
    if !quotas.is_empty() {
        return Err(usage(format!(
            "gregor has no client quotas: cannot alter {}",
            quotas.join(",")
        )));
    }
    let mut upsertions = Vec::new();
    for (key, value) in &added {
        if let Some(mechanism) = ScramMechanism::from_name(key) {
            upsertions.push(parse_credential(mechanism, value)?);
        }
    }
    let deletions = deleted
        .iter()
        .filter_map(|name| ScramMechanism::from_name(name))
        .collect();
    if upsertions.is_empty() && deleted.is_empty() {
        return Err(usage("--alter needs --add-config or --delete-config"));
    }
    Ok((upsertions, deletions))
}

fn str_bytes(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

/// Runs the command against `bootstrap`, connecting with `security`, and
/// returns what it prints.
pub async fn run(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    action: Action,
) -> Result<String, CommandError> {
    match action {
        Action::Alter {
            user,
            add_config,
            delete_configs,
        } => {
            if user.is_empty() {
                return Err(usage("An entity name must be specified with --alter"));
            }
            let (upsertions, deletions) = plan_alter(add_config.as_deref(), &delete_configs)?;
            let upsertions = upsertions
                .iter()
                .map(|upsertion| salted(&user, upsertion))
                .collect::<Result<Vec<_>, _>>()?;
            let request = AlterUserScramCredentialsRequest::default()
                .with_deletions(
                    deletions
                        .into_iter()
                        .map(|mechanism| {
                            ScramCredentialDeletion::default()
                                .with_name(str_bytes(&user))
                                .with_mechanism(mechanism.code())
                        })
                        .collect(),
                )
                .with_upsertions(upsertions);
            let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
            let response = connection.request(request, 0).await?;
            for result in &response.results {
                broker_error(
                    result.error_code,
                    result.error_message.as_ref(),
                    "AlterUserScramCredentials",
                )?;
            }
            Ok(format!("Completed updating config for user {user}.\n"))
        }
        Action::Describe { user } => {
            let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
            describe(&mut connection, user.as_deref()).await
        }
    }
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
async fn describe(connection: &mut Connection, user: Option<&str>) -> Result<String, CommandError> {
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
    }

    #[test]
    fn credentials_default_to_4096_iterations_and_refuse_fewer() {
        let (upsertions, deletions) = plan_alter(
            Some("SCRAM-SHA-256=[password=p=q,r]"),
            &["SCRAM-SHA-512".to_string()],
        )
        .unwrap();
        assert_eq!(
            upsertions,
            [Upsertion {
                mechanism: ScramMechanism::Sha256,
                iterations: 4096,
                password: "p=q,r".to_string(),
            }]
        );
        assert_eq!(deletions, [ScramMechanism::Sha512]);
        let refused = |text: &str| plan_alter(Some(text), &[]).unwrap_err().to_string();
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
        assert!(refused("retention.ms=5").starts_with(
            "Only quota and SCRAM credential configs can be added for 'users' using --bootstrap-server. Unexpected config names: retention.ms"
        ));
        assert!(refused("producer_byte_rate=1024").contains("no client quotas"));
        assert!(plan_alter(None, &["SCRAM-SHA-1".to_string()]).is_err());
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
