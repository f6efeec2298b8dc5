//! Suite sharing (E8–E10): who may manage grants, what a recipient org sees, and that every
//! write through a share is refused as if the resource did not exist.

mod common;

use common::{assert_error, TestServer};
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

/// A delegated request (`X-On-Behalf-Of`) with `key`.
fn delegated(
    server: &TestServer,
    method: reqwest::Method,
    key: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    server
        .client
        .request(method, server.url(path))
        .bearer_auth(key)
        .header("x-on-behalf-of", "end-user-1")
}

#[tokio::test]
async fn a_shared_suite_is_readable_and_read_only_for_the_recipient_org() {
    let server = TestServer::start().await;
    let owner = server.key.clone(); // org_a/team_a, admin
    let member = server.mint("org_a", "team_a", false).await; // another member of the team
    let recipient = server.other_key.clone(); // org_b/team_b
    let recipient_admin = server.mint("org_b", "team_b", true).await;
    let third = server.mint("org_c", "team_c", true).await;

    let file = server
        .upload_jsonl(
            "qa.jsonl",
            &[
                json!({"q": "one", "a": "one"}),
                json!({"q": "two", "a": "x"}),
            ],
        )
        .await;
    let manifest = json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": file},
        "prompt_template": "{{q}}", "target_template": "{{a}}", "metrics": [{"id": "exact_match"}]}]});
    let suite = server.create_suite(manifest.clone()).await;
    let (status, _) = server
        .post(
            &format!("/api/v1/llm/evals/suites/{suite}/versions"),
            &json!({"manifest": manifest}),
        )
        .await;
    assert_eq!(status, 200);
    // Runs by two members of the owning team.
    let by_owner = server
        .run_to_end(&json!({"suite_id": suite, "models": ["fake"]}))
        .await;
    assert_eq!(by_owner["status"], "completed", "{by_owner}");
    let (status, by_member) = server
        .post_as(
            &member,
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"]}),
        )
        .await;
    assert_eq!(status, 200, "{by_member}");
    let by_member = server
        .wait_terminal(by_member["id"].as_str().unwrap())
        .await;
    let runs = [
        by_owner["id"].as_str().unwrap().to_string(),
        by_member["id"].as_str().unwrap().to_string(),
    ];

    // Before sharing the recipient sees nothing.
    let suite_path = format!("/api/v1/llm/evals/suites/{suite}");
    let (status, body) = server.get_as(&recipient, &suite_path).await;
    assert_error(status, &body, 404, "");
    let (_, list) = server.get_as(&recipient, "/api/v1/llm/evals/suites").await;
    assert!(ids(&list).is_empty());

    // Sharing: org admins acting directly only.
    let shares = format!("{suite_path}/shares");
    let (status, body) = server
        .post_as(&member, &shares, &json!({"org_id": "org_b"}))
        .await;
    assert_error(status, &body, 403, "");
    let (status, body) = server
        .send(
            delegated(&server, reqwest::Method::POST, &owner, &shares)
                .json(&json!({"org_id": "org_b"})),
        )
        .await;
    assert_error(status, &body, 403, "");
    let (status, body) = server.post(&shares, &json!({"org_id": "org_a"})).await;
    assert_error(status, &body, 400, "org_id");
    let (status, body) = server.post(&shares, &json!({"org_id": "org_nobody"})).await;
    assert_error(status, &body, 404, "org_id");
    let (status, body) = server.post(&shares, &json!({})).await;
    assert_error(status, &body, 400, "org_id");
    let (status, body) = server.post(&shares, &json!({"org_id": 7})).await;
    assert_error(status, &body, 400, "org_id");
    let (status, body) = server
        .post(
            "/api/v1/llm/evals/suites/eval_suite_missing/shares",
            &json!({"org_id": "org_b"}),
        )
        .await;
    assert_error(status, &body, 404, "");

    let (status, share) = server.post(&shares, &json!({"org_id": "org_b"})).await;
    assert_eq!(status, 200, "{share}");
    assert_eq!(share["object"], "eval.suite.share");
    assert_eq!(share["suite_id"], suite.as_str());
    assert_eq!(share["org_id"], "org_b");
    assert!(share["granted_by"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(share["id"].as_str().unwrap().starts_with("eval_share_"));
    // Idempotent on (suite, org).
    let (status, again) = server.post(&shares, &json!({"org_id": "org_b"})).await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], share["id"]);
    let (status, _) = server.post(&shares, &json!({"org_id": "org_c"})).await;
    assert_eq!(status, 200);

    // Listing: any member of the owning team; not delegated, not a recipient.
    let (status, list) = server.get_as(&member, &shares).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["object"], "list");
    let orgs: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["org_id"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, ["org_b", "org_c"]);
    assert!(list.get("has_more").is_none());
    let (status, body) = server
        .send(delegated(&server, reqwest::Method::GET, &owner, &shares))
        .await;
    assert_error(status, &body, 403, "");
    for key in [&recipient, &recipient_admin] {
        let (status, body) = server.get_as(key, &shares).await;
        assert_error(status, &body, 404, "");
    }

    // The recipient reads the suite, its versions and every run under it.
    let (status, seen) = server.get_as(&recipient, &suite_path).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["access"], "shared");
    assert_eq!(seen["org_id"], "org_a");
    let (_, mine) = server.get(&suite_path).await;
    assert_eq!(mine["access"], "owner");
    let (_, list) = server.get_as(&recipient, "/api/v1/llm/evals/suites").await;
    assert_eq!(ids(&list), vec![suite.clone()]);
    let (_, list) = server
        .get_as(&recipient, "/api/v1/llm/evals/suites?owned_only=true")
        .await;
    assert!(ids(&list).is_empty());
    let (status, versions) = server
        .get_as(&recipient, &format!("{suite_path}/versions"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(versions["data"].as_array().unwrap().len(), 2);
    let (status, _) = server
        .get_as(&recipient, &format!("{suite_path}/versions/2"))
        .await;
    assert_eq!(status, 200);
    let (_, list) = server.get_as(&recipient, "/api/v1/llm/evals/runs").await;
    let mut listed = ids(&list);
    listed.sort();
    let mut expected = runs.to_vec();
    expected.sort();
    assert_eq!(
        listed, expected,
        "the recipient sees every run of the suite"
    );
    let (_, list) = server
        .get_as(
            &recipient,
            &format!("/api/v1/llm/evals/runs?suite_id={suite}"),
        )
        .await;
    assert_eq!(ids(&list).len(), 2);
    let (_, list) = server
        .get_as(&recipient, "/api/v1/llm/evals/runs?owned_only=true")
        .await;
    assert!(ids(&list).is_empty());
    for run in &runs {
        let path = format!("/api/v1/llm/evals/runs/{run}");
        let (status, seen) = server.get_as(&recipient, &path).await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(seen["status"], "completed");
        assert_eq!(
            seen["artifact_file_ids"],
            json!([]),
            "artifacts stay with the owner"
        );
        let (status, _) = server.get_as(&recipient, &format!("{path}/overview")).await;
        assert_eq!(status, 200);
        let (status, samples) = server.get_as(&recipient, &format!("{path}/samples")).await;
        assert_eq!(status, 200);
        assert_eq!(samples["data"].as_array().unwrap().len(), 2);
        let (status, artifacts) = server
            .get_as(&recipient, &format!("{path}/artifacts"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(artifacts["result_file_id"], Value::Null);
        assert_eq!(artifacts["samples_file_id"], Value::Null);
        assert_eq!(artifacts["artifact_file_ids"], json!([]));
        // The owner still has them, and the files are the owner's alone.
        let (_, artifacts) = server.get(&format!("{path}/artifacts")).await;
        let file = artifacts["result_file_id"]
            .as_str()
            .expect("owner artifact");
        let (status, _) = server
            .get_as(&recipient, &format!("/api/v1/llm/files/{file}"))
            .await;
        assert_eq!(status, 404);
    }

    // Every write through the share is refused as if the resource did not exist.
    let run_path = format!("/api/v1/llm/evals/runs/{}", runs[0]);
    for (status, body) in [
        server
            .post_as(
                &recipient_admin,
                &format!("{suite_path}/versions"),
                &json!({"manifest": manifest}),
            )
            .await,
        server.delete_as(&recipient_admin, &suite_path).await,
        server.delete_as(&recipient_admin, &run_path).await,
        server
            .post_as(&recipient_admin, &format!("{run_path}/cancel"), &json!({}))
            .await,
        server
            .post_as(&recipient_admin, &format!("{run_path}/retry"), &json!({}))
            .await,
        server
            .post_as(
                &recipient_admin,
                &format!("{run_path}/rerun-failed"),
                &json!({}),
            )
            .await,
        server
            .post_as(&recipient_admin, &shares, &json!({"org_id": "org_c"}))
            .await,
        server
            .delete_as(&recipient_admin, &format!("{shares}/org_b"))
            .await,
    ] {
        assert_error(status, &body, 404, "");
    }
    // Starting a run of a shared suite is refused (documented: sharing is read-only).
    let (status, body) = server
        .post_as(
            &recipient,
            "/api/v1/llm/evals/runs",
            &json!({"suite_id": suite, "models": ["fake"]}),
        )
        .await;
    assert_error(status, &body, 400, "suite_id");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("read-only"));
    // Nothing changed.
    let (_, still) = server.get(&run_path).await;
    assert_eq!(still["status"], "completed");
    let (_, suite_now) = server.get(&suite_path).await;
    assert_eq!(suite_now["latest_version"], 2);

    // A delegated caller of the recipient org reads through the share too.
    let (status, _) = server
        .send(delegated(
            &server,
            reqwest::Method::GET,
            &recipient,
            &suite_path,
        ))
        .await;
    assert_eq!(status, 200);

    // Unsharing: admins acting directly; it revokes at once.
    let (status, body) = server.delete_as(&member, &format!("{shares}/org_b")).await;
    assert_error(status, &body, 403, "");
    let (status, body) = server
        .send(delegated(
            &server,
            reqwest::Method::DELETE,
            &owner,
            &format!("{shares}/org_b"),
        ))
        .await;
    assert_error(status, &body, 403, "");
    let (status, gone) = server.delete(&format!("{shares}/org_b")).await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["object"], "eval.suite.share.deleted");
    assert_eq!(gone["id"], share["id"]);
    assert_eq!(gone["deleted"], true);
    let (status, body) = server.delete(&format!("{shares}/org_b")).await;
    assert_error(status, &body, 404, "");
    let (status, _) = server.get_as(&recipient, &suite_path).await;
    assert_eq!(status, 404);
    let (status, _) = server.get_as(&recipient, &run_path).await;
    assert_eq!(status, 404);
    let (_, list) = server.get_as(&recipient, "/api/v1/llm/evals/runs").await;
    assert!(ids(&list).is_empty());
    // The other grant is untouched.
    let (status, _) = server.get_as(&third, &suite_path).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_suite_is_shared_with_at_most_100_orgs() {
    let server = TestServer::start().await;
    let file = server
        .upload_jsonl("qa.jsonl", &[json!({"q": "one"})])
        .await;
    let suite = server
        .create_suite(
            json!({"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": file},
            "prompt_template": "{{q}}"}]}),
        )
        .await;
    let shares = format!("/api/v1/llm/evals/suites/{suite}/shares");
    for i in 0..=100 {
        server.mint(&format!("org_{i:03}"), "team", false).await;
    }
    for i in 0..100 {
        let (status, body) = server
            .post(&shares, &json!({"org_id": format!("org_{i:03}")}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server.post(&shares, &json!({"org_id": "org_100"})).await;
    assert_error(status, &body, 409, "");
    // Sharing again with an org that has a grant still answers with it.
    let (status, _) = server.post(&shares, &json!({"org_id": "org_007"})).await;
    assert_eq!(status, 200);
    let (_, list) = server.get(&shares).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 100);
}
