//! Rate meters and the replication throttles, below both the request
//! handlers (client quotas, the leader's side of a throttle) and the
//! replica fetchers (the follower's side).

pub mod rate;
pub mod replication;
