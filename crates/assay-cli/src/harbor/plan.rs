//! From a Harbor job to an agent-run import: which trials, as which run, each as which trial of
//! the API's trial schema.
//!
//! - **Run identity** (a leaderboard row): the agent's own name (`agent_info.name`), the model
//!   as configured (`config.agent.model_name`, provider prefix kept; else the reported
//!   `agent_info.model_info.name`), and the effort Harbor passes to agents that take one
//!   (`config.agent.kwargs.reasoning_effort`, when a string; no effort otherwise). A job may
//!   run several agent configurations; one run is imported per configuration.
//! - **task_id**: the Harbor task name, or for a package task (`org/name`) the part after the
//!   last `/`, since suite task ids have none.
//! - **sample_index**: the trial's attempt number within its task, counted from 0 in the
//!   order the trials started (`started_at`; ties and untimed trials by trial name). Harbor
//!   names trials `<task>__<random>`, so the name holds no attempt number; the start order is
//!   stable across re-imports of the same job.
//! - **status**: `completed` with `scores` = the numeric verifier rewards; `failed` when there
//!   is no reward at all, or Harbor voided it (`reward_valid: false`: its error policy says
//!   the exception that ended the trial makes the reward meaningless, e.g. a rate limit), in
//!   which case `error.voided_rewards` keeps it. An agent timeout keeps its reward (Harbor's
//!   policy too) and stays `completed`, its exception in `error`.
//! - **created_at**: the job's start. Harbor writes it in the harness machine's local time
//!   without an offset; such a time is replaced by the first trial's start (UTC, seconds
//!   later).
//! - **idempotency_key**: `harbor:<job id>:<hash>`, the hash (SHA-256, 128 bits shown) over
//!   the suite, the run identity and the sorted trial ids (UUIDs, new for every trial and
//!   retry): importing the same job again returns the first run; a job resumed with more
//!   trials imports as a new run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use assay_domain::api::agents::{ImportAgentRunRequest, TrialInput, TrialStatus};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::job::{tail, AgentConfig, Job, Trial, TrialResult, TRAJECTORY, VERIFIER_STDOUT};
use super::time::{self, Stamp};
use super::trajectory::{Atif, LOG_TAIL_BYTES};

/// Harbor's stand-in for a version the agent could not report.
const UNKNOWN_VERSION: &str = "unknown";

/// What a run is of: one row of the coding-agent leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lineup {
    pub agent: String,
    pub model: String,
    pub effort: Option<String>,
}

/// The `--agent` / `--model` / `--effort` choice among a job's agent configurations.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub agent: Option<String>,
    pub model: Option<String>,
    pub effort: Option<String>,
}

impl Selection {
    fn admits(&self, lineup: &Lineup) -> bool {
        self.agent.as_ref().is_none_or(|a| *a == lineup.agent)
            && self.model.as_ref().is_none_or(|m| *m == lineup.model)
            && self
                .effort
                .as_ref()
                .is_none_or(|e| Some(e) == lineup.effort.as_ref())
    }
}

/// The import of one agent configuration of a job.
pub struct Plan {
    pub job_name: String,
    pub lineup: Lineup,
    /// The run, without its trials (the uploader sends them in batches).
    pub request: ImportAgentRunRequest,
    /// Ordered by task, then sample index.
    pub trials: Vec<PlannedTrial>,
}

/// One trial to import.
pub struct PlannedTrial {
    pub input: TrialInput,
    pub dir: PathBuf,
    /// The agent's trajectory file, when the trial has one.
    pub trajectory: Option<PathBuf>,
}

impl PlannedTrial {
    /// The trial's sample index (always set by the plan).
    pub fn sample_index(&self) -> i64 {
        self.input.sample_index.unwrap_or_default()
    }
}

/// Maps the job's trials of the selected configuration to an import into `suite_id`.
pub fn plan(job: &Job, suite_id: &str, selection: &Selection) -> anyhow::Result<Plan> {
    if job.trials.is_empty() {
        bail!("{} holds no finished trial", job.dir.display());
    }
    let mut lineups: BTreeMap<Lineup, Vec<&Trial>> = BTreeMap::new();
    for trial in &job.trials {
        lineups
            .entry(lineup(trial, &job.config.agents)?)
            .or_default()
            .push(trial);
    }
    let all: Vec<String> = lineups
        .iter()
        .map(|(l, trials)| describe(l, trials.len()))
        .collect();
    let mut chosen: Vec<_> = lineups
        .into_iter()
        .filter(|(l, _)| selection.admits(l))
        .collect();
    let (lineup, trials) = match chosen.len() {
        1 => chosen.remove(0),
        0 => bail!(
            "no trial of {} matches --agent/--model/--effort; it holds:\n  {}",
            job.dir.display(),
            all.join("\n  ")
        ),
        _ => bail!(
            "{} holds trials of {} agent configurations; import one at a time with \
             --agent, --model and --effort:\n  {}",
            job.dir.display(),
            chosen.len(),
            chosen
                .iter()
                .map(|(l, t)| describe(l, t.len()))
                .collect::<Vec<_>>()
                .join("\n  ")
        ),
    };

    let task_ids = task_ids(&trials)?;
    let mut planned = Vec::with_capacity(trials.len());
    for (trial, index) in sample_indices(&trials) {
        let task_id = task_ids[&trial.result.task_name].clone();
        planned.push(planned_trial(trial, task_id, index)?);
    }
    planned.sort_by(|a, b| {
        (&a.input.task_id, a.input.sample_index).cmp(&(&b.input.task_id, b.input.sample_index))
    });

    let mut ordered = trials.clone();
    ordered.sort_by(|a, b| a.result.trial_name.cmp(&b.result.trial_name));
    let agent_version = ordered
        .iter()
        .filter_map(|t| t.result.agent_info.version.as_deref())
        .find(|v| !v.trim().is_empty() && *v != UNKNOWN_VERSION)
        .map(str::to_string);
    let metadata = BTreeMap::from([
        ("source".to_string(), "harbor".to_string()),
        ("harbor_job_name".to_string(), job.config.job_name.clone()),
        ("harbor_job_id".to_string(), job.result.id.clone()),
    ]);
    let trial_ids: Vec<&str> = trials
        .iter()
        .map(|t| t.result.id.as_deref().unwrap_or(&t.result.trial_name))
        .collect();
    let request = ImportAgentRunRequest {
        suite_id: suite_id.to_string(),
        agent_name: lineup.agent.clone(),
        model: lineup.model.clone(),
        suite_version: None,
        agent_version,
        agent_effort: lineup.effort.clone(),
        cost_usd: None,
        created_at: job_start(job).map(|s| s.unix_seconds()),
        metadata: Some(metadata),
        idempotency_key: Some(idempotency_key(
            &job.result.id,
            suite_id,
            &lineup,
            &trial_ids,
        )),
        trials: None,
        expected_trials: None,
        finalize: None,
    };
    Ok(Plan {
        job_name: job.config.job_name.clone(),
        lineup,
        request,
        trials: planned,
    })
}

/// The run identity of a trial (see the module docs).
fn lineup(trial: &Trial, job_agents: &[AgentConfig]) -> anyhow::Result<Lineup> {
    let result = &trial.result;
    // A trial records its agent configuration; the job's stands in only when it has one.
    let config = result.agent_config().or(match job_agents {
        [only] => Some(only),
        _ => None,
    });
    let model = config
        .and_then(|c| c.model_name.clone())
        .filter(|m| !m.trim().is_empty())
        .or_else(|| {
            result
                .agent_info
                .model_info
                .as_ref()
                .map(|m| m.name.clone())
        })
        .ok_or_else(|| {
            anyhow!(
                "{}: Harbor recorded no model for this trial (config.agent.model_name and \
                 agent_info.model_info are empty)",
                trial.dir.join("result.json").display()
            )
        })?;
    let effort = config
        .and_then(|c| c.kwargs.as_ref())
        .and_then(|k| k.get("reasoning_effort"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Lineup {
        agent: result.agent_info.name.clone(),
        model,
        effort,
    })
}

fn describe(lineup: &Lineup, trials: usize) -> String {
    format!(
        "--agent {} --model {}{} ({trials} trials)",
        lineup.agent,
        lineup.model,
        lineup
            .effort
            .as_ref()
            .map(|e| format!(" --effort {e}"))
            .unwrap_or_default()
    )
}

/// The suite task id of every task name among `trials`; two names may not share one.
fn task_ids(trials: &[&Trial]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut ids = BTreeMap::new();
    let mut owners: BTreeMap<String, &str> = BTreeMap::new();
    for trial in trials {
        let name = trial.result.task_name.as_str();
        let id = task_id(name);
        if let Some(other) = owners.insert(id.clone(), name) {
            if other != name {
                bail!("Harbor tasks `{other}` and `{name}` would both import as suite task `{id}`");
            }
        }
        ids.insert(name.to_string(), id);
    }
    Ok(ids)
}

/// A Harbor task name as a suite task id: package tasks (`org/name`) lose their org.
fn task_id(task_name: &str) -> String {
    task_name
        .rsplit('/')
        .next()
        .unwrap_or(task_name)
        .to_string()
}

/// Each trial with its attempt number within its task (see the module docs).
fn sample_indices<'a>(trials: &[&'a Trial]) -> Vec<(&'a Trial, i64)> {
    let mut by_task: BTreeMap<&str, Vec<&'a Trial>> = BTreeMap::new();
    for trial in trials {
        by_task
            .entry(trial.result.task_name.as_str())
            .or_default()
            .push(trial);
    }
    let mut out = Vec::with_capacity(trials.len());
    for (_, mut attempts) in by_task {
        attempts.sort_by_cached_key(|t| {
            let start = t.result.started_at.as_deref().and_then(time::parse);
            // Untimed trials after timed ones.
            (start.is_none(), start, t.result.trial_name.clone())
        });
        out.extend(attempts.into_iter().zip(0..));
    }
    out
}

/// One trial in the API's trial schema.
fn planned_trial(
    trial: &Trial,
    task_id: String,
    sample_index: i64,
) -> anyhow::Result<PlannedTrial> {
    let result = &trial.result;
    let rewards = numeric_rewards(result);
    let voided = result.reward_valid == Some(false) && !rewards.is_empty();
    let scored = !rewards.is_empty() && !voided;
    let mut error = result.exceptions().next().map(|e| {
        let mut error = Map::new();
        error.insert("type".into(), json!(e.exception_type));
        error.insert("message".into(), json!(e.exception_message));
        if let Some(at) = &e.occurred_at {
            error.insert("occurred_at".into(), json!(at));
        }
        error
    });
    if voided {
        error
            .get_or_insert_with(Map::new)
            .insert("voided_rewards".into(), json!(rewards));
    }
    let contexts = result.agent_contexts();
    let trajectory = Some(trial.dir.join(TRAJECTORY)).filter(|p| p.is_file());
    let prompt = match &trajectory {
        Some(path) => Atif::read(path)?.instruction(),
        None => None,
    };
    let input = TrialInput {
        task_id,
        sample_index: Some(sample_index),
        status: Some(if scored {
            TrialStatus::Completed
        } else {
            TrialStatus::Failed
        }),
        prompt,
        target: None,
        output_text: tail(&trial.dir.join(VERIFIER_STDOUT), LOG_TAIL_BYTES)?,
        scores: scored.then_some(rewards),
        error,
        cost_usd: sum(contexts.iter().map(|c| c.cost_usd)),
        input_tokens: sum(contexts.iter().map(|c| c.n_input_tokens)),
        output_tokens: sum(contexts.iter().map(|c| c.n_output_tokens)),
        cached_tokens: sum(contexts.iter().map(|c| c.n_cache_tokens)),
        // Harbor records no reasoning split.
        reasoning_tokens: None,
        phase_timings: phase_timings(result),
    };
    Ok(PlannedTrial {
        input,
        dir: trial.dir.clone(),
        trajectory,
    })
}

/// The verifier's rewards that are finite numbers.
fn numeric_rewards(result: &TrialResult) -> BTreeMap<String, f64> {
    result
        .verifier_result
        .as_ref()
        .and_then(|v| v.rewards.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.clone(), value.as_f64()?)))
        .filter(|(_, value)| value.is_finite())
        .collect()
}

/// The sum of the reported figures; `None` when none was reported (never 0 for unknown).
fn sum<T: std::ops::Add<Output = T>>(figures: impl Iterator<Item = Option<T>>) -> Option<T> {
    figures.flatten().fold(None, |total, x| {
        Some(match total {
            Some(t) => t + x,
            None => x,
        })
    })
}

/// Harbor's four phases as `{phase: {started_at, finished_at}}`, the instants as written;
/// a phase never started is absent.
fn phase_timings(result: &TrialResult) -> Option<Map<String, Value>> {
    let phases = [
        ("environment_setup", &result.environment_setup),
        ("agent_setup", &result.agent_setup),
        ("agent_execution", &result.agent_execution),
        ("verifier", &result.verifier),
    ];
    let mut timings = Map::new();
    for (name, timing) in phases {
        let Some(timing) = timing else { continue };
        let mut phase = Map::new();
        for (key, at) in [
            ("started_at", &timing.started_at),
            ("finished_at", &timing.finished_at),
        ] {
            if let Some(at) = at {
                phase.insert(key.into(), json!(at));
            }
        }
        if !phase.is_empty() {
            timings.insert(name.into(), Value::Object(phase));
        }
    }
    (!timings.is_empty()).then_some(timings)
}

/// When the job started (see the module docs).
fn job_start(job: &Job) -> Option<Stamp> {
    let recorded = job.result.started_at.as_deref().and_then(time::parse);
    if let Some(stamp) = recorded.filter(|s| s.zoned) {
        return Some(stamp);
    }
    job.trials
        .iter()
        .filter_map(|t| t.result.started_at.as_deref().and_then(time::parse))
        .filter(|s| s.zoned)
        .min()
        .or(recorded)
}

/// `harbor:<job id>:<hash>` (see the module docs).
fn idempotency_key(job_id: &str, suite_id: &str, lineup: &Lineup, trial_ids: &[&str]) -> String {
    let mut trial_ids = trial_ids.to_vec();
    trial_ids.sort_unstable();
    let mut hash = Sha256::new();
    let effort = lineup.effort.as_deref().unwrap_or("");
    let identity = [suite_id, &lineup.agent, &lineup.model, effort];
    // Length-prefixed, so that no two different inputs hash the same bytes.
    for part in identity.iter().chain(trial_ids.iter()) {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let job: String = job_id.chars().take(64).collect();
    format!("harbor:{job}:{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::Path;

    /// Whether no (task, sample index) pair appears twice.
    fn unique_indices(plan: &Plan) -> bool {
        let mut seen = HashSet::new();
        plan.trials
            .iter()
            .all(|t| seen.insert((t.input.task_id.clone(), t.input.sample_index)))
    }

    fn fixture() -> Job {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/harbor-job");
        Job::read(&dir).expect("the fixture reads")
    }

    fn by_trial<'a>(plan: &'a Plan, dir_name: &str) -> &'a TrialInput {
        &plan
            .trials
            .iter()
            .find(|t| t.dir.file_name().unwrap() == dir_name)
            .unwrap_or_else(|| panic!("{dir_name} planned"))
            .input
    }

    #[test]
    fn run_identity_comes_from_the_trials_agent_config() {
        let plan = plan(&fixture(), "eval_suite_x", &Selection::default()).unwrap();
        let r = &plan.request;
        assert_eq!(plan.job_name, "harbor-job");
        assert_eq!(r.agent_name, "claude-code");
        assert_eq!(r.model, "anthropic/claude-sonnet-4-5");
        assert_eq!(r.agent_version.as_deref(), Some("2.1.3"));
        assert_eq!(r.agent_effort.as_deref(), Some("high"));
        assert_eq!(r.cost_usd, None, "the server sums the trials' costs");
        // The job's naive local start gives way to the first trial's UTC start.
        assert_eq!(r.created_at, Some(1_772_445_601));
        let metadata = r.metadata.as_ref().unwrap();
        assert_eq!(metadata["harbor_job_name"], "harbor-job");
        assert_eq!(
            metadata["harbor_job_id"],
            "6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5"
        );
        let key = r.idempotency_key.as_deref().unwrap();
        assert!(
            key.starts_with("harbor:6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5:"),
            "{key}"
        );
        assert_eq!(key.len(), "harbor::".len() + 36 + 32);
    }

    #[test]
    fn attempts_are_numbered_in_start_order_per_task() {
        let plan = plan(&fixture(), "s", &Selection::default()).unwrap();
        let order: Vec<(String, i64)> = plan
            .trials
            .iter()
            .map(|t| (t.input.task_id.clone(), t.sample_index()))
            .collect();
        let expected = [
            ("fix-bug", 0),
            ("fix-bug", 1),
            ("hello-world", 0),
            ("hello-world", 1),
            ("write-docs", 0),
            ("write-docs", 1),
        ];
        let expected: Vec<(String, i64)> =
            expected.iter().map(|(t, i)| (t.to_string(), *i)).collect();
        assert_eq!(order, expected);
        assert!(unique_indices(&plan));
        // Started first, though its name sorts last.
        assert_eq!(
            by_trial(&plan, "hello-world__Xk9mQ2p").sample_index,
            Some(0)
        );
        assert_eq!(
            by_trial(&plan, "hello-world__Lw3Rt7a").sample_index,
            Some(1)
        );
    }

    #[test]
    fn trials_map_status_scores_error_usage_and_timings() {
        let plan = plan(&fixture(), "s", &Selection::default()).unwrap();

        let solved = by_trial(&plan, "hello-world__Xk9mQ2p");
        assert_eq!(solved.status, Some(TrialStatus::Completed));
        assert_eq!(
            solved.scores,
            Some(BTreeMap::from([("reward".into(), 1.0)]))
        );
        assert_eq!(solved.error, None);
        assert_eq!(solved.input_tokens, Some(12_000));
        assert_eq!(solved.cached_tokens, Some(8_000));
        assert_eq!(solved.output_tokens, Some(900));
        assert_eq!(solved.cost_usd, Some(0.0421));
        assert_eq!(solved.reasoning_tokens, None);
        assert!(solved
            .prompt
            .as_deref()
            .unwrap()
            .starts_with("Create a file called hello.txt"));
        assert!(solved.output_text.as_deref().unwrap().contains("1 passed"));
        let timings = solved.phase_timings.as_ref().unwrap();
        assert_eq!(
            timings.keys().collect::<Vec<_>>(),
            [
                "environment_setup",
                "agent_setup",
                "agent_execution",
                "verifier"
            ]
        );
        assert_eq!(
            timings["agent_execution"],
            json!({"started_at": "2026-03-02T10:00:21.500000Z", "finished_at": "2026-03-02T10:01:06.500000Z"})
        );

        let no_cost = by_trial(&plan, "hello-world__Lw3Rt7a");
        assert_eq!(
            no_cost.scores,
            Some(BTreeMap::from([("reward".into(), 0.0)]))
        );
        assert_eq!(
            (no_cost.input_tokens, no_cost.cost_usd),
            (Some(15_000), None)
        );

        let timeout = by_trial(&plan, "fix-bug__Pq8Zs1c");
        assert_eq!(timeout.status, Some(TrialStatus::Completed));
        assert_eq!(
            timeout.scores,
            Some(BTreeMap::from([("reward".into(), 0.5)]))
        );
        let error = timeout.error.as_ref().unwrap();
        assert_eq!(error["type"], "AgentTimeoutError");
        assert_eq!(
            error["message"],
            "Agent execution timed out after 900.0 seconds"
        );

        let setup_failed = by_trial(&plan, "fix-bug__Bn4Vc6d");
        assert_eq!(setup_failed.status, Some(TrialStatus::Failed));
        assert_eq!(setup_failed.scores, None);
        assert_eq!(
            setup_failed.error.as_ref().unwrap()["type"],
            "AgentSetupTimeoutError"
        );
        assert_eq!(
            (
                setup_failed.input_tokens,
                setup_failed.cost_usd,
                setup_failed.output_text.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(
            setup_failed
                .phase_timings
                .as_ref()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["environment_setup", "agent_setup"]
        );

        let unreported = by_trial(&plan, "write-docs__Hy2Gf5e");
        assert_eq!(
            unreported.scores,
            Some(BTreeMap::from([
                ("reward".into(), 1.0),
                ("style".into(), 0.75)
            ]))
        );
        assert_eq!(
            (
                unreported.input_tokens,
                unreported.output_tokens,
                unreported.cached_tokens,
                unreported.cost_usd
            ),
            (None, None, None, None)
        );

        let voided = by_trial(&plan, "write-docs__Md7Kp3f");
        assert_eq!(voided.status, Some(TrialStatus::Failed));
        assert_eq!(voided.scores, None);
        let error = voided.error.as_ref().unwrap();
        assert_eq!(error["type"], "ApiRateLimitError");
        assert_eq!(
            error["voided_rewards"],
            json!({"reward": 0.0, "style": 0.0})
        );
        assert_eq!(voided.cached_tokens, None, "not reported, not 0");

        let with_trajectory: Vec<_> = plan
            .trials
            .iter()
            .filter(|t| t.trajectory.is_some())
            .map(|t| t.dir.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(with_trajectory.len(), 5);
        assert!(!with_trajectory.contains(&"fix-bug__Bn4Vc6d".to_string()));
    }

    #[test]
    fn the_key_depends_on_suite_identity_and_trials_only() {
        let lineup = Lineup {
            agent: "a".into(),
            model: "m".into(),
            effort: None,
        };
        let key = idempotency_key("job", "s", &lineup, &["t1", "t2"]);
        assert_eq!(key, idempotency_key("job", "s", &lineup, &["t2", "t1"]));
        assert_ne!(key, idempotency_key("job", "s2", &lineup, &["t1", "t2"]));
        assert_ne!(
            key,
            idempotency_key("job", "s", &lineup, &["t1", "t2", "t3"])
        );
        let high = Lineup {
            effort: Some("high".into()),
            ..lineup.clone()
        };
        assert_ne!(key, idempotency_key("job", "s", &high, &["t1", "t2"]));
    }

    #[test]
    fn several_agent_configurations_need_a_selection() {
        let mut job = fixture();
        job.trials[0].result.agent_info.name = "codex".into();
        let err = plan(&job, "s", &Selection::default())
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("2 agent configurations") && err.contains("--agent codex"),
            "{err}"
        );
        let codex = Selection {
            agent: Some("codex".into()),
            ..Selection::default()
        };
        let only = plan(&job, "s", &codex).unwrap();
        assert_eq!(only.trials.len(), 1);
        assert_eq!(only.request.agent_name, "codex");
        let none = Selection {
            effort: Some("low".into()),
            ..Selection::default()
        };
        let err = plan(&job, "s", &none).err().unwrap().to_string();
        assert!(err.contains("no trial"), "{err}");
    }

    #[test]
    fn package_task_names_lose_their_org() {
        assert_eq!(task_id("terminal-bench/hello-world"), "hello-world");
        assert_eq!(task_id("hello-world"), "hello-world");
    }
}
