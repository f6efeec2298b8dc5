//! The web UI's sign-in: an API key exchanged for an `HttpOnly`, `SameSite=Strict` session
//! cookie (the key never comes back), CSRF on every form, and pages that show what the
//! signed-in key's team may see.

mod common;

use common::TestServer;
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// The `name=value` of the `Set-Cookie` for `name`, with its attributes.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
}

/// The hidden `csrf` field of a page's first form.
fn form_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap_or_default().to_string()
}

/// Signs in with `key`; returns the session cookie's value and the page CSRF token.
async fn sign_in(server: &TestServer, key: &str) -> (String, String) {
    let client = browser();
    let form = client.get(server.url("/ui/sign-in")).send().await.unwrap();
    let pre = cookie_value(&set_cookie(&form, "assay_sign_in").expect("pre-session cookie"));
    let csrf = form_csrf(&form.text().await.unwrap());
    let done = client
        .post(server.url("/ui/sign-in"))
        .header("Cookie", format!("assay_sign_in={pre}"))
        .form(&[("key", key), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let session = cookie_value(&set_cookie(&done, "assay_session").expect("session cookie"));
    let runs = client
        .get(server.url("/ui/runs"))
        .header("Cookie", format!("assay_session={session}"))
        .send()
        .await
        .unwrap();
    let page_csrf = form_csrf(&runs.text().await.unwrap());
    (session, page_csrf)
}

#[tokio::test]
async fn signing_in_trades_the_key_for_a_strict_http_only_cookie() {
    let server = TestServer::start().await;
    let client = browser();

    // Not signed in: every page leads to the sign-in form.
    let runs = client.get(server.url("/ui/runs")).send().await.unwrap();
    assert_eq!(runs.status(), 303);
    assert_eq!(runs.headers()[LOCATION], "/ui/sign-in");

    let form = client.get(server.url("/ui/sign-in")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let csp = form.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let pre_cookie = set_cookie(&form, "assay_sign_in").expect("pre-session cookie");
    assert!(pre_cookie.contains("HttpOnly") && pre_cookie.contains("SameSite=Strict"));
    let pre = cookie_value(&pre_cookie);
    let csrf = form_csrf(&form.text().await.unwrap());
    assert_eq!(pre, csrf);

    // A forged form (no matching cookie) and a wrong key are refused without a session.
    let forged = client
        .post(server.url("/ui/sign-in"))
        .form(&[("key", server.key.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(&forged, "assay_session").is_none());
    let wrong = client
        .post(server.url("/ui/sign-in"))
        .header("Cookie", format!("assay_sign_in={pre}"))
        .form(&[("key", "assay_sk_not_a_key"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong, "assay_session").is_none());
    assert!(wrong.text().await.unwrap().contains("not valid"));

    let done = client
        .post(server.url("/ui/sign-in"))
        .header("Cookie", format!("assay_sign_in={pre}"))
        .form(&[("key", server.key.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()[LOCATION], "/ui/runs");
    let session_cookie = set_cookie(&done, "assay_session").expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(session_cookie.contains(attribute), "{session_cookie}");
    }
    let session = cookie_value(&session_cookie);
    assert!(!session.contains(&server.key) && session.len() >= 32);
    let body = done.text().await.unwrap();
    assert!(!body.contains(&server.key));
    // The pre-session cookie is used up.
    let again = client
        .post(server.url("/ui/sign-in"))
        .form(&[("key", server.key.as_str()), ("csrf", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 403);

    // The cookie opens the pages; the key shows nowhere on them.
    let page = client
        .get(server.url("/ui/runs"))
        .header("Cookie", format!("assay_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("org_a / team_a"), "{html}");
    assert!(!html.contains(&server.key));
}

#[tokio::test]
async fn the_runs_page_shows_the_teams_runs_and_signing_out_needs_the_csrf_token() {
    let server = TestServer::start().await;
    let file = server
        .upload_jsonl("d.jsonl", &[json!({"q": "2+2? [[answer:4]]", "a": "4"})])
        .await;
    let suite = qa_suite(&server, &file).await;
    let ours = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"],
            "metadata": {"note": "<script>alert(1)</script><img src=x onerror=alert(2)>"}}))
        .await;
    let ours = ours["id"].as_str().unwrap().to_string();

    let (session, csrf) = sign_in(&server, &server.key).await;
    let (other_session, _) = sign_in(&server, &server.other_key).await;
    let client = browser();
    let (status, html) = ui_get(&server, &session, "/ui/runs").await;
    assert_eq!(status, 200);
    assert!(html.contains(&ours) && html.contains("completed"), "{html}");
    // A completed run without failures offers no action in the list.
    assert!(
        !html.contains("Rerun failed</button>") && !html.contains("Cancel</button>"),
        "{html}"
    );
    // A page cursor that names no run is a 400 page, not a failure.
    let (status, stale) = ui_get(&server, &session, "/ui/runs?after=eval_run_gone").await;
    assert_eq!(status, 400);
    assert!(stale.contains("no longer valid"));
    // Another org's key sees none of it, exactly as the API would answer it.
    let (status, html) = ui_get(&server, &other_session, "/ui/runs").await;
    assert_eq!(status, 200);
    assert!(!html.contains(&ours), "{html}");
    assert!(html.contains("No runs yet"));

    // The run's page: its metrics with the 95% interval, its settings as text.
    let (status, html) = ui_get(&server, &session, &format!("/ui/runs/{ours}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("exact_match") && html.contains("1.0000"),
        "{html}"
    );
    assert!(html.contains("95% interval"));
    assert!(!html.contains("<script>alert(1)"), "unescaped: {html}");
    assert!(!html.contains("<img src=x"), "unescaped: {html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)") && html.contains("&lt;img src=x onerror"),
        "{html}"
    );
    // Another org's run is a 404 page, as the API answers it.
    let (status, html) = ui_get(&server, &other_session, &format!("/ui/runs/{ours}")).await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("Not found"));
    let (status, _) = ui_get(&server, &session, "/ui/runs/eval_run_nope").await;
    assert_eq!(status, 404);

    // Live progress: server-sent events, ending once the run has ended.
    let events = client
        .get(server.url(&format!("/ui/runs/{ours}/progress")))
        .header("Cookie", format!("assay_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(events.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let body = events.text().await.unwrap();
    assert!(body.contains("event: progress"), "{body}");
    assert!(
        body.contains(r#""status":"completed","total":1,"done":1,"failed":0,"terminal":true"#),
        "{body}"
    );
    let foreign = client
        .get(server.url(&format!("/ui/runs/{ours}/progress")))
        .header("Cookie", format!("assay_session={other_session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 404);

    // Signing out: a forged form is refused, the real one ends the session only.
    let forged = client
        .post(server.url("/ui/sign-out"))
        .header("Cookie", format!("assay_session={session}"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(ui_get(&server, &session, "/ui/runs").await.0, 200);
    let out = client
        .post(server.url("/ui/sign-out"))
        .header("Cookie", format!("assay_session={session}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let cleared = set_cookie(&out, "assay_session").expect("cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert_eq!(ui_get(&server, &session, "/ui/runs").await.0, 303);
    assert_eq!(ui_get(&server, &other_session, "/ui/runs").await.0, 200);
}

/// A suite of one `qa` task `t` over `file`'s rows (`q` the prompt, `a` the target).
async fn qa_suite(server: &TestServer, file: &str) -> String {
    server
        .create_suite(
            json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": file},
            "prompt_template": "{{q}}", "target_template": "{{a}}"}]}),
        )
        .await
}

/// GETs `path` with a session cookie; returns the status and the body.
async fn ui_get(server: &TestServer, session: &str, path: &str) -> (u16, String) {
    let r = browser()
        .get(server.url(path))
        .header("Cookie", format!("assay_session={session}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// POSTs a button's form (its CSRF token) to `path`; returns the status and `Location`.
async fn ui_post(server: &TestServer, session: &str, path: &str, csrf: &str) -> (u16, String) {
    let r = browser()
        .post(server.url(path))
        .header("Cookie", format!("assay_session={session}"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (r.status().as_u16(), location)
}

/// The number of matching samples a samples page reports.
fn matching(html: &str) -> i64 {
    let at = html.find("data-matching=\"").expect("a match count") + 15;
    html[at..]
        .split('"')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

#[tokio::test]
async fn samples_pages_filter_show_every_part_of_a_sample_and_buttons_act_with_csrf() {
    let server = TestServer::start().await;
    let hostile = "<script>window.pwned=1</script><img src=x onerror=alert(2)>";
    let file = server
        .upload_jsonl(
            "d.jsonl",
            &[
                json!({"q": "Capital of France? [[answer:Paris]]", "a": "Paris"}),
                json!({"q": "2+2? [[answer:5]]", "a": "4"}),
                json!({"q": format!("Say {hostile} [[answer:{hostile}]]"), "a": "no"}),
                json!({"q": "Broken [[status:400]]", "a": "x"}),
                json!({"q": "Apple pie? [[answer:apple]]", "a": "apple"}),
            ],
        )
        .await;
    let suite = qa_suite(&server, &file).await;
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    let run_id = run["id"].as_str().unwrap().to_string();
    let (session, csrf) = sign_in(&server, &server.key).await;
    let (other, other_csrf) = sign_in(&server, &server.other_key).await;
    let samples = format!("/ui/runs/{run_id}/samples");

    // Filters, each answered by the server.
    let (status, html) = ui_get(&server, &session, &samples).await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(matching(&html), 5);
    assert!(!html.contains("<script>window.pwned"), "unescaped: {html}");
    assert!(
        html.contains("&lt;script&gt;window.pwned=1&lt;&#x2f;script&gt;")
            || html.contains("&lt;script&gt;window.pwned=1&lt;/script&gt;"),
        "{html}"
    );
    for (query, want) in [
        ("status=failed", 1),
        ("q=APPLE", 1),
        ("q=%5B%5Banswer", 4),
        ("metric=exact_match&max=0", 2),
        ("metric=exact_match&min=1", 2),
        ("metric=exact_match&min=1&task=t&model=fake", 2),
        ("error_type=nothing_like_it", 0),
        ("sort=score_asc&metric=exact_match", 5),
    ] {
        let (status, html) = ui_get(&server, &session, &format!("{samples}?{query}")).await;
        assert_eq!(status, 200, "{query}: {html}");
        assert_eq!(matching(&html), want, "{query}");
    }
    // Bad filters are 400 pages naming the field.
    for (query, field) in [
        ("metric=exact_match&min=abc", "min:"),
        ("min=0.5", "metric:"),
        ("sort=score_desc", "metric:"),
        ("status=done", "status:"),
        ("after=garbage", "no longer valid"),
    ] {
        let (status, html) = ui_get(&server, &session, &format!("{samples}?{query}")).await;
        assert_eq!(status, 400, "{query}: {html}");
        assert!(html.contains(field), "{query}: {html}");
    }

    // The run page groups the failure by type and links to those samples.
    let (_, html) = ui_get(&server, &session, &format!("/ui/runs/{run_id}")).await;
    let failed = server
        .all_samples(&run_id, "&status=failed")
        .await
        .pop()
        .expect("a failed sample");
    let error_type = failed["error"]["type"]
        .as_str()
        .expect("an error type")
        .to_string();
    assert!(html.contains("<h2>Failures</h2>"), "{html}");
    assert!(
        html.contains(&format!(
            "samples?status=failed&amp;error_type={error_type}"
        )),
        "{html}"
    );
    let (_, by_type) = ui_get(
        &server,
        &session,
        &format!("{samples}?status=failed&error_type={error_type}"),
    )
    .await;
    assert_eq!(matching(&by_type), 1);

    // A failed sample's page says why; the hostile one shows its text as text.
    let (status, html) = ui_get(
        &server,
        &session,
        &format!("{samples}/{}", failed["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&error_type), "{html}");
    let all = server.all_samples(&run_id, "").await;
    let evil = all
        .iter()
        .find(|s| s["sample_index"] == 2)
        .expect("the hostile sample");
    let evil_page = format!("{samples}/{}", evil["id"].as_str().unwrap());
    let (status, html) = ui_get(&server, &session, &evil_page).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        !html.contains("<script>window.pwned") && !html.contains("<img src=x"),
        "{html}"
    );
    assert!(html.contains("<h2>Output</h2>") && html.contains("<h2>Dataset row</h2>"));
    assert!(html.contains("exact_match"), "{html}");

    // Artifacts download with the session, for the owner only.
    let (_, html) = ui_get(&server, &session, &format!("/ui/runs/{run_id}")).await;
    let at = html.find("href=\"/ui/files/").expect("an artifact link") + 6;
    let link = html[at..].split('"').next().unwrap().to_string();
    let (status, body) = ui_get(&server, &session, &link).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&run_id) || body.contains("exact_match"),
        "{body}"
    );

    // Another org: every page of the run is a 404, and no button works.
    for path in [
        samples.clone(),
        evil_page.clone(),
        format!("{evil_page}/audio"),
        link.clone(),
    ] {
        let (status, html) = ui_get(&server, &other, &path).await;
        assert_eq!(status, 404, "{path}: {html}");
        assert!(!html.contains("window.pwned"));
    }
    let (status, _) = ui_post(
        &server,
        &other,
        &format!("/ui/runs/{run_id}/rerun-failed"),
        &other_csrf,
    )
    .await;
    assert_eq!(status, 404);

    // The runs list offers the rerun too.
    let (_, list) = ui_get(&server, &session, "/ui/runs").await;
    assert!(list.contains("Rerun failed</button>"), "{list}");

    // Rerun the failed sample: a forged form is refused, the real one requeues the run.
    let rerun = format!("/ui/runs/{run_id}/rerun-failed");
    assert_eq!(ui_post(&server, &session, &rerun, "forged").await.0, 403);
    let (status, location) = ui_post(&server, &session, &rerun, &csrf).await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("/ui/runs/{run_id}").as_str())
    );
    let again = server.wait_terminal(&run_id).await;
    assert_eq!(again["status"], "completed");
    // A completed run cannot be cancelled: a 409 page.
    let (status, _) = ui_post(
        &server,
        &session,
        &format!("/ui/runs/{run_id}/cancel"),
        &csrf,
    )
    .await;
    assert_eq!(status, 409);

    // Cancel a slow run from its page, then retry it.
    let slow_file = server
        .upload_jsonl(
            "s.jsonl",
            &[json!({"q": "wait [[latency_ms:30000]]", "a": "x"})],
        )
        .await;
    let slow_suite = qa_suite(&server, &slow_file).await;
    let (_, slow) = server
        .post(
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": slow_suite, "models": ["fake"]}),
        )
        .await;
    let slow_id = slow["id"].as_str().unwrap().to_string();
    let (_, html) = ui_get(&server, &session, &format!("/ui/runs/{slow_id}")).await;
    assert!(html.contains("Cancel run"), "{html}");
    let (status, _) = ui_post(
        &server,
        &session,
        &format!("/ui/runs/{slow_id}/cancel"),
        &csrf,
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(server.wait_terminal(&slow_id).await["status"], "cancelled");
    let (_, html) = ui_get(&server, &session, &format!("/ui/runs/{slow_id}")).await;
    assert!(
        html.contains("Retry run") && !html.contains("Cancel run"),
        "{html}"
    );
    let (status, _) = ui_post(
        &server,
        &session,
        &format!("/ui/runs/{slow_id}/retry"),
        &csrf,
    )
    .await;
    assert_eq!(status, 303);
    let (_, run) = server
        .get(&format!("/api/v1/llm/evals/runs/{slow_id}"))
        .await;
    assert!(
        ["queued", "in_progress"].contains(&run["status"].as_str().unwrap_or("")),
        "{run}"
    );

    // The runs list filters by status and model.
    let (_, html) = ui_get(&server, &session, "/ui/runs?status=completed").await;
    assert!(html.contains(&run_id) && !html.contains(&slow_id), "{html}");
    let (_, html) = ui_get(&server, &session, "/ui/runs?model=nope").await;
    assert!(html.contains("No runs match"), "{html}");
    let (status, html) = ui_get(&server, &session, "/ui/runs?status=bogus").await;
    assert_eq!(status, 400);
    assert!(html.contains("status:"), "{html}");
}

#[tokio::test]
async fn the_compare_page_pairs_samples_and_lists_regressions_first() {
    let server = TestServer::start().await;
    // The fake model answers 4 everywhere; the two datasets' targets differ, so run B loses
    // sample 1, gains sample 2, and fails sample 4 outright.
    let rows = |targets: [&str; 5], fail: Option<usize>| -> Vec<serde_json::Value> {
        targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let fault = if fail == Some(i) {
                    " [[status:400]]"
                } else {
                    ""
                };
                json!({"q": format!("<b>q{i}</b> [[answer:4]]{fault}"), "a": t})
            })
            .collect()
    };
    let file_a = server
        .upload_jsonl("a.jsonl", &rows(["4", "4", "5", "5", "4"], None))
        .await;
    let file_b = server
        .upload_jsonl("b.jsonl", &rows(["4", "5", "4", "5", "4"], Some(4)))
        .await;
    let suite_a = qa_suite(&server, &file_a).await;
    let suite_b = qa_suite(&server, &file_b).await;
    let run_a = server
        .run_to_end(&json!({"suite_id": suite_a, "models": ["fake", "fake-responses"]}))
        .await;
    let run_b = server
        .run_to_end(&json!({"suite_id": suite_b, "models": ["fake"]}))
        .await;
    let (a, b) = (
        run_a["id"].as_str().unwrap().to_string(),
        run_b["id"].as_str().unwrap().to_string(),
    );
    assert_eq!(run_b["request_counts"]["failed"], 1, "{run_b}");
    let (session, _) = sign_in(&server, &server.key).await;

    let (status, html) = ui_get(&server, &session, &format!("/ui/compare?a={a}&b={b}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("exact_match"), "{html}");
    // Four pairs (sample 4 failed in B): means 0.5 and 0.5, one discordant pair each way.
    assert!(
        html.contains("0.5000") && html.contains("+0.0000"),
        "{html}"
    );
    assert!(
        html.contains(
            "1.0000<br><span class=\"hint\" title=\"B right only vs A right only\">1 vs 1"
        ),
        "{html}"
    );
    assert!(html.contains("no clear difference"), "{html}");
    assert!(html.contains("ran different suites"), "{html}");
    assert!(
        html.contains("3 changed: 1 regressed, 1 lost (scored in A only), 1 improved, 0 gained"),
        "{html}"
    );
    let at = |class: &str| {
        html.find(class)
            .unwrap_or_else(|| panic!("{class}: {html}"))
    };
    assert!(at("tr class=\"change-regressed\"") < at("tr class=\"change-lost\""));
    assert!(at("tr class=\"change-lost\"") < at("tr class=\"change-improved\""));
    // Prompts are shown as text, both sides' samples are linked.
    assert!(
        html.contains("&lt;b&gt;q1") && !html.contains("<b>q1"),
        "{html}"
    );
    // The targets differ between the datasets: both are shown.
    assert!(html.contains("A: 4<br>B: 5"), "{html}");
    assert!(
        html.contains(&format!("/ui/runs/{a}/samples/"))
            && html.contains(&format!("/ui/runs/{b}/samples/"))
    );
    assert!(
        html.contains("status_400") || html.contains("error"),
        "{html}"
    );

    // The runs list's checkboxes send `run` twice: the same page.
    let (status, checked) =
        ui_get(&server, &session, &format!("/ui/compare?run={a}&run={b}")).await;
    assert_eq!(status, 200);
    assert!(checked.contains("3 changed"), "{checked}");
    // Two models of one run: identical answers, nothing changed.
    let (status, models) = ui_get(&server, &session, &format!("/ui/compare?run={a}")).await;
    assert_eq!(status, 200, "{models}");
    assert!(
        models.contains("fake-responses") && models.contains("0 changed"),
        "{models}"
    );
    assert!(!models.contains("ran different suites"), "{models}");
    // Paging past the end lists nothing but still renders; a bad page position is a 400.
    let (status, _) = ui_get(
        &server,
        &session,
        &format!("/ui/compare?a={a}&b={b}&task=t&metric=exact_match&from=50"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = ui_get(
        &server,
        &session,
        &format!(
            "/ui/compare?a={a}&b={b}&task=t&metric=exact_match&from={}",
            usize::MAX
        ),
    )
    .await;
    assert_eq!(status, 200);
    for (query, field) in [
        (format!("a={b}"), "model_b"),
        (format!("a={a}&b={b}&model_a=nope"), "model_a"),
        (format!("a={a}&b={b}&task=t&metric=nope"), "metric"),
        (format!("a={a}&b={b}&task=t"), "task"),
        (format!("a={a}&b={b}&from=-1"), "from"),
        (format!("run={a}&run={b}&run={a}"), "run"),
    ] {
        let (status, html) = ui_get(&server, &session, &format!("/ui/compare?{query}")).await;
        assert_eq!(status, 400, "{query}: {html}");
        assert!(html.contains(&format!("{field}:")), "{query}: {html}");
    }
    // The form alone, and another org's runs are not found.
    let (status, form) = ui_get(&server, &session, "/ui/compare").await;
    assert_eq!(status, 200);
    assert!(form.contains("name=\"a\""));
    let (other, _) = sign_in(&server, &server.other_key).await;
    let (status, _) = ui_get(&server, &other, &format!("/ui/compare?a={a}&b={b}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn suites_leaderboards_and_schedules_pages_show_what_the_api_holds() {
    let server = TestServer::start().await;
    let rows: Vec<serde_json::Value> = (0..12)
        .map(|i| json!({"q": format!("<i>What is {i}?</i> [[answer:{i}]]"), "a": i.to_string()}))
        .collect();
    let file = server.upload_jsonl("rows.jsonl", &rows).await;
    let manifest = json!({"tasks": [{"id": "arith", "type": "qa", "dataset": {"file_id": file},
        "prompt_template": "Q: {{q}}\nA:", "target_template": "{{a}}",
        "num_fewshot": 1}]});
    let suite = server.create_suite(manifest.clone()).await;
    let mut v2 = manifest.clone();
    v2["tasks"][0]["prompt_template"] = json!("Question: {{q}}\nAnswer:");
    let (status, _) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{suite}/versions"),
            &json!({"manifest": v2, "make_active": false}),
        )
        .await;
    assert_eq!(status, 200);
    let run = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    let run_id = run["id"].as_str().unwrap().to_string();
    let (status, _) = server
        .post(
            "/api/v1/llm/evals/imports/agent-run",
            &json!({"suite_id": suite, "agent_name": "omp", "model": "m-alpha",
                "trials": [{"task_id": "arith", "scores": {"reward": 1}},
                           {"task_id": "arith", "sample_index": 1, "scores": {"reward": 0}}]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, schedule) = server
        .post(
            "/api/v1/llm/evals/schedules",
            &json!({"name": "nightly <b>", "suite_id": suite, "interval_seconds": 3600,
                "run": {"models": ["fake"]}}),
        )
        .await;
    assert_eq!(status, 200, "{schedule}");
    let schedule_id = schedule["id"].as_str().unwrap().to_string();
    let (session, csrf) = sign_in(&server, &server.key).await;

    // Suites list and a suite's page: 12 rows, the first five shown as text, and row 0's
    // prompt rendered with its one few-shot example.
    let (status, html) = ui_get(&server, &session, "/ui/suites").await;
    assert_eq!(status, 200);
    assert!(html.contains(&suite), "{html}");
    let (status, html) = ui_get(&server, &session, &format!("/ui/suites/{suite}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("data-rows=\"12\"") && html.contains("12 rows"),
        "{html}"
    );
    assert!(
        html.contains("&lt;i&gt;What is 4?") && !html.contains("<i>What is"),
        "{html}"
    );
    assert!(!html.contains("What is 5?&lt;"), "only five rows: {html}");
    let prompt_at = html.find("class=\"prompt\">").expect("an example prompt");
    let prompt = &html[prompt_at..prompt_at + html[prompt_at..].find("</pre>").unwrap_or(0)];
    assert_eq!(
        prompt.matches("Q: ").count(),
        2,
        "one example and the row: {prompt}"
    );
    assert!(prompt.contains("What is 0?"), "{prompt}");
    // Version 2 of the suite, and the diff of the two manifests.
    let (status, html) = ui_get(&server, &session, &format!("/ui/suites/{suite}?version=2")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Question: "), "{html}");
    let (status, html) = ui_get(
        &server,
        &session,
        &format!("/ui/suites/{suite}/diff?from=1&to=2"),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("data-changes=\"1\"") && html.contains("tasks[arith].prompt_template"),
        "{html}"
    );
    for (path, field) in [
        (format!("/ui/suites/{suite}/diff?from=1&to=9"), "to:"),
        (format!("/ui/suites/{suite}/diff?from=x"), "from:"),
        (format!("/ui/suites/{suite}?version=0"), "version:"),
    ] {
        let (status, html) = ui_get(&server, &session, &path).await;
        assert_eq!(status, 400, "{path}: {html}");
        assert!(html.contains(field), "{path}: {html}");
    }

    // Leaderboards: the agent board with its interval, the newest-runs board with the run.
    let (status, html) = ui_get(&server, &session, "/ui/leaderboards").await;
    assert_eq!(status, 200);
    assert!(html.contains(&suite));
    let (status, html) = ui_get(
        &server,
        &session,
        &format!("/ui/leaderboards?suite={suite}"),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("omp") && html.contains("m-alpha") && html.contains("0.5000"),
        "{html}"
    );
    assert!(html.contains("[0.0000, 1.0000]"), "{html}");
    assert!(
        html.contains(&run_id) && html.contains("arith exact_match 0.0000"),
        "{html}"
    );
    let (status, html) = ui_get(
        &server,
        &session,
        &format!("/ui/leaderboards?suite={suite}&per_group=0"),
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("per_group"), "{html}");

    // Schedules: listed with the next fire; pause, resume and trigger act with the token.
    let (status, html) = ui_get(&server, &session, "/ui/schedules").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("nightly &lt;b&gt;") && html.contains("every 1 h 0 min"),
        "{html}"
    );
    assert!(
        html.contains("2026-01-01 01:00 UTC"),
        "next fire on the test clock: {html}"
    );
    let pause = format!("/ui/schedules/{schedule_id}/pause");
    assert_eq!(ui_post(&server, &session, &pause, "forged").await.0, 403);
    let (status, location) = ui_post(&server, &session, &pause, &csrf).await;
    assert_eq!((status, location.starts_with("/ui/schedules")), (303, true));
    let (_, got) = server
        .get(&format!("/api/v1/llm/evals/schedules/{schedule_id}"))
        .await;
    assert_eq!(got["enabled"], false);
    let (_, html) = ui_get(&server, &session, "/ui/schedules").await;
    assert!(
        html.contains("paused") && html.contains("Resume</button>"),
        "{html}"
    );
    let resume = format!("/ui/schedules/{schedule_id}/resume");
    assert_eq!(ui_post(&server, &session, &resume, &csrf).await.0, 303);
    let (_, got) = server
        .get(&format!("/api/v1/llm/evals/schedules/{schedule_id}"))
        .await;
    assert_eq!(got["enabled"], true);
    let trigger = format!("/ui/schedules/{schedule_id}/trigger");
    assert_eq!(ui_post(&server, &session, &trigger, &csrf).await.0, 303);
    let (_, got) = server
        .get(&format!("/api/v1/llm/evals/schedules/{schedule_id}"))
        .await;
    assert!(got["last_run_id"].is_string(), "{got}");

    // The row count is remembered: the page shows it again without counting.
    let (_, html) = ui_get(&server, &session, &format!("/ui/suites/{suite}")).await;
    assert!(html.contains("data-rows=\"12\""), "{html}");

    // Another org sees none of it.
    let (other, other_csrf) = sign_in(&server, &server.other_key).await;
    assert_eq!(
        ui_get(&server, &other, &format!("/ui/suites/{suite}"))
            .await
            .0,
        404
    );
    assert_eq!(
        ui_get(&server, &other, &format!("/ui/leaderboards?suite={suite}"))
            .await
            .0,
        404
    );
    let (_, html) = ui_get(&server, &other, "/ui/schedules").await;
    assert!(!html.contains(&schedule_id));
    assert_eq!(ui_post(&server, &other, &pause, &other_csrf).await.0, 404);

    // Shared with that org: the suite's page shows the manifest, not the owner's datasets.
    let (status, _) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{suite}/shares"),
            &json!({"org_id": "org_b"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, html) = ui_get(&server, &other, &format!("/ui/suites/{suite}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("shared with your org") && !html.contains("data-rows"),
        "{html}"
    );
}
