//! ACLs (Kafka's `AclControlManager`): created and deleted through the
//! quorum, so that every broker's authorizer decides with the same ones.

use tracing::info;

use super::quorum::MetadataRecord;
use super::{Controller, ControllerError};
use crate::metadata::acls::{AclBinding, AclFilter};

impl Controller {
    /// Stores new ACLs (one that exists already is kept once).
    pub fn create_acls(&self, acls: Vec<AclBinding>) -> Result<(), ControllerError> {
        if acls.is_empty() {
            return Ok(());
        }
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let count = acls.len();
        self.commit(vec![MetadataRecord::CreateAcls(acls)])?;
        info!(count, "created ACLs");
        Ok(())
    }

    /// Deletes the ACLs each filter matches; what each one deleted, in
    /// the filters' order (an ACL two filters match counts for both, as
    /// in Kafka).
    pub fn delete_acls(
        &self,
        filters: &[AclFilter],
    ) -> Result<Vec<Vec<AclBinding>>, ControllerError> {
        let _writer = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.image().acls.clone();
        let matched: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|filter| {
                current
                    .iter()
                    .filter(|acl| filter.matches(acl))
                    .cloned()
                    .collect()
            })
            .collect();
        let mut deleted: Vec<AclBinding> = matched.iter().flatten().cloned().collect();
        deleted.sort();
        deleted.dedup();
        if !deleted.is_empty() {
            let count = deleted.len();
            self.commit(vec![MetadataRecord::DeleteAcls(deleted)])?;
            info!(count, "deleted ACLs");
        }
        Ok(matched)
    }
}
