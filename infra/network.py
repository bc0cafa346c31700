"""The cluster's security group and its single kind of ingress: TCP on the cluster port from one CIDR."""

from __future__ import annotations

import ipaddress

from infra.errors import ConfigError, InfraError, NotOursError, PublicCidrRefused
from infra.tags import is_ours, tag_list


def check_cidr(cidr: str, allow_public: bool) -> str:
    """Normalise ``cidr`` (a bare address becomes /32 or /128); refuse /0 unless ``allow_public``."""
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError as exc:
        raise ConfigError(f"--cidr {cidr!r} is not an IPv4/IPv6 network: {exc}") from exc
    if net.prefixlen == 0 and not allow_public:
        raise PublicCidrRefused(
            f"refusing to open the cluster to the whole internet ({net})",
            "pass your own address, e.g. --cidr $(curl -s https://checkip.amazonaws.com)/32, "
            "or add --allow-public if you really mean it",
        )
    return str(net)


def default_vpc_id(ec2) -> str:
    """The region's default VPC, where Redshift puts a cluster that names no subnet group."""
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise InfraError(
            "this region has no default VPC",
            "create one with `aws ec2 create-default-vpc`, or provision the cluster yourself and only set "
            "the connections (see docs/aws-runbook.md, 'Using Redshift Serverless or an existing cluster instead')",
        )
    return vpcs[0]["VpcId"]


def find_security_group(ec2, name: str, vpc_id: str | None = None) -> dict | None:
    """The group called ``name`` (in ``vpc_id`` if given), preferring one that is ours."""
    filters = [{"Name": "group-name", "Values": [name]}]
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    groups = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    groups.sort(key=lambda g: not is_ours(g.get("Tags")))
    return groups[0] if groups else None


def ensure_security_group(ec2, name: str, vpc_id: str) -> tuple[str, bool]:
    """Our security group for the cluster. Returns (group id, created)."""
    group = find_security_group(ec2, name, vpc_id)
    if group is not None:
        if not is_ours(group.get("Tags")):
            raise NotOursError("security group", name)
        return group["GroupId"], False
    created = ec2.create_security_group(
        GroupName=name,
        Description="Sparkify Redshift access (created by sparkify-infra)",
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list()}],
    )
    return created["GroupId"], True


def ingress_rules(ec2, group_id: str) -> list[dict]:
    """Inbound rules of the group, each with ``Cidr`` set to its IPv4 or IPv6 range."""
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    out = []
    for rule in rules["SecurityGroupRules"]:
        if not rule.get("IsEgress"):
            rule["Cidr"] = rule.get("CidrIpv4") or rule.get("CidrIpv6")
            out.append(rule)
    return out


def ensure_ingress(ec2, group_id: str, cidr: str, port: int) -> bool:
    """Allow TCP ``port`` from ``cidr`` unless some rule already does. Returns True if a rule was added."""
    for rule in ingress_rules(ec2, group_id):
        if (
            rule["Cidr"] == cidr
            and rule.get("IpProtocol") == "tcp"
            and rule.get("FromPort") == port == rule.get("ToPort")
        ):
            return False
    ip_range = (
        {"Ipv6Ranges": [{"CidrIpv6": cidr, "Description": "sparkify-infra"}]}
        if ":" in cidr
        else {"IpRanges": [{"CidrIp": cidr, "Description": "sparkify-infra"}]}
    )
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **ip_range}],
        TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": tag_list()}],
    )
    return True


def revoke_our_ingress(ec2, group_id: str) -> list[str]:
    """Revoke the inbound rules carrying our tags. Returns their CIDRs."""
    ours = [r for r in ingress_rules(ec2, group_id) if is_ours(r.get("Tags"))]
    if ours:
        ec2.revoke_security_group_ingress(
            GroupId=group_id, SecurityGroupRuleIds=[r["SecurityGroupRuleId"] for r in ours]
        )
    return [r["Cidr"] for r in ours]
