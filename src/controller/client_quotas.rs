//! Client quotas (Kafka's `ClientQuotaControlManager`, KIP-546): each
//! entity of an AlterClientQuotas validated whole, then every accepted
//! change written in one record, so that every broker meters clients
//! against the same quotas, across restarts.

use std::net::{IpAddr, ToSocketAddrs};

use tracing::info;

use super::quorum::MetadataRecord;
use super::{Controller, ControllerError};
use crate::metadata::client_quotas::{
    ClientQuotas, Integral, QuotaEntity, QuotaKey, QuotaValue, CLIENT_ID, IP, USER,
};

/// One entity's requested changes, as AlterClientQuotas carries them.
pub struct QuotaAlteration {
    /// (entity type, name; `None` for the default entity).
    pub entity: Vec<(String, Option<String>)>,
    pub ops: Vec<QuotaOp>,
}

pub struct QuotaOp {
    pub key: String,
    pub value: f64,
    pub remove: bool,
}

/// Each distinct entity of the request (in the order first named) with
/// its refusal, an INVALID_REQUEST message, or `None` if accepted.
pub type QuotaOutcome = (Vec<(String, Option<String>)>, Option<String>);

impl Controller {
    /// Validates each entity's changes whole; writes the accepted ones in
    /// one record unless `validate_only`.
    pub fn alter_client_quotas(
        &self,
        alterations: Vec<QuotaAlteration>,
        validate_only: bool,
    ) -> Result<Vec<QuotaOutcome>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut quotas: ClientQuotas = (*self.image().client_quotas).clone();
        let mut outcomes: Vec<QuotaOutcome> = Vec::new();
        let mut changes = Vec::new();
        for alteration in alterations {
            let outcome = match entity_of(&alteration.entity) {
                Err(message) => Some(message),
                Ok(entity) => match changes_of(&entity, &alteration.ops, &quotas) {
                    Err(message) => Some(message),
                    Ok(accepted) => {
                        for (key, value) in accepted {
                            quotas.apply(&entity, &key, value);
                            changes.push((entity.clone(), key, value));
                        }
                        None
                    }
                },
            };
            // An entity named twice: the later answer is the one given, as
            // in Kafka (whose results are a map by entity).
            let named = normalized(&alteration.entity);
            match outcomes.iter_mut().find(|(e, _)| normalized(e) == named) {
                Some(existing) => existing.1 = outcome,
                None => outcomes.push((alteration.entity, outcome)),
            }
        }
        if !changes.is_empty() && !validate_only {
            let count = changes.len();
            self.commit(vec![MetadataRecord::AlterClientQuotas(changes)])?;
            info!(changes = count, "altered client quotas");
        }
        Ok(outcomes)
    }
}

fn normalized(entity: &[(String, Option<String>)]) -> Vec<(String, Option<String>)> {
    let mut parts = entity.to_vec();
    parts.sort();
    parts.dedup_by(|a, b| a.0 == b.0);
    parts
}

/// The entity a request names, or Kafka's refusal of it. A type named
/// twice takes its last name, as Kafka's map of the entity does.
fn entity_of(parts: &[(String, Option<String>)]) -> Result<QuotaEntity, String> {
    if parts.is_empty() {
        return Err("Invalid empty client quota entity".to_string());
    }
    let mut entity = QuotaEntity::default();
    for (kind, name) in parts {
        if name.as_deref() == Some("") {
            return Err(format!("Empty {kind} not supported"));
        }
        let slot = match kind.as_str() {
            USER => &mut entity.user,
            CLIENT_ID => &mut entity.client_id,
            IP => &mut entity.ip,
            other => return Err(format!("Unhandled client quota entity type: {other}")),
        };
        *slot = Some(name.clone());
    }
    if entity.ip.is_some() && (entity.user.is_some() || entity.client_id.is_some()) {
        // Kafka's words, its missing space included.
        return Err(
            "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId"
                .to_string(),
        );
    }
    if let Some(Some(ip)) = &entity.ip {
        // An address, or a host name that resolves (Kafka's
        // `InetAddress.getByName`); brokers resolve it again to meter.
        let resolves = || {
            (ip.as_str(), 0)
                .to_socket_addrs()
                .is_ok_and(|mut a| a.next().is_some())
        };
        if ip.parse::<IpAddr>().is_err() && !resolves() {
            return Err(format!("{ip} is not a valid IP or resolvable host."));
        }
    }
    Ok(entity)
}

/// The changes an entity's ops make — a key set to a new value, or
/// removed — or the first op's refusal, which refuses them all.
fn changes_of(
    entity: &QuotaEntity,
    ops: &[QuotaOp],
    quotas: &ClientQuotas,
) -> Result<Vec<(String, Option<QuotaValue>)>, String> {
    let mut keys: Vec<&str> = ops.iter().map(|op| op.key.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|pair| pair[0] == pair[1]) {
        // What Kafka ends up answering for a repeated key.
        return Err(format!("Ignoring duplicate entity {}", describe(entity)));
    }
    let current = quotas.get(entity);
    let mut changes = Vec::new();
    for op in ops {
        if op.remove {
            // Removing what is not there succeeds and writes nothing.
            if current.is_some_and(|values| values.contains_key(&op.key)) {
                changes.push((op.key.clone(), None));
            }
            continue;
        }
        let value = validate(entity, &op.key, op.value)?;
        if current.and_then(|values| values.get(&op.key)) != Some(&value) {
            changes.push((op.key.clone(), Some(value)));
        }
    }
    Ok(changes)
}

/// Kafka's `validateQuotaKeyValue`, its checks in its order.
fn validate(entity: &QuotaEntity, key: &str, value: f64) -> Result<QuotaValue, String> {
    let invalid_key = || format!("Invalid configuration key {key}");
    let quota = QuotaKey::from_name(key).ok_or_else(invalid_key)?;
    if quota.for_ip() != entity.ip.is_some() {
        return Err(invalid_key());
    }
    if value.is_nan() || value <= 0.0 {
        return Err(format!("Quota {key} must be greater than 0"));
    }
    match quota.integral() {
        None => {}
        Some(Integral::Long) if value > i64::MAX as f64 => {
            return Err(format!("Proposed value for {key} is too large for a LONG."))
        }
        Some(Integral::Int) if value > f64::from(i32::MAX) => {
            return Err(format!("Proposed value for {key} is too large for an INT."))
        }
        Some(_) if (value % 1.0).abs() > 1e-6 => {
            return Err(format!("{key} cannot be a fractional value."))
        }
        Some(_) => {}
    }
    if value.is_infinite() {
        return Err(format!("Quota {key} must be finite"));
    }
    Ok(QuotaValue(value))
}

/// An entity as Kafka prints it in messages.
fn describe(entity: &QuotaEntity) -> String {
    let parts: Vec<String> = entity
        .parts()
        .into_iter()
        .map(|(kind, name)| format!("{kind}={}", name.unwrap_or("null")))
        .collect();
    format!("ClientQuotaEntity(entries={{{}}})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(kind: &str, name: Option<&str>) -> (String, Option<String>) {
        (kind.to_string(), name.map(str::to_string))
    }

    #[test]
    fn entities_are_refused_with_kafkas_messages() {
        assert_eq!(
            entity_of(&[]),
            Err("Invalid empty client quota entity".into())
        );
        assert_eq!(
            entity_of(&[part("group", Some("g"))]),
            Err("Unhandled client quota entity type: group".into())
        );
        assert_eq!(
            entity_of(&[part(USER, Some(""))]),
            Err("Empty user not supported".into())
        );
        assert!(entity_of(&[part(IP, None), part(USER, Some("u"))])
            .is_err_and(|m| m.contains("shouldnot be combined")));
        assert_eq!(
            entity_of(&[part(IP, Some("not-an-ip.invalid"))]),
            Err("not-an-ip.invalid is not a valid IP or resolvable host.".into())
        );
        assert!(entity_of(&[part(IP, Some("localhost"))]).is_ok());
        assert_eq!(
            entity_of(&[part(USER, Some("u")), part(CLIENT_ID, None)]),
            Ok(QuotaEntity::user_and_client(Some("u"), None))
        );
    }

    #[test]
    fn values_are_checked_per_key_and_entity() {
        let client = QuotaEntity::client(Some("c"));
        let ip = QuotaEntity::ip(None);
        assert_eq!(
            validate(&client, "producer_byte_rate", 1024.0),
            Ok(QuotaValue(1024.0))
        );
        assert_eq!(
            validate(&client, "request_percentage", 12.5),
            Ok(QuotaValue(12.5))
        );
        assert_eq!(
            validate(&client, "producer_byte_rate", 10.5),
            Err("producer_byte_rate cannot be a fractional value.".into())
        );
        assert_eq!(
            validate(&client, "consumer_byte_rate", 0.0),
            Err("Quota consumer_byte_rate must be greater than 0".into())
        );
        assert_eq!(
            validate(&client, "connection_creation_rate", 5.0),
            Err("Invalid configuration key connection_creation_rate".into())
        );
        assert_eq!(
            validate(&ip, "connection_creation_rate", 3e9),
            Err("Proposed value for connection_creation_rate is too large for an INT.".into())
        );
        assert_eq!(
            validate(&ip, "producer_byte_rate", 5.0),
            Err("Invalid configuration key producer_byte_rate".into())
        );
    }

    #[test]
    fn an_entitys_ops_apply_whole_and_unchanged_values_write_nothing() {
        let entity = QuotaEntity::user(Some("u"));
        let mut quotas = ClientQuotas::default();
        quotas.apply(&entity, "producer_byte_rate", Some(QuotaValue(100.0)));
        let op = |key: &str, value, remove| QuotaOp {
            key: key.to_string(),
            value,
            remove,
        };
        let changes = changes_of(
            &entity,
            &[
                op("producer_byte_rate", 100.0, false),
                op("consumer_byte_rate", 0.0, true),
                op("request_percentage", 50.0, false),
            ],
            &quotas,
        );
        assert_eq!(
            changes,
            Ok(vec![(
                "request_percentage".to_string(),
                Some(QuotaValue(50.0))
            )])
        );
        assert!(changes_of(
            &entity,
            &[
                op("request_percentage", 50.0, false),
                op("bogus", 1.0, false)
            ],
            &quotas
        )
        .is_err());
        assert!(changes_of(
            &entity,
            &[
                op("request_percentage", 1.0, false),
                op("request_percentage", 2.0, false)
            ],
            &quotas
        )
        .is_err_and(|m| m.starts_with("Ignoring duplicate entity")));
    }
}
