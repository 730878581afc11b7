//! The group actor's side of KIP-1071 streams groups: a group id is a
//! classic group, a consumer group or a streams group, and the requests
//! of one kind are refused by a group of another as Kafka refuses them.

use std::time::Instant;

use tracing::{info, warn};

use super::GroupActor;
use crate::group::streams::records;
use crate::group::streams::{StreamsGroup, StreamsHeartbeat, StreamsHeartbeatAnswer};
use crate::group::GroupError;
use crate::metadata::MetadataImage;

impl GroupActor {
    /// StreamsGroupHeartbeat. A join creates the streams group when the id
    /// is free or an empty classic group; a consumer group or a classic
    /// group with members keeps the id.
    pub(super) fn streams_heartbeat(
        &mut self,
        now: Instant,
        image: &MetadataImage,
        request: StreamsHeartbeat,
    ) -> Result<StreamsHeartbeatAnswer, GroupError> {
        let group_id = self.group.group_id.clone();
        let joining = request.member_epoch == crate::group::streams::JOIN_GROUP_MEMBER_EPOCH;
        let created = self.streams.is_none();
        if created {
            let other_kind = self.consumer.is_some() || !self.group.is_empty();
            if other_kind {
                return Err(not_streams(&group_id));
            }
            if !joining {
                return Err(GroupError::GroupIdNotFound(format!(
                    "Streams group {group_id} not found."
                )));
            }
            info!(group = %group_id, "streams group created");
            self.streams = Some(StreamsGroup::new(&group_id, self.config.streams.clone()));
        }
        let Some(streams) = self.streams.as_mut() else {
            return Err(not_streams(&group_id));
        };
        let result = streams.heartbeat(now, image, &request);
        if result.is_err() && created {
            // A refused first join leaves nothing behind, as in Kafka: if
            // the id holds nothing else, its actor ends.
            self.streams = None;
            let group = &mut self.group;
            let vacant = group.is_empty()
                && group.generation_id == 0
                && group.offsets.is_empty()
                && group.pending_txn_offsets.is_empty();
            if vacant {
                group.state = crate::group::state::GroupState::Dead;
            }
        }
        result
    }

    /// Removes the streams group's members whose time ran out, and
    /// assigns the tasks when the initial rebalance delay ends.
    pub(super) async fn expire_streams_members(&mut self, now: Instant) {
        let Some(streams) = self.streams.as_mut() else {
            return;
        };
        let assigned = streams.assign_if_due(now);
        let expired = streams.expired_members(now);
        if expired.is_empty() {
            if assigned {
                let _ = self.persist_streams().await;
            }
            return;
        }
        for member_id in expired {
            info!(group = %streams.group_id, member = %member_id, "streams group member removed: session or rebalance timeout");
            streams.fence(&member_id);
        }
        // A failed write puts the group back as on disk; the next timer
        // tries again.
        let _ = self.persist_streams().await;
    }

    /// Writes the streams group's records that changed since the last
    /// write, and waits for them; if they cannot be written the group goes
    /// back to what is on disk, as Kafka reverts a change whose records
    /// failed.
    pub(super) async fn persist_streams(&mut self) -> Result<(), GroupError> {
        let image = self
            .streams
            .as_ref()
            .map(StreamsGroup::image)
            .unwrap_or_default();
        if image == self.streams_on_disk {
            return Ok(());
        }
        let group_id = &self.group.group_id;
        let stored = match records::changes(group_id, &self.streams_on_disk, &image) {
            Ok(records) => self.storage.append(&records).await,
            Err(error) => Err(super::unstorable(group_id, error)),
        };
        match stored {
            Ok(()) => {
                self.streams_on_disk = image;
                Ok(())
            }
            Err(error) => {
                warn!(group = %group_id, ?error, "persisting the streams group failed; undoing the change");
                self.streams = StreamsGroup::restore(
                    group_id,
                    self.config.streams.clone(),
                    &self.streams_on_disk,
                    crate::clock::instant(),
                );
                Err(GroupError::CoordinatorNotAvailable(format!(
                    "The records of group {group_id} could not be written: {error:?}."
                )))
            }
        }
    }

    /// A classic JoinGroup on this id: refused while the streams group
    /// has members; an empty streams group gives way to a classic group,
    /// as Kafka converts it.
    pub(super) fn streams_group_keeps_the_id(&mut self) -> bool {
        let Some(streams) = self.streams.as_ref() else {
            return false;
        };
        if streams.is_empty() {
            info!(group = %streams.group_id, "the empty streams group becomes a classic group");
            self.streams = None;
            return false;
        }
        true
    }
}

pub(super) fn not_streams(group_id: &str) -> GroupError {
    GroupError::GroupIdNotFound(format!("Group {group_id} is not a streams group."))
}
