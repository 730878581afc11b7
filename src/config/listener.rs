//! `listeners` entries: `NAME://host:port`.

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    pub fn plaintext(host: &str, port: u16) -> Self {
        Listener {
            name: "PLAINTEXT".to_string(),
            host: host.to_string(),
            port,
        }
    }

    pub fn parse(text: &str) -> Result<Listener, ConfigError> {
        let invalid = || ConfigError::InvalidValue {
            name: "listeners".to_string(),
            value: text.to_string(),
            reason: "expected NAME://host:port".to_string(),
        };
        let (name, address) = text.trim().split_once("://").ok_or_else(invalid)?;
        let (host, port) = address.rsplit_once(':').ok_or_else(invalid)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Listener {
            name: name.to_string(),
            host: host.to_string(),
            port: port.parse().map_err(|_| invalid())?,
        })
    }

    pub fn parse_list(text: &str) -> Result<Vec<Listener>, ConfigError> {
        text.split(',')
            .filter(|entry| !entry.trim().is_empty())
            .map(Listener::parse)
            .collect()
    }

    /// The address to bind: an empty host means every interface, as in
    /// Kafka; `localhost` binds the IPv4 loopback rather than whichever
    /// address the resolver lists first.
    pub fn bind_address(&self) -> String {
        match self.host.as_str() {
            "" => format!("0.0.0.0:{}", self.port),
            "localhost" => format!("127.0.0.1:{}", self.port),
            host if host.contains(':') => format!("[{host}]:{}", self.port),
            host => format!("{host}:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_hosts_and_ports() {
        let listeners = Listener::parse_list("PLAINTEXT://:9092,CONTROLLER://[::1]:9093").unwrap();
        assert_eq!(listeners[0].bind_address(), "0.0.0.0:9092");
        assert_eq!(listeners[1].name, "CONTROLLER");
        assert_eq!(listeners[1].bind_address(), "[::1]:9093");
        assert!(Listener::parse("localhost:9092").is_err());
    }
}
