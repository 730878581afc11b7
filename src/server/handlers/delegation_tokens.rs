//! What the four delegation token APIs share (Kafka's `KafkaApis` and
//! `ControllerApis`): which connections may ask for tokens at all, and
//! principals as the protocol spells them (type and name apart).

use crate::config::security::SecurityProtocol;
use crate::server::context::{RequestContext, ANONYMOUS};

/// Kafka's `allowTokenRequests`: not on PLAINTEXT, not on one-way TLS
/// (an SSL client without a certificate), and not from a connection a
/// token authenticated — a token cannot beget tokens.
pub fn requests_allowed(context: &RequestContext) -> bool {
    let protocol = context.listener.protocol;
    !(context.token_authenticated
        || protocol == SecurityProtocol::Plaintext
        || (protocol == SecurityProtocol::Ssl && &*context.principal == ANONYMOUS))
}

/// `User:alice` → (`User`, `alice`).
pub fn split(principal: &str) -> (&str, &str) {
    principal.split_once(':').unwrap_or(("User", principal))
}

/// (`User`, `alice`) → `User:alice`.
pub fn join(principal_type: &str, name: &str) -> String {
    format!("{principal_type}:{name}")
}

/// The only principal type tokens are for.
pub const USER_TYPE: &str = "User";
