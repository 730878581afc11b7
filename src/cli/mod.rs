//! Console commands that speak the Kafka protocol like any client, with
//! flags modelled on Kafka's own scripts.

pub mod console;
pub mod group_member;
pub mod groups;
pub mod topics;
