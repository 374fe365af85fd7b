//! Operating the server: health, metrics, the OpenAPI document, JSON
//! errors for unknown routes, and the binary's graceful shutdown on
//! SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

#[tokio::test]
async fn health_metrics_and_unknown_routes() {
    let s = common::start().await;
    let base = s.server.url();
    let h = s.http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(h.status(), 200);

    let alice = s.register("alice").await;
    let (_, general, _) = s.guild(&alice, "Ops").await;
    s.send(&general, &alice.auth(), "counted").await;
    let m = s.http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(m.status(), 200);
    let text = m.text().await.unwrap();
    assert!(text.contains("discord_messages_created_total 1"), "{text}");
    assert!(
        text.contains(r#"discord_http_requests_total{method="POST",route="/api/v10/channels/{channel_id}/messages",status="200"} 1"#),
        "{text}"
    );
    assert!(text.contains("discord_gateway_sessions"));

    let r = s.get("/no/such/route", &alice.auth()).await;
    assert_eq!(
        (r.status, r.body["message"].clone(), r.code()),
        (404, json!("404: Not Found"), 0)
    );
    let r = s
        .call(
            reqwest::Method::PUT,
            "/users/@me",
            Some(&alice.auth()),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (405, 0));
    // v9 serves the same API.
    let v9 = s
        .http
        .get(format!("{base}/api/v9/users/@me"))
        .header("Authorization", alice.auth())
        .send()
        .await
        .unwrap();
    assert_eq!(v9.status(), 200);
}

/// Every route the router serves is in the OpenAPI document and the
/// document lists no route that is not served.
#[tokio::test]
async fn openapi_lists_exactly_the_served_routes() {
    let s = common::start().await;
    let doc: Value = s
        .http
        .get(s.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let alice = s.register("alice").await;
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut served = 0;
    for (path, ops) in paths {
        for (method, _) in ops
            .as_object()
            .unwrap()
            .iter()
            .filter(|(m, _)| methods.contains(&m.as_str()))
        {
            // Fill parameters with an ID that exists nowhere: a served route
            // answers with a Discord error other than the router's 404/405.
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "1" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = s
                .call(m, &concrete, Some(&alice.auth()), Some(json!({})))
                .await;
            let unrouted =
                (r.status == 404 && r.body["message"] == "404: Not Found") || r.status == 405;
            assert!(
                !unrouted,
                "{method} {path} is documented but not served: {:?}",
                r.body
            );
            served += 1;
        }
    }
    assert!(served >= 55, "only {served} operations documented");
    // And the reverse: every route registered in the source is documented
    // with each of its methods.
    for (path, methods) in registered_routes() {
        for m in methods {
            assert!(
                paths.get(&path).and_then(|p| p.get(&m)).is_some(),
                "{m} {path} is served but not documented"
            );
        }
    }
}

/// Every `.rs` file under `dir`, recursively.
fn sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// `(path, methods)` of every `.route(...)` call in src/routes, except the
/// routes outside `/api` (health, metrics, attachments).
fn registered_routes() -> Vec<(String, Vec<String>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut out = Vec::new();
    for path in sources(&dir) {
        let src = std::fs::read_to_string(path).unwrap();
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + 7..];
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .unwrap()
                .0;
            let call = &rest[..end];
            let path = call.split('"').nth(1).unwrap().to_owned();
            let methods = ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| call.contains(&format!("{m}(")))
                .map(|m| (*m).to_owned())
                .collect();
            if !(path.starts_with("/healthz")
                || path.starts_with("/metrics")
                || path.starts_with("/attachments"))
            {
                out.push((path, methods));
            }
        }
    }
    assert!(out.len() > 30, "found only {} routes", out.len());
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_binary_serves_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--drain-secs",
            "1",
            "--log",
            "warn",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..200 {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the server did not come up");
    assert!(
        dir.path().join("discord.sqlite3").exists(),
        "embedded data lives in --data-dir"
    );

    let r = http
        .post(format!("{base}/api/v10/auth/register"))
        .json(&json!({"username": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let gw: Value = http
        .get(format!("{base}/api/v10/gateway"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut session = common::Session::connect(gw["url"].as_str().unwrap(), &token, 1).await;

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The session is told to reconnect.
    let mut got_reconnect = false;
    for _ in 0..10 {
        match tokio::time::timeout(
            Duration::from_secs(5),
            futures::StreamExt::next(&mut session.ws),
        )
        .await
        {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["op"] == 7 {
                    got_reconnect = true;
                    break;
                }
            }
            _ => break,
        }
    }
    assert!(got_reconnect, "no op 7 RECONNECT on SIGTERM");
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exited = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the server did not exit after SIGTERM")
    });
    assert!(exited.success(), "exit status {exited}");
}
