//! `--command-config client.properties`: how every console command reads
//! the Kafka client settings it connects with (`security.protocol`,
//! `sasl.mechanism`, `sasl.jaas.config`, `ssl.truststore.*`,
//! `ssl.keystore.*`, `ssl.endpoint.identification.algorithm`), as Kafka's
//! tools read the same file. Other client settings in it are ignored.

use std::path::Path;

use super::CommandError;
use crate::config::client_security::ClientSecurityConfig;
use crate::config::properties;

/// The security of `path`'s client properties; plaintext without a file.
pub fn load(path: Option<&Path>) -> Result<ClientSecurityConfig, CommandError> {
    let Some(path) = path else {
        return Ok(ClientSecurityConfig::default());
    };
    let failed = |reason: String| CommandError::CommandConfig {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|error| failed(error.to_string()))?;
    let properties = properties::parse(&text).map_err(failed)?;
    ClientSecurityConfig::from_client_properties(&properties)
        .map_err(|error| failed(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_properties_file_gives_the_connections_security() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.properties");
        std::fs::write(
            &path,
            "# as kafka-acls.sh takes it\nbootstrap.servers=ignored:9092\nsecurity.protocol=SASL_SSL\n\
             sasl.mechanism=SCRAM-SHA-256\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"alice-secret\";\n\
             ssl.truststore.type=PEM\nssl.truststore.location=/ca.pem\n",
        )
        .unwrap();
        let security = load(Some(&path)).unwrap();
        let sasl = security.sasl.unwrap();
        assert_eq!(
            (sasl.mechanism.as_str(), sasl.username.as_str()),
            ("SCRAM-SHA-256", "alice")
        );
        assert!(security.tls.is_some());
        assert_eq!(load(None).unwrap(), ClientSecurityConfig::default());
    }

    #[test]
    fn unreadable_or_invalid_files_are_errors_that_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.properties");
        let error = load(Some(&missing)).unwrap_err().to_string();
        assert!(error.starts_with("--command-config "), "{error}");
        assert!(error.contains("missing.properties"), "{error}");
        let bad = dir.path().join("bad.properties");
        std::fs::write(
            &bad,
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n\
             sasl.jaas.config=x required username=\"a\" password=\"hunter2\";\nsasl.mechanism=GSSAPI\n",
        )
        .unwrap();
        let error = load(Some(&bad)).unwrap_err().to_string();
        assert!(error.contains("sasl.mechanism"), "{error}");
        assert!(
            !error.contains("hunter2"),
            "the password is never printed: {error}"
        );
    }
}
