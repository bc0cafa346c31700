"""AWS provisioning for the Sparkify warehouse: IAM role, Redshift cluster, ingress and ``dwh.cfg``.

Run ``python -m infra --help``. Only boto3 (and rich for progress) is imported here; the DAG never
imports this package.
"""
