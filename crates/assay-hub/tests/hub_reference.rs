//! Parity with Python `datasets`: the fixture repositories (written by
//! `tests/reference/make_hub_reference.py`) are served through the fake Hub, and for every
//! case of `fixtures/hub_reference.json` assay-hub must pick the files `load_dataset` picked
//! and read the same rows (same values, same column order), or refuse what it refused.

use std::path::{Path, PathBuf};

use assay_hub::{ClientOptions, DataFiles, HubClient, HubConfig, HubError, Missing};
use assay_testkit::{FakeHub, FakeHubOptions};
use futures::TryStreamExt;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn files_under(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .expect("relative")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read(&path).expect("read")));
        }
    }
}

/// Column names at every object level, in order.
fn key_orders(value: &Value, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            out.push(map.keys().cloned().collect());
            map.values().for_each(|v| key_orders(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| key_orders(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn assay_hub_reads_hub_datasets_as_python_datasets_does() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("hub_reference.json")).expect("reference"),
    )
    .expect("reference JSON");
    // Small pages and a low CDN threshold, so the listing is paginated and the Parquet
    // files go through the redirect.
    let hub = FakeHub::start(FakeHubOptions {
        page_size: 4,
        cdn_threshold: 4096,
        ..FakeHubOptions::default()
    })
    .await
    .expect("fake hub");
    let client = HubClient::with_options(
        &HubConfig {
            endpoint: hub.url(),
            token: None,
        },
        ClientOptions::default(),
    )
    .expect("client");

    let cases = reference["cases"].as_array().expect("cases");
    assert!(cases.len() >= 8);
    let mut checked_rows = 0;
    for case in cases {
        let repo_dir = case["repo"].as_str().expect("repo");
        let repo = format!("fixtures/{repo_dir}");
        let mut files = Vec::new();
        files_under(
            &fixtures().join(repo_dir),
            &fixtures().join(repo_dir),
            &mut files,
        );
        hub.commit(&repo, "main", files);
        let commit = client
            .resolve_revision(&repo, None, None)
            .await
            .expect("revision");

        let name = case["name"].as_str();
        let split = case["split"].as_str().expect("split");
        let data_files: Option<DataFiles> = match &case["data_files"] {
            Value::Null => None,
            v => Some(serde_json::from_value(v.clone()).expect("data_files")),
        };
        let what = format!(
            "{repo} name={name:?} split={split} data_files={}",
            case["data_files"]
        );
        let selected = client
            .select_data_files(&repo, &commit, name, split, data_files.as_ref())
            .await;

        if let Some(error) = case["error"].as_str() {
            let err = selected.expect_err(&what);
            match err {
                HubError::NotFound {
                    missing: Missing::Split(ref s),
                    ref available,
                    ..
                } => {
                    assert!(
                        error.starts_with("Unknown split"),
                        "{what}: {error} vs {err}"
                    );
                    assert_eq!(s, split);
                    for a in available {
                        assert!(
                            error.contains(&format!("'{a}'")),
                            "{what}: {error} vs {err}"
                        );
                    }
                }
                HubError::NotFound {
                    missing: Missing::Config(ref c),
                    ref available,
                    ..
                } => {
                    assert!(
                        error.starts_with("BuilderConfig"),
                        "{what}: {error} vs {err}"
                    );
                    assert_eq!(Some(c.as_str()), name);
                    for a in available {
                        assert!(
                            error.contains(&format!("'{a}'")),
                            "{what}: {error} vs {err}"
                        );
                    }
                }
                other => panic!("{what}: datasets said {error}, assay-hub {other:?}"),
            }
            continue;
        }

        let selected = selected.unwrap_or_else(|e| panic!("{what}: {e}"));
        let paths: Vec<&str> = selected.iter().map(|f| f.path.as_str()).collect();
        let expected: Vec<&str> = case["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f.as_str().expect("file"))
            .collect();
        assert_eq!(paths, expected, "{what}: files");

        let rows: Vec<Value> = client
            .open_split_rows(&selected, None)
            .map_ok(Value::Object)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let expected_rows = case["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), expected_rows.len(), "{what}: row count");
        for (i, (got, want)) in rows.iter().zip(expected_rows).enumerate() {
            assert_eq!(got, want, "{what}: row {i}");
            let (mut got_keys, mut want_keys) = (Vec::new(), Vec::new());
            key_orders(got, &mut got_keys);
            key_orders(want, &mut want_keys);
            assert_eq!(got_keys, want_keys, "{what}: row {i} column order");
            checked_rows += 1;
        }

        // With a row limit, the same rows come first.
        let limited: Vec<Value> = client
            .open_split_rows(&selected, Some(2))
            .map_ok(Value::Object)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            limited.as_slice(),
            &expected_rows[..expected_rows.len().min(2)],
            "{what}"
        );
    }
    assert!(checked_rows >= 30, "{checked_rows}");
}
