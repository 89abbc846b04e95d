//! Which client a request comes from, for per-client throttling.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// A client as throttles count it: an IPv4 address, or an IPv6 /64 network (one
/// subscriber's allocation, so rotating through it does not escape the limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !(u128::from(u64::MAX));
                    ClientKey(IpAddr::V6(Ipv6Addr::from(network)))
                }
            },
        }
    }

    pub fn address(&self) -> IpAddr {
        self.0
    }
}

/// The client address of a request: the socket peer, or, when `trust_forwarded_for`,
/// the last address in the last `X-Forwarded-For` header (the one the proxy in front
/// appended; earlier entries are whatever the client claimed). An unparsable header
/// falls back to the peer.
pub fn client_address<'a>(
    peer: Option<SocketAddr>,
    forwarded_for: impl DoubleEndedIterator<Item = &'a [u8]>,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    if trust_forwarded_for {
        let forwarded = forwarded_for
            .last()
            .and_then(|value| std::str::from_utf8(value).ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(parse_forwarded_address);
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|peer| peer.ip())
}

/// `1.2.3.4`, `2001:db8::1`, `1.2.3.4:5678` or `[2001:db8::1]:5678`.
fn parse_forwarded_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")),
            ClientKey::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:10.0.0.1")),
            ClientKey::of(ip("10.0.0.1"))
        );
        assert_ne!(ClientKey::of(ip("10.0.0.1")), ClientKey::of(ip("10.0.0.2")));
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted_and_only_its_last_entry() {
        let peer = Some("127.0.0.1:4000".parse().expect("addr"));
        let headers: [&[u8]; 2] = [b"6.6.6.6", b"9.9.9.9, 203.0.113.7"];
        assert_eq!(
            client_address(peer, headers.iter().copied(), false),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            client_address(peer, headers.iter().copied(), true),
            Some(ip("203.0.113.7"))
        );
        for (header, expected) in [
            (&b"[2001:db8::1]:443"[..], "2001:db8::1"),
            (b"198.51.100.2:8080", "198.51.100.2"),
            (b"  2001:db8::2 ", "2001:db8::2"),
            (b"garbage", "127.0.0.1"),
            (b"", "127.0.0.1"),
            (b"\xff\xfe", "127.0.0.1"),
        ] {
            assert_eq!(
                client_address(peer, [header].into_iter(), true),
                Some(ip(expected)),
                "{header:?}"
            );
        }
        assert_eq!(
            client_address(peer, std::iter::empty(), true),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(client_address(None, std::iter::empty(), true), None);
    }
}
