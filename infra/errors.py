"""Errors with messages a person can act on, and the translation of boto3/botocore failures into them."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)


class InfraError(Exception):
    """An error the CLI reports as ``error: <message>`` plus an optional hint, with exit code 2."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class ConfigError(InfraError):
    """Bad flags, configuration or password."""


class PublicCidrRefused(ConfigError):
    """Ingress from the whole internet was asked for without ``--allow-public``."""


class NotOursError(InfraError):
    """A resource with our name exists but lacks our tags: we did not create it, so we do not touch it."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(
            f"{kind} {name!r} already exists and was not created by sparkify-infra (tag ManagedBy is missing)",
            "choose another name (see --help) or remove it yourself; sparkify-infra never modifies it",
        )


class WaitTimeout(InfraError):
    """A cluster did not reach the wanted state in time."""


# Error codes that mean "an account limit was hit", across IAM, EC2 and Redshift.
_QUOTA_CODES = {
    "ClusterQuotaExceeded",
    "ClusterQuotaExceededFault",
    "NumberOfNodesQuotaExceeded",
    "NumberOfNodesPerClusterLimitExceeded",
    "InsufficientClusterCapacity",
    "LimitExceeded",
    "RulesPerSecurityGroupLimitExceeded",
    "SecurityGroupLimitExceeded",
    "SnapshotQuotaExceeded",
    "TagLimitExceeded",
}
_AUTH_CODES = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedAccess"}


def explain(exc: BaseException) -> InfraError | None:
    """Translate a boto3/botocore exception into an :class:`InfraError`; ``None`` if it is not one."""
    if isinstance(exc, InfraError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return InfraError(
            "no usable AWS credentials found",
            "set AWS_PROFILE (or --profile), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`",
        )
    if isinstance(exc, ProfileNotFound):
        return InfraError(str(exc), "check --profile / AWS_PROFILE against ~/.aws/config")
    if isinstance(exc, NoRegionError):
        return InfraError("no AWS region configured", "pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    if isinstance(exc, EndpointConnectionError):
        return InfraError(f"cannot reach the AWS endpoint: {exc}", "check the network and AWS_ENDPOINT_URL")
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code, msg = err.get("Code", "?"), err.get("Message", "")
        op = exc.operation_name
        if code in _QUOTA_CODES:
            return InfraError(
                f"AWS quota exceeded in {op}: {code}: {msg}",
                "free capacity (e.g. delete unused clusters/roles/rules), pick a smaller --num-nodes or another "
                "node type/region, or request a quota increase in the Service Quotas console",
            )
        if code in _AUTH_CODES:
            return InfraError(
                f"AWS rejected the credentials in {op}: {code}: {msg}", "refresh your credentials"
            )
        if code in _DENIED_CODES:
            return InfraError(
                f"not allowed to call {op}: {msg or code}",
                "the caller needs iam:*Role*, redshift:*Cluster*, ec2:*SecurityGroup* permissions",
            )
        return InfraError(f"AWS error in {op}: {code}: {msg}")
    return None
