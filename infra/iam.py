"""The IAM role Redshift assumes to COPY from S3 (read only)."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from infra.errors import NotOursError
from infra.tags import is_ours, tag_list

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "redshift.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def s3_read_only_arn(partition: str) -> str:
    """The AWS-managed read-only S3 policy (partition-aware, so it also works in aws-cn / aws-us-gov)."""
    return f"arn:{partition}:iam::aws:policy/AmazonS3ReadOnlyAccess"


def describe_role(iam, name: str) -> dict | None:
    """The role with a ``Tags`` list and ``AttachedPolicyArns``, or ``None`` if absent."""
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return None
        raise
    # GetRole may omit tags on some implementations; ListRoleTags is authoritative.
    role["Tags"] = iam.list_role_tags(RoleName=name).get("Tags", [])
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    role["AttachedPolicyArns"] = [p["PolicyArn"] for p in attached]
    return role


def ensure_role(iam, name: str, partition: str) -> tuple[str, list[str]]:
    """Create the role and attach S3 read-only if missing. Returns (ARN, list of actions taken)."""
    actions: list[str] = []
    role = describe_role(iam, name)
    if role is None:
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(TRUST_POLICY),
            Description="Lets Redshift read S3 for the Sparkify COPY (created by sparkify-infra)",
            Tags=tag_list(),
        )["Role"]
        role["AttachedPolicyArns"] = []
        actions.append("created role")
    elif not is_ours(role["Tags"]):
        raise NotOursError("IAM role", name)
    policy = s3_read_only_arn(partition)
    if policy not in role["AttachedPolicyArns"]:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
        actions.append("attached AmazonS3ReadOnlyAccess")
    return role["Arn"], actions


def delete_role(iam, name: str) -> str:
    """Delete our role (detaching its policies first). Returns 'deleted', 'absent' or 'not ours'."""
    role = describe_role(iam, name)
    if role is None:
        return "absent"
    if not is_ours(role["Tags"]):
        return "not ours"
    for arn in role["AttachedPolicyArns"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    # Inline policies and instance profiles would block DeleteRole; we add neither, someone else may have.
    for policy_name in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
    for profile in iam.list_instance_profiles_for_role(RoleName=name).get("InstanceProfiles", []):
        iam.remove_role_from_instance_profile(
            InstanceProfileName=profile["InstanceProfileName"], RoleName=name
        )
    iam.delete_role(RoleName=name)
    return "deleted"
