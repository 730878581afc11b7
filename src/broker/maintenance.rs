//! The broker's periodic work (Kafka's scheduler tasks of `LogManager`,
//! `ReplicaManager` and the coordinators): retention, compaction, producer
//! expiry, time-based flushes, ISR shrinking, transaction time-outs,
//! high-watermark checkpoints and expired delegation tokens.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::Broker;
use crate::types::now_ms;

/// The longest maintenance period taken as a period rather than "never".
const MAX_TIMER: Duration = Duration::from_secs(365 * 24 * 3600);

impl Broker {
    /// Runs retention, compaction, producer expiry, time-based flushes and
    /// the transaction coordinator's time-outs until the broker stops.
    pub async fn run_log_maintenance(self: Arc<Self>) {
        let retention_every =
            Duration::from_millis(self.config.log_retention_check_interval_ms.max(1));
        // `log.flush.scheduler.interval.ms` is Long.MAX_VALUE by default, as
        // in Kafka: no flush by time at all (a timer that long would
        // overflow the clock).
        let flush_ms = self.config.log_flush_scheduler_interval_ms;
        let flush_on = flush_ms < MAX_TIMER.as_millis() as u64;
        let flush_every = Duration::from_millis(flush_ms.max(1)).min(MAX_TIMER);
        let mut retention = tokio::time::interval(retention_every);
        let mut flush = tokio::time::interval(flush_every);
        let mut producer_expiry = tokio::time::interval(Duration::from_millis(
            self.config.producer_id_expiration_check_interval_ms.max(1),
        ));
        let mut cleaner = tokio::time::interval(Duration::from_millis(
            self.config.log_cleaner_backoff_ms.max(1),
        ));
        let max_lag = self.config.replication.replica_lag_time_max;
        let mut isr_check = tokio::time::interval((max_lag / 2).max(Duration::from_millis(10)));
        let txn = &self.config.txn;
        let mut txn_timeouts =
            tokio::time::interval(txn.abort_timed_out_interval.max(Duration::from_millis(1)));
        let mut txn_expiry =
            tokio::time::interval(txn.remove_expired_interval.max(Duration::from_millis(1)));
        let mut token_expiry =
            tokio::time::interval(self.config.delegation_token.expiry_check_interval());
        let tokens_on = self.config.delegation_token.secret().is_some();
        // The first checkpoint after one interval: at start there is nothing
        // newer than what recovery read, and its two forced writes would
        // queue behind the quorum's on the way to the first answer.
        let checkpoint_every = Duration::from_millis(
            self.config
                .replica_high_watermark_checkpoint_interval_ms
                .max(1),
        );
        let mut high_watermark_checkpoint = tokio::time::interval_at(
            tokio::time::Instant::now() + checkpoint_every,
            checkpoint_every,
        );
        loop {
            tokio::select! {
                _ = high_watermark_checkpoint.tick() => {
                    let broker = Arc::clone(&self);
                    let _ = tokio::task::spawn_blocking(move || broker.checkpoint_high_watermarks()).await;
                }
                _ = token_expiry.tick(), if tokens_on => {
                    if self.controller.is_active() {
                        let removed = self
                            .on_controller(|broker| {
                                Ok(broker.controller.remove_expired_delegation_tokens(now_ms())?)
                            })
                            .await;
                        if let Err(error) = removed {
                            warn!(%error, "removing expired delegation tokens failed");
                        }
                    }
                }
                // Time travel (a dev broker's test moved the clock): what
                // expires by time is looked at now.
                _ = crate::clock::advanced() => {
                    retention.reset_immediately();
                    producer_expiry.reset_immediately();
                    txn_timeouts.reset_immediately();
                    txn_expiry.reset_immediately();
                    token_expiry.reset_immediately();
                }
                _ = txn_timeouts.tick() => self.txn.abort_timed_out().await,
                _ = txn_expiry.tick() => self.txn.expire_transactional_ids().await,
                _ = isr_check.tick() => {
                    for partition in self.partitions.online() {
                        if let Some(proposal) = partition.propose_isr_shrink(max_lag) {
                            info!(partition = %partition.topic_partition(), isr = ?proposal.isr, "followers lag: shrinking the ISR");
                            self.propose_isr(partition, proposal);
                        }
                    }
                }
                _ = cleaner.tick(), if self.config.log_cleaner_enable => {
                    // log.cleaner.dedupe.buffer.size may be changed at run time;
                    // gregor's one cleaner task gets all of it, as Kafka's one
                    // cleaner thread (log.cleaner.threads=1) does.
                    let dedupe_buffer_size = self
                        .config_layers()
                        .map_or(self.config.log_cleaner_dedupe_buffer_size, |layers| {
                            layers.effective.log_cleaner_dedupe_buffer_size
                        });
                    let dedupe_buffer_size = usize::try_from(dedupe_buffer_size).unwrap_or(0);
                    // A partition moving to another log dir is not cleaned
                    // until it has moved, as Kafka pauses its cleaning: the
                    // copy would only be cleaned again.
                    let moving = self.replica_moves().moving();
                    for partition in self.partitions.online() {
                        if moving.contains(partition.topic_partition()) {
                            continue;
                        }
                        if let Err(error) = partition.compact(now_ms(), dedupe_buffer_size).await {
                            warn!(partition = %partition.topic_partition(), %error, "compaction failed");
                        }
                    }
                }
                _ = producer_expiry.tick() => {
                    // producer.id.expiration.ms may be changed at run time
                    let expiration = self
                        .config_layers()
                        .map_or(self.config.producer_id_expiration_ms, |layers| {
                            layers.effective.producer_id_expiration_ms
                        });
                    for partition in self.partitions.online() {
                        if let Err(error) = partition.expire_producers(now_ms(), expiration).await {
                            warn!(partition = %partition.topic_partition(), %error, "producer expiry failed");
                        }
                    }
                }
                _ = retention.tick() => {
                    for partition in self.partitions.online() {
                        if let Err(error) = partition.apply_retention(now_ms()).await {
                            warn!(partition = %partition.topic_partition(), %error, "retention failed");
                        }
                    }
                }
                _ = flush.tick(), if flush_on => {
                    for partition in self.partitions.online() {
                        if let Err(error) = partition.maybe_flush_by_time().await {
                            warn!(partition = %partition.topic_partition(), %error, "flush failed");
                        }
                    }
                }
            }
        }
    }

    /// Writes every online partition's high watermark to its log dir's
    /// `replication-offset-checkpoint`. Blocking.
    pub(super) fn checkpoint_high_watermarks(&self) {
        let entries: Vec<_> = self
            .partitions
            .online()
            .into_iter()
            .map(|p| {
                let high_watermark = p.high_watermark();
                (p.log_dir(), p.topic_partition().clone(), high_watermark)
            })
            .collect();
        self.logs.checkpoint_high_watermarks(&entries);
    }
}
