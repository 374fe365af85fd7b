//! Socket reads that carry the kernel's receive time (`SO_TIMESTAMPNS`):
//! when the data reached the client's socket, which is when a client on
//! another machine would have it. The tool's own read comes later by as
//! long as its thread takes to get to the socket, and on two cores shared
//! with the server that wait is the tool's, not the server's; both tools
//! report it apart (docs/benchmarks.md).

use std::io;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, RawFd};

use nix::sys::socket::{MsgFlags, recvmsg};
use nix::sys::time::TimeSpec;

/// Asks the kernel to stamp what arrives on `socket` with its receive
/// time (for TCP, a read reports the time of the last segment it took).
/// Elsewhere than on Linux reads carry no time, and the tools fall back to
/// their own reading of the clock.
pub(crate) fn enable(socket: &impl AsFd) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true)?;
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
    Ok(())
}

/// Room for one receive time, for [`recv`].
pub(crate) fn control_space() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// One non-blocking read into `buf`: the bytes read and, if the kernel
/// stamped them, their receive time in nanoseconds since the epoch.
pub(crate) fn recv(
    fd: RawFd,
    buf: &mut [u8],
    control: &mut [u8],
) -> io::Result<(usize, Option<u64>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(fd, &mut iov, Some(control), MsgFlags::MSG_DONTWAIT)?;
    #[cfg(target_os = "linux")]
    let stamp = msg.cmsgs()?.find_map(|c| match c {
        nix::sys::socket::ControlMessageOwned::ScmTimestampns(t) => {
            Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        }
        _ => None,
    });
    #[cfg(not(target_os = "linux"))]
    let stamp = None;
    Ok((msg.bytes, stamp))
}
