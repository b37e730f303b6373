//! Live capture on the loopback interface (built with `--features live`; needs the right to
//! capture, which CI has as root).

#[cfg(feature = "live")]
#[test]
fn live_capture_on_loopback_reports_the_flow_and_stops_on_duration() {
    use std::net::UdpSocket;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let port = 40_000 + (std::process::id() % 20_000) as u16;
    let filter = format!("udp port {port}");
    let child = crate::util::edgewise()
        .args([
            "flows",
            "-i",
            "lo",
            "-f",
            &filter,
            "--duration",
            "3",
            "--format",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("edgewise starts");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let started = Instant::now();
    let mut sent = 0;
    // Keep sending until the capture ends, so that the capture's start-up time does not matter.
    while started.elapsed() < Duration::from_millis(2500) {
        sock.send_to(b"edge live test", ("127.0.0.1", port))
            .expect("send");
        sent += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("edgewise ends by itself");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("cannot capture") && !crate::util::strict() {
        eprintln!("note: no capture rights here; skipping ({stderr})");
        return;
    }
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["inputs"][0]["name"], "live:lo");
    let flows = json["flows"].as_array().expect("flows");
    let ours = flows
        .iter()
        .find(|f| f["responder"]["port"] == port || f["initiator"]["port"] == port)
        .unwrap_or_else(|| panic!("no flow to port {port} in {flows:?}"));
    let packets = ours["packets"].as_u64().expect("packets");
    assert!(packets >= 10 && packets <= sent, "{packets} of {sent}");
    assert!(json["accounting"]["mismatches"]
        .as_array()
        .expect("mismatches")
        .is_empty());
}
