//! TCP keepalive and `tcp_user_timeout` on a new socket, as libpq sets them: how a connection
//! whose peer went silent (a partition, a host gone without a word) ends by itself instead of
//! waiting forever. Idle, unanswered keepalive probes end it; with data sent and never
//! acknowledged, the user timeout does.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use crate::conninfo::TcpSettings;

/// Sets what `settings` asks on the TCP socket `fd`; an option the system refuses is an error
/// naming it, as libpq's "setsockopt(TCP_KEEPIDLE) failed".
pub fn apply(fd: RawFd, settings: &TcpSettings) -> io::Result<()> {
    set(
        fd,
        libc::SOL_SOCKET,
        libc::SO_KEEPALIVE,
        "SO_KEEPALIVE",
        settings.keepalives as i64,
    )?;
    if !settings.keepalives {
        return Ok(());
    }
    if let Some(idle) = settings.keepalives_idle {
        set(
            fd,
            libc::IPPROTO_TCP,
            KEEPALIVE_IDLE.0,
            KEEPALIVE_IDLE.1,
            idle.as_secs() as i64,
        )?;
    }
    if let Some(interval) = settings.keepalives_interval {
        set(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPINTVL,
            "TCP_KEEPINTVL",
            interval.as_secs() as i64,
        )?;
    }
    if let Some(count) = settings.keepalives_count {
        set(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_KEEPCNT,
            "TCP_KEEPCNT",
            i64::from(count),
        )?;
    }
    set_user_timeout(fd, settings.user_timeout)
}

/// The idle time before the first probe has another name on Apple systems.
#[cfg(any(target_os = "macos", target_os = "ios"))]
const KEEPALIVE_IDLE: (libc::c_int, &str) = (libc::TCP_KEEPALIVE, "TCP_KEEPALIVE");
#[cfg(not(any(target_os = "macos", target_os = "ios")))]
const KEEPALIVE_IDLE: (libc::c_int, &str) = (libc::TCP_KEEPIDLE, "TCP_KEEPIDLE");

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_user_timeout(fd: RawFd, timeout: Option<Duration>) -> io::Result<()> {
    match timeout {
        Some(timeout) => set(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_USER_TIMEOUT,
            "TCP_USER_TIMEOUT",
            timeout.as_millis() as i64,
        ),
        None => Ok(()),
    }
}

/// Only Linux has it; libpq ignores the key elsewhere, and so does this.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_user_timeout(_fd: RawFd, _timeout: Option<Duration>) -> io::Result<()> {
    Ok(())
}

fn set(fd: RawFd, level: libc::c_int, option: libc::c_int, name: &str, value: i64) -> io::Result<()> {
    // Out-of-range settings (a count of 10 billion) are clamped rather than wrapped.
    let value = value.clamp(0, i64::from(libc::c_int::MAX)) as libc::c_int;
    // SAFETY: `value` is a live c_int for the duration of the call and its size is passed with
    // it; setsockopt does not keep the pointer. A bad `fd` is reported as an error, not UB.
    let done = unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done != 0 {
        let cause = io::Error::last_os_error();
        return Err(io::Error::new(
            cause.kind(),
            format!("setsockopt({name}) failed: {cause}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use super::*;

    fn get(fd: RawFd, level: libc::c_int, option: libc::c_int) -> libc::c_int {
        let mut value: libc::c_int = -1;
        let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `size` are live for the call, and `size` is `value`'s size.
        let done = unsafe { libc::getsockopt(fd, level, option, (&mut value as *mut libc::c_int).cast(), &mut size) };
        assert_eq!(done, 0, "getsockopt: {}", io::Error::last_os_error());
        value
    }

    fn socket() -> (TcpListener, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener, stream)
    }

    #[test]
    fn the_settings_reach_the_socket() {
        let (_listener, stream) = socket();
        let fd = stream.as_raw_fd();
        let settings = TcpSettings {
            keepalives: true,
            keepalives_idle: Some(Duration::from_secs(7)),
            keepalives_interval: Some(Duration::from_secs(2)),
            keepalives_count: Some(4),
            user_timeout: Some(Duration::from_millis(1500)),
        };
        apply(fd, &settings).unwrap();
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(get(fd, libc::IPPROTO_TCP, KEEPALIVE_IDLE.0), 7);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL), 2);
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT), 4);
        #[cfg(target_os = "linux")]
        assert_eq!(get(fd, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT), 1500);
    }

    #[test]
    fn unset_values_keep_the_systems_and_keepalives_0_turns_probes_off() {
        let (_listener, stream) = socket();
        let fd = stream.as_raw_fd();
        let system_idle = get(fd, libc::IPPROTO_TCP, KEEPALIVE_IDLE.0);
        apply(fd, &TcpSettings::default()).unwrap();
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(get(fd, libc::IPPROTO_TCP, KEEPALIVE_IDLE.0), system_idle);
        let off = TcpSettings {
            keepalives: false,
            keepalives_idle: Some(Duration::from_secs(7)),
            ..TcpSettings::default()
        };
        apply(fd, &off).unwrap();
        assert_eq!(get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 0);
        assert_eq!(get(fd, libc::IPPROTO_TCP, KEEPALIVE_IDLE.0), system_idle);
    }

    #[test]
    fn a_refused_option_names_itself() {
        let error = apply(-1, &TcpSettings::default()).unwrap_err();
        assert!(error.to_string().contains("SO_KEEPALIVE"), "{error}");
    }
}
