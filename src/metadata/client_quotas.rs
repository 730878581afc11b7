//! Client quotas as the metadata holds them (KIP-546; Kafka's
//! `ClientQuotasImage`): quota values by entity — a user, a client id, a
//! user and client id together, or an IP address, each possibly the
//! default one — and the two questions asked of them: which entities a
//! DescribeClientQuotas filter matches, and which value applies to a
//! client (the precedence Kafka documents).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The quota keys Kafka accepts (`QuotaConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaKey {
    ProducerByteRate,
    ConsumerByteRate,
    RequestPercentage,
    ControllerMutationRate,
    ConnectionCreationRate,
}

/// The largest value an integral key may take: Kafka's LONG and INT.
pub enum Integral {
    Long,
    Int,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 5] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
        QuotaKey::ControllerMutationRate,
        QuotaKey::ConnectionCreationRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
            QuotaKey::ControllerMutationRate => "controller_mutation_rate",
            QuotaKey::ConnectionCreationRate => "connection_creation_rate",
        }
    }

    pub fn from_name(name: &str) -> Option<QuotaKey> {
        QuotaKey::ALL.into_iter().find(|key| key.name() == name)
    }

    /// Whether the key is set on IP entities (else on users and client ids).
    pub fn for_ip(self) -> bool {
        self == QuotaKey::ConnectionCreationRate
    }

    /// Integral keys refuse fractions; `None` for doubles.
    pub fn integral(self) -> Option<Integral> {
        match self {
            QuotaKey::ProducerByteRate | QuotaKey::ConsumerByteRate => Some(Integral::Long),
            QuotaKey::ConnectionCreationRate => Some(Integral::Int),
            QuotaKey::RequestPercentage | QuotaKey::ControllerMutationRate => None,
        }
    }
}

/// One part of an entity: absent, the default (`Some(None)`), or named.
pub type EntityName = Option<Option<String>>;

/// A quota entity. Valid ones are a user, a client id, both, or an IP.
/// Stored as its (type, name) parts: a serialized `Some(None)` (a default
/// part) would read back as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(
    from = "Vec<(String, Option<String>)>",
    into = "Vec<(String, Option<String>)>"
)]
pub struct QuotaEntity {
    pub user: EntityName,
    pub client_id: EntityName,
    pub ip: EntityName,
}

impl From<Vec<(String, Option<String>)>> for QuotaEntity {
    fn from(parts: Vec<(String, Option<String>)>) -> Self {
        let mut entity = QuotaEntity::default();
        for (kind, name) in parts {
            match kind.as_str() {
                USER => entity.user = Some(name),
                CLIENT_ID => entity.client_id = Some(name),
                IP => entity.ip = Some(name),
                _ => {}
            }
        }
        entity
    }
}

impl From<QuotaEntity> for Vec<(String, Option<String>)> {
    fn from(entity: QuotaEntity) -> Self {
        entity
            .parts()
            .into_iter()
            .map(|(kind, name)| (kind.to_string(), name.map(str::to_string)))
            .collect()
    }
}

/// The entity types, as the protocol names them.
pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

impl QuotaEntity {
    pub fn user_and_client(user: Option<&str>, client_id: Option<&str>) -> QuotaEntity {
        QuotaEntity {
            user: Some(user.map(str::to_string)),
            client_id: Some(client_id.map(str::to_string)),
            ip: None,
        }
    }

    pub fn user(user: Option<&str>) -> QuotaEntity {
        QuotaEntity {
            user: Some(user.map(str::to_string)),
            ..QuotaEntity::default()
        }
    }

    pub fn client(client_id: Option<&str>) -> QuotaEntity {
        QuotaEntity {
            client_id: Some(client_id.map(str::to_string)),
            ..QuotaEntity::default()
        }
    }

    pub fn ip(ip: Option<&str>) -> QuotaEntity {
        QuotaEntity {
            ip: Some(ip.map(str::to_string)),
            ..QuotaEntity::default()
        }
    }

    /// The parts present, as (type, name) in the protocol's terms.
    pub fn parts(&self) -> Vec<(&'static str, Option<&str>)> {
        [
            (USER, &self.user),
            (CLIENT_ID, &self.client_id),
            (IP, &self.ip),
        ]
        .into_iter()
        .filter_map(|(kind, name)| name.as_ref().map(|name| (kind, name.as_deref())))
        .collect()
    }

    fn part(&self, kind: &str) -> Option<&Option<String>> {
        match kind {
            USER => self.user.as_ref(),
            CLIENT_ID => self.client_id.as_ref(),
            IP => self.ip.as_ref(),
            _ => None,
        }
    }
}

/// A quota value: a double on the wire and in Kafka's records. Compared by
/// its bits so that images stay `Eq` (values are never NaN: the controller
/// accepts only values above 0).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaValue(pub f64);

impl PartialEq for QuotaValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for QuotaValue {}

/// One entity's quotas by key.
pub type QuotaValues = BTreeMap<String, QuotaValue>;

/// Every entity's quotas by key. Serialized as a list (an entity is no
/// JSON map key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<(QuotaEntity, BTreeMap<String, QuotaValue>)>")]
#[serde(into = "Vec<(QuotaEntity, BTreeMap<String, QuotaValue>)>")]
pub struct ClientQuotas(BTreeMap<QuotaEntity, BTreeMap<String, QuotaValue>>);

impl From<Vec<(QuotaEntity, BTreeMap<String, QuotaValue>)>> for ClientQuotas {
    fn from(entries: Vec<(QuotaEntity, BTreeMap<String, QuotaValue>)>) -> Self {
        ClientQuotas(entries.into_iter().collect())
    }
}

impl From<ClientQuotas> for Vec<(QuotaEntity, BTreeMap<String, QuotaValue>)> {
    fn from(quotas: ClientQuotas) -> Self {
        quotas.0.into_iter().collect()
    }
}

/// Why a DescribeClientQuotas filter is refused.
#[derive(Debug, Error, PartialEq)]
pub enum FilterError {
    /// INVALID_REQUEST.
    #[error("{0}")]
    Invalid(String),
    /// UNSUPPORTED_VERSION, as Kafka answers an unknown entity type.
    #[error("Unsupported entity type {0}")]
    UnsupportedEntityType(String),
}

/// One component of a DescribeClientQuotas filter.
pub struct FilterComponent {
    pub entity_type: String,
    pub match_type: i8,
    pub name: Option<String>,
}

const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;
const MATCH_SPECIFIED: i8 = 2;

/// The value that applies to a client for one key, and the identity its
/// usage is metered under: Kafka's metric tags (user, client id), where a
/// level that does not name a part meters it as "" — so that a default
/// quota is each client's own allowance, not a pool they share.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub bound: f64,
    pub user_tag: String,
    pub client_tag: String,
}

impl ClientQuotas {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, entity: &QuotaEntity) -> Option<&BTreeMap<String, QuotaValue>> {
        self.0.get(entity)
    }

    /// Whether any entity sets `key`: a quota type nobody has is not metered.
    pub fn has_key(&self, key: QuotaKey) -> bool {
        self.0
            .values()
            .any(|values| values.contains_key(key.name()))
    }

    /// Sets (`Some`) or removes (`None`) one key of an entity; an entity
    /// left without keys goes.
    pub fn apply(&mut self, entity: &QuotaEntity, key: &str, value: Option<QuotaValue>) {
        match value {
            Some(value) => {
                self.0
                    .entry(entity.clone())
                    .or_default()
                    .insert(key.to_string(), value);
            }
            None => {
                if let Some(values) = self.0.get_mut(entity) {
                    values.remove(key);
                    if values.is_empty() {
                        self.0.remove(entity);
                    }
                }
            }
        }
    }

    /// The entities a filter matches with their quotas, as Kafka's
    /// `ClientQuotasImage.describe`: each component checked in order, then
    /// their combination; `strict` asks for entities of exactly those parts.
    pub fn describe(
        &self,
        components: &[FilterComponent],
        strict: bool,
    ) -> Result<Vec<(&QuotaEntity, &QuotaValues)>, FilterError> {
        let mut seen: Vec<&str> = Vec::new();
        for component in components {
            let kind = component.entity_type.as_str();
            if kind.is_empty() {
                return Err(FilterError::Invalid("Invalid empty entity type.".into()));
            }
            if seen.contains(&kind) {
                return Err(FilterError::Invalid(format!(
                    "Entity type {kind} cannot appear more than once in the filter."
                )));
            }
            if ![USER, CLIENT_ID, IP].contains(&kind) {
                return Err(FilterError::UnsupportedEntityType(kind.to_string()));
            }
            match (component.match_type, &component.name) {
                (MATCH_EXACT, None) => {
                    return Err(FilterError::Invalid(
                        "Request specified MATCH_TYPE_EXACT, but set match string to null.".into(),
                    ))
                }
                (MATCH_DEFAULT, Some(_)) => {
                    return Err(FilterError::Invalid(
                        "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."
                            .into(),
                    ))
                }
                (MATCH_SPECIFIED, Some(_)) => return Err(FilterError::Invalid(
                    "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."
                        .into(),
                )),
                (MATCH_EXACT | MATCH_DEFAULT | MATCH_SPECIFIED, _) => {}
                (other, _) => {
                    return Err(FilterError::Invalid(format!("Unknown match type {other}")))
                }
            }
            seen.push(kind);
        }
        if seen.contains(&IP) && (seen.contains(&USER) || seen.contains(&CLIENT_ID)) {
            return Err(FilterError::Invalid(
                "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."
                    .into(),
            ));
        }
        let matches = |entity: &QuotaEntity| {
            if strict && entity.parts().len() != components.len() {
                return false;
            }
            components.iter().all(|component| {
                match entity.part(&component.entity_type) {
                    None => false,
                    // MATCH_TYPE_SPECIFIED asks only that the part is there:
                    // a default entity matches too, as in Kafka.
                    Some(_) if component.match_type == MATCH_SPECIFIED => true,
                    Some(name) => *name == component.name,
                }
            })
        };
        Ok(self
            .0
            .iter()
            .filter(|(entity, _)| (!components.is_empty() || !strict) && matches(entity))
            .collect())
    }

    /// The quota of `key` for a client: the first of Kafka's eight levels
    /// that sets it (user and client id, user and default client, user,
    /// default user and client id, both defaults, default user, client
    /// id, default client), with the tags its usage is metered under.
    pub fn resolve(&self, key: QuotaKey, user: &str, client_id: &str) -> Option<Resolved> {
        let levels: [(QuotaEntity, bool, bool); 8] = [
            (
                QuotaEntity::user_and_client(Some(user), Some(client_id)),
                true,
                true,
            ),
            (QuotaEntity::user_and_client(Some(user), None), true, true),
            (QuotaEntity::user(Some(user)), true, false),
            (
                QuotaEntity::user_and_client(None, Some(client_id)),
                true,
                true,
            ),
            (QuotaEntity::user_and_client(None, None), true, true),
            (QuotaEntity::user(None), true, false),
            (QuotaEntity::client(Some(client_id)), false, true),
            (QuotaEntity::client(None), false, true),
        ];
        levels.into_iter().find_map(|(entity, by_user, by_client)| {
            let value = self.0.get(&entity)?.get(key.name())?;
            Some(Resolved {
                bound: value.0,
                user_tag: if by_user {
                    user.to_string()
                } else {
                    String::new()
                },
                client_tag: if by_client {
                    client_id.to_string()
                } else {
                    String::new()
                },
            })
        })
    }

    /// Every IP entity's `connection_creation_rate`: (the entity's name as
    /// given, an address or a host name, or `None` for the default IP;
    /// the rate).
    pub fn connection_rates(&self) -> Vec<(Option<String>, f64)> {
        let key = QuotaKey::ConnectionCreationRate.name();
        self.0
            .iter()
            .filter_map(|(entity, values)| {
                let name = entity.ip.clone()?;
                Some((name, values.get(key)?.0))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quotas(entries: &[(QuotaEntity, &str, f64)]) -> ClientQuotas {
        let mut quotas = ClientQuotas::default();
        for (entity, key, value) in entries {
            quotas.apply(entity, key, Some(QuotaValue(*value)));
        }
        quotas
    }

    #[test]
    fn the_most_specific_level_that_sets_a_key_applies_with_its_metering_tags() {
        let rate = "producer_byte_rate";
        let q = quotas(&[
            (QuotaEntity::client(None), rate, 8.0),
            (QuotaEntity::client(Some("app")), rate, 7.0),
            (QuotaEntity::user(None), rate, 6.0),
            (
                QuotaEntity::user_and_client(Some("alice"), Some("app")),
                rate,
                1.0,
            ),
            (QuotaEntity::user(Some("alice")), "consumer_byte_rate", 3.0),
        ]);
        let resolve = |user, client| q.resolve(QuotaKey::ProducerByteRate, user, client);
        assert_eq!(resolve("alice", "app").map(|r| r.bound), Some(1.0));
        // alice's user quota sets another key: the default user's applies.
        let bob = resolve("bob", "other").expect("the default user's");
        assert_eq!(
            (bob.bound, bob.user_tag.as_str(), bob.client_tag.as_str()),
            (6.0, "bob", "")
        );
        let q = quotas(&[
            (QuotaEntity::client(None), rate, 8.0),
            (QuotaEntity::client(Some("app")), rate, 7.0),
        ]);
        let app = q
            .resolve(QuotaKey::ProducerByteRate, "bob", "app")
            .expect("client's");
        assert_eq!(
            (app.bound, app.user_tag.as_str(), app.client_tag.as_str()),
            (7.0, "", "app")
        );
        assert_eq!(
            q.resolve(QuotaKey::ProducerByteRate, "x", "y")
                .map(|r| r.bound),
            Some(8.0)
        );
        assert_eq!(q.resolve(QuotaKey::ConsumerByteRate, "x", "y"), None);
    }

    #[test]
    fn filters_match_as_kafkas_and_refuse_what_kafka_refuses() {
        let q = quotas(&[
            (QuotaEntity::user(Some("alice")), "producer_byte_rate", 1.0),
            (QuotaEntity::user(None), "producer_byte_rate", 2.0),
            (
                QuotaEntity::user_and_client(Some("alice"), Some("c")),
                "request_percentage",
                3.0,
            ),
            (
                QuotaEntity::ip(Some("10.0.0.1")),
                "connection_creation_rate",
                4.0,
            ),
        ]);
        let component = |kind: &str, match_type, name: Option<&str>| FilterComponent {
            entity_type: kind.to_string(),
            match_type,
            name: name.map(str::to_string),
        };
        let count = |components: &[FilterComponent], strict| {
            q.describe(components, strict).map(|found| found.len())
        };
        assert_eq!(count(&[component(USER, 0, Some("alice"))], true), Ok(1));
        assert_eq!(count(&[component(USER, 0, Some("alice"))], false), Ok(2));
        assert_eq!(count(&[component(USER, 1, None)], true), Ok(1));
        assert_eq!(
            count(&[component(USER, 2, None)], true),
            Ok(2),
            "defaults match 'any'"
        );
        assert_eq!(count(&[], false), Ok(4));
        assert_eq!(count(&[], true), Ok(0));
        assert_eq!(
            count(&[component("group", 0, Some("g"))], false),
            Err(FilterError::UnsupportedEntityType("group".into()))
        );
        assert!(matches!(
            count(&[component(USER, 0, None)], false),
            Err(FilterError::Invalid(_))
        ));
        assert!(matches!(
            count(&[component(IP, 2, None), component(USER, 2, None)], false),
            Err(FilterError::Invalid(_))
        ));
        assert_eq!(
            q.connection_rates(),
            vec![(Some("10.0.0.1".to_string()), 4.0)]
        );
    }

    #[test]
    fn quotas_survive_a_json_round_trip_and_removal_drops_empty_entities() {
        let mut q = quotas(&[
            (QuotaEntity::user(None), "producer_byte_rate", 2.5),
            (
                QuotaEntity::user_and_client(Some("u"), None),
                "request_percentage",
                1.0,
            ),
        ]);
        let json = serde_json::to_string(&q).expect("serializes");
        assert_eq!(
            serde_json::from_str::<ClientQuotas>(&json).expect("parses"),
            q
        );
        q.apply(&QuotaEntity::user(None), "producer_byte_rate", None);
        q.apply(
            &QuotaEntity::user_and_client(Some("u"), None),
            "request_percentage",
            None,
        );
        assert!(q.is_empty());
    }
}
