//! ACL bindings as Kafka defines them (`AclBinding`: a resource pattern and
//! an access control entry) with the wire codes of Kafka's enums, and the
//! filters of DescribeAcls and DeleteAcls. The authorizer that decides
//! with them is `auth::authorizer`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Defines an enum with Kafka's byte codes; `from_code` refuses the
/// others (and UNKNOWN, 0).
macro_rules! coded {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code),+ }
            }

            pub fn from_code(code: i8) -> Option<$name> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// Kafka's name (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`…).
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn from_name(name: &str) -> Option<$name> {
                let wanted = name.to_ascii_uppercase().replace('-', "_");
                Self::ALL.iter().copied().find(|v| v.name() == wanted)
            }
        }
    };
}

coded!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Any = 1 => "ANY",
        Topic = 2 => "TOPIC",
        Group = 3 => "GROUP",
        Cluster = 4 => "CLUSTER",
        TransactionalId = 5 => "TRANSACTIONAL_ID",
        DelegationToken = 6 => "DELEGATION_TOKEN",
        User = 7 => "USER",
    }
);

coded!(
    /// Kafka's `PatternType`: ANY and MATCH only in filters.
    PatternType {
        Any = 1 => "ANY",
        Match = 2 => "MATCH",
        Literal = 3 => "LITERAL",
        Prefixed = 4 => "PREFIXED",
    }
);

coded!(
    /// Kafka's `AclOperation`.
    AclOperation {
        Any = 1 => "ANY",
        All = 2 => "ALL",
        Read = 3 => "READ",
        Write = 4 => "WRITE",
        Create = 5 => "CREATE",
        Delete = 6 => "DELETE",
        Alter = 7 => "ALTER",
        Describe = 8 => "DESCRIBE",
        ClusterAction = 9 => "CLUSTER_ACTION",
        DescribeConfigs = 10 => "DESCRIBE_CONFIGS",
        AlterConfigs = 11 => "ALTER_CONFIGS",
        IdempotentWrite = 12 => "IDEMPOTENT_WRITE",
        CreateTokens = 13 => "CREATE_TOKENS",
        DescribeTokens = 14 => "DESCRIBE_TOKENS",
        TwoPhaseCommit = 15 => "TWO_PHASE_COMMIT",
    }
);

coded!(
    /// Kafka's `AclPermissionType`.
    PermissionType {
        Any = 1 => "ANY",
        Deny = 2 => "DENY",
        Allow = 3 => "ALLOW",
    }
);

/// The one cluster resource's name.
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// A resource name or host that stands for all of them.
pub const WILDCARD: &str = "*";
/// A principal that stands for every user.
pub const WILDCARD_PRINCIPAL: &str = "User:*";

impl ResourceType {
    /// The operations an ACL on this resource type may name (Kafka's
    /// `AclEntry.supportedOperations`); ALL is allowed everywhere.
    pub fn supports(self, operation: AclOperation) -> bool {
        use AclOperation::*;
        let supported: &[AclOperation] = match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write, TwoPhaseCommit],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
            ResourceType::Any => &[],
        };
        operation == All || supported.contains(&operation)
    }
}

/// One ACL: who may (or may not) do what, from where, on which resources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    /// LITERAL or PREFIXED.
    pub pattern_type: PatternType,
    /// `User:alice`, or `User:*` for everyone.
    pub principal: String,
    /// An address, or `*` for any.
    pub host: String,
    pub operation: AclOperation,
    /// ALLOW or DENY.
    pub permission: PermissionType,
}

/// A DescribeAcls or DeleteAcls filter: `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: PermissionType,
}

impl AclFilter {
    /// Kafka's `AclBindingFilter.matches`, with the pattern semantics of
    /// `ResourcePatternFilter`: ANY matches every pattern of the name
    /// given; MATCH matches the patterns that apply to a resource of that
    /// name (the literal name, the wildcard, prefixes of it).
    pub fn matches(&self, acl: &AclBinding) -> bool {
        let resource_type =
            self.resource_type == ResourceType::Any || self.resource_type == acl.resource_type;
        let operation = self.operation == AclOperation::Any || self.operation == acl.operation;
        let permission =
            self.permission == PermissionType::Any || self.permission == acl.permission;
        let principal = self.principal.as_ref().is_none_or(|p| *p == acl.principal);
        let host = self.host.as_ref().is_none_or(|h| *h == acl.host);
        resource_type && operation && permission && principal && host && self.matches_pattern(acl)
    }

    fn matches_pattern(&self, acl: &AclBinding) -> bool {
        match self.pattern_type {
            PatternType::Any => self
                .resource_name
                .as_ref()
                .is_none_or(|name| *name == acl.resource_name),
            PatternType::Literal | PatternType::Prefixed => {
                self.pattern_type == acl.pattern_type
                    && self
                        .resource_name
                        .as_ref()
                        .is_none_or(|name| *name == acl.resource_name)
            }
            PatternType::Match => match &self.resource_name {
                None => true,
                Some(name) => pattern_applies(acl, name),
            },
        }
    }

    /// Whether the filter can match only one binding (every field given):
    /// Kafka's `AclBindingFilter.matchesAtMostOne`.
    pub fn is_exact(&self) -> bool {
        self.resource_type != ResourceType::Any
            && self.resource_name.is_some()
            && matches!(
                self.pattern_type,
                PatternType::Literal | PatternType::Prefixed
            )
            && self.principal.is_some()
            && self.host.is_some()
            && self.operation != AclOperation::Any
            && self.permission != PermissionType::Any
    }
}

/// Whether an ACL's pattern covers a resource named `name` (of the same
/// type): the wildcard literal, the exact literal, or a prefix.
pub fn pattern_applies(acl: &AclBinding, name: &str) -> bool {
    match acl.pattern_type {
        PatternType::Literal => acl.resource_name == WILDCARD || acl.resource_name == name,
        PatternType::Prefixed => name.starts_with(&acl.resource_name),
        PatternType::Any | PatternType::Match => false,
    }
}

/// Every ACL of the cluster, in `AclBinding`'s order: by resource type,
/// then name, so the bindings of one name sit together.
pub type Acls = BTreeSet<AclBinding>;

/// The smallest binding of `resource_type` named `name` (every other
/// field at its smallest): where that name's bindings start.
fn first_named(resource_type: ResourceType, name: &str) -> AclBinding {
    AclBinding {
        resource_type,
        resource_name: name.to_string(),
        pattern_type: PatternType::Any,
        principal: String::new(),
        host: String::new(),
        operation: AclOperation::Any,
        permission: PermissionType::Any,
    }
}

/// The bindings of `resource_type` named exactly `name`, of any pattern.
fn named<'a>(
    acls: &'a Acls,
    resource_type: ResourceType,
    name: &'a str,
) -> impl Iterator<Item = &'a AclBinding> + 'a {
    acls.range(first_named(resource_type, name)..)
        .take_while(move |acl| acl.resource_type == resource_type && acl.resource_name == name)
}

/// The bindings of one resource type.
pub fn of_type(acls: &Acls, resource_type: ResourceType) -> impl Iterator<Item = &AclBinding> {
    acls.range(first_named(resource_type, "")..)
        .take_while(move |acl| acl.resource_type == resource_type)
}

/// Every binding whose pattern covers the resource `name` of
/// `resource_type` — its literal name, the wildcard, each of its
/// prefixes — looked up by name in the set's order rather than found by a
/// scan, as Kafka's `StandardAuthorizerData` does: an authorization costs
/// a lookup per character of the name, however many ACLs the cluster has.
pub fn applicable<'a>(
    acls: &'a Acls,
    resource_type: ResourceType,
    name: &'a str,
) -> Vec<&'a AclBinding> {
    let mut found: Vec<&AclBinding> = named(acls, resource_type, name)
        .filter(|acl| acl.pattern_type == PatternType::Literal)
        .collect();
    if name != WILDCARD {
        found.extend(
            named(acls, resource_type, WILDCARD)
                .filter(|acl| acl.pattern_type == PatternType::Literal),
        );
    }
    let prefix_ends = std::iter::once(0).chain(name.char_indices().map(|(i, c)| i + c.len_utf8()));
    for end in prefix_ends {
        found.extend(
            named(acls, resource_type, &name[..end])
                .filter(|acl| acl.pattern_type == PatternType::Prefixed),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(name: &str, pattern_type: PatternType) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.to_string(),
            pattern_type,
            principal: "User:alice".to_string(),
            host: "*".to_string(),
            operation: AclOperation::Read,
            permission: PermissionType::Allow,
        }
    }

    fn filter(name: Option<&str>, pattern_type: PatternType) -> AclFilter {
        AclFilter {
            resource_type: ResourceType::Topic,
            resource_name: name.map(str::to_string),
            pattern_type,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: PermissionType::Any,
        }
    }

    #[test]
    fn filters_match_patterns_as_kafka_does() {
        let literal = acl("orders", PatternType::Literal);
        let wildcard = acl("*", PatternType::Literal);
        let prefixed = acl("ord", PatternType::Prefixed);
        let other = acl("payments", PatternType::Literal);
        let matching = |f: &AclFilter| {
            [&literal, &wildcard, &prefixed, &other]
                .into_iter()
                .filter(|a| f.matches(a))
                .map(|a| a.resource_name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            matching(&filter(Some("orders"), PatternType::Match)),
            ["orders", "*", "ord"]
        );
        assert_eq!(
            matching(&filter(Some("orders"), PatternType::Any)),
            ["orders"]
        );
        assert_eq!(
            matching(&filter(Some("ord"), PatternType::Prefixed)),
            ["ord"]
        );
        assert_eq!(
            matching(&filter(None, PatternType::Literal)),
            ["orders", "*", "payments"]
        );
        assert_eq!(matching(&filter(None, PatternType::Any)).len(), 4);
        let mut group = filter(None, PatternType::Any);
        group.resource_type = ResourceType::Group;
        assert!(matching(&group).is_empty());
    }

    #[test]
    fn lookups_by_name_find_what_a_scan_finds() {
        let names = [
            "",
            "*",
            "o",
            "or",
            "orders",
            "orders-eu",
            "ordnance",
            "pay",
            "é",
            "éa",
        ];
        let mut acls = Acls::new();
        for (i, name) in names.iter().enumerate() {
            for pattern_type in [PatternType::Literal, PatternType::Prefixed] {
                for resource_type in [ResourceType::Topic, ResourceType::Group] {
                    let mut binding = acl(name, pattern_type);
                    binding.resource_type = resource_type;
                    binding.principal = format!("User:{}", i % 3);
                    acls.insert(binding);
                }
            }
        }
        for name in names.iter().chain(&["orders-eu-1", "x", "ordersX"]) {
            for resource_type in [
                ResourceType::Topic,
                ResourceType::Group,
                ResourceType::Cluster,
            ] {
                let mut looked_up: Vec<_> = applicable(&acls, resource_type, name);
                looked_up.sort();
                let scanned: Vec<_> = acls
                    .iter()
                    .filter(|a| a.resource_type == resource_type && pattern_applies(a, name))
                    .collect();
                assert_eq!(looked_up, scanned, "{resource_type:?} {name:?}");
                let typed: Vec<_> = of_type(&acls, resource_type).collect();
                let all_of_type: Vec<_> = acls
                    .iter()
                    .filter(|a| a.resource_type == resource_type)
                    .collect();
                assert_eq!(typed, all_of_type);
            }
        }
    }

    #[test]
    fn codes_and_names_round_trip() {
        for op in AclOperation::ALL {
            assert_eq!(AclOperation::from_code(op.code()), Some(*op));
            assert_eq!(AclOperation::from_name(op.name()), Some(*op));
        }
        assert_eq!(
            AclOperation::from_name("describe-configs"),
            Some(AclOperation::DescribeConfigs)
        );
        assert_eq!(ResourceType::from_code(0), None);
        assert!(ResourceType::Topic.supports(AclOperation::Read));
        assert!(!ResourceType::Topic.supports(AclOperation::IdempotentWrite));
    }
}
