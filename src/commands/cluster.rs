//! What keyward is not: a cluster node. CLUSTER (every subcommand of
//! Redis 7.2, so COMMAND, ACL categories and arity errors match), READONLY,
//! READWRITE and ASKING answer what Redis answers with `cluster-enabled no`.

use super::errors::{CmdResult, Error};
use super::spec::{cat, flags::*, CommandSpec, Group};
use super::Ctx;

const G: Group = Group::Cluster;

/// Redis's reply to every cluster command when cluster mode is off.
pub const CLUSTER_DISABLED: Error = Error::lit("ERR This instance has cluster support disabled");

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("cluster", G, SUBS).doc(
        "A container for Redis Cluster commands.",
        "3.0.0",
        "Depends on subcommand.",
    ),
    CommandSpec::new(
        "readonly",
        1,
        LOADING | STALE | FAST | NO_DB_LOCK,
        G,
        disabled,
    )
    .cats(cat::CONNECTION)
    .doc(
        "Enables read-only queries for a connection to a Redis Cluster replica node.",
        "3.0.0",
        "O(1)",
    ),
    CommandSpec::new(
        "readwrite",
        1,
        LOADING | STALE | FAST | NO_DB_LOCK,
        G,
        disabled,
    )
    .cats(cat::CONNECTION)
    .doc(
        "Enables read-write queries for a connection to a Redis Cluster replica node.",
        "3.0.0",
        "O(1)",
    ),
    CommandSpec::new("asking", 1, FAST | NO_DB_LOCK, G, disabled)
        .cats(cat::CONNECTION)
        .doc(
            "Signals that a cluster client is following an -ASK redirect.",
            "3.0.0",
            "O(1)",
        ),
];

static SUBS: &[CommandSpec] = &[
    CommandSpec::new("addslots", -3, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Assign new hash slots to receiving node", "3.0.0", "O(N) where N is the total number of hash slot arguments"),
    CommandSpec::new("addslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Assign new hash slots to receiving node", "7.0.0", "O(N) where N is the total number of the slots between the start slot and end slot arguments."),
    CommandSpec::new("bumpepoch", 2, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Advance the cluster config epoch", "3.0.0", "O(1)"),
    CommandSpec::new("count-failure-reports", 3, ADMIN | STALE | NO_DB_LOCK, G, disabled)
        .doc("Return the number of failure reports active for a given node", "3.0.0", "O(N) where N is the number of failure reports"),
    CommandSpec::new("countkeysinslot", 3, STALE | NO_DB_LOCK, G, disabled)
        .doc("Return the number of local keys in the specified hash slot", "3.0.0", "O(1)"),
    CommandSpec::new("delslots", -3, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Set hash slots as unbound in receiving node", "3.0.0", "O(N) where N is the total number of hash slot arguments"),
    CommandSpec::new("delslotsrange", -4, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Set hash slots as unbound in receiving node", "7.0.0", "O(N) where N is the total number of the slots between the start slot and end slot arguments."),
    CommandSpec::new("failover", -2, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Forces a replica to perform a manual failover of its master.", "3.0.0", "O(1)"),
    CommandSpec::new("flushslots", 2, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Delete a node's own slots information", "3.0.0", "O(1)"),
    CommandSpec::new("forget", 3, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Remove a node from the nodes table", "3.0.0", "O(1)"),
    CommandSpec::new("getkeysinslot", 4, STALE | NO_DB_LOCK, G, disabled)
        .doc("Return local key names in the specified hash slot", "3.0.0", "O(log(N)) where N is the number of requested keys"),
    CommandSpec::new("help", 2, LOADING | STALE | NO_DB_LOCK, G, disabled)
        .doc("Show helpful text about the different subcommands", "5.0.0", "O(1)"),
    CommandSpec::new("info", 2, STALE | NO_DB_LOCK, G, disabled)
        .doc("Provides info about Redis Cluster node state", "3.0.0", "O(1)"),
    CommandSpec::new("keyslot", 3, STALE | NO_DB_LOCK, G, disabled)
        .doc("Returns the hash slot of the specified key", "3.0.0", "O(N) where N is the number of bytes in the key"),
    CommandSpec::new("links", 2, STALE | NO_DB_LOCK, G, disabled)
        .doc("Returns a list of all TCP links to and from peer nodes in cluster", "7.0.0", "O(N) where N is the total number of Cluster nodes"),
    CommandSpec::new("meet", -4, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Force a node cluster to handshake with another node", "3.0.0", "O(1)"),
    CommandSpec::new("myid", 2, STALE | NO_DB_LOCK, G, disabled)
        .doc("Return the node id", "3.0.0", "O(1)"),
    CommandSpec::new("myshardid", 2, LOADING | STALE | NO_DB_LOCK, G, disabled)
        .doc("Returns the shard ID of a node.", "7.2.0", "O(1)"),
    CommandSpec::new("nodes", 2, STALE | NO_DB_LOCK, G, disabled)
        .doc("Get Cluster config for the node", "3.0.0", "O(N) where N is the total number of Cluster nodes"),
    CommandSpec::new("replicas", 3, ADMIN | STALE | NO_DB_LOCK, G, disabled)
        .doc("List replica nodes of the specified master node", "5.0.0", "O(1)"),
    CommandSpec::new("replicate", 3, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Reconfigure a node as a replica of the specified master node", "3.0.0", "O(1)"),
    CommandSpec::new("reset", -2, ADMIN | NOSCRIPT | STALE | NO_DB_LOCK, G, disabled)
        .doc("Reset a Redis Cluster node", "3.0.0", "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect."),
    CommandSpec::new("saveconfig", 2, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Forces the node to save cluster state on disk", "3.0.0", "O(1)"),
    CommandSpec::new("set-config-epoch", 3, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Set the configuration epoch in a new node", "3.0.0", "O(1)"),
    CommandSpec::new("setslot", -4, ADMIN | STALE | NO_ASYNC_LOADING | NO_DB_LOCK, G, disabled)
        .doc("Bind a hash slot to a specific node", "3.0.0", "O(1)"),
    CommandSpec::new("shards", 2, STALE | NO_DB_LOCK, G, disabled)
        .doc("Get array of cluster slots to node mappings", "7.0.0", "O(N) where N is the total number of cluster nodes"),
    CommandSpec::new("slaves", 3, ADMIN | STALE | NO_DB_LOCK, G, disabled)
        .doc("List replica nodes of the specified master node", "3.0.0", "O(1)"),
    CommandSpec::new("slots", 2, STALE | NO_DB_LOCK, G, disabled)
        .doc("Get array of Cluster slot to node mappings", "3.0.0", "O(N) where N is the total number of Cluster nodes"),
];

fn disabled(_ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> CmdResult {
    Err(CLUSTER_DISABLED)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_cluster_row_is_redis_72s() {
        let names: Vec<&str> = super::SUBS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 28, "{names:?}");
        assert!(names.contains(&"myshardid") && names.contains(&"shards"));
    }
}
