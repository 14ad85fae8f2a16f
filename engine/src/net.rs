//! Addresses: ranges ([`Cidr`]) and who the client is behind trusted reverse proxies
//! ([`client_address`]).

use std::net::IpAddr;

/// An address range: `203.0.113.7` or `203.0.113.0/24` (a SIP trunk's carrier, a trusted
/// reverse proxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ip` or `ip/prefix` (prefix up to 32 for IPv4, 128 for IPv6).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` is in the range (an IPv4 address never matches an IPv6 range, and the
    /// other way round, except IPv4-mapped IPv6 addresses, which are read as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The client's address: the connection's peer, unless that peer is a trusted proxy; then
/// the right-most address of `X-Forwarded-For` that is not itself a trusted proxy (each proxy
/// appends the address it received from, so everything left of an untrusted hop may be forged
/// by the client). All trusted: the left-most. A header that cannot be read from the right
/// stops the walk at the last address read (or the peer).
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[Cidr]) -> IpAddr {
    let trusts = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !trusts(peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = ip;
        if !trusts(ip) {
            return ip;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_hold_what_they_say_and_refuse_what_is_not_a_range() {
        let net = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(net.contains(ip("203.0.113.7")));
        assert!(!net.contains(ip("203.0.114.7")));
        assert!(net.contains(ip("::ffff:203.0.113.9")), "IPv4-mapped");
        assert!(!net.contains(ip("2001:db8::1")));
        let one = Cidr::parse("198.51.100.10").unwrap();
        assert!(one.contains(ip("198.51.100.10")));
        assert!(!one.contains(ip("198.51.100.11")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::5")));
        for bad in [
            "",
            "carrier.example.org",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "::/129",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop_behind_trusted_proxies() {
        let trusted = [
            Cidr::parse("127.0.0.1").unwrap(),
            Cidr::parse("10.0.0.0/8").unwrap(),
        ];
        // Not through a trusted proxy: the header is the client's own words.
        assert_eq!(
            client_address(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Through one proxy.
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // A forged left part is ignored: the right-most untrusted hop is who reached us.
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                Some("6.6.6.6, 198.51.100.7, 10.1.2.3"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // All trusted: the left-most.
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("10.9.9.9, 10.1.2.3"), &trusted),
            ip("10.9.9.9")
        );
        // Garbage stops the walk at the last address read.
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("evil, 10.1.2.3"), &trusted),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("not an address"), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), None, &trusted),
            ip("127.0.0.1")
        );
        // No trusted proxies configured: always the peer.
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("198.51.100.7"), &[]),
            ip("127.0.0.1")
        );
    }
}
