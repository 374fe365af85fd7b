//! Which SFU node a voice channel lives on. Every channel has exactly one
//! node, picked by rendezvous (highest random weight) hashing of the
//! channel ID over the configured nodes: every node computes the same
//! answer with no coordination, and adding or removing a node moves only
//! the channels that hash to it. A channel with an `rtc_region` picks among
//! that region's nodes when there are any.

use discord_proto::Snowflake;
use sha2::{Digest, Sha256};

/// One SFU node a cluster may send voice clients to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoiceNode {
    /// The node's ID (the gateway node ID of the server running it).
    pub id: String,
    /// Its signaling WebSocket URL, as VOICE_SERVER_UPDATE gives it.
    pub endpoint: String,
    /// Its region (matched against a channel's `rtc_region`).
    pub region: Option<String>,
}

impl VoiceNode {
    /// A node with no region.
    pub fn new(id: impl Into<String>, endpoint: impl Into<String>) -> VoiceNode {
        VoiceNode {
            id: id.into(),
            endpoint: endpoint.into(),
            region: None,
        }
    }

    /// Parses `id=endpoint` or `id=endpoint@region`, as the reference
    /// server's `--voice-nodes` takes them.
    pub fn parse(text: &str) -> Option<VoiceNode> {
        let (id, rest) = text.trim().split_once('=')?;
        let (endpoint, region) = match rest.rsplit_once('@') {
            // An '@' in the URL's authority part would be user info; a
            // region never contains '/' or ':'.
            Some((e, r)) if !r.is_empty() && !r.contains(['/', ':']) => (e, Some(r.to_owned())),
            _ => (rest, None),
        };
        let endpoint = endpoint.trim();
        let ok = endpoint.starts_with("ws://") || endpoint.starts_with("wss://");
        (!id.trim().is_empty() && ok).then(|| VoiceNode {
            id: id.trim().to_owned(),
            endpoint: endpoint.to_owned(),
            region,
        })
    }
}

fn weight(node: &VoiceNode, channel_id: Snowflake) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(node.id.as_bytes());
    h.update([0]);
    h.update(channel_id.get().to_be_bytes());
    h.finalize().into()
}

/// The node `channel_id` lives on, or `None` when `nodes` is empty.
pub fn pick<'a>(
    nodes: &'a [VoiceNode],
    channel_id: Snowflake,
    region: Option<&str>,
) -> Option<&'a VoiceNode> {
    let in_region = |n: &&VoiceNode| region.is_some() && n.region.as_deref() == region;
    let candidates: Vec<&VoiceNode> = if nodes.iter().any(|n| in_region(&n)) {
        nodes.iter().filter(in_region).collect()
    } else {
        nodes.iter().collect()
    };
    candidates
        .into_iter()
        .max_by_key(|n| (weight(n, channel_id), n.id.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<VoiceNode> {
        (0..n)
            .map(|i| VoiceNode::new(format!("node-{i}"), format!("ws://10.0.0.{i}/voice")))
            .collect()
    }

    #[test]
    fn every_node_gets_a_share_and_the_answer_is_stable() {
        let all = nodes(3);
        let mut counts = [0usize; 3];
        for c in 0..3000u64 {
            let chosen = pick(&all, Snowflake::new(c), None).unwrap();
            let again = pick(&all, Snowflake::new(c), None).unwrap();
            assert_eq!(chosen, again);
            let i = all.iter().position(|n| n == chosen).unwrap();
            counts[i] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
        assert_eq!(pick(&[], Snowflake::new(1), None), None);
    }

    #[test]
    fn order_of_the_list_does_not_matter() {
        let all = nodes(4);
        let mut reversed = all.clone();
        reversed.reverse();
        for c in 0..200u64 {
            assert_eq!(
                pick(&all, Snowflake::new(c), None),
                pick(&reversed, Snowflake::new(c), None)
            );
        }
    }

    #[test]
    fn adding_a_node_moves_only_channels_to_it() {
        let three = nodes(3);
        let four = nodes(4);
        let mut moved = 0;
        for c in 0..2000u64 {
            let before = pick(&three, Snowflake::new(c), None).unwrap();
            let after = pick(&four, Snowflake::new(c), None).unwrap();
            if before != after {
                assert_eq!(after.id, "node-3");
                moved += 1;
            }
        }
        assert!((300..700).contains(&moved), "{moved}");
    }

    #[test]
    fn a_region_with_nodes_is_kept_to() {
        let mut all = nodes(4);
        all[1].region = Some("eu".into());
        all[3].region = Some("eu".into());
        for c in 0..200u64 {
            let n = pick(&all, Snowflake::new(c), Some("eu")).unwrap();
            assert_eq!(n.region.as_deref(), Some("eu"));
        }
        // An unknown region falls back to every node.
        let spread: std::collections::HashSet<_> = (0..200u64)
            .map(|c| {
                pick(&all, Snowflake::new(c), Some("mars"))
                    .unwrap()
                    .id
                    .clone()
            })
            .collect();
        assert_eq!(spread.len(), 4);
    }

    #[test]
    fn node_lists_parse() {
        assert_eq!(
            VoiceNode::parse("a=ws://h:1/voice"),
            Some(VoiceNode::new("a", "ws://h:1/voice"))
        );
        assert_eq!(
            VoiceNode::parse(" b = wss://h/voice@eu-west "),
            Some(VoiceNode {
                id: "b".into(),
                endpoint: "wss://h/voice".into(),
                region: Some("eu-west".into()),
            })
        );
        assert_eq!(VoiceNode::parse("ws://h/voice"), None);
        assert_eq!(VoiceNode::parse("a=http://h/voice"), None);
        assert_eq!(VoiceNode::parse("=ws://h/voice"), None);
    }
}
