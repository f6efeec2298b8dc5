"""SDK conformance: suite sharing (``create_suite_share``, ``list_suite_shares``,
``delete_suite_share``) and what the recipient org sees through a share.

The session's bootstrap key is an admin of ``org_default``; ``other_sdk`` belongs to
``org_other``; ``key_sdk`` mints further keys.
"""

from __future__ import annotations

import json

from meetkai_mka1 import SDK, models

from sdk_helpers import expect_api_error
from test_runs import fake, unique, upload, wait_for_run  # noqa: F401  (fake: fixture)


def test_share_list_read_and_revoke(sdk: SDK, other_sdk: SDK, key_sdk, fake) -> None:
    rows = "".join(json.dumps({"q": f"{unique('share')} [[answer:x]]"}) + "\n" for _ in range(2))
    data = upload(sdk, "shared.jsonl", rows.encode())
    suite = sdk.llm.evals.create_suite(
        name=unique("shared"),
        manifest={"tasks": [{"id": "t", "type": "qa", "dataset": {"file_id": data.id},
                             "prompt_template": "{{q}}"}]},
    )
    run = sdk.llm.evals.create_run(suite_id=suite.id, models=["fake"])
    assert wait_for_run(sdk, run.id).status == "completed"
    expect_api_error(404, lambda: other_sdk.llm.evals.get_suite(suite_id=suite.id))

    # Who may share.
    member = key_sdk("org_default", "team_default")
    expect_api_error(403, lambda: member.llm.evals.create_suite_share(suite_id=suite.id, org_id="org_other"))
    expect_api_error(403, lambda: sdk.llm.evals.create_suite_share(
        suite_id=suite.id, org_id="org_other", x_on_behalf_of="end-user"))
    expect_api_error(400, lambda: sdk.llm.evals.create_suite_share(suite_id=suite.id, org_id="org_default"))
    expect_api_error(404, lambda: sdk.llm.evals.create_suite_share(suite_id=suite.id, org_id="org_without_keys"))

    share = sdk.llm.evals.create_suite_share(suite_id=suite.id, org_id="org_other")
    assert share.object == "eval.suite.share"
    assert (share.suite_id, share.org_id) == (suite.id, "org_other")
    assert share.granted_by
    again = sdk.llm.evals.create_suite_share(suite_id=suite.id, org_id="org_other")
    assert again.id == share.id, "sharing is idempotent on (suite, org)"
    listed = member.llm.evals.list_suite_shares(suite_id=suite.id)
    assert [s.org_id for s in listed.data] == ["org_other"]
    expect_api_error(403, lambda: sdk.llm.evals.list_suite_shares(suite_id=suite.id, x_on_behalf_of="end-user"))
    expect_api_error(404, lambda: other_sdk.llm.evals.list_suite_shares(suite_id=suite.id))

    # The recipient reads, read-only.
    seen = other_sdk.llm.evals.get_suite(suite_id=suite.id)
    assert seen.access == "shared"
    assert sdk.llm.evals.get_suite(suite_id=suite.id).access == "owner"
    assert suite.id in [s.id for s in other_sdk.llm.evals.list_suites(limit=100).data]
    assert suite.id not in [s.id for s in other_sdk.llm.evals.list_suites(limit=100, owned_only=True).data]
    assert other_sdk.llm.evals.get_suite_version(suite_id=suite.id, version=1).version == 1
    assert run.id in [r.id for r in other_sdk.llm.evals.list_runs(suite_id=suite.id).data]
    assert other_sdk.llm.evals.list_runs(owned_only=True, suite_id=suite.id).data == []
    shared_run = other_sdk.llm.evals.get_run(run_id=run.id)
    assert shared_run.status == "completed" and shared_run.artifact_file_ids == []
    artifacts = other_sdk.llm.evals.get_artifacts(run_id=run.id)
    assert artifacts.result_file_id is None and artifacts.samples_file_id is None
    assert artifacts.artifact_file_ids == []
    assert len(other_sdk.llm.evals.list_samples(run_id=run.id).data) == 2
    expect_api_error(404, lambda: other_sdk.llm.evals.delete_run(run_id=run.id))
    expect_api_error(404, lambda: other_sdk.llm.evals.delete_suite(suite_id=suite.id))
    expect_api_error(400, lambda: other_sdk.llm.evals.create_run(suite_id=suite.id, models=["fake"]))

    # Revoking: admins acting directly; effective at once.
    expect_api_error(403, lambda: member.llm.evals.delete_suite_share(suite_id=suite.id, org_id="org_other"))
    gone = sdk.llm.evals.delete_suite_share(suite_id=suite.id, org_id="org_other")
    assert isinstance(gone, models.EvalSuiteShareDeletedObject)
    assert gone.id == share.id and gone.deleted is True
    expect_api_error(404, lambda: other_sdk.llm.evals.get_suite(suite_id=suite.id))
    expect_api_error(404, lambda: other_sdk.llm.evals.get_run(run_id=run.id))
    expect_api_error(404, lambda: sdk.llm.evals.delete_suite_share(suite_id=suite.id, org_id="org_other"))
