//! The KRaft-style settings of the metadata quorum: `process.roles`,
//! `controller.quorum.voters` and `controller.listener.names`, parsed as
//! Kafka writes them.

use super::ConfigError;

/// One voter of `controller.quorum.voters`: `id@host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumVoter {
    pub node_id: i32,
    pub host: String,
    pub port: u16,
}

impl QuorumVoter {
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn invalid(name: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        name: name.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses `controller.quorum.voters` (empty: this node alone).
/// `controller.quorum.bootstrap.servers` (KIP-853): `host:port` entries,
/// controller listeners to find the quorum through.
pub fn parse_bootstrap_servers(value: &str) -> Result<Vec<String>, ConfigError> {
    let name = "controller.quorum.bootstrap.servers";
    value
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(entry.to_string())
            }
            _ => Err(invalid(name, entry, "expected host:port")),
        })
        .collect()
}

pub fn parse_voters(value: &str) -> Result<Vec<QuorumVoter>, ConfigError> {
    let name = "controller.quorum.voters";
    let mut voters = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = || invalid(name, entry, "expected id@host:port");
        let (id, address) = entry.split_once('@').ok_or_else(bad)?;
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        let voter = QuorumVoter {
            node_id: id.trim().parse().map_err(|_| bad())?,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: port.parse().map_err(|_| bad())?,
        };
        if voters
            .iter()
            .any(|v: &QuorumVoter| v.node_id == voter.node_id)
        {
            return Err(invalid(name, value, "a node id appears twice"));
        }
        voters.push(voter);
    }
    Ok(voters)
}

/// Parses `process.roles`: `broker,controller` (Kafka's combined mode,
/// also what an unset value means here) or `broker` (a broker that follows
/// the voters' metadata); dedicated controllers are not supported.
pub fn parse_roles(value: &str) -> Result<Vec<String>, ConfigError> {
    let mut roles: Vec<String> = value
        .split(',')
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    roles.dedup();
    if roles != ["broker", "controller"] && roles != ["broker"] {
        return Err(invalid(
            "process.roles",
            value,
            "gregor runs brokers only: process.roles=broker,controller or broker",
        ));
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voters_and_roles_parse_as_kafka_writes_them() {
        let voters = parse_voters("1@localhost:9093, 2@[::1]:9094,3@10.0.0.3:9095").unwrap();
        assert_eq!(voters.len(), 3);
        assert_eq!(voters[1].host, "::1");
        assert_eq!(voters[2].address(), "10.0.0.3:9095");
        assert!(parse_voters("1@localhost:9093,1@localhost:9094").is_err());
        assert!(parse_voters("localhost:9093").is_err());
        assert!(parse_voters("").unwrap().is_empty());
        assert_eq!(
            parse_roles("controller, broker").unwrap(),
            ["broker", "controller"]
        );
        assert_eq!(parse_roles("broker").unwrap(), ["broker"]);
        assert!(parse_roles("controller").is_err());
    }
}
