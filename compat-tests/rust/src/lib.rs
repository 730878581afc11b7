//! Intentionally empty: everything lives in `tests/` (harness in `tests/common/mod.rs`).
