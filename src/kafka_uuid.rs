//! Kafka's `Uuid`: 128 random bits that Kafka prints as URL-safe base64
//! without padding (22 characters), for topic ids, directory ids, cluster ids
//! and delegation-token ids.

use base64::Engine;
use thiserror::Error;
use uuid::Uuid;

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Kafka's reserved ids, never handed out: zero means "none" on the wire and
/// one is the metadata topic's id.
const RESERVED: [Uuid; 2] = [Uuid::nil(), Uuid::from_u128(1)];

/// A text that is not a Kafka `Uuid`.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InvalidKafkaUuid {
    #[error("{0:?} is not a base64 uuid: {1}")]
    NotBase64(String, String),
    #[error("{0:?} is not 16 bytes of base64 (a Kafka Uuid)")]
    WrongLength(String),
}

/// A new random id, as Kafka's `Uuid.randomUuid` makes one: never a reserved
/// id, and never one whose text starts with `-`, because command-line parsers
/// (Kafka's tools among them) read such an argument as an option.
pub fn random() -> Uuid {
    loop {
        let id = Uuid::new_v4();
        if !RESERVED.contains(&id) && !starts_with_dash(id) {
            return id;
        }
    }
}

/// A new random id as Kafka prints it, for ids Kafka makes with
/// `Uuid.randomUuid().toString()` (cluster, delegation-token and
/// KIP-848 member ids).
pub fn random_text() -> String {
    format(random())
}

/// `id` as Kafka prints it.
pub fn format(id: Uuid) -> String {
    BASE64.encode(id.as_bytes())
}

/// The id Kafka printed as `text` (surrounding whitespace and padding allowed).
pub fn parse(text: &str) -> Result<Uuid, InvalidKafkaUuid> {
    let trimmed = text.trim().trim_end_matches('=');
    let bytes = BASE64
        .decode(trimmed)
        .map_err(|error| InvalidKafkaUuid::NotBase64(text.to_string(), error.to_string()))?;
    Uuid::from_slice(&bytes).map_err(|_| InvalidKafkaUuid::WrongLength(text.to_string()))
}

/// The first base64 character is the top six bits of the first byte; `-` is
/// the 63rd character of the URL-safe alphabet.
fn starts_with_dash(id: Uuid) -> bool {
    id.as_bytes()[0] >> 2 == 62
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_as_written() {
        let id = random();
        assert_eq!(format(id).len(), 22);
        assert_eq!(parse(&format(id)), Ok(id));
        assert_eq!(parse(" AAAAAAAAAAAAAAAAAAAAAA\n"), Ok(Uuid::nil()));
        assert!(matches!(
            parse("not-a-uuid"),
            Err(InvalidKafkaUuid::NotBase64(..))
        ));
        assert_eq!(
            parse("AAAA"),
            Err(InvalidKafkaUuid::WrongLength("AAAA".to_string()))
        );
    }

    #[test]
    fn the_dash_test_matches_the_printed_text() {
        for first in 0..=u8::MAX {
            let mut bytes = [7u8; 16];
            bytes[0] = first;
            let id = Uuid::from_bytes(bytes);
            assert_eq!(starts_with_dash(id), format(id).starts_with('-'), "{first}");
        }
    }

    #[test]
    fn random_ids_never_start_with_a_dash_nor_are_reserved() {
        // One id in 64 would start with a dash; 4,096 draws all but surely
        // include some had the check been missing.
        for _ in 0..4096 {
            let id = random();
            assert!(!format(id).starts_with('-'));
            assert!(!RESERVED.contains(&id));
        }
    }
}
