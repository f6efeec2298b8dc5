"""Builds the Harbor job directory that `assay import harbor` is tested on, with Harbor's own models.

Harbor (PyPI `harbor`) writes a job as a directory: `config.json` (its `JobConfig`),
`result.json` (its `JobResult`, written without the trial results), `job.log`, and one
directory per trial holding `config.json` (`TrialConfig`), `result.json` (`TrialResult`),
`trial.log`, `exception.txt` when the trial recorded an exception, `agent/` (the agent's logs,
with its ATIF trajectory `agent/trajectory.json`) and `verifier/` (`test-stdout.txt`, the
reward file). This script makes such a job by instantiating those pydantic models and writing
them with their own serialization (`model_dump_json(indent=4)`, as Harbor's `Job` and `Trial`
do; trajectories with `format_trajectory_json(trajectory.to_json_dict())`, as its agents do),
so the Rust reader is tested on what the package really writes, not on a guess of it.

The job: agent `claude-code` 2.1.3 on `anthropic/claude-sonnet-4-5` with reasoning effort
`high`, three tasks, two attempts each:

- hello-world: reward 1 with tokens and cost; reward 0 with tokens but no cost reported;
- fix-bug: an agent timeout the verifier still scored (reward 0.5); a trial whose agent setup
  timed out, so no verifier ran (no reward, no tokens, no trajectory);
- write-docs: two rewards (`reward`, `style`) and no token or cost figures at all; a trial
  the model's API rate-limited, whose reward Harbor's error policy voids (`reward_valid`).

    python tests/reference/make_harbor_job.py   # rewrites the fixture

Harbor needs Python 3.12; on an older interpreter the two typing names it takes from 3.12
(`typing.override`, and the `TypedDict` pydantic insists on) come from `typing_extensions`,
which is where pydantic itself gets them; nothing else differs.
"""

from __future__ import annotations

import hashlib
import sys
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import typing_extensions

if sys.version_info < (3, 12):
    typing.override = typing_extensions.override  # type: ignore[attr-defined]
    typing.TypedDict = typing_extensions.TypedDict  # type: ignore[misc]

from harbor.models.agent.context import AgentContext  # noqa: E402
from harbor.models.job.config import JobConfig  # noqa: E402
from harbor.models.job.result import JobResult, JobStats  # noqa: E402
from harbor.models.task.id import LocalTaskId  # noqa: E402
from harbor.models.trajectories import (  # noqa: E402
    Agent,
    FinalMetrics,
    Metrics,
    Observation,
    ObservationResult,
    Step,
    ToolCall,
    Trajectory,
)
from harbor.models.trial.config import AgentConfig, TaskConfig, TrialConfig  # noqa: E402
from harbor.models.trial.result import (  # noqa: E402
    AgentInfo,
    ExceptionInfo,
    ModelInfo,
    TimingInfo,
    TrialResult,
)
from harbor.models.verifier.result import VerifierResult  # noqa: E402
from harbor.utils.trajectory_utils import format_trajectory_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "crates/assay-cli/tests/fixtures/harbor-job"

JOB_NAME = "harbor-job"
JOB_ID = UUID("6f1c2d3e-4a5b-4c6d-8e7f-90a1b2c3d4e5")
JOBS_DIR = Path("jobs")
AGENT = AgentConfig(
    name="claude-code",
    model_name="anthropic/claude-sonnet-4-5",
    kwargs={"reasoning_effort": "high"},
)
AGENT_INFO = AgentInfo(
    name="claude-code",
    version="2.1.3",
    model_info=ModelInfo(name="claude-sonnet-4-5", provider="anthropic"),
)
# Harbor stamps the job's start with a naive local time (`datetime.now()`), here a harness
# machine one hour ahead of UTC; trial times are UTC.
JOB_STARTED = datetime(2026, 3, 2, 11, 0, 0, 250000)
T0 = datetime(2026, 3, 2, 10, 0, 1, 500000, tzinfo=UTC)

INSTRUCTIONS = {
    "hello-world": "Create a file called hello.txt containing the text 'Hello, world!'.",
    "fix-bug": "The tests in tests/test_parser.py fail. Fix the parser so they pass.",
    "write-docs": "Write a README.md describing the command-line options of cli.py.",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def timing(start: float, end: float | None) -> TimingInfo:
    return TimingInfo(started_at=at(start), finished_at=at(end) if end is not None else None)


def trajectory(task: str, session: str, tokens: tuple[int, int, int] | None) -> Trajectory:
    """A short ATIF session: the instruction, one tool call and its observation, a reply."""
    metrics = (
        Metrics(prompt_tokens=tokens[0], completion_tokens=tokens[2], cached_tokens=tokens[1])
        if tokens
        else None
    )
    return Trajectory(
        schema_version="ATIF-v1.6",
        session_id=session,
        agent=Agent(name="claude-code", version="2.1.3", model_name="claude-sonnet-4-5"),
        steps=[
            Step(step_id=1, source="user", message=INSTRUCTIONS[task]),
            Step(
                step_id=2,
                source="agent",
                model_name="claude-sonnet-4-5",
                message="Let me look at the workspace first.",
                reasoning_content=f"The task is {task}; start by listing the files.",
                tool_calls=[
                    ToolCall(
                        tool_call_id="call_1",
                        function_name="Bash",
                        arguments={"command": "ls -la"},
                    )
                ],
                observation=Observation(
                    results=[ObservationResult(source_call_id="call_1", content="total 8\n")]
                ),
                metrics=metrics,
            ),
            Step(step_id=3, source="agent", message="Done."),
        ],
        final_metrics=FinalMetrics(
            total_prompt_tokens=tokens[0] if tokens else None,
            total_completion_tokens=tokens[2] if tokens else None,
            total_cached_tokens=tokens[1] if tokens else None,
            total_steps=3,
        ),
    )


def exception(kind: str, message: str, when: float) -> ExceptionInfo:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "harbor/trial/trial.py", line 700, in run\n'
        f"harbor.trial.errors.{kind}: {message}\n"
    )
    return ExceptionInfo(
        exception_type=kind,
        exception_message=message,
        exception_traceback=trace,
        occurred_at=at(when),
    )


class Trial:
    """One trial directory: its result and the files beside it."""

    def __init__(self, task: str, suffix: str, uuid: str, offset: float, **result):
        self.task = task
        self.name = f"{task}__{suffix}"
        config = TrialConfig(
            task=TaskConfig(path=Path("tasks") / task),
            trial_name=self.name,
            trials_dir=JOBS_DIR / JOB_NAME,
            agent=AGENT,
            job_id=JOB_ID,
        )
        self.config = config
        self.result = TrialResult(
            id=UUID(uuid),
            task_name=task,
            trial_name=self.name,
            trial_uri=f"file:///work/{JOBS_DIR}/{JOB_NAME}/{self.name}",
            task_id=LocalTaskId(path=Path("tasks") / task),
            source=None,
            task_checksum=f"sha256:{hashlib.sha256(task.encode()).hexdigest()}",
            config=config,
            agent_info=AGENT_INFO,
            started_at=at(offset),
            **result,
        )
        self.offset = offset
        self.files: dict[str, str] = {}

    def render(self) -> dict[str, str]:
        files = {
            "config.json": self.config.model_dump_json(indent=4),
            "result.json": self.result.model_dump_json(indent=4),
            **self.files,
        }
        return {f"{self.name}/{path}": text for path, text in files.items()}


def phases(offset: float, agent_end: float, verify: bool = True) -> dict[str, TimingInfo]:
    timings = {
        "environment_setup": timing(offset, offset + 12.25),
        "agent_setup": timing(offset + 12.25, offset + 20.0),
        "agent_execution": timing(offset + 20.0, offset + agent_end),
    }
    if verify:
        timings["verifier"] = timing(offset + agent_end, offset + agent_end + 8.5)
    return timings


def trials() -> list[Trial]:
    made: list[Trial] = []

    # hello-world, attempt 0: solved, tokens and cost reported.
    t = Trial(
        "hello-world", "Xk9mQ2p", "0b6f0c84-1f7e-4b8e-9a61-3c1d2e4f5a01", 0.0,
        agent_result=AgentContext(
            n_input_tokens=12000, n_cache_tokens=8000, n_output_tokens=900, cost_usd=0.0421
        ),
        verifier_result=VerifierResult(rewards={"reward": 1.0}),
        finished_at=at(75.0),
        **phases(0.0, 65.0),
    )
    t.files["agent/trajectory.json"] = format_trajectory_json(
        trajectory("hello-world", "sess-hello-0", (12000, 8000, 900)).to_json_dict()
    )
    t.files["verifier/test-stdout.txt"] = "test_hello_file_exists PASSED\n1 passed in 0.02s\n"
    t.files["verifier/reward.txt"] = "1.0"
    t.files["trial.log"] = "Starting environment\nRunning agent\nRunning verifier\n"
    made.append(t)

    # hello-world, attempt 1 (started later): unsolved; tokens but no cost reported.
    t = Trial(
        "hello-world", "Lw3Rt7a", "0b6f0c84-1f7e-4b8e-9a61-3c1d2e4f5a02", 2.0,
        agent_result=AgentContext(n_input_tokens=15000, n_cache_tokens=0, n_output_tokens=1100),
        verifier_result=VerifierResult(rewards={"reward": 0.0}),
        finished_at=at(82.0),
        **phases(2.0, 70.0),
    )
    t.files["agent/trajectory.json"] = format_trajectory_json(
        trajectory("hello-world", "sess-hello-1", (15000, 0, 1100)).to_json_dict()
    )
    t.files["verifier/test-stdout.txt"] = "test_hello_file_exists FAILED\n1 failed in 0.03s\n"
    t.files["verifier/reward.txt"] = "0.0"
    t.files["trial.log"] = "Starting environment\nRunning agent\nRunning verifier\n"
    made.append(t)

    # fix-bug, attempt 0: the agent timed out, the verifier still scored its work.
    t = Trial(
        "fix-bug", "Pq8Zs1c", "0b6f0c84-1f7e-4b8e-9a61-3c1d2e4f5a03", 1.0,
        agent_result=AgentContext(
            n_input_tokens=250000, n_cache_tokens=200000, n_output_tokens=7000, cost_usd=0.5
        ),
        verifier_result=VerifierResult(rewards={"reward": 0.5}),
        exception_info=exception(
            "AgentTimeoutError", "Agent execution timed out after 900.0 seconds", 921.0
        ),
        finished_at=at(931.0),
        **phases(1.0, 920.0),
    )
    t.files["agent/trajectory.json"] = format_trajectory_json(
        trajectory("fix-bug", "sess-fix-0", (250000, 200000, 7000)).to_json_dict()
    )
    t.files["verifier/test-stdout.txt"] = "test_parse_empty PASSED\ntest_parse_nested FAILED\n"
    t.files["verifier/reward.txt"] = "0.5"
    t.files["exception.txt"] = t.result.exception_info.exception_traceback
    t.files["trial.log"] = "Starting environment\nRunning agent\nAgent timed out\n"
    made.append(t)

    # fix-bug, attempt 1: agent setup timed out; nothing ran, nothing was scored.
    t = Trial(
        "fix-bug", "Bn4Vc6d", "0b6f0c84-1f7e-4b8e-9a61-3c1d2e4f5a04", 3.0,
        exception_info=exception(
            "AgentSetupTimeoutError", "Agent setup timed out after 360.0 seconds", 375.0
        ),
        finished_at=at(376.0),
        environment_setup=timing(3.0, 15.0),
        agent_setup=timing(15.0, 375.0),
    )
    t.files["exception.txt"] = t.result.exception_info.exception_traceback
    t.files["trial.log"] = "Starting environment\nSetting up agent\nAgent setup timed out\n"
    made.append(t)

    # write-docs, attempt 0: two rewards, no token or cost figures.
    t = Trial(
        "write-docs", "Hy2Gf5e", "0b6f0c84-1f7e-4b8e-9a61-3c1d2e4f5a05", 4.0,
        agent_result=AgentContext(),
        verifier_result=VerifierResult(rewards={"reward": 1, "style": 0.75}),
        finished_at=at(104.0),
        **phases(4.0, 90.0),
    )
    t.files["agent/trajectory.json"] = format_trajectory_json(
        trajectory("write-docs", "sess-docs-0", None).to_json_dict()
    )
    t.files["verifier/test-stdout.txt"] = "README.md covers 4/4 options\nstyle: 0.75\n"
    t.files["verifier/reward.json"] = '{"reward": 1, "style": 0.75}'
    t.files["trial.log"] = "Starting environment\nRunning agent\nRunning verifier\n"
    made.append(t)

    # write-docs, attempt 1: the model's API rate-limited the agent; the verifier scored what
    # was left, but Harbor's error policy voids that reward (`reward_valid: false`).
    t = Trial(
        "write-docs", "Md7Kp3f", "0b6f0c84-1f7e-4b8e-9a61-3c1d2e4f5a06", 5.0,
        agent_result=AgentContext(n_input_tokens=3000, n_output_tokens=150),
        verifier_result=VerifierResult(rewards={"reward": 0.0, "style": 0.0}),
        exception_info=exception("ApiRateLimitError", "429 Too Many Requests", 40.0),
        finished_at=at(55.0),
        **phases(5.0, 35.0),
    )
    t.files["agent/trajectory.json"] = format_trajectory_json(
        trajectory("write-docs", "sess-docs-1", (3000, 0, 150)).to_json_dict()
    )
    t.files["verifier/test-stdout.txt"] = "README.md missing\n"
    t.files["verifier/reward.json"] = '{"reward": 0.0, "style": 0.0}'
    t.files["exception.txt"] = t.result.exception_info.exception_traceback
    t.files["trial.log"] = "Starting environment\nRunning agent\nRate limited\n"
    made.append(t)
    return made


def build() -> dict[str, str]:
    """Every file of the job directory, by path relative to it."""
    made = trials()
    config = JobConfig(
        job_name=JOB_NAME,
        jobs_dir=JOBS_DIR,
        n_attempts=2,
        agents=[AGENT],
        tasks=[TaskConfig(path=Path("tasks") / task) for task in INSTRUCTIONS],
    )
    results = [t.result for t in made]
    # As Harbor's Job.run ends: stats from the trial results, written without them.
    job = JobResult(
        id=JOB_ID,
        started_at=JOB_STARTED,
        updated_at=JOB_STARTED + timedelta(seconds=940),
        finished_at=JOB_STARTED + timedelta(seconds=940),
        n_total_trials=len(made),
        stats=JobStats.from_trial_results(results, n_total_trials=len(made)),
    )
    files = {
        "config.json": config.model_dump_json(indent=4),
        "result.json": job.model_dump_json(indent=4, exclude={"trial_results"}),
        "job.log": f"Running {len(made)} trials\n",
    }
    for t in made:
        files.update(t.render())
    return files


def write(files: dict[str, str], root: Path = FIXTURE) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


if __name__ == "__main__":
    write(build())
    print(f"wrote {len(build())} files under {FIXTURE.relative_to(ROOT)}")
