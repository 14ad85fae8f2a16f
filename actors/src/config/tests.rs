//! Tests of the configuration: the demo, the README's example, and every refusal.

use super::*;

#[test]
fn the_demo_setup_is_the_one_the_readme_promises() {
    let c = Config::demo();
    let queues: Vec<_> = c.queues.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(queues, ["support", "sales"]);
    assert_eq!(c.members("support").len(), 3);
    assert_eq!(c.members("sales")[0].0.as_str(), "carol");
    let roles: Vec<_> = c
        .users
        .iter()
        .map(|u| (u.username.as_str(), u.role))
        .collect();
    assert!(roles.contains(&("sam", Role::Supervisor)) && roles.contains(&("root", Role::Admin)));
    assert!(c
        .users
        .iter()
        .all(|u| u.password.as_deref() == Some("demo")));
    assert!(c.is_demo());
}

#[test]
fn the_readme_example_is_a_valid_configuration() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("```toml\n")
        .expect("the README shows a configuration")
        + 8;
    let end = start + readme[start..].find("```").expect("closed");
    let c = Config::from_toml(&readme[start..end]).unwrap();
    assert_eq!(
        (c.queues.len(), c.groups.len(), c.compliance.pin.as_deref()),
        (2, 1, Some("2468"))
    );
    assert!(c.queues[0].outbound && c.queues[0].record);
}

#[test]
fn media_settings_are_checked() {
    let c = Config::from_toml(
        "[media]\nudp_addrs = [\"0.0.0.0:0\"]\nice_servers = [{ urls = [\"stun:stun.example.org:3478\"] }, { urls = [\"turn:turn.example.org:3478\"], username = \"u\", credential = \"p\" }]\n",
    )
    .unwrap();
    assert_eq!(c.media.ice_servers.len(), 2);
    assert_eq!(Config::demo().media.udp_addrs, ["127.0.0.1:0"]);
    for (bad, says) in [
        ("[media]\nudp_addrs = [\"localhost\"]\n", "not an ip:port"),
        (
            "[media]\nice_servers = [{ urls = [\"turn:t.example.org\"] }]\n",
            "needs username",
        ),
        (
            "[media]\nice_servers = [{ urls = [\"http://x\"] }]\n",
            "not a stun:",
        ),
        ("[media]\nice_servers = [{ urls = [] }]\n", "no urls"),
    ] {
        let err = Config::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn bad_references_are_refused_with_their_name() {
    let text = DEMO_TOML.replace(
        "queues = [\"support\", \"sales\"]",
        "queues = [\"support\", \"billing\"]",
    );
    let err = Config::from_toml(&text).unwrap_err().to_string();
    assert!(err.contains("unknown queue billing"), "{err}");
    // A name that is not built in is one a program may register: checked when the engine
    // starts (actors/tests/strategies.rs), not here.
    let custom = Config::from_toml("[[queues]]\nid = \"q\"\nstrategy = \"fastest\"\n").unwrap();
    assert_eq!(
        custom.queues[0].strategy,
        engine::routing::StrategyName::Custom("fastest".into())
    );
    let err = Config::from_toml("[[queues]]\nid = \"q\"\noverflow = \"q\"\nmax_wait_secs = 5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("overflow target"), "{err}");
}

#[test]
fn keyword_alerts_are_read_and_checked() {
    let q = |alerts: &str| format!("[[queues]]\nid = \"q\"\ntranscript = \"both\"\n{alerts}");
    let c = Config::from_toml(&q("[[queues.alerts]]\nphrase = \"cancel my account\"\nseverity = \"critical\"\n[[queues.alerts]]\nphrase = \"refund\"\n")).unwrap();
    let alerts = &c.queues[0].alerts;
    assert_eq!(alerts.len(), 2);
    assert_eq!(
        (alerts[0].phrase.as_str(), alerts[0].severity),
        ("cancel my account", engine::alerts::Severity::Critical)
    );
    assert_eq!(alerts[1].severity, engine::alerts::Severity::Warning);
    for (bad, says) in [
        (
            "[[queues.alerts]]\nphrase = \"\"\n",
            "queue q: alerts: alert phrase \"\" has no words",
        ),
        (
            "[[queues.alerts]]\nphrase = \"x\"\nseverity = \"urgent\"\n",
            "urgent",
        ),
        ("[[queues.alerts]]\nseverity = \"info\"\n", "phrase"),
        (
            "[[queues.alerts]]\nphrase = \"refund\"\n[[queues.alerts]]\nphrase = \"Refund!\"\n",
            "the same words",
        ),
    ] {
        let err = Config::from_toml(&q(bad)).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
    let long = format!("[[queues.alerts]]\nphrase = \"{}\"\n", "y".repeat(101));
    let err = Config::from_toml(&q(&long)).unwrap_err().to_string();
    assert!(err.contains("longer than 100 characters"), "{err}");
    let off = "[[queues]]\nid = \"q\"\n[[queues.alerts]]\nphrase = \"refund\"\n";
    let err = Config::from_toml(off).unwrap_err().to_string();
    assert!(
        err.contains("queue q: alerts need a live transcript"),
        "{err}"
    );
}

#[test]
fn presence_media_silence_and_beam_settings_are_checked() {
    let c = Config::from_toml(
        "[presence]\ngrace_secs = 5\n[media]\ncustomer_silence_secs = 30\n[transcription]\nfinal_beam_size = 1\n",
    )
    .unwrap();
    assert_eq!(
        (
            c.presence.grace_secs,
            c.media.customer_silence_secs,
            c.transcription.final_beam_size
        ),
        (5, 30, 1)
    );
    let d = Config::demo();
    assert_eq!(
        (
            d.presence.grace_secs,
            d.media.customer_silence_secs,
            d.transcription.final_beam_size
        ),
        (15, 20, 5)
    );
    for (bad, says) in [
        ("[presence]\ngrace_secs = 0\n", "presence.grace_secs"),
        ("[presence]\ngrace = 5\n", "grace"),
        (
            "[media]\ncustomer_silence_secs = 0\n",
            "media.customer_silence_secs",
        ),
        ("[transcription]\nfinal_beam_size = 0\n", "final_beam_size"),
        ("[transcription]\nfinal_beam_size = 17\n", "final_beam_size"),
        (
            "[security]\ntrusted_proxies = [\"proxy.local\"]\n",
            "security.trusted_proxies",
        ),
    ] {
        let err = Config::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn cti_settings_are_checked() {
    for (bad, says) in [
        (
            "[cti]\nallowed_origins = [\"https://crm.example.org/app\"]\n",
            "is not an origin",
        ),
        ("[cti]\nallowed_origins = [\"crm.example.org\"]\n", "is not an origin"),
        (
            "[cti]\nconnectors = [{ kind = \"webhook\", name = \"h\", url = \"https://x.org\", secret = \"short\" }]\n",
            "secret",
        ),
        (
            "[cti]\nconnectors = [{ kind = \"webhook\", name = \"h\", url = \"https://x.org\", secret = \"0123456789abcdef\" }, { kind = \"webhook\", name = \"h\", url = \"https://y.org\", secret = \"0123456789abcdef\" }]\n",
            "two connectors are named",
        ),
        ("[cti]\nretry = { max_attempts = 0 }\n", "max_attempts"),
        ("[cti]\nconnectors = [{ kind = \"ftp\", name = \"h\" }]\n", "ftp"),
    ] {
        let err = Config::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
    let ok = Config::from_toml(
        "[cti]\nallowed_origins = [\"https://crm.example.org\", \"http://localhost:8081\"]\n",
    )
    .unwrap();
    assert_eq!(ok.cti.allowed_origins.len(), 2);
}

#[test]
fn sip_trunks_and_routes_are_read_normalized_and_checked() {
    let base = "[[queues]]\nid = \"support\"\n[sip]\nlisten = \"127.0.0.1:5060\"\n";
    let good = format!(
        "{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.0/28\", \"198.51.100.7\"]\n[[sip.routes]]\nnumber = \"+32 2 555-01-00\"\nqueue = \"support\"\n[[sip.routes]]\nnumber = \"+3225551*\"\nqueue = \"support\"\n"
    );
    let c = Config::from_toml(&good).unwrap();
    let routes = c.sip.did_routes();
    assert_eq!(
        routes.iter().map(|r| r.number.as_str()).collect::<Vec<_>>(),
        ["+3225550100", "+3225551*"]
    );
    let ranges = c.sip.trunk_ranges();
    assert_eq!((ranges[0].0.as_str(), ranges[0].1.len()), ("carrier", 2));
    assert_eq!(
        c.sip.outbound_trunk(),
        None,
        "no outbound address: no dialing"
    );
    assert_eq!(c.queues[0].dial_timeout_secs, 30);
    let nat = good.replace(
        "[sip]\n",
        "[sip]\nrtp_ports = [40000, 40999]\npublic_address = \"203.0.113.7\"\n",
    );
    assert_eq!(
        c.sip.min_session(),
        std::time::Duration::from_secs(90),
        "RFC 4028's minimum"
    );
    let nat = Config::from_toml(&nat).unwrap().sip;
    assert_eq!(
        (nat.rtp_ports, nat.public_address),
        (Some([40_000, 40_999]), Some("203.0.113.7".parse().unwrap()))
    );
    let two = format!(
        "{base}[[sip.trunks]]\nid = \"in-only\"\naddresses = [\"192.0.2.1\"]\n[[sip.trunks]]\nid = \"out\"\naddresses = [\"192.0.2.2\"]\noutbound = \"192.0.2.2:5080\"\n[[sip.routes]]\nnumber = \"+3225550100\"\nqueue = \"support\"\n"
    );
    let c = Config::from_toml(&two).unwrap();
    let out = c.sip.outbound_trunk().unwrap();
    assert_eq!(
        (out.id.as_str(), out.to, &out.credentials, out.register_secs),
        ("out", "192.0.2.2:5080".parse().unwrap(), &None, None)
    );
    let registered = two.replace(
        "outbound = ",
        "username = \"sy\"\npassword = \"pw\"\nregister = true\noutbound = ",
    );
    let out = Config::from_toml(&registered)
        .unwrap()
        .sip
        .outbound_trunk()
        .unwrap();
    assert_eq!(
        (out.credentials, out.register_secs),
        (Some(("sy".into(), "pw".into())), Some(300))
    );
    assert_eq!(
        Config::demo().sip,
        SipConfig::default(),
        "no SIP by default"
    );
    // Two outbound trunks, one over TCP and named by the queue, one demanding a digest.
    let chosen = format!(
        "[[queues]]\nid = \"support\"\ntrunk = \"b\"\n[sip]\nlisten = \"127.0.0.1:5060\"\n[[sip.trunks]]\nid = \"a\"\naddresses = [\"0.0.0.0/0\"]\ninbound_username = \"carrier\"\ninbound_password = \"pw\"\noutbound = \"192.0.2.1:5060\"\n[[sip.trunks]]\nid = \"b\"\naddresses = [\"192.0.2.2\"]\noutbound = \"192.0.2.2:5060\"\noutbound_transport = \"tcp\"\n{}",
        "[[sip.routes]]\nnumber = \"+3225550100\"\nqueue = \"support\"\n"
    );
    let c = Config::from_toml(&chosen).unwrap();
    let trunks = c.sip.outbound_trunks();
    assert_eq!(
        trunks
            .iter()
            .map(|(id, t)| (id.as_str(), t.transport))
            .collect::<Vec<_>>(),
        [("a", SipTransport::Udp), ("b", SipTransport::Tcp)]
    );
    assert_eq!(c.queues[0].trunk.as_deref(), Some("b"));
    assert_eq!(
        c.sip.inbound_credentials().get("a"),
        Some(&("carrier".to_owned(), "pw".to_owned()))
    );
    assert!(!c.sip.inbound_credentials().contains_key("b"));
    let trunk = "[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.1\"]\n";
    let route = "[[sip.routes]]\nnumber = \"+3225550100\"\nqueue = \"support\"\n";
    for (bad, says) in [
        (
            format!("[[queues]]\nid = \"support\"\n[sip]\nlisten = \"localhost\"\n{trunk}{route}"),
            "sip.listen",
        ),
        (format!("{base}{route}"), "needs at least one"),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"300.1.1.1\"]\n{route}"),
            "sip.trunks.carrier",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = []\n{route}"),
            "give its addresses",
        ),
        (format!("{base}{trunk}{trunk}{route}"), "taken"),
        (
            format!("{base}{trunk}[[sip.routes]]\nnumber = \"sales\"\nqueue = \"support\"\n"),
            "not a number",
        ),
        (
            format!("{base}{trunk}[[sip.routes]]\nnumber = \"+3225550100\"\nqueue = \"billing\"\n"),
            "not a configured queue",
        ),
        (format!("{base}{trunk}{route}{route}"), "appears twice"),
        (
            format!("[[queues]]\nid = \"support\"\n[sip]\nlisten = \"127.0.0.1:5060\"\nrtp_ports = [40000, 40000]\n{trunk}{route}"),
            "sip.rtp_ports",
        ),
        (
            format!("[[queues]]\nid = \"support\"\n[sip]\nlisten = \"127.0.0.1:5060\"\nrtp_ports = [80, 90]\n{trunk}{route}"),
            "sip.rtp_ports",
        ),
        (
            format!("[[queues]]\nid = \"support\"\n[sip]\nlisten = \"127.0.0.1:5060\"\npublic_address = \"0.0.0.0\"\n{trunk}{route}"),
            "sip.public_address",
        ),
        (
            format!("[[queues]]\nid = \"support\"\n[sip]\nlisten = \"127.0.0.1:5060\"\nmin_session_secs = 0\n{trunk}{route}"),
            "sip.min_session_secs",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.1\"]\noutbound = \"carrier.example\"\n{route}"),
            "sip.trunks.carrier.outbound",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.1\"]\nusername = \"sy\"\n{route}"),
            "both username and password",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.1\"]\nusername = \"s y\"\npassword = \"p\"\n{route}"),
            "SIP user name",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.1\"]\nregister = true\n{route}"),
            "register needs outbound",
        ),
        (
            format!("[[queues]]\nid = \"support\"\ndial_timeout_secs = 0\n[sip]\nlisten = \"127.0.0.1:5060\"\n{trunk}{route}"),
            "dial_timeout_secs",
        ),
        (
            format!("{base}{trunk}{route}[sip.bogus]\n"),
            "unknown field",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"0.0.0.0/0\"]\n{route}"),
            "needs inbound_username",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.1\"]\ninbound_username = \"c\"\n{route}"),
            "inbound_password",
        ),
        (
            format!("{base}[[sip.trunks]]\nid = \"carrier\"\naddresses = [\"192.0.2.1\"]\noutbound = \"192.0.2.1:5060\"\noutbound_transport = \"sctp\"\n{route}"),
            "outbound_transport",
        ),
        (
            format!("[[queues]]\nid = \"support\"\ntrunk = \"carrier\"\n[sip]\nlisten = \"127.0.0.1:5060\"\n{trunk}{route}"),
            "queue support: trunk \"carrier\" is not a configured sip.trunks id with outbound",
        ),
    ] {
        let err = Config::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn hooks_are_read_and_checked() {
    let hook = "[[hooks]]\nname = \"ops\"\nurl = \"https://ops.example.com/e\"\nsecret = \"s\"\nevents = [\"call.ended\", \"agent.*\"]\n";
    let c = Config::from_toml(hook).unwrap();
    assert!(c.hooks[0].wants("call.ended") && c.hooks[0].wants("agent.status"));
    assert!(!c.hooks[0].wants("call.created") && !c.hooks[0].wants("agent"));
    assert_eq!(c.without_secrets().hooks[0].secret, "<not stored>");
    for (bad, says) in [
        (hook.replace("\"ops\"", "\"o p\""), "not a name"),
        (format!("{hook}{hook}"), "appears twice"),
        (hook.replace("https://ops", "ftp://ops"), "hooks.ops.url"),
        (
            hook.replace("secret = \"s\"", "secret = \"\""),
            "hooks.ops.secret",
        ),
        (
            hook.replace("[\"call.ended\", \"agent.*\"]", "[]"),
            "hooks.ops.events",
        ),
        (
            hook.replace("\"call.ended\"", "\"ended\""),
            "hooks.ops.events",
        ),
    ] {
        let err = Config::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn lookups_by_id_stay_right_when_the_lists_are_edited_after_the_first() {
    let mut config = Config::demo();
    assert_eq!(config.agent("bob").map(|a| a.id.as_str()), Some("bob"));
    assert_eq!(config.queue("sales").map(|q| q.id.as_str()), Some("sales"));
    assert!(config.agent("zoe").is_none());
    // Edited after the index was made: removed, moved and added entries are still found
    // right (the lists are the truth).
    let alice = config.agents.remove(0);
    assert!(config.agent("alice").is_none());
    assert_eq!(config.agent("bob").map(|a| a.id.as_str()), Some("bob"));
    let mut zoe = alice.clone();
    zoe.id = "zoe".into();
    config.agents.push(zoe);
    assert_eq!(config.agent("zoe").map(|a| a.id.as_str()), Some("zoe"));
    config.queues.reverse();
    assert_eq!(
        config.queue("support").map(|q| q.id.as_str()),
        Some("support")
    );
    // A copy makes its own index.
    let copy = config.clone();
    assert_eq!(copy.agent("zoe").map(|a| a.id.as_str()), Some("zoe"));
    assert_eq!(copy, config);
}
