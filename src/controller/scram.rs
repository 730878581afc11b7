//! SCRAM credentials (Kafka's `ScramControlManager`, KIP-554): validated
//! per user, then the accepted changes written as one record, so that
//! every broker authenticates against the same credentials, across
//! restarts.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use tracing::info;

use super::quorum::MetadataRecord;
use super::{Controller, ControllerError};
use crate::metadata::scram::{ScramCredential, ScramMechanism};

/// One requested change, as AlterUserScramCredentials carries it.
pub enum ScramAlteration {
    Delete {
        user: String,
        mechanism: i8,
    },
    Upsert {
        user: String,
        mechanism: i8,
        iterations: i32,
        salt: Vec<u8>,
        salted_password: Vec<u8>,
    },
}

impl ScramAlteration {
    pub fn user(&self) -> &str {
        match self {
            ScramAlteration::Delete { user, .. } | ScramAlteration::Upsert { user, .. } => user,
        }
    }

    fn mechanism(&self) -> i8 {
        match self {
            ScramAlteration::Delete { mechanism, .. }
            | ScramAlteration::Upsert { mechanism, .. } => *mechanism,
        }
    }
}

/// A user's outcome: `None` if all of their changes were applied.
pub type ScramOutcome = (String, Option<(ResponseError, String)>);

impl Controller {
    /// Applies the changes of the users whose changes are all valid, in
    /// one record; the others' are refused with Kafka's error, whole. As
    /// in Kafka, a user may be named once per request: a second change
    /// for them (even of another mechanism) refuses both.
    pub fn alter_scram_credentials(
        &self,
        alterations: Vec<ScramAlteration>,
    ) -> Result<Vec<ScramOutcome>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.image().scram.clone();
        let mut errors: BTreeMap<String, (ResponseError, String)> = BTreeMap::new();
        let mut accepted: BTreeMap<String, Change> = BTreeMap::new();
        // Kafka looks at the deletions first, then the upsertions; the
        // first error of a user is theirs.
        for alteration in alterations {
            let user = alteration.user().to_string();
            if errors.contains_key(&user) {
                continue;
            }
            if accepted.remove(&user).is_some() {
                errors.insert(
                    user,
                    (
                        ResponseError::DuplicateResource,
                        "A user credential cannot be altered twice in the same request".to_string(),
                    ),
                );
                continue;
            }
            match validate(&alteration, &current) {
                Ok(change) => {
                    accepted.insert(user, change);
                }
                Err(error) => {
                    errors.insert(user, error);
                }
            }
        }
        let mut deletions = Vec::new();
        let mut upsertions = Vec::new();
        let mut outcomes: Vec<ScramOutcome> = Vec::new();
        for (user, change) in accepted {
            match change {
                Change::Delete(mechanism) => deletions.push((user.clone(), mechanism)),
                Change::Upsert(mechanism, credential) => {
                    upsertions.push((user.clone(), mechanism, credential))
                }
            }
            outcomes.push((user, None));
        }
        if !deletions.is_empty() || !upsertions.is_empty() {
            let (removed, set) = (deletions.len(), upsertions.len());
            self.commit(vec![MetadataRecord::AlterScramCredentials {
                deletions,
                upsertions,
            }])?;
            info!(removed, set, "altered SCRAM credentials");
        }
        outcomes.extend(errors.into_iter().map(|(user, error)| (user, Some(error))));
        Ok(outcomes)
    }
}

enum Change {
    Delete(ScramMechanism),
    Upsert(ScramMechanism, ScramCredential),
}

fn validate(
    alteration: &ScramAlteration,
    current: &crate::metadata::scram::ScramCredentials,
) -> Result<Change, (ResponseError, String)> {
    let unacceptable = |message: &str| (ResponseError::UnacceptableCredential, message.to_string());
    if alteration.user().is_empty() {
        return Err(unacceptable("Username must not be empty"));
    }
    let mechanism = ScramMechanism::from_code(alteration.mechanism()).ok_or((
        ResponseError::UnsupportedSaslMechanism,
        "Unknown SCRAM mechanism".to_string(),
    ))?;
    match alteration {
        ScramAlteration::Delete { user, .. } => {
            let exists = current
                .get(user)
                .is_some_and(|credentials| credentials.contains_key(&mechanism));
            match exists {
                true => Ok(Change::Delete(mechanism)),
                false => Err((
                    ResponseError::ResourceNotFound,
                    "Attempt to delete a user credential that does not exist".to_string(),
                )),
            }
        }
        ScramAlteration::Upsert {
            iterations,
            salt,
            salted_password,
            ..
        } => {
            let iterations = u32::try_from(*iterations).unwrap_or(0);
            if iterations < mechanism.min_iterations() {
                return Err(unacceptable("Too few iterations"));
            }
            if iterations > mechanism.max_iterations() {
                return Err(unacceptable("Too many iterations"));
            }
            // Kafka fails here with UNKNOWN_SERVER_ERROR (an HMAC without
            // a key); the request is at fault, and says so.
            if salted_password.is_empty() {
                return Err(unacceptable("Salted password must not be empty"));
            }
            Ok(Change::Upsert(
                mechanism,
                ScramCredential::from_salted_password(mechanism, salt, salted_password, iterations),
            ))
        }
    }
}
