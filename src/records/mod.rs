//! Record batches: the unit the broker stores and serves, byte for byte.

pub mod batch;
pub mod builder;
pub mod compression;
pub mod control;
pub mod primitives;
pub mod record;
pub mod varint;
