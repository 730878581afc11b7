//! Client quota enforcement, as Kafka's `ClientQuotaManager` (produce and
//! fetch bytes, KIP-13), `ClientRequestQuotaManager` (handler time,
//! KIP-124), `ControllerMutationQuotaManager` (partitions created and
//! deleted, KIP-599) and `ConnectionQuotas` (new connections per address,
//! KIP-612) do it, against the quotas in the metadata image.
//!
//! A client over its quota is not refused: it gets its response at once
//! with `throttle_time_ms` set, and its connection then reads nothing for
//! that long (KIP-219) — see `server::connection`. With no quota set
//! anywhere, nothing is metered: one emptiness check per request.

mod ip_rates;
mod throttle;

pub use ip_rates::IpRates;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};
use kafka_protocol::protocol::Encodable;

use crate::config::broker::QuotaConfig;
use crate::metadata::client_quotas::{ClientQuotas, QuotaKey};
use crate::quota::rate::{SampledRate, TokenBucket};

pub use throttle::raise_throttle_time;

/// Meters of clients idle this long are dropped (Kafka expires its quota
/// sensors after an hour).
const IDLE_METER_MS: u64 = 3_600_000;

/// The kinds of throttle, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub enum Throttled {
    Produce,
    Fetch,
    Request,
    ControllerMutation,
    Connection,
}

impl Throttled {
    const ALL: [Throttled; 5] = [
        Throttled::Produce,
        Throttled::Fetch,
        Throttled::Request,
        Throttled::ControllerMutation,
        Throttled::Connection,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Throttled::Produce => "produce",
            Throttled::Fetch => "fetch",
            Throttled::Request => "request",
            Throttled::ControllerMutation => "controller_mutation",
            Throttled::Connection => "connection",
        }
    }
}

/// Who a request is metered as: the principal's name (Kafka's `user`
/// entity is the name without its type) and the client id.
pub struct Client<'a> {
    pub user: &'a str,
    pub client_id: &'a str,
}

impl<'a> Client<'a> {
    pub fn new(principal: &'a str, client_id: &'a str) -> Client<'a> {
        let user = principal
            .split_once(':')
            .map_or(principal, |(_, name)| name);
        Client { user, client_id }
    }
}

/// What the quotas need to know of a request before it is handled.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metering {
    /// A follower's Fetch and the inter-broker APIs: no client quota.
    pub exempt: bool,
    /// An acks=0 Produce: its bytes count, its handling time does not.
    pub time_exempt: bool,
    /// A Fetch outside a session or opening one: a throttled answer names
    /// no session (an incremental one keeps its id).
    pub full_fetch: bool,
}

impl Metering {
    pub fn of(request: &RequestKind) -> Metering {
        match request {
            RequestKind::Fetch(fetch) => Metering {
                exempt: fetch.replica_id.0 >= 0 || fetch.replica_state.replica_id.0 >= 0,
                full_fetch: fetch.session_epoch <= 0,
                ..Metering::default()
            },
            RequestKind::Produce(produce) => Metering {
                time_exempt: produce.acks == 0,
                ..Metering::default()
            },
            RequestKind::WriteTxnMarkers(_) => Metering {
                exempt: true,
                ..Metering::default()
            },
            _ => Metering::default(),
        }
    }
}

#[derive(Default)]
struct Figures {
    count: AtomicU64,
    ms: AtomicU64,
}

pub struct QuotaManagers {
    config: QuotaConfig,
    started: Instant,
    produce: Meters,
    fetch: Meters,
    request: Meters,
    mutations: Mutex<HashMap<(String, String), TokenBucket>>,
    connections: Mutex<HashMap<IpAddr, SampledRate>>,
    ip_rates: ip_rates::ResolvedIpRates,
    throttled: [Figures; 5],
}

/// One meter per metered identity (Kafka's sensors by user and client id).
#[derive(Default)]
struct Meters(Mutex<HashMap<(String, String), Meter>>);

/// A client's rate against one quota, and the time it was throttled for
/// (Kafka's per-client `byte-rate`/`request-time` and `throttle-time`
/// sensors).
struct Meter {
    rate: SampledRate,
    throttled_ms: u64,
}

/// One client's figures for one quota, for `/metrics`.
pub struct ClientFigures {
    pub quota: &'static str,
    pub user: String,
    pub client_id: String,
    /// Bytes/s, or percent of a thread.
    pub rate: f64,
    /// Time its responses were throttled for, since it was first metered.
    pub throttled_ms: u64,
}

impl QuotaManagers {
    pub fn new(config: QuotaConfig) -> QuotaManagers {
        QuotaManagers {
            config,
            started: Instant::now(),
            produce: Meters::default(),
            fetch: Meters::default(),
            request: Meters::default(),
            mutations: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            ip_rates: Default::default(),
            throttled: Default::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn window_ms(&self) -> u64 {
        u64::from(self.config.window_size_seconds) * 1000
    }

    fn meters(&self, key: QuotaKey) -> &Meters {
        match key {
            QuotaKey::ProducerByteRate => &self.produce,
            QuotaKey::ConsumerByteRate => &self.fetch,
            _ => &self.request,
        }
    }

    /// Records `value` (worked out only when a quota applies) against the
    /// client's quota of `key`; answers how long it must wait (0 when within
    /// it, or when no quota applies) and the value recorded.
    fn record(
        &self,
        quotas: &ClientQuotas,
        key: QuotaKey,
        client: &Client,
        value: impl FnOnce() -> f64,
    ) -> (u64, f64) {
        let Some(quota) = quotas.resolve(key, client.user, client.client_id) else {
            return (0, 0.0);
        };
        let value = value();
        let now = self.now_ms();
        let mut meters = self.meters(key).0.lock().unwrap_or_else(|p| p.into_inner());
        if meters.len() > 10_000 {
            meters.retain(|_, meter| now.saturating_sub(meter.rate.last_record_ms) < IDLE_METER_MS);
        }
        let (samples, window) = (self.config.window_num, self.window_ms());
        let meter = meters
            .entry((quota.user_tag, quota.client_tag))
            .or_insert_with(|| Meter {
                rate: SampledRate::new(samples, window, now),
                throttled_ms: 0,
            });
        meter.rate.record(value, now);
        let throttle_ms = match key {
            // A request's time is throttled for at most one window.
            QuotaKey::RequestPercentage => meter.rate.throttle_ms(quota.bound, now).min(window),
            _ => meter.rate.throttle_ms(quota.bound, now),
        };
        meter.throttled_ms += throttle_ms;
        (throttle_ms, value)
    }

    /// Takes back bytes recorded for a response that was not sent.
    fn unrecord(&self, quotas: &ClientQuotas, key: QuotaKey, client: &Client, value: f64) {
        if let Some(quota) = quotas.resolve(key, client.user, client.client_id) {
            let now = self.now_ms();
            let mut meters = self.meters(key).0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(meter) = meters.get_mut(&(quota.user_tag, quota.client_tag)) {
                meter.rate.record(-value, now);
            }
        }
    }

    fn count(&self, kind: Throttled, ms: u64) {
        if ms > 0 {
            let figures = &self.throttled[kind as usize];
            figures.count.fetch_add(1, Ordering::Relaxed);
            figures.ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// The most bytes a consumer's Fetch may carry: what its quota allows
    /// over the whole span (Kafka's `getMaxValueInQuotaWindow`).
    pub fn fetch_bytes_cap(&self, quotas: &ClientQuotas, client: &Client) -> Option<i32> {
        let quota = quotas.resolve(QuotaKey::ConsumerByteRate, client.user, client.client_id)?;
        let span = f64::from(self.config.window_num.saturating_sub(1).max(1))
            * f64::from(self.config.window_size_seconds);
        Some((quota.bound * span).min(f64::from(i32::MAX)) as i32)
    }

    /// Meters a handled request and sets its response's `throttle_time_ms`
    /// as Kafka does; answers how long the connection stays muted. A
    /// consumer's Fetch over its byte rate is answered without records
    /// (they were not sent, so they do not count).
    #[allow(clippy::too_many_arguments)]
    pub fn after_request(
        &self,
        quotas: &ClientQuotas,
        client: &Client,
        metering: Metering,
        request_bytes: usize,
        busy: Duration,
        version: i16,
        response: Option<&mut ResponseKind>,
    ) -> Duration {
        if quotas.is_empty() || metering.exempt {
            return Duration::ZERO;
        }
        let request_ms = match metering.time_exempt {
            true => 0,
            // Percent of one thread: nanoseconds busy × 100 / 1e9, per second.
            false => {
                let percent = || busy.as_nanos() as f64 * 100.0 / 1e9;
                self.record(quotas, QuotaKey::RequestPercentage, client, percent)
                    .0
            }
        };
        self.count(Throttled::Request, request_ms);
        let (bytes_ms, kind) = match &response {
            Some(ResponseKind::Fetch(fetch)) => {
                let size = || fetch.compute_size(version).unwrap_or(0) as f64;
                let (ms, size) = self.record(quotas, QuotaKey::ConsumerByteRate, client, size);
                if ms.max(request_ms) > 0 {
                    self.unrecord(quotas, QuotaKey::ConsumerByteRate, client, size);
                }
                (ms, Throttled::Fetch)
            }
            // acks=0 sends nothing back, but its bytes count all the same.
            Some(ResponseKind::Produce(_)) | None => {
                let size = || request_bytes as f64;
                let (ms, _) = self.record(quotas, QuotaKey::ProducerByteRate, client, size);
                (ms, Throttled::Produce)
            }
            Some(_) => (0, Throttled::Produce),
        };
        self.count(kind, bytes_ms);
        let throttle = bytes_ms.max(request_ms);
        if let Some(response) = response {
            if throttle > 0 {
                if let ResponseKind::Fetch(fetch) = response {
                    fetch.responses.clear();
                    if metering.full_fetch {
                        fetch.session_id = 0;
                    }
                }
            }
            // A handler may have set one already (controller mutations).
            return Duration::from_millis(raise_throttle_time(response, version, throttle));
        }
        Duration::from_millis(throttle)
    }

    /// The controller-mutation quota a CreateTopics, CreatePartitions or
    /// DeleteTopics is held to; `None` when none applies.
    pub fn mutation_quota<'a>(
        &'a self,
        quotas: &ClientQuotas,
        client: &Client,
        strict: bool,
    ) -> Option<MutationQuota<'a>> {
        let quota = quotas.resolve(
            QuotaKey::ControllerMutationRate,
            client.user,
            client.client_id,
        )?;
        let burst = quota.bound
            * f64::from(self.config.controller_window_num)
            * f64::from(self.config.controller_window_size_seconds);
        Some(MutationQuota {
            managers: self,
            key: (quota.user_tag, quota.client_tag),
            rate: quota.bound,
            burst,
            strict,
            refused_throttle_ms: std::cell::Cell::new(0),
        })
    }

    /// `quotas`' `connection_creation_rate`s by address, host names
    /// resolved (again only when they changed).
    pub async fn ip_rates(&self, quotas: &std::sync::Arc<ClientQuotas>) -> std::sync::Arc<IpRates> {
        self.ip_rates.current(quotas).await
    }

    /// How long a new connection from `ip` must wait before it is closed
    /// unserved, when it is over its address's `connection_creation_rate`
    /// (it then does not count against the rate).
    pub fn connection_throttle(&self, rates: &IpRates, ip: IpAddr) -> Option<Duration> {
        let bound = rates.rate(ip)?;
        let now = self.now_ms();
        let mut rates = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        if rates.len() > 10_000 {
            rates.retain(|_, rate| now.saturating_sub(rate.last_record_ms) < IDLE_METER_MS);
        }
        let (samples, window) = (self.config.window_num, self.window_ms());
        let rate = rates
            .entry(ip)
            .or_insert_with(|| SampledRate::new(samples, window, now));
        rate.record(1.0, now);
        let ms = rate.throttle_ms(bound, now).min(window);
        if ms == 0 {
            return None;
        }
        rate.record(-1.0, now);
        self.count(Throttled::Connection, ms);
        Some(Duration::from_millis(ms))
    }

    /// Each metered client's current rate and time throttled, by quota —
    /// Kafka's per-user and per-client-id `byte-rate`, `request-time` and
    /// `throttle-time` sensors — for `/metrics`. The user and client id
    /// are the quota entity's (empty when the quota is not per user, or
    /// not per client id).
    pub fn client_figures(&self) -> Vec<ClientFigures> {
        let now = self.now_ms();
        let mut figures = Vec::new();
        for key in [
            QuotaKey::ProducerByteRate,
            QuotaKey::ConsumerByteRate,
            QuotaKey::RequestPercentage,
        ] {
            let mut meters = self.meters(key).0.lock().unwrap_or_else(|p| p.into_inner());
            for ((user, client_id), meter) in meters.iter_mut() {
                figures.push(ClientFigures {
                    quota: key.name(),
                    user: user.clone(),
                    client_id: client_id.clone(),
                    rate: meter.rate.measure(now),
                    throttled_ms: meter.throttled_ms,
                });
            }
        }
        figures.sort_by(|a, b| {
            (a.quota, &a.user, &a.client_id).cmp(&(b.quota, &b.user, &b.client_id))
        });
        figures
    }

    /// (kind, throttles, milliseconds) since start, for `/metrics`.
    pub fn figures(&self) -> Vec<(&'static str, u64, u64)> {
        Throttled::ALL
            .iter()
            .map(|kind| {
                let figures = &self.throttled[*kind as usize];
                (
                    kind.name(),
                    figures.count.load(Ordering::Relaxed),
                    figures.ms.load(Ordering::Relaxed),
                )
            })
            .collect()
    }
}

/// One request's hold on its client's controller-mutation bucket. Strict
/// (KIP-599's newer request versions): once the bucket is empty, a topic
/// is refused with THROTTLING_QUOTA_EXCEEDED — the topic that empties it
/// is still accepted. Permissive: always accepted, the response throttled.
pub struct MutationQuota<'a> {
    managers: &'a QuotaManagers,
    key: (String, String),
    rate: f64,
    burst: f64,
    strict: bool,
    /// A strict quota's throttle, set when it first refused a topic: the
    /// request that overdraws the bucket is not throttled itself.
    refused_throttle_ms: std::cell::Cell<u64>,
}

impl MutationQuota<'_> {
    fn with_bucket<T>(&self, f: impl FnOnce(&mut TokenBucket, u64) -> T) -> T {
        let now = self.managers.now_ms();
        let mut buckets = self
            .managers
            .mutations
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let bucket = buckets
            .entry(self.key.clone())
            .or_insert_with(|| TokenBucket::new(self.burst, now));
        f(bucket, now)
    }

    /// Whether another topic may be changed: a strict quota refuses once
    /// the bucket is below zero, and every later topic of the request.
    pub fn admits(&self) -> bool {
        if !self.strict {
            return true;
        }
        if self.refused_throttle_ms.get() > 0 {
            return false;
        }
        let throttle =
            self.with_bucket(|bucket, now| bucket.throttle_ms(self.rate, self.burst, now));
        self.refused_throttle_ms.set(throttle);
        throttle == 0
    }

    /// Spends the partitions a topic's change created or deleted.
    pub fn record(&self, partitions: usize) {
        self.with_bucket(|bucket, now| bucket.spend(partitions as f64, self.rate, self.burst, now));
    }

    /// The response's throttle: a strict quota's when it refused a topic
    /// (0 otherwise); a permissive one's until the bucket is back to zero.
    pub fn throttle_ms(&self) -> u64 {
        let ms = match self.strict {
            true => self.refused_throttle_ms.get(),
            false => self.with_bucket(|bucket, now| bucket.throttle_ms(self.rate, self.burst, now)),
        };
        self.managers.count(Throttled::ControllerMutation, ms);
        ms
    }
}

/// Whether a request of `api` at `version` is held to the mutation quota
/// strictly (refused once over) rather than throttled after the fact.
pub fn strict_mutation_quota(api: ApiKey, version: i16) -> bool {
    match api {
        ApiKey::CreateTopics => version >= 6,
        ApiKey::CreatePartitions => version >= 3,
        ApiKey::DeleteTopics => version >= 5,
        _ => false,
    }
}

/// Runs `future`, answering also the time spent polling it: the request's
/// share of a thread, what `request_percentage` meters (waits for the
/// high watermark or a long poll cost nothing).
pub async fn busy_time<F: std::future::Future>(future: F) -> (F::Output, Duration) {
    let mut future = std::pin::pin!(future);
    let mut busy = Duration::ZERO;
    let output = std::future::poll_fn(|cx| {
        let started = Instant::now();
        let poll = future.as_mut().poll(cx);
        busy += started.elapsed();
        poll
    })
    .await;
    (output, busy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::client_quotas::{QuotaEntity, QuotaValue};

    fn quotas(key: &str, value: f64) -> ClientQuotas {
        let mut quotas = ClientQuotas::default();
        quotas.apply(
            &QuotaEntity::client(Some("app")),
            key,
            Some(QuotaValue(value)),
        );
        quotas
    }

    #[test]
    fn a_producer_over_its_byte_rate_is_throttled_and_others_are_not() {
        let managers = QuotaManagers::new(QuotaConfig::default());
        let quotas = quotas("producer_byte_rate", 1024.0);
        let mut response = ResponseKind::Produce(Default::default());
        let app = Client::new("User:ANONYMOUS", "app");
        let mute = managers.after_request(
            &quotas,
            &app,
            Metering::default(),
            20480,
            Duration::ZERO,
            9,
            Some(&mut response),
        );
        assert_eq!(mute, Duration::from_millis(10_000));
        let ResponseKind::Produce(produce) = &response else {
            unreachable!()
        };
        assert_eq!(produce.throttle_time_ms, 10_000);
        let other = Client::new("User:ANONYMOUS", "other");
        let mut response = ResponseKind::Produce(Default::default());
        let mute = managers.after_request(
            &quotas,
            &other,
            Metering::default(),
            1 << 20,
            Duration::ZERO,
            9,
            Some(&mut response),
        );
        assert_eq!(mute, Duration::ZERO);
        let figures = managers.client_figures();
        let throttled: Vec<_> = figures
            .iter()
            .map(|f| (f.quota, f.client_id.as_str(), f.throttled_ms))
            .collect();
        assert_eq!(throttled, [("producer_byte_rate", "app", 10_000)]);
    }

    #[test]
    fn a_throttled_fetch_carries_no_records_and_a_followers_fetch_is_exempt() {
        use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
        let managers = QuotaManagers::new(QuotaConfig::default());
        let quotas = quotas("consumer_byte_rate", 1.0);
        let app = Client::new("User:ANONYMOUS", "app");
        let fetch = || {
            ResponseKind::Fetch(
                kafka_protocol::messages::FetchResponse::default()
                    .with_session_id(7)
                    .with_responses(vec![FetchableTopicResponse::default()]),
            )
        };
        let mut response = fetch();
        let follower = Metering {
            exempt: true,
            ..Metering::default()
        };
        let mute = managers.after_request(
            &quotas,
            &app,
            follower,
            0,
            Duration::ZERO,
            12,
            Some(&mut response),
        );
        assert_eq!(mute, Duration::ZERO);
        let mut response = fetch();
        let mute = managers.after_request(
            &quotas,
            &app,
            Metering {
                full_fetch: true,
                ..Metering::default()
            },
            0,
            Duration::ZERO,
            12,
            Some(&mut response),
        );
        assert!(mute > Duration::ZERO);
        let ResponseKind::Fetch(fetch) = &response else {
            unreachable!()
        };
        assert!(fetch.responses.is_empty());
        assert_eq!(
            (fetch.session_id, fetch.throttle_time_ms as u128),
            (0, mute.as_millis())
        );
    }

    #[test]
    fn a_strict_mutation_quota_refuses_once_the_bucket_is_empty() {
        let managers = QuotaManagers::new(QuotaConfig::default());
        let quotas = quotas("controller_mutation_rate", 1.0);
        let app = Client::new("User:ANONYMOUS", "app");
        let quota = managers
            .mutation_quota(&quotas, &app, true)
            .expect("applies");
        // The bucket (11 mutations) is checked before a topic, spent after:
        // the topic that overdraws it is accepted, the next one is not.
        assert!(quota.admits());
        quota.record(20);
        assert_eq!(
            quota.throttle_ms(),
            0,
            "the overdrawing request is not throttled"
        );
        assert!(!quota.admits());
        assert!((8_900..=9_000).contains(&quota.throttle_ms()));
        let permissive = managers
            .mutation_quota(&quotas, &app, false)
            .expect("applies");
        assert!(permissive.admits());
    }

    #[tokio::test]
    async fn connections_over_their_addresss_rate_wait_and_do_not_count() {
        let managers = QuotaManagers::new(QuotaConfig::default());
        let mut quotas = ClientQuotas::default();
        quotas.apply(
            &QuotaEntity::ip(Some("127.0.0.1")),
            "connection_creation_rate",
            Some(QuotaValue(2.0)),
        );
        let rates = managers.ip_rates(&std::sync::Arc::new(quotas)).await;
        let ip: IpAddr = "127.0.0.1".parse().expect("an address");
        let throttled = (0..40)
            .filter(|_| managers.connection_throttle(&rates, ip).is_some())
            .count();
        // 2 per second over a 10 s span: 20 accepted.
        assert_eq!(throttled, 20);
        assert!(managers
            .connection_throttle(&rates, "10.0.0.1".parse().expect("an address"))
            .is_none());
    }
}
