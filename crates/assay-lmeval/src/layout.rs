//! Where lm-eval puts its files, and which samples files belong to a results file.
//!
//! With `--output_path DIR`, lm-eval writes `DIR/<model_name_sanitized>/results_<ts>.json` and,
//! with `--log_samples`, `samples_<task>_<ts>.jsonl` beside it, `<ts>` being the same
//! timestamp (`datetime.now().isoformat()` with `:` replaced by `-`, e.g.
//! `2024-05-01T12-30-45.123456`). With `--output_path FILE.json` the results file is
//! `FILE_<ts>.json` and the samples files go to its directory.
//!
//! Results pushed to the Hugging Face Hub by lm-eval itself are laid out differently: the
//! results file under the model's name as given (`org/model/results_<ts>.json`), the samples
//! under its sanitized name (`org__model/samples_<task>_<ts>.jsonl`). [`find_samples`] looks in
//! both places.
//!
//! Paths are `/`-separated strings (repository paths, or local paths on Unix); nothing here
//! touches a file system.

use std::collections::BTreeMap;

/// A results file's name, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsFileName<'a> {
    /// The part before the timestamp: `results`, or the stem of `--output_path FILE.json`.
    pub stem: &'a str,
    /// The timestamp its samples files share.
    pub timestamp: &'a str,
}

/// A samples file's name, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplesFileName<'a> {
    /// The task.
    pub task: &'a str,
    /// The timestamp of the results file it belongs to.
    pub timestamp: &'a str,
}

/// Whether `s` is a timestamp as lm-eval puts in file names: `YYYY-MM-DDTHH-MM-SS`,
/// optionally followed by `.` and fractional seconds.
pub fn is_timestamp(s: &str) -> bool {
    let (main, fraction) = match s.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (s, None),
    };
    let shape = main.len() == 19
        && main.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 | 13 | 16 => b == b'-',
            10 => b == b'T',
            _ => b.is_ascii_digit(),
        });
    shape && fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The file-name part of a path.
pub fn file_name(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

/// The directory part of a path (`""` for a bare name).
pub fn dir_name(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// Splits a results file's name (`results_<ts>.json`, or `<stem>_<ts>.json`); `None` for
/// anything else (a samples file, a JSON file without a timestamp).
pub fn parse_results_file_name(name: &str) -> Option<ResultsFileName<'_>> {
    let base = name.strip_suffix(".json")?;
    let (stem, timestamp) = base.rsplit_once('_')?;
    (!stem.is_empty() && is_timestamp(timestamp)).then_some(ResultsFileName { stem, timestamp })
}

/// Whether a path names an lm-eval results file as lm-eval names them with `--output_path
/// DIR`: `results_<ts>.json`.
pub fn is_results_file(path: &str) -> bool {
    parse_results_file_name(file_name(path)).is_some_and(|n| n.stem == "results")
}

/// Splits a samples file's name, `samples_<task>_<ts>.jsonl` (the task may contain `_`).
pub fn parse_samples_file_name(name: &str) -> Option<SamplesFileName<'_>> {
    let base = name.strip_prefix("samples_")?.strip_suffix(".jsonl")?;
    let (task, timestamp) = base.rsplit_once('_')?;
    (!task.is_empty() && is_timestamp(timestamp)).then_some(SamplesFileName { task, timestamp })
}

/// The directories a results file's samples can be in: its own, and (for lm-eval's own Hub
/// uploads) the one named `model_name_sanitized` where the results file's directory ends with
/// `model_name`.
pub fn samples_dirs(
    results_path: &str,
    model_name: Option<&str>,
    model_name_sanitized: Option<&str>,
) -> Vec<String> {
    let dir = dir_name(results_path);
    let mut dirs = vec![dir.to_string()];
    if let (Some(name), Some(sanitized)) = (model_name, model_name_sanitized) {
        if !name.is_empty() && name != sanitized {
            let prefix = if dir == name {
                Some("")
            } else {
                dir.strip_suffix(name)
                    .and_then(|p| p.strip_suffix('/').map(|_| p))
            };
            if let Some(prefix) = prefix {
                dirs.push(format!("{prefix}{sanitized}"));
            }
        }
    }
    dirs
}

/// The samples files of a results file among `paths`, by task: those named
/// `samples_<task>_<ts>.jsonl` with the results file's timestamp in one of its
/// [`samples_dirs`] (its own directory wins when both have one). Empty when `results_path` is
/// not a results file's name.
pub fn find_samples<'p>(
    results_path: &str,
    model_name: Option<&str>,
    model_name_sanitized: Option<&str>,
    paths: impl IntoIterator<Item = &'p str>,
) -> BTreeMap<String, &'p str> {
    let mut found: BTreeMap<String, (usize, &'p str)> = BTreeMap::new();
    let Some(results) = parse_results_file_name(file_name(results_path)) else {
        return BTreeMap::new();
    };
    let dirs = samples_dirs(results_path, model_name, model_name_sanitized);
    for path in paths {
        let Some(samples) = parse_samples_file_name(file_name(path)) else {
            continue;
        };
        if samples.timestamp != results.timestamp {
            continue;
        }
        let Some(rank) = dirs.iter().position(|d| d == dir_name(path)) else {
            continue;
        };
        let better = found.get(samples.task).is_none_or(|(r, _)| rank < *r);
        if better {
            found.insert(samples.task.to_string(), (rank, path));
        }
    }
    found
        .into_iter()
        .map(|(task, (_, path))| (task, path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: &str = "2024-05-01T12-30-45.123456";

    #[test]
    fn recognizes_timestamps() {
        assert!(is_timestamp(TS));
        assert!(is_timestamp("2024-05-01T12-30-45"));
        assert!(!is_timestamp("2024-05-01T12:30:45"));
        assert!(!is_timestamp("2024-05-01T12-30-45."));
        assert!(!is_timestamp("latest"));
    }

    #[test]
    fn splits_file_names() {
        assert_eq!(
            parse_results_file_name(&format!("results_{TS}.json")),
            Some(ResultsFileName {
                stem: "results",
                timestamp: TS
            })
        );
        assert_eq!(
            parse_results_file_name(&format!("my_eval_{TS}.json")).map(|n| n.stem),
            Some("my_eval")
        );
        assert_eq!(parse_results_file_name("results.json"), None);
        assert_eq!(
            parse_samples_file_name(&format!("samples_mmlu_high_school_math_{TS}.jsonl")),
            Some(SamplesFileName {
                task: "mmlu_high_school_math",
                timestamp: TS
            })
        );
        assert_eq!(
            parse_samples_file_name(&format!("samples__{TS}.jsonl")),
            None
        );
        assert!(is_results_file(&format!("a/b/results_{TS}.json")));
        assert!(!is_results_file(&format!("a/b/my_{TS}.json")));
        assert!(!is_results_file(&format!("a/b/samples_t_{TS}.jsonl")));
    }

    #[test]
    fn finds_samples_beside_the_results_file() {
        let results = format!("out/m/results_{TS}.json");
        let paths = [
            format!("out/m/samples_gsm8k_{TS}.jsonl"),
            format!("out/m/samples_arc_easy_{TS}.jsonl"),
            // Another run of the same model.
            "out/m/samples_gsm8k_2024-05-02T00-00-00.000001.jsonl".to_string(),
            // Another model with the same timestamp.
            format!("out/other/samples_gsm8k_{TS}.jsonl"),
            format!("out/m/results_{TS}.json"),
        ];
        let found = find_samples(
            &results,
            Some("m"),
            Some("m"),
            paths.iter().map(String::as_str),
        );
        assert_eq!(found.len(), 2);
        assert_eq!(found["gsm8k"], paths[0]);
        assert_eq!(found["arc_easy"], paths[1]);
        assert!(find_samples(
            "out/m/notes.json",
            None,
            None,
            paths.iter().map(String::as_str)
        )
        .is_empty());
    }

    #[test]
    fn finds_samples_of_hub_uploads_under_the_sanitized_name() {
        let results = format!("meta-llama/Llama-3-8B/results_{TS}.json");
        assert_eq!(
            samples_dirs(
                &results,
                Some("meta-llama/Llama-3-8B"),
                Some("meta-llama__Llama-3-8B")
            ),
            vec![
                "meta-llama/Llama-3-8B".to_string(),
                "meta-llama__Llama-3-8B".to_string()
            ]
        );
        let nested = format!("runs/meta-llama/Llama-3-8B/results_{TS}.json");
        let paths = [
            format!("runs/meta-llama__Llama-3-8B/samples_gsm8k_{TS}.jsonl"),
            format!("runs/meta-llama/Llama-3-8B/samples_arc_easy_{TS}.jsonl"),
            format!("runs/meta-llama__Llama-3-8B/samples_arc_easy_{TS}.jsonl"),
        ];
        let found = find_samples(
            &nested,
            Some("meta-llama/Llama-3-8B"),
            Some("meta-llama__Llama-3-8B"),
            paths.iter().map(String::as_str),
        );
        assert_eq!(found["gsm8k"], paths[0]);
        // Its own directory wins.
        assert_eq!(found["arc_easy"], paths[1]);
        // A directory merely ending in the model's name's last part is not the model's.
        assert_eq!(
            samples_dirs(
                &format!("xmeta-llama/Llama-3-8B/results_{TS}.json"),
                Some("meta-llama/Llama-3-8B"),
                Some("s")
            ),
            vec!["xmeta-llama/Llama-3-8B".to_string()]
        );
    }
}
