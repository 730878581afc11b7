//! The ACL authorizer, with the semantics of Kafka's `StandardAuthorizer`:
//! super users may do anything; otherwise a matching DENY wins over any
//! ALLOW; an ALLOW of an operation also allows what it implies (READ,
//! WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
//! DESCRIBE_CONFIGS); a resource no ACL names is open only with
//! `allow.everyone.if.no.acl.found`.
//!
//! An ACL matches a request when its resource type is the resource's, its
//! pattern covers the name (the literal name, the literal `*`, or a
//! prefix), its principal is the caller's or `User:*`, and its host is
//! the caller's address or `*`.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::security::AuthorizerConfig;
use crate::metadata::acls::{
    self, AclBinding, AclOperation, Acls, PatternType, PermissionType, ResourceType, WILDCARD,
    WILDCARD_PRINCIPAL,
};

/// The broker's authorizer: its settings. Decisions are taken against the
/// ACLs of the metadata image a request sees.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    config: AuthorizerConfig,
}

/// One request's view: who asks, from where, against which ACLs.
pub struct Session<'a> {
    config: &'a AuthorizerConfig,
    acls: Arc<Acls>,
    principal: &'a str,
    host: String,
}

impl Authorizer {
    pub fn new(config: AuthorizerConfig) -> Authorizer {
        Authorizer { config }
    }

    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    pub fn session<'a>(&'a self, acls: Arc<Acls>, principal: &'a str, host: IpAddr) -> Session<'a> {
        Session {
            config: &self.config,
            acls,
            principal,
            host: host.to_string(),
        }
    }
}

/// What the ACLs say for one action.
enum Decision {
    Allowed,
    Denied,
    /// No ACL names the resource at all.
    NoAcls,
}

impl Session<'_> {
    /// Whether the caller may do `operation` on the named resource.
    pub fn allows(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> bool {
        if !self.config.enabled || self.is_super_user() {
            return true;
        }
        match self.decide(operation, resource_type, name) {
            Decision::Allowed => true,
            Decision::Denied => false,
            Decision::NoAcls => self.config.allow_everyone_if_no_acl_found,
        }
    }

    /// Kafka's `authorizeByResourceType`: whether the caller may do
    /// `operation` on at least one resource of the type — an ALLOW for
    /// them that no DENY of the same or a wider pattern cancels.
    pub fn allows_any(&self, operation: AclOperation, resource_type: ResourceType) -> bool {
        if !self.config.enabled || self.is_super_user() {
            return true;
        }
        let mine: Vec<&AclBinding> = acls::of_type(&self.acls, resource_type)
            .filter(|acl| self.applies_to_me(acl))
            .filter(|acl| acl.operation == operation || acl.operation == AclOperation::All)
            .collect();
        let denied = |pattern: &AclBinding| {
            mine.iter().any(|deny| {
                deny.permission == PermissionType::Deny
                    && match deny.pattern_type {
                        PatternType::Literal => {
                            deny.resource_name == WILDCARD
                                || (pattern.pattern_type == PatternType::Literal
                                    && deny.resource_name == pattern.resource_name)
                        }
                        PatternType::Prefixed => {
                            pattern.resource_name.starts_with(&deny.resource_name)
                        }
                        _ => false,
                    }
            })
        };
        let allowed = mine
            .iter()
            .any(|acl| acl.permission == PermissionType::Allow && !denied(acl));
        if allowed {
            return true;
        }
        self.config.allow_everyone_if_no_acl_found
            && acls::of_type(&self.acls, resource_type).next().is_none()
    }

    /// Kafka's `authorized_operations` bit field: bit n set when the
    /// operation of code n is allowed, for the operations the resource
    /// type has.
    pub fn authorized_operations(&self, resource_type: ResourceType, name: &str) -> i32 {
        AclOperation::ALL
            .iter()
            .filter(|op| !matches!(op, AclOperation::Any | AclOperation::All))
            .filter(|op| resource_type.supports(**op))
            .filter(|op| self.allows(**op, resource_type, name))
            .fold(0, |bits, op| bits | (1 << op.code()))
    }

    fn is_super_user(&self) -> bool {
        self.config.super_users.iter().any(|u| u == self.principal)
    }

    fn applies_to_me(&self, acl: &AclBinding) -> bool {
        (acl.principal == self.principal || acl.principal == WILDCARD_PRINCIPAL)
            && (acl.host == WILDCARD || acl.host == self.host)
    }

    fn decide(&self, operation: AclOperation, resource_type: ResourceType, name: &str) -> Decision {
        let mut found = false;
        let mut allowed = false;
        for acl in acls::applicable(&self.acls, resource_type, name) {
            found = true;
            if !self.applies_to_me(acl) {
                continue;
            }
            match acl.permission {
                PermissionType::Deny
                    if acl.operation == operation || acl.operation == AclOperation::All =>
                {
                    return Decision::Denied;
                }
                PermissionType::Allow if implies(acl.operation, operation) => allowed = true,
                _ => {}
            }
        }
        match (allowed, found) {
            (true, _) => Decision::Allowed,
            (false, true) => Decision::Denied,
            (false, false) => Decision::NoAcls,
        }
    }
}

/// Whether an ALLOW of `granted` allows `wanted`.
fn implies(granted: AclOperation, wanted: AclOperation) -> bool {
    use AclOperation::*;
    granted == wanted
        || granted == All
        || (wanted == Describe && matches!(granted, Read | Write | Delete | Alter))
        || (wanted == DescribeConfigs && granted == AlterConfigs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn acl(
        name: &str,
        pattern_type: PatternType,
        principal: &str,
        operation: AclOperation,
        permission: PermissionType,
    ) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.to_string(),
            pattern_type,
            principal: principal.to_string(),
            host: "*".to_string(),
            operation,
            permission,
        }
    }

    fn authorizer(super_users: &[&str], allow_everyone: bool) -> Authorizer {
        Authorizer::new(AuthorizerConfig {
            enabled: true,
            super_users: super_users.iter().map(|u| u.to_string()).collect(),
            allow_everyone_if_no_acl_found: allow_everyone,
        })
    }

    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn deny_wins_implications_hold_and_patterns_apply() {
        use AclOperation::*;
        use PatternType::*;
        use PermissionType::*;
        let acls: Acls = [
            acl("orders", Literal, "User:alice", Read, Allow),
            acl("pay", Prefixed, "User:alice", Write, Allow),
            acl("payroll", Literal, "User:alice", Write, Deny),
            acl("*", Literal, "User:*", Describe, Allow),
            acl("secret", Literal, "User:*", All, Deny),
        ]
        .into_iter()
        .collect();
        let authorizer = authorizer(&["User:admin"], false);
        let alice = authorizer.session(Arc::new(acls.clone()), "User:alice", HOST);
        let topic = ResourceType::Topic;
        assert!(alice.allows(Read, topic, "orders"));
        assert!(
            alice.allows(Describe, topic, "orders"),
            "READ implies DESCRIBE"
        );
        assert!(!alice.allows(Write, topic, "orders"));
        assert!(alice.allows(Write, topic, "payments"), "prefixed");
        assert!(
            !alice.allows(Write, topic, "payroll"),
            "DENY wins over ALLOW"
        );
        assert!(
            !alice.allows(Describe, topic, "secret"),
            "DENY ALL wins over User:*"
        );
        assert!(
            alice.allows(Describe, topic, "anything"),
            "wildcard name and principal"
        );
        assert!(
            !alice.allows(Read, ResourceType::Group, "g"),
            "no ACL: closed"
        );
        let admin = authorizer.session(Arc::new(acls.clone()), "User:admin", HOST);
        assert!(admin.allows(Write, topic, "secret"), "super users");
        let open = super::tests::authorizer(&[], true);
        let bob = open.session(Arc::new(acls), "User:bob", HOST);
        assert!(
            bob.allows(Read, ResourceType::Group, "g"),
            "no ACL: open when configured"
        );
        assert!(
            !bob.allows(Read, topic, "orders"),
            "ACLs exist for it: closed"
        );
    }

    #[test]
    fn hosts_by_resource_type_and_authorized_operations() {
        use AclOperation::*;
        use PatternType::*;
        use PermissionType::*;
        let mut from_elsewhere = acl("t", Literal, "User:alice", Read, Allow);
        from_elsewhere.host = "10.0.0.1".to_string();
        let acls: Acls = [
            from_elsewhere,
            acl("t", Literal, "User:alice", Describe, Allow),
            acl("w", Prefixed, "User:alice", Write, Allow),
            acl("wx", Prefixed, "User:alice", Write, Deny),
        ]
        .into_iter()
        .collect();
        let authorizer = authorizer(&[], false);
        let alice = authorizer.session(Arc::new(acls.clone()), "User:alice", HOST);
        assert!(
            !alice.allows(Read, ResourceType::Topic, "t"),
            "another host"
        );
        assert!(alice.allows_any(Write, ResourceType::Topic));
        assert!(!alice.allows_any(Read, ResourceType::Topic));
        assert_eq!(
            alice.authorized_operations(ResourceType::Topic, "t"),
            1 << Describe.code()
        );
        let denied: Acls = [
            acl("w", Prefixed, "User:alice", Write, Allow),
            acl("*", Literal, "User:alice", Write, Deny),
        ]
        .into_iter()
        .collect();
        let alice = authorizer.session(Arc::new(denied), "User:alice", HOST);
        assert!(!alice.allows_any(Write, ResourceType::Topic));
        let off = Authorizer::default();
        assert!(off.session(Arc::new(acls), "User:ANONYMOUS", HOST).allows(
            Alter,
            ResourceType::Cluster,
            "kafka-cluster"
        ));
    }
}
