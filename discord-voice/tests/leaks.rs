//! Joining and leaving many times gives back what it took: webrtc-rs 0.21
//! has had leak reports, so sockets and participants are counted after
//! repeated cycles. (Alone in its binary: it counts the process's file
//! descriptors.)

mod common;

use std::time::Duration;

use common::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_leave_cycles_release_sockets_and_participants() {
    let voice = node(0).await;
    // One cycle first, so lazily created process-wide resources exist
    // before the baseline.
    let warm = join(&voice, 1, true).await;
    voice.leave(GUILD, warm.user).await;
    warm.conn.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = open_fds();

    for round in 0..15u64 {
        let a = join(&voice, 10 + round, true).await;
        let mut b = join(&voice, 100 + round, false).await;
        let from = a.user;
        tokio::select! {
            _ = talk(&a, 0x5A, 500) => panic!("round {round}: never heard"),
            _ = b.wait_audio(from, 0x5A) => {}
        }
        voice.leave(GUILD, a.user).await;
        voice.leave(GUILD, b.user).await;
        a.conn.close().await;
        b.conn.close().await;
    }
    assert_eq!(voice.sfu().participant_count(), 0);

    // Each cycle opened 4 peer connections (2 client, 2 SFU) with their
    // UDP sockets; all of them must be closed again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut now = open_fds();
    while now > baseline + 4 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        now = open_fds();
    }
    assert!(
        now <= baseline + 4,
        "{now} descriptors open after 15 cycles, {baseline} before: peer connections leak"
    );
}
