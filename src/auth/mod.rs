//! Who is calling and what they may do: TLS for the listeners that use it,
//! the SASL mechanisms' server sides, and (with `authorizer.class.name`)
//! the ACL authorizer. Below `server/`: these take bytes and metadata and
//! answer identities and decisions; the connection's state machine that
//! runs them is `server::sasl`.

pub mod authorizer;
pub mod certificate;
pub mod der;
pub mod keystore;
pub mod oauthbearer;
pub mod plain;
pub mod principal;
pub mod scram;
pub mod tls;
pub mod tls_reload;

/// Compares without stopping at the first difference, so that the time
/// taken does not tell how much of a guess was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, byte) in b.iter().enumerate() {
        difference |= usize::from(a.get(i).copied().unwrap_or(0) ^ byte);
    }
    difference == 0
}
