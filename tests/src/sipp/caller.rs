//! Scenarios for sipp as the carrier's caller: an INVITE from `caller` (its From user) with a
//! G.711 offer to the number sipp is given (`-s`), then what follows.

/// The caller's INVITE, with a G.711 offer.
const INVITE: &str = r#"
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 8
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
"#;

/// The ACK of a final response (`[last_Via:]`: the INVITE's branch, as a non-2xx ACK needs).
const ACK: &str = r#"
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"#;

/// The ACK of our 200 OK (a transaction of its own: a new branch).
const ACK_2XX: &str = r#"
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"#;

/// The caller hangs up (its BYE, then our 200).
const CALLER_BYE: &str = r#"
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
"#;

/// Our BYE, within 15 s, and the caller's 200.
const ANSWER_BYE: &str = r#"
  <recv request="BYE" timeout="15000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
"#;

/// A whole scenario: the INVITE, then `body`, whose `ACK_2XX`, `CALLER_BYE` and `ANSWER_BYE`
/// lines stand for those blocks.
fn scenario(caller: &str, body: &str) -> String {
    let body = body
        .replace("ACK_2XX\n", ACK_2XX)
        .replace("CALLER_BYE\n", CALLER_BYE)
        .replace("ANSWER_BYE\n", ANSWER_BYE);
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"trunk\">{INVITE}{body}</scenario>\n"
    );
    xml.replace("CALLER", caller)
}

/// Refused with `code`: the caller ACKs.
pub fn refused(caller: &str, code: u16) -> String {
    scenario(caller, &format!("  <recv response=\"{code}\"/>\n{ACK}"))
}

/// Rings (183), then after `ring_ms` the caller CANCELs its INVITE number `cseq`: 200 and
/// 487 come back.
fn rings_then_cancels(ring_ms: u32, cseq: u32) -> String {
    format!(
        r#"
  <recv response="183"/>
  <pause milliseconds="{ring_ms}"/>
  <send>
    <![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} CANCEL
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
"#
    )
}

/// Rings (183), then the caller CANCELs: 200 and 487 come back.
pub fn cancelled(caller: &str) -> String {
    scenario(caller, &format!("{}{ACK}", rings_then_cancels(1_500, 1)))
}

/// Challenged (401), the caller ACKs and INVITEs again with the digest of `username` and
/// `password`: then, if it gets in, it rings (183) and the caller CANCELs (`outcome` 183), or
/// it is refused with `outcome` and ACKs.
pub fn authenticated(caller: &str, username: &str, password: &str, outcome: u16) -> String {
    let again = INVITE
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace(
            "      Max-Forwards: 70\n",
            &format!(
                "      [authentication username={username} password={password}]\n      Max-Forwards: 70\n"
            ),
        );
    let end = if outcome == 183 {
        rings_then_cancels(500, 2)
    } else {
        format!("  <recv response=\"{outcome}\"/>\n")
    };
    let ack2 = ACK.replace("CSeq: 1 ACK", "CSeq: 2 ACK");
    scenario(
        caller,
        &format!("  <recv response=\"401\" auth=\"true\"/>\n{ACK}{again}{end}{ack2}"),
    )
}

/// Answered by the agent; then the caller talks (`tone.ulaw`, raw PCMU, for `talk_ms`) and
/// hangs up (`caller_bye`), or waits for the agent's BYE.
pub fn answered(caller: &str, caller_bye: bool, talk_ms: u32) -> String {
    let end = if caller_bye {
        r#"
  <nop><action><exec rtp_stream="tone.ulaw,-1,0"/></action></nop>
  <pause milliseconds="TALK_MS"/>
  <nop><action><exec rtp_stream="pause"/></action></nop>
CALLER_BYE
"#
    } else {
        r#"
ANSWER_BYE
"#
    };
    scenario(
        caller,
        &format!(
            r#"
  <recv response="183"/>
  <recv response="200" timeout="15000"/>
ACK_2XX
{end}"#
        ),
    )
    .replace("TALK_MS", &talk_ms.to_string())
}

/// The caller's re-INVITE `cseq` offering `direction` (with `extra` header lines), the
/// check that our answer says `answer` (and the `checks`, sipp actions, on our 200), and its
/// ACK.
fn reinvite(cseq: u32, direction: &str, answer: &str, extra: &str, checks: &str) -> String {
    format!(
        r#"
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
{extra}      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 53655765 {cseq} IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a={direction}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp="a={answer}" search_in="body" check_it="true" assign_to="dir{cseq}"/>{checks}
    </action>
  </recv>
  <Reference variables="dir{cseq}"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"#
    )
}

/// Answered by the agent; the caller talks for a second, holds us with a re-INVITE
/// (`a=sendonly`, and checks the answer says `a=recvonly`), sends nothing for `hold_ms`,
/// resumes (`a=sendrecv` both ways), talks a second more and hangs up.
pub fn holds_then_resumes(caller: &str, hold_ms: u32) -> String {
    let talk = r#"
  <nop><action><exec rtp_stream="tone.ulaw,-1,0"/></action></nop>
  <pause milliseconds="1000"/>
  <nop><action><exec rtp_stream="pause"/></action></nop>
"#;
    scenario(
        caller,
        &format!(
            r#"
  <recv response="183"/>
  <recv response="200" timeout="15000"/>
ACK_2XX
{talk}{hold}
  <pause milliseconds="{hold_ms}"/>
{resume}{talk}
  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:CALLER@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 4 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
"#,
            hold = reinvite(2, "sendonly", "recvonly", "", ""),
            resume = reinvite(3, "sendrecv", "sendrecv", "", ""),
        ),
    )
}

/// Answered at once (a `200 OK` with no `183` before it: one would fail the scenario); the
/// caller stays `talk_ms`, then hangs up. `rtd` marks the INVITE → 200 time for sipp's
/// response-time statistics (`-trace_rtt`).
pub fn answered_on_arrival(caller: &str, talk_ms: u32) -> String {
    scenario(
        caller,
        &format!(
            r#"
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" timeout="10000"/>
ACK_2XX
  <pause milliseconds="{talk_ms}"/>
CALLER_BYE
"#
        ),
    )
}

/// Rings (183), then our 200 OK within 15 s, on which `checks` (sipp actions assigning
/// `vars`, comma-separated) must hold; then its ACK.
fn answered_checking(checks: &str, vars: &str) -> String {
    format!(
        r#"
  <recv response="183"/>
  <recv response="200" timeout="15000">
    <action>{checks}
    </action>
  </recv>
  <Reference variables="{vars}"/>
ACK_2XX
"#
    )
}

/// The INVITE's offer, as [`INVITE`] writes it.
const G711_OFFER: &str =
    "m=audio [media_port] RTP/AVP 0 8\n      a=rtpmap:0 PCMU/8000\n      a=rtpmap:8 PCMA/8000";

/// A scenario whose INVITE offers `offer` (payload type, rtpmap) instead of G.711, answered
/// with `checks` (sipp actions assigning `vars`) holding on our 200, then `then`.
fn answered_offering(
    caller: &str,
    offer: &[(u8, &str)],
    checks: &str,
    vars: &str,
    then: &str,
) -> String {
    let pts: Vec<String> = offer.iter().map(|(pt, _)| pt.to_string()).collect();
    let mut m = format!("m=audio [media_port] RTP/AVP {}", pts.join(" "));
    for (pt, map) in offer {
        m.push_str(&format!("\n      a=rtpmap:{pt} {map}"));
    }
    scenario(caller, &(answered_checking(checks, vars) + then)).replace(G711_OFFER, &m)
}

/// Answered by the agent; the caller offers RFC 4733 events (payload type 101) besides PCMU,
/// checks our answer takes them, presses 1 (sipp's `dtmf_2833_1.pcap`, `pcap`), and waits for
/// the agent's BYE.
pub fn presses_a_digit(caller: &str, pcap: &str) -> String {
    answered_offering(
        caller,
        &[(0, "PCMU/8000"), (101, "telephone-event/8000")],
        r#"
      <ereg regexp="a=rtpmap:101 telephone-event/8000" search_in="body" check_it="true" assign_to="events"/>"#,
        "events",
        &format!(
            r#"  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
ANSWER_BYE
"#
        ),
    )
}

/// Answered by the agent; the caller offers G.722 before G.711 (`9 0 8`), checks our answer
/// takes G.722 alone, says `tone.pcap` (a capture of G.722 packets, played as captured) and
/// hangs up after `talk_ms`.
pub fn answered_wideband(caller: &str, talk_ms: u32) -> String {
    answered_offering(
        caller,
        &[(9, "G722/8000"), (0, "PCMU/8000"), (8, "PCMA/8000")],
        r#"
      <ereg regexp="m=audio [0-9]+ RTP/AVP 9[^0-9]" search_in="body" check_it="true" assign_to="wide"/>"#,
        "wide",
        &format!(
            r#"  <nop><action><exec play_pcap_audio="tone.pcap"/></action></nop>
  <pause milliseconds="{talk_ms}"/>
CALLER_BYE
"#
        ),
    )
}

/// A load customer: rings, is answered (within two minutes), says `audio` (raw PCMU, looped)
/// until our BYE, however long the call lasts.
pub fn talks_until_our_bye(caller: &str, audio: &str) -> String {
    scenario(
        caller,
        &format!(
            r#"
  <recv response="183" optional="true"/>
  <recv response="200" timeout="120000"/>
ACK_2XX
  <nop><action><exec rtp_stream="{audio},-1,0"/></action></nop>
ANSWER_BYE
"#
        ),
    )
    .replace(
        r#"<recv request="BYE" timeout="15000"/>"#,
        r#"<recv request="BYE" timeout="600000"/>"#,
    )
}

/// Asks for a session timer of `secs` that it refreshes itself (`refresher=uac`), and checks
/// our 200 OK agrees (`Session-Expires`, `Require: timer`); refreshes it once with a
/// re-INVITE after `refresh_ms` (our 200 states the timer again), then never again, and waits
/// for our BYE.
pub fn refreshes_a_session_once(caller: &str, secs: u32, refresh_ms: u32) -> String {
    let timer = format!("      Supported: timer\n      Session-Expires: {secs};refresher=uac\n");
    let agreed = |n: &str| {
        format!(
            r#"
      <ereg regexp="{secs};refresher=uac" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="se{n}"/>
      <ereg regexp="timer" search_in="hdr" header="Require:" check_it="true" assign_to="req{n}"/>"#
        )
    };
    scenario(
        caller,
        &format!(
            r#"{answered}
  <pause milliseconds="{refresh_ms}"/>
{refresh}
  <Reference variables="se2,req2"/>
ANSWER_BYE
"#,
            answered = answered_checking(&agreed("0"), "se0,req0"),
            refresh = reinvite(2, "sendrecv", "sendrecv", &timer, &agreed("2")),
        ),
    )
    .replacen(
        "      Max-Forwards: 70\n",
        &format!("      Max-Forwards: 70\n{timer}"),
        1,
    )
}

/// Asks for a session timer of `secs`, shorter than we accept: our `422` names our minimum
/// (`Min-SE: min_secs`); the caller ACKs.
pub fn asks_too_short_a_session(caller: &str, secs: u32, min_secs: u32) -> String {
    scenario(
        caller,
        &format!(
            r#"
  <recv response="422">
    <action>
      <ereg regexp="(^|[^0-9]){min_secs}([^0-9]|$)" search_in="hdr" header="Min-SE:" check_it="true" assign_to="min"/>
    </action>
  </recv>
  <Reference variables="min"/>
{ACK}"#
        ),
    )
    .replacen(
        "      Max-Forwards: 70\n",
        &format!("      Max-Forwards: 70\n      Session-Expires: {secs}\n"),
        1,
    )
}

/// Asks for a session timer of `secs` that we refresh (`refresher=uas`): takes our first
/// UPDATE (200, the timer stated again), refuses the second (481), and waits for our BYE.
pub fn makes_us_refresh(caller: &str, secs: u32) -> String {
    let update = |answer: &str, n: u32| {
        format!(
            r#"
  <recv request="UPDATE" timeout="{wait}">
    <action>
      <ereg regexp="{secs};refresher=uas" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="up{n}"/>
    </action>
  </recv>
  <Reference variables="up{n}"/>
  <send>
    <![CDATA[
      SIP/2.0 {answer}
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Session-Expires: {secs};refresher=uas
      Content-Length: 0
    ]]>
  </send>
"#,
            wait = secs * 1000,
        )
    };
    scenario(
        caller,
        &format!(
            r#"{answered}{first}{second}ANSWER_BYE
"#,
            answered = answered_checking(
                &format!(
                    r#"
      <ereg regexp="{secs};refresher=uas" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="se"/>"#
                ),
                "se"
            ),
            first = update("200 OK", 1),
            second = update("481 Call/Transaction Does Not Exist", 2),
        ),
    )
    .replacen(
        "      Max-Forwards: 70\n",
        &format!("      Max-Forwards: 70\n      Supported: timer\n      Session-Expires: {secs};refresher=uas\n"),
        1,
    )
}
