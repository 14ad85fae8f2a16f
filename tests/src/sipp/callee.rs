//! Scenarios for sipp as the party our trunk calls (on the trunk's `outbound` address): each
//! checks our INVITE (the dialled `number` in the request URI, the queue's `caller_id` in the
//! From; a `<!--NAT-->` marker takes more checks), then answers as the scenario says.

/// Our INVITE, checked: to the dialled number, from the queue's caller id (sipp fails the
/// call when a check does not match).
const INVITE: &str = r#"
  <recv request="INVITE">
    <action>
      <ereg regexp="sip:CUSTOMER@" search_in="msg" check_it="true" assign_to="ruri"/>
      <ereg regexp="sip:CALLER_ID@" search_in="hdr" header="From:" check_it="true" assign_to="from_ok"/>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="their_from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="our_to"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="their_contact"/>
      MORE_CHECKS
    </action>
  </recv>
  <Reference variables="ruri,from_ok,their_from,our_to,their_contact"/>
"#;

/// A response to the INVITE (`[last_*]` are the INVITE's while nothing else came since).
fn respond(status: &str) -> String {
    format!(
        r#"
  <send>
    <![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
"#
    )
}

/// `180 Ringing`, then a moment's ringing (a real phone rings for seconds: the network's
/// provisional response comes well before its final one).
fn ringing() -> String {
    respond("180 Ringing") + "  <pause milliseconds=\"300\"/>\n"
}

fn scenario(number: &str, caller_id: &str, body: &str) -> String {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"carrier\">{INVITE}{body}</scenario>\n"
    );
    xml.replace("MORE_CHECKS", "<!--NAT-->")
        .replace("CUSTOMER", &number.replace('+', "\\+"))
        .replace("CALLER_ID", &caller_id.replace('+', "\\+"))
}

/// The carrier rings (180), then gives `status` as the final answer; the stack ACKs it.
pub fn refused(number: &str, caller_id: &str, status: &str) -> String {
    scenario(
        number,
        caller_id,
        &format!(
            "{}{}  <recv request=\"ACK\"/>\n",
            ringing(),
            respond(status)
        ),
    )
}

/// The carrier rings and nobody answers: our CANCEL comes after the queue's ring time.
pub fn unanswered(number: &str, caller_id: &str) -> String {
    scenario(
        number,
        caller_id,
        &format!(
            r#"{}
  <recv request="CANCEL" timeout="10000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [last_cseq_number] INVITE
      Content-Length: 0
    ]]>
  </send>
  <recv request="ACK"/>
"#,
            ringing()
        ),
    )
}

/// The customer hangs up: its BYE, our 200.
const CUSTOMER_BYE: &str = r#"
  <send retrans="500">
    <![CDATA[
      BYE [$their_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$our_to];tag=[pid]SIPpTag01[call_number]
      To: [$their_from]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
"#;

/// Our request (`what`: BYE, UPDATE), within `within_ms`, and the customer's 200 (with
/// `headers`, lines of their own).
fn take(what: &str, within_ms: u32, headers: &str) -> String {
    format!(
        r#"
  <recv request="{what}" timeout="{within_ms}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
{headers}      Content-Length: 0
    ]]>
  </send>
"#
    )
}

/// Rings, answers (PCMU, with `headers` in the 200) and starts saying `tone.ulaw`.
fn picks_up(headers: &str) -> String {
    format!(
        r#"{}
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{headers}      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=carrier 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv request="ACK"/>
  <nop><action><exec rtp_stream="tone.ulaw,-1,0"/></action></nop>
"#,
        ringing()
    )
}

/// The customer answers (PCMU), says `tone.ulaw` and then hangs up itself (`customer_bye`)
/// or waits for ours.
pub fn answered(number: &str, caller_id: &str, customer_bye: bool) -> String {
    let end = if customer_bye {
        format!("  <pause milliseconds=\"2500\"/>\n{CUSTOMER_BYE}")
    } else {
        take("BYE", 15_000, "")
    };
    scenario(number, caller_id, &format!("{}{end}", picks_up("")))
}

/// Our INVITE asks for a session timer (`Supported: timer`, a `Session-Expires`); the
/// customer answers with a `secs` one that `refresher` (`uac`: we, `uas`: it) refreshes.
/// When it is ours, our UPDATE must come within the interval, and the customer then hangs
/// up; when it is the customer's, it never refreshes and our BYE must come within twice the
/// interval.
pub fn answered_with_a_timer(number: &str, caller_id: &str, secs: u32, refresher: &str) -> String {
    let timer =
        format!("      Session-Expires: {secs};refresher={refresher}\n      Require: timer\n");
    let end = if refresher == "uac" {
        format!("{}{CUSTOMER_BYE}", take("UPDATE", secs * 1000, &timer))
    } else {
        take("BYE", secs * 2000, "")
    };
    let checks = r#"<ereg regexp="[0-9]+" search_in="hdr" header="Session-Expires:" check_it="true" assign_to="se_ok"/>
      <ereg regexp="timer" search_in="hdr" header="Supported:" check_it="true" assign_to="timer_ok"/>"#;
    scenario(number, caller_id, &format!("{}{end}", picks_up(&timer)))
        .replace("<!--NAT-->", checks)
        .replace(
            "<Reference variables=\"",
            "<Reference variables=\"se_ok,timer_ok,",
        )
}

/// A challenge (401) for the first request, then the same request again with digest
/// credentials sipp checks (a wrong or missing answer fails the scenario).
pub fn challenged(method: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="challenge">
  <recv request="{method}"/>
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="carrier.example", nonce="a1b2c3d4e5f6", algorithm=MD5
      Content-Length: 0
    ]]>
  </send>
  {ack}
  <recv request="{method}">
    <action>
      <verifyauth assign_to="authvalid" username="switchyard" password="s3cret"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="good"/>
  <recv request="NEVER" timeout="100"/>
  <label id="good"/>
  <send>
    <![CDATA[
      SIP/2.0 {final}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port]>;expires=120
      Content-Length: 0
    ]]>
  </send>
  {ack}
</scenario>
"#,
        ack = if method == "INVITE" {
            r#"<recv request="ACK"/>"#
        } else {
            ""
        },
        final = if method == "INVITE" {
            "486 Busy Here"
        } else {
            "200 OK"
        }
    )
}
