//! SASL/PLAIN (RFC 4616) against the users of a listener's
//! `PlainLoginModule` (`user_<name>="<password>"`), as Kafka's
//! `PlainServerCallbackHandler` checks them.

use std::collections::BTreeMap;

use super::constant_time_eq;

/// `[authzid] NUL authcid NUL passwd`: the user, if the password is theirs
/// and no other identity is asked for.
pub fn verify(users: &BTreeMap<String, String>, token: &[u8]) -> Option<String> {
    let mut parts = token.split(|b| *b == 0);
    let (authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let user = std::str::from_utf8(user).ok()?;
    if user.is_empty() || !(authzid.is_empty() || authzid == user.as_bytes()) {
        return None;
    }
    let expected = users.get(user)?;
    constant_time_eq(expected.as_bytes(), password).then(|| user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_accepts_only_the_users_own_password() {
        let users = [("alice".to_string(), "alice-secret".to_string())].into();
        assert_eq!(
            verify(&users, b"\0alice\0alice-secret").as_deref(),
            Some("alice")
        );
        assert_eq!(
            verify(&users, b"alice\0alice\0alice-secret").as_deref(),
            Some("alice")
        );
        for refused in [
            &b"\0alice\0alice-secreT"[..],
            b"\0alice\0alice-secret\0",
            b"\0alice\0alice-secre",
            b"\0alice\0",
            b"\0bob\0alice-secret",
            b"admin\0alice\0alice-secret",
            b"\0\0alice-secret",
            b"alice-secret",
            b"",
        ] {
            assert_eq!(verify(&users, refused), None, "{refused:?}");
        }
    }
}
