//! Thin `unsafe` layer over the Linux batch-send syscalls for the media senders: `sendmsg` with a
//! `UDP_SEGMENT` control message (GSO: one syscall for up to 64 equal datagrams) and `sendmmsg`
//! (one syscall for many datagrams), a non-blocking `recvfrom`, and `poll` to sleep until a socket is readable. Everything else stays safe.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

/// Most datagrams the kernel accepts in one GSO send.
pub const GSO_MAX_SEGMENTS: usize = 64;
/// Most datagrams passed to one `sendmmsg` call.
pub const MMSG_MAX: usize = 64;

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// Batch sender of one UDP socket to one destination. Its scratch arrays are allocated once.
pub struct BatchSender {
    sock: UdpSocket,
    dest: libc::sockaddr_storage,
    dest_len: libc::socklen_t,
    gso: bool,
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
}

// SAFETY: the raw pointers inside `hdrs`/`iovs` are only written and read during one `send_*` call on
// the owning thread, pointing at buffers borrowed for that call; between calls they are dead values.
unsafe impl Send for BatchSender {}

impl BatchSender {
    /// A sender on `sock` to `dest`; GSO is tried first and dropped after the first failure.
    pub fn new(sock: UdpSocket, dest: SocketAddr) -> Self {
        let (d, l) = sockaddr(&dest);
        // SAFETY: mmsghdr and iovec are plain old data; all-zero is valid.
        let hdrs = (0..MMSG_MAX).map(|_| unsafe { zeroed::<libc::mmsghdr>() }).collect();
        let iovs = (0..MMSG_MAX).map(|_| libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }).collect();
        Self { sock, dest: d, dest_len: l, gso: true, hdrs, iovs }
    }

    /// Changes the destination (the client's ping came from a new port).
    pub fn set_dest(&mut self, dest: SocketAddr) {
        let (d, l) = sockaddr(&dest);
        self.dest = d;
        self.dest_len = l;
    }

    pub fn socket(&self) -> &UdpSocket {
        &self.sock
    }

    /// Whether GSO is in use.
    pub fn gso(&self) -> bool {
        self.gso
    }

    /// Sends `n` datagrams of `seg` bytes laid back to back in `buf` (`buf.len() == n * seg`).
    pub fn send_uniform(&mut self, buf: &[u8], seg: usize) -> io::Result<()> {
        if seg == 0 || !buf.len().is_multiple_of(seg) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "buffer is not a whole number of segments"));
        }
        if self.gso && buf.len() > seg {
            let mut at = 0;
            while at < buf.len() {
                let end = (at + seg * GSO_MAX_SEGMENTS).min(buf.len()).min(at + (65_000 / seg) * seg);
                match self.send_gso(&buf[at..end], seg) {
                    Ok(()) => at = end,
                    Err(e)
                        if at == 0
                            && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL | libc::ENOPROTOOPT)) =>
                    {
                        tracing::info!(error = %e, "UDP GSO unavailable; using sendmmsg");
                        self.gso = false;
                        return self.send_each(buf.chunks_exact(seg));
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
        self.send_each(buf.chunks_exact(seg))
    }

    fn send_gso(&mut self, buf: &[u8], seg: usize) -> io::Result<()> {
        // Control buffer for one cmsg carrying a u16, 8-byte aligned.
        let mut cbuf = [0u64; 4];
        let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: msghdr is plain old data; all-zero is valid.
        let mut msg: libc::msghdr = unsafe { zeroed() };
        msg.msg_name = &mut self.dest as *mut _ as *mut libc::c_void;
        msg.msg_namelen = self.dest_len;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        // SAFETY: CMSG_SPACE is a pure size computation.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
        // SAFETY: msg_control points at `cbuf`, which is large enough for one u16 cmsg (checked by
        // CMSG_SPACE above); CMSG_FIRSTHDR/CMSG_DATA stay inside it.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = libc::UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut u16, seg as u16);
        }
        // SAFETY: every pointer in `msg` refers to live locals or `buf` for the duration of the call.
        let r = unsafe { libc::sendmsg(self.sock.as_raw_fd(), &msg, 0) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends each slice as one datagram with `sendmmsg`, up to [`MMSG_MAX`] per call.
    pub fn send_each<'b>(&mut self, mut datagrams: impl Iterator<Item = &'b [u8]>) -> io::Result<()> {
        loop {
            let mut n = 0;
            while n < MMSG_MAX {
                let Some(d) = datagrams.next() else { break };
                self.iovs[n] = libc::iovec { iov_base: d.as_ptr() as *mut libc::c_void, iov_len: d.len() };
                n += 1;
            }
            if n == 0 {
                return Ok(());
            }
            for i in 0..n {
                let h = &mut self.hdrs[i];
                h.msg_hdr.msg_name = &mut self.dest as *mut _ as *mut libc::c_void;
                h.msg_hdr.msg_namelen = self.dest_len;
                h.msg_hdr.msg_iov = &mut self.iovs[i];
                h.msg_hdr.msg_iovlen = 1;
                h.msg_hdr.msg_control = std::ptr::null_mut();
                h.msg_hdr.msg_controllen = 0;
                h.msg_len = 0;
            }
            let mut sent = 0;
            while sent < n {
                // SAFETY: hdrs[sent..n] point at `self.dest` and `self.iovs`, whose iov_base pointers are
                // slices borrowed from the caller for this call.
                let r = unsafe {
                    libc::sendmmsg(self.sock.as_raw_fd(), self.hdrs[sent..].as_mut_ptr(), (n - sent) as u32, 0)
                };
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                sent += r as usize;
            }
        }
    }
}

/// Non-blocking receive: `Ok(None)` when nothing is queued.
pub fn try_recv_from(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    // SAFETY: sockaddr_storage is plain old data.
    let mut ss: libc::sockaddr_storage = unsafe { zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: buf and ss are valid for writes of the given lengths.
    let r = unsafe {
        libc::recvfrom(
            sock.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
            &mut ss as *mut _ as *mut libc::sockaddr,
            &mut len,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::WouldBlock {
            return Ok(None);
        }
        return Err(e);
    }
    let addr = match ss.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for AF_INET.
            let a = unsafe { *(&ss as *const _ as *const libc::sockaddr_in) };
            SocketAddr::from((u32::from_be(a.sin_addr.s_addr).to_be_bytes(), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 for AF_INET6.
            let a = unsafe { *(&ss as *const _ as *const libc::sockaddr_in6) };
            SocketAddr::from((a.sin6_addr.s6_addr, u16::from_be(a.sin6_port)))
        }
        f => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("address family {f}"))),
    };
    Ok(Some((r as usize, addr)))
}

/// Sleeps until `sock` has a datagram to read or `timeout` passes; `Ok(true)` when it is readable.
/// Lets a polling loop (ENet's `service`) sleep instead of spinning while nothing arrives.
pub fn wait_readable(sock: &UdpSocket, timeout: std::time::Duration) -> io::Result<bool> {
    let mut fds = libc::pollfd { fd: sock.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is one valid pollfd that lives across the call; the fd stays open (borrowed socket).
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    match n {
        n if n < 0 => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
        0 => Ok(false),
        _ => Ok(fds.revents & libc::POLLIN != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gso_and_mmsg_deliver_every_datagram() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut s = BatchSender::new(tx, rx.local_addr().unwrap());
        let seg = 100;
        let buf: Vec<u8> = (0..seg * 70).map(|i| (i / seg) as u8).collect();
        s.send_uniform(&buf, seg).unwrap();
        s.send_each([&b"abc"[..], &b"de"[..]].into_iter()).unwrap();
        let mut got = [0u8; 2000];
        for i in 0..70 {
            let (n, _) = rx.recv_from(&mut got).unwrap();
            assert_eq!(n, seg);
            assert!(got[..n].iter().all(|&b| b == i as u8));
        }
        assert_eq!(rx.recv_from(&mut got).unwrap().0, 3);
        assert_eq!(rx.recv_from(&mut got).unwrap().0, 2);
        assert!(try_recv_from(&rx, &mut got).unwrap().is_none());
        s.socket().send_to(b"x", rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (n, from) = try_recv_from(&rx, &mut got).unwrap().unwrap();
        assert_eq!((n, from), (1, s.socket().local_addr().unwrap()));
    }
}
