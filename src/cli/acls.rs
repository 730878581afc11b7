//! `gregor acls`: the ACL tool, modelled on `kafka-acls.sh` (Kafka's
//! `AclCommand`): `--add`, `--remove` and `--list` ACLs on topics, groups,
//! the cluster and transactional ids, with its `--producer`, `--consumer`
//! and `--idempotent` conveniences, over CreateAcls, DescribeAcls and
//! DeleteAcls. The command line is checked and turned into ACLs before
//! anything is sent; the broker's authorizer decides the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fmt::Write as _;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;

use super::{broker_error, CommandError};
use crate::client::{ClientError, Connection};
use crate::config::client_security::ClientSecurityConfig;
use crate::metadata::acls::{
    AclOperation, PatternType, PermissionType, ResourceType, CLUSTER_NAME, WILDCARD,
};

const CLIENT_ID: &str = "gregor-acls";
/// The ACL APIs' newest versions (v1 brought pattern types; v2 and v3
/// are the flexible encodings).
const ACL_API_VERSION: i16 = 3;

/// What the command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Remove,
    List,
}

/// The command line, as `kafka-acls.sh` takes it.
#[derive(Debug, Clone)]
pub struct AclOptions {
    pub action: Action,
    /// `--remove` without asking.
    pub force: bool,
    pub allow_principals: Vec<String>,
    pub deny_principals: Vec<String>,
    pub allow_hosts: Vec<String>,
    pub deny_hosts: Vec<String>,
    /// Operation names (`Read`, `DescribeConfigs`, `IDEMPOTENT_WRITE`…);
    /// none: `All`.
    pub operations: Vec<String>,
    pub topics: Vec<String>,
    pub groups: Vec<String>,
    pub cluster: bool,
    pub transactional_ids: Vec<String>,
    /// `literal` (the default), `prefixed`, or for `--list` and `--remove`
    /// the filters `any` and `match`.
    pub resource_pattern_type: Option<String>,
    pub producer: bool,
    pub consumer: bool,
    pub idempotent: bool,
    /// `--principal`: with `--list`, only these principals' ACLs.
    pub principals: Vec<String>,
}

/// A resource pattern (Kafka's `ResourcePattern`), or with pattern type ANY
/// or MATCH a filter of them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    pub resource_type: ResourceType,
    pub name: String,
    pub pattern_type: PatternType,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type.name(),
            self.name,
            self.pattern_type.name()
        )
    }
}

/// Who may or may not do what from where: Kafka's `AccessControlEntry`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub principal: String,
    pub host: String,
    pub operation: AclOperation,
    pub permission: PermissionType,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal,
            self.host,
            self.operation.name(),
            self.permission.name()
        )
    }
}

/// Each resource (or filter) the command names, with the entries to add
/// or remove; for `--remove`, no entries means every ACL of the resource.
pub type Plan = BTreeMap<Resource, BTreeSet<Entry>>;

fn usage(message: impl Into<String>) -> CommandError {
    CommandError::Usage(message.into())
}

/// `--resource-pattern-type`, LITERAL when not given.
fn pattern_type(options: &AclOptions) -> Result<PatternType, CommandError> {
    match options.resource_pattern_type.as_deref() {
        None => Ok(PatternType::Literal),
        Some(text) => PatternType::from_name(text.trim())
            .ok_or_else(|| usage(format!("Unknown resource-pattern-type: {text}"))),
    }
}

/// An operation by any of the names Kafka's tools accept: `DescribeConfigs`,
/// `describe-configs`, `DESCRIBE_CONFIGS`.
fn operation(name: &str) -> Result<AclOperation, CommandError> {
    let squash = |text: &str| {
        text.chars()
            .filter(|c| *c != '_' && *c != '-')
            .collect::<String>()
            .to_ascii_uppercase()
    };
    let wanted = squash(name.trim());
    AclOperation::ALL
        .iter()
        .copied()
        .find(|operation| squash(operation.name()) == wanted)
        .ok_or_else(|| usage(format!("Unknown operation name: {name}")))
}

/// `Type:name`, as Kafka's `SecurityUtils.parseKafkaPrincipal` reads it.
fn principal(text: &str) -> Result<String, CommandError> {
    let text = text.trim();
    match text.split_once(':') {
        Some((kind, name)) if !kind.is_empty() => Ok(format!("{kind}:{name}")),
        _ => Err(usage(format!(
            "expected a string in format principalType:principalName but got {text}"
        ))),
    }
}

/// The resources (or filters) named on the command line; `required`: at
/// least one.
fn resources(options: &AclOptions, required: bool) -> Result<Vec<Resource>, CommandError> {
    let pattern_type = pattern_type(options)?;
    let named = |resource_type: ResourceType, names: &[String]| {
        names
            .iter()
            .map(|name| Resource {
                resource_type,
                name: name.trim().to_string(),
                pattern_type,
            })
            .collect::<Vec<_>>()
    };
    let mut resources = named(ResourceType::Topic, &options.topics);
    // As in AclCommand, the cluster is only ever a literal pattern.
    if pattern_type == PatternType::Literal && (options.cluster || options.idempotent) {
        resources.push(Resource {
            resource_type: ResourceType::Cluster,
            name: CLUSTER_NAME.to_string(),
            pattern_type,
        });
    }
    resources.extend(named(ResourceType::Group, &options.groups));
    resources.extend(named(
        ResourceType::TransactionalId,
        &options.transactional_ids,
    ));
    if resources.is_empty() && required {
        return Err(usage(
            "You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --transactional-id <transactional-id>",
        ));
    }
    Ok(resources)
}

/// The entries the principals, hosts and `operations` make: every allowed
/// principal from every allowed host (default `*`), and the same for the
/// denied ones.
fn entries(
    options: &AclOptions,
    operations: &BTreeSet<AclOperation>,
) -> Result<BTreeSet<Entry>, CommandError> {
    let mut entries = BTreeSet::new();
    for (principals, hosts, permission) in [
        (
            &options.allow_principals,
            &options.allow_hosts,
            PermissionType::Allow,
        ),
        (
            &options.deny_principals,
            &options.deny_hosts,
            PermissionType::Deny,
        ),
    ] {
        let hosts: Vec<String> = match hosts.is_empty() {
            true => vec![WILDCARD.to_string()],
            false => hosts.iter().map(|h| h.trim().to_string()).collect(),
        };
        for principal in principals.iter().map(|p| principal(p)) {
            let principal = principal?;
            for operation in operations {
                for host in &hosts {
                    entries.insert(Entry {
                        principal: principal.clone(),
                        host: host.clone(),
                        operation: *operation,
                        permission,
                    });
                }
            }
        }
    }
    Ok(entries)
}

/// The checks `AclCommand` makes of its command line before connecting.
fn check_options(options: &AclOptions) -> Result<(), CommandError> {
    if !options.principals.is_empty() && options.action != Action::List {
        return Err(usage(
            "The --principal option is only available if --list is set",
        ));
    }
    if options.producer && options.topics.is_empty() {
        return Err(usage("With --producer you must specify a --topic"));
    }
    if options.idempotent && !options.producer {
        return Err(usage(
            "The --idempotent option is only available if --producer is set",
        ));
    }
    if options.consumer
        && (options.topics.is_empty()
            || options.groups.is_empty()
            || (!options.producer && (options.cluster || !options.transactional_ids.is_empty())))
    {
        return Err(usage("With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified."));
    }
    Ok(())
}

/// What `--add` or `--remove` acts on, as `AclCommand` builds it: the
/// `--operation`s on every resource, or the ACLs `--producer` (WRITE,
/// DESCRIBE, CREATE on topics; WRITE, DESCRIBE on transactional ids;
/// IDEMPOTENT_WRITE on the cluster with `--idempotent`) and `--consumer`
/// (READ, DESCRIBE on topics; READ on groups) stand for.
pub fn plan(options: &AclOptions) -> Result<Plan, CommandError> {
    check_options(options)?;
    let pattern_type = pattern_type(options)?;
    if options.action == Action::Add
        && !matches!(pattern_type, PatternType::Literal | PatternType::Prefixed)
    {
        return Err(usage(format!(
            "A '--resource-pattern-type' value of '{}' is not valid when adding acls.",
            pattern_type.name()
        )));
    }
    let resources = resources(options, true)?;
    let of_type = |resource_type: ResourceType| {
        resources
            .iter()
            .filter(move |r| r.resource_type == resource_type)
            .cloned()
    };
    let operations = |list: &[AclOperation]| list.iter().copied().collect::<BTreeSet<_>>();
    let mut plan = Plan::new();
    if !options.producer && !options.consumer {
        let named = match options.operations.is_empty() {
            true => operations(&[AclOperation::All]),
            false => options
                .operations
                .iter()
                .map(|name| operation(name))
                .collect::<Result<_, _>>()?,
        };
        let entries = entries(options, &named)?;
        for resource in &resources {
            plan.insert(resource.clone(), entries.clone());
        }
    }
    if options.producer {
        use AclOperation::{Create, Describe, IdempotentWrite, Write};
        let topic_entries = entries(options, &operations(&[Write, Describe, Create]))?;
        for topic in of_type(ResourceType::Topic) {
            plan.insert(topic, topic_entries.clone());
        }
        let id_entries = entries(options, &operations(&[Write, Describe]))?;
        for id in of_type(ResourceType::TransactionalId) {
            plan.insert(id, id_entries.clone());
        }
        if options.idempotent {
            let idempotent = entries(options, &operations(&[IdempotentWrite]))?;
            for cluster in of_type(ResourceType::Cluster) {
                plan.insert(cluster, idempotent.clone());
            }
        }
    }
    if options.consumer {
        use AclOperation::{Describe, Read};
        let topic_entries = entries(options, &operations(&[Read, Describe]))?;
        for topic in of_type(ResourceType::Topic) {
            plan.entry(topic)
                .or_default()
                .extend(topic_entries.iter().cloned());
        }
        let group_entries = entries(options, &operations(&[Read]))?;
        for group in of_type(ResourceType::Group) {
            plan.entry(group)
                .or_default()
                .extend(group_entries.iter().cloned());
        }
    }
    for (resource, entries) in &plan {
        let resource_type = resource.resource_type;
        if entries.iter().any(|e| !resource_type.supports(e.operation)) {
            let supported: Vec<&str> = AclOperation::ALL
                .iter()
                .filter(|op| resource_type.supports(**op))
                .map(|op| op.name())
                .collect();
            return Err(usage(format!(
                "ResourceType {} only supports operations [{}]",
                resource_type.name(),
                supported.join(", ")
            )));
        }
    }
    if options.action == Action::Add && plan.values().any(BTreeSet::is_empty) {
        return Err(usage(
            "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.",
        ));
    }
    Ok(plan)
}

/// Runs the command against `bootstrap`, connecting with `security`, and
/// returns what it prints. `confirm` is asked before each removal unless
/// `--force`.
pub async fn run(
    bootstrap: &str,
    security: &ClientSecurityConfig,
    options: &AclOptions,
    confirm: &mut dyn FnMut(&str) -> Result<bool, CommandError>,
) -> Result<String, CommandError> {
    match options.action {
        Action::List => {
            check_options(options)?;
            let filters = resources(options, false)?;
            let principals = options
                .principals
                .iter()
                .map(|p| principal(p))
                .collect::<Result<Vec<_>, _>>()?;
            let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
            list(&mut connection, &filters, &principals).await
        }
        Action::Add => {
            let plan = plan(options)?;
            let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
            add(&mut connection, &plan).await
        }
        Action::Remove => {
            let plan = plan(options)?;
            let mut connection = Connection::connect_with(bootstrap, CLIENT_ID, security).await?;
            remove(&mut connection, &plan, options.force, confirm).await?;
            Ok(String::new())
        }
    }
}

fn str_bytes(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

/// The ACLs matching `filter` (every ACL without one), by resource.
async fn describe(
    connection: &mut Connection,
    filter: Option<&Resource>,
) -> Result<Plan, ClientError> {
    let request = match filter {
        None => DescribeAclsRequest::default()
            .with_resource_type_filter(ResourceType::Any.code())
            .with_resource_name_filter(None)
            .with_pattern_type_filter(PatternType::Any.code()),
        Some(resource) => DescribeAclsRequest::default()
            .with_resource_type_filter(resource.resource_type.code())
            .with_resource_name_filter(Some(str_bytes(&resource.name)))
            .with_pattern_type_filter(resource.pattern_type.code()),
    }
    .with_principal_filter(None)
    .with_host_filter(None)
    .with_operation(AclOperation::Any.code())
    .with_permission_type(PermissionType::Any.code());
    let response = connection.request(request, ACL_API_VERSION).await?;
    broker_error(
        response.error_code,
        response.error_message.as_ref(),
        "DescribeAcls",
    )?;
    let mut found = Plan::new();
    for described in response.resources {
        let unknown = |what: &str, code: i8| {
            ClientError::Protocol(format!("DescribeAcls answered {what} code {code}"))
        };
        let resource = Resource {
            resource_type: ResourceType::from_code(described.resource_type)
                .ok_or_else(|| unknown("resource type", described.resource_type))?,
            name: described.resource_name.to_string(),
            pattern_type: PatternType::from_code(described.pattern_type)
                .ok_or_else(|| unknown("pattern type", described.pattern_type))?,
        };
        let entries = found.entry(resource).or_default();
        for acl in described.acls {
            entries.insert(Entry {
                principal: acl.principal.to_string(),
                host: acl.host.to_string(),
                operation: AclOperation::from_code(acl.operation)
                    .ok_or_else(|| unknown("operation", acl.operation))?,
                permission: PermissionType::from_code(acl.permission_type)
                    .ok_or_else(|| unknown("permission type", acl.permission_type))?,
            });
        }
    }
    Ok(found)
}

/// `--list`: every ACL the filters match (all without any), grouped by
/// resource as AclCommand prints them; with `principals`, per principal.
async fn list(
    connection: &mut Connection,
    filters: &[Resource],
    principals: &[String],
) -> Result<String, CommandError> {
    let mut found = Plan::new();
    if filters.is_empty() {
        found = describe(connection, None).await?;
    }
    for filter in filters {
        for (resource, entries) in describe(connection, Some(filter)).await? {
            found.entry(resource).or_default().extend(entries);
        }
    }
    let mut out = String::new();
    if principals.is_empty() {
        print_resources(&mut out, found.iter());
    }
    for principal in principals {
        writeln!(out, "ACLs for principal `{principal}`").ok();
        let theirs: Plan = found
            .iter()
            .map(|(resource, entries)| {
                let entries = entries
                    .iter()
                    .filter(|e| e.principal == *principal)
                    .cloned()
                    .collect();
                (resource.clone(), entries)
            })
            .filter(|(_, entries): &(Resource, BTreeSet<Entry>)| !entries.is_empty())
            .collect();
        print_resources(&mut out, theirs.iter());
    }
    Ok(out)
}

fn print_resources<'a>(
    out: &mut String,
    resources: impl Iterator<Item = (&'a Resource, &'a BTreeSet<Entry>)>,
) {
    for (resource, entries) in resources {
        writeln!(out, "Current ACLs for resource `{resource}`:").ok();
        for entry in entries {
            writeln!(out, "\t{entry}").ok();
        }
        out.push('\n');
    }
}

/// `--add`: per resource, the entries it does not have yet, in one
/// CreateAcls.
async fn add(connection: &mut Connection, plan: &Plan) -> Result<String, CommandError> {
    let mut out = String::new();
    for (resource, entries) in plan {
        let existing = describe(connection, Some(resource)).await?;
        let existing = existing.get(resource);
        let mut new = Vec::new();
        for entry in entries {
            if existing.is_some_and(|e| e.contains(entry)) {
                writeln!(
                    out,
                    "Acl (pattern={resource}, entry={entry}) already exists."
                )
                .ok();
            } else {
                new.push(entry);
            }
        }
        if new.is_empty() {
            continue;
        }
        let listed: Vec<String> = new.iter().map(|e| format!("\t{e}")).collect();
        write!(
            out,
            "Adding ACLs for resource `{resource}`: \n {}\n\n",
            listed.join("\n")
        )
        .ok();
        let creations = new
            .iter()
            .map(|entry| {
                AclCreation::default()
                    .with_resource_type(resource.resource_type.code())
                    .with_resource_name(str_bytes(&resource.name))
                    .with_resource_pattern_type(resource.pattern_type.code())
                    .with_principal(str_bytes(&entry.principal))
                    .with_host(str_bytes(&entry.host))
                    .with_operation(entry.operation.code())
                    .with_permission_type(entry.permission.code())
            })
            .collect();
        let response = connection
            .request(
                CreateAclsRequest::default().with_creations(creations),
                ACL_API_VERSION,
            )
            .await?;
        for result in &response.results {
            broker_error(
                result.error_code,
                result.error_message.as_ref(),
                "CreateAcls",
            )?;
        }
    }
    Ok(out)
}

/// `--remove`: per resource filter, its entries (or all its ACLs), each
/// after `confirm` unless `force`.
async fn remove(
    connection: &mut Connection,
    plan: &Plan,
    force: bool,
    confirm: &mut dyn FnMut(&str) -> Result<bool, CommandError>,
) -> Result<(), CommandError> {
    for (resource, entries) in plan {
        let question = match entries.is_empty() {
            true => format!(
                "Are you sure you want to delete all ACLs for resource filter `{resource}`? (y/n)"
            ),
            false => {
                let listed: Vec<String> = entries.iter().map(|e| format!("\t{e}")).collect();
                format!(
                    "Are you sure you want to remove ACLs: \n {}\n from resource filter `{resource}`? (y/n)",
                    listed.join("\n")
                )
            }
        };
        if !force && !confirm(&question)? {
            continue;
        }
        let filter = DeleteAclsFilter::default()
            .with_resource_type_filter(resource.resource_type.code())
            .with_resource_name_filter(Some(str_bytes(&resource.name)))
            .with_pattern_type_filter(resource.pattern_type.code());
        let filters = match entries.is_empty() {
            true => vec![filter
                .with_principal_filter(None)
                .with_host_filter(None)
                .with_operation(AclOperation::Any.code())
                .with_permission_type(PermissionType::Any.code())],
            false => entries
                .iter()
                .map(|entry| {
                    filter
                        .clone()
                        .with_principal_filter(Some(str_bytes(&entry.principal)))
                        .with_host_filter(Some(str_bytes(&entry.host)))
                        .with_operation(entry.operation.code())
                        .with_permission_type(entry.permission.code())
                })
                .collect(),
        };
        let response = connection
            .request(
                DeleteAclsRequest::default().with_filters(filters),
                ACL_API_VERSION,
            )
            .await?;
        for result in &response.filter_results {
            broker_error(
                result.error_code,
                result.error_message.as_ref(),
                "DeleteAcls",
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(action: Action) -> AclOptions {
        AclOptions {
            action,
            force: false,
            allow_principals: vec![],
            deny_principals: vec![],
            allow_hosts: vec![],
            deny_hosts: vec![],
            operations: vec![],
            topics: vec![],
            groups: vec![],
            cluster: false,
            transactional_ids: vec![],
            resource_pattern_type: None,
            producer: false,
            consumer: false,
            idempotent: false,
            principals: vec![],
        }
    }

    fn resource(resource_type: ResourceType, name: &str, pattern_type: PatternType) -> Resource {
        Resource {
            resource_type,
            name: name.to_string(),
            pattern_type,
        }
    }

    fn printed(plan: &Plan) -> Vec<String> {
        plan.iter()
            .flat_map(|(r, entries)| entries.iter().map(move |e| format!("{r} {e}")))
            .collect()
    }

    #[test]
    fn operations_on_every_resource_for_every_principal_and_host() {
        let mut add = options(Action::Add);
        add.allow_principals = vec!["User:alice".into(), "User:bob".into()];
        add.deny_principals = vec!["User:eve".into()];
        add.deny_hosts = vec!["10.0.0.1".into()];
        add.operations = vec!["Read".into(), "describe".into()];
        add.topics = vec!["orders".into()];
        add.groups = vec!["billing".into()];
        let plan = plan(&add).unwrap();
        let topic = &plan[&resource(ResourceType::Topic, "orders", PatternType::Literal)];
        assert_eq!(topic.len(), 6);
        assert!(topic.contains(&Entry {
            principal: "User:eve".into(),
            host: "10.0.0.1".into(),
            operation: AclOperation::Describe,
            permission: PermissionType::Deny,
        }));
        assert_eq!(
            topic.iter().next().map(ToString::to_string).unwrap(),
            "(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)"
        );
        assert_eq!(plan.len(), 2);
        assert_eq!(
            resource(ResourceType::Topic, "orders", PatternType::Literal).to_string(),
            "ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)"
        );
    }

    #[test]
    fn producer_consumer_and_idempotent_are_aclcommands_conveniences() {
        let mut add = options(Action::Add);
        add.allow_principals = vec!["User:alice".into()];
        add.producer = true;
        add.idempotent = true;
        add.topics = vec!["t".into()];
        add.transactional_ids = vec!["tx".into()];
        assert_eq!(
            printed(&plan(&add).unwrap()),
            [
                "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL) (principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)",
                "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL) (principal=User:alice, host=*, operation=CREATE, permissionType=ALLOW)",
                "ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL) (principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)",
                "ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL) (principal=User:alice, host=*, operation=IDEMPOTENT_WRITE, permissionType=ALLOW)",
                "ResourcePattern(resourceType=TRANSACTIONAL_ID, name=tx, patternType=LITERAL) (principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW)",
                "ResourcePattern(resourceType=TRANSACTIONAL_ID, name=tx, patternType=LITERAL) (principal=User:alice, host=*, operation=DESCRIBE, permissionType=ALLOW)",
            ]
        );
        let mut consumer = options(Action::Add);
        consumer.allow_principals = vec!["User:bob".into()];
        consumer.consumer = true;
        consumer.topics = vec!["t".into()];
        consumer.groups = vec!["g".into()];
        let ops: Vec<(ResourceType, AclOperation)> = plan(&consumer)
            .unwrap()
            .iter()
            .flat_map(|(r, es)| es.iter().map(|e| (r.resource_type, e.operation)))
            .collect();
        assert_eq!(
            ops,
            [
                (ResourceType::Topic, AclOperation::Read),
                (ResourceType::Topic, AclOperation::Describe),
                (ResourceType::Group, AclOperation::Read),
            ]
        );
    }

    #[test]
    fn refusals_name_what_is_wrong_as_aclcommand_does() {
        let refused = |change: &dyn Fn(&mut AclOptions)| {
            let mut o = options(Action::Add);
            o.allow_principals = vec!["User:alice".into()];
            o.topics = vec!["t".into()];
            change(&mut o);
            plan(&o).unwrap_err().to_string()
        };
        assert_eq!(
            refused(&|o| o.resource_pattern_type = Some("match".into())),
            "A '--resource-pattern-type' value of 'MATCH' is not valid when adding acls."
        );
        assert_eq!(
            refused(&|o| o.resource_pattern_type = Some("glob".into())),
            "Unknown resource-pattern-type: glob"
        );
        assert!(refused(&|o| o.operations = vec!["IdempotentWrite".into()])
            .starts_with("ResourceType TOPIC only supports operations [ALL, READ, WRITE, "));
        assert_eq!(
            refused(&|o| o.operations = vec!["Fly".into()]),
            "Unknown operation name: Fly"
        );
        assert!(refused(&|o| o.allow_principals = vec!["alice".into()])
            .starts_with("expected a string in format principalType:principalName"));
        assert!(
            refused(&|o| o.topics.clear()).starts_with("You must provide at least one resource")
        );
        assert_eq!(
            refused(&|o| o.allow_principals.clear()),
            "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs."
        );
        assert!(refused(&|o| {
            o.consumer = true;
            o.operations.clear();
        })
        .starts_with("With --consumer you must specify a --topic and a --group"));
        assert_eq!(
            refused(&|o| o.idempotent = true),
            "The --idempotent option is only available if --producer is set"
        );
    }

    #[test]
    fn remove_without_principals_takes_every_acl_of_the_filter() {
        let mut remove = options(Action::Remove);
        remove.topics = vec!["or".into()];
        remove.resource_pattern_type = Some("prefixed".into());
        let plan = plan(&remove).unwrap();
        assert_eq!(
            plan.into_iter().collect::<Vec<_>>(),
            [(
                resource(ResourceType::Topic, "or", PatternType::Prefixed),
                BTreeSet::new()
            )]
        );
        assert_eq!(
            operation("describe-configs").unwrap(),
            AclOperation::DescribeConfigs
        );
        assert_eq!(
            operation("IDEMPOTENT_WRITE").unwrap(),
            AclOperation::IdempotentWrite
        );
        assert_eq!(operation("All").unwrap(), AclOperation::All);
    }
}
