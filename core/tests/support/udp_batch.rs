//! Batched UDP on a connected socket pair, in safe code over `nix`, for the transport benchmark: the sender
//! hands the kernel up to [`GSO_SEGMENTS`] equal datagrams per `UDP_SEGMENT` (GSO) message and several such
//! messages per `sendmmsg`, as the host's media sender does (`stream/src/media/udp_sys.rs`); the receiver takes
//! up to [`RECV_BATCH`] datagrams per `recvmmsg`. Headers and buffers are allocated once, so a steady-state
//! send or receive allocates nothing.

use std::io::{IoSlice, IoSliceMut};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use nix::sys::socket::{recvmmsg, sendmmsg, setsockopt, sockopt, ControlMessage, MsgFlags, MultiHeaders, SockaddrIn};

/// Datagrams per GSO message: the kernel's limit is 64 segments and 64 KiB of payload.
pub const GSO_SEGMENTS: usize = 46;
/// GSO messages per `sendmmsg`.
pub const SEND_MESSAGES: usize = 4;
/// Datagrams per `recvmmsg`.
pub const RECV_BATCH: usize = 64;
/// Bytes of each receive slot (a datagram of the transport is at most 1500).
pub const SLOT: usize = 2048;

/// The sending side: one connected socket.
pub struct BatchSender {
    sock: UdpSocket,
    hdrs: MultiHeaders<SockaddrIn>,
}

impl BatchSender {
    pub fn new(sock: UdpSocket) -> Self {
        let cmsg = nix::cmsg_space!(u16);
        Self { sock, hdrs: MultiHeaders::preallocate(SEND_MESSAGES, Some(cmsg)) }
    }

    /// Sends `buf`, `buf.len() / seg` datagrams of `seg` bytes back to back, in GSO messages of up to
    /// [`GSO_SEGMENTS`] datagrams, [`SEND_MESSAGES`] messages per system call. Returns the system calls made.
    pub fn send_uniform(&mut self, buf: &[u8], seg: usize) -> nix::Result<usize> {
        assert!(seg > 0 && buf.len().is_multiple_of(seg), "not a whole number of {seg}-byte datagrams");
        let seg16 = u16::try_from(seg).expect("segment fits a u16");
        let per_msg = GSO_SEGMENTS.min(65_000 / seg) * seg;
        let addrs: [Option<SockaddrIn>; SEND_MESSAGES] = [None; SEND_MESSAGES];
        let cmsgs = [ControlMessage::UdpGsoSegments(&seg16)];
        let mut chunks = buf.chunks(per_msg).peekable();
        let mut calls = 0;
        while chunks.peek().is_some() {
            let mut iovs: [[IoSlice<'_>; 1]; SEND_MESSAGES] = [[IoSlice::new(&[])]; SEND_MESSAGES];
            let mut n = 0;
            while n < SEND_MESSAGES {
                let Some(c) = chunks.next() else { break };
                iovs[n] = [IoSlice::new(c)];
                n += 1;
            }
            let mut done = 0;
            while done < n {
                let sent = sendmmsg(
                    self.sock.as_raw_fd(),
                    &mut self.hdrs,
                    &iovs[done..n],
                    &addrs[done..n],
                    cmsgs,
                    MsgFlags::empty(),
                )?
                .count();
                calls += 1;
                if sent == 0 {
                    return Err(nix::Error::EIO); // a blocking sendmmsg sends at least one message or fails
                }
                done += sent;
            }
        }
        Ok(calls)
    }
}

/// The receiving side: one socket and its preallocated slots.
pub struct BatchReceiver {
    sock: UdpSocket,
    hdrs: MultiHeaders<SockaddrIn>,
    slots: Box<[[u8; SLOT]; RECV_BATCH]>,
}

impl BatchReceiver {
    /// A receiver on `sock` with its receive buffer raised to `rcvbuf` bytes (capped by `net.core.rmem_max`).
    pub fn new(sock: UdpSocket, rcvbuf: usize) -> Self {
        let _ = setsockopt(&sock, sockopt::RcvBuf, &rcvbuf);
        let slots = vec![[0u8; SLOT]; RECV_BATCH].into_boxed_slice().try_into().expect("RECV_BATCH slots");
        Self { sock, hdrs: MultiHeaders::preallocate(RECV_BATCH, None), slots }
    }

    /// Waits for at least one datagram (the socket's read timeout applies), takes every one queued up to
    /// [`RECV_BATCH`] in one system call and hands each to `f`. Returns how many.
    pub fn recv_batch(&mut self, mut f: impl FnMut(&mut [u8])) -> nix::Result<usize> {
        let mut lens = [0usize; RECV_BATCH];
        let n = {
            let mut iovs: [[IoSliceMut<'_>; 1]; RECV_BATCH] = self.slots.each_mut().map(|s| [IoSliceMut::new(s)]);
            let got = recvmmsg(self.sock.as_raw_fd(), &mut self.hdrs, &mut iovs, MsgFlags::MSG_WAITFORONE, None)?;
            let mut n = 0;
            for (len, m) in lens.iter_mut().zip(got) {
                *len = m.bytes;
                n += 1;
            }
            n
        };
        for (slot, &len) in self.slots.iter_mut().zip(&lens[..n]) {
            f(&mut slot[..len]);
        }
        Ok(n)
    }
}
