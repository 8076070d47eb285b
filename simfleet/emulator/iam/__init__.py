"""IAM for the emulator's SigV4 callers (issue #4, item 4): named principals with IAM
policies, evaluated on every control-plane call and every SigV4 call of the Jobs HTTPS API.
AWS's "required policy type" table: operators and cloud services are authorized by IAM
policies, devices (certificates) by IoT Core policies (`simfleet.emulator.policy`).

    principals = load_principals(Path("principals.json")).with_principals(
        [administrator(ready_key_id, ready_secret)])
    iam = IamAuthorizer(principals, region="us-east-1", account_id="123456789012")
    api = control_plane_api(control_plane, credentials=principals.credentials(),
                            region=..., clock=..., authorize=iam.authorize_call)
    jobs = JobsHttpServer(..., credentials=principals.credentials(), authorize=iam.authorize)

The principals file (JSON):

    {"principals": [
        {"name": "operator",                       # an IAM user name
         "accessKeyId": "AKIAOPERATOR00000001",    # 16-128 letters, digits or _
         "secretAccessKey": "...",
         "policies": [                             # IAM policy documents; [] denies everything
             {"Version": "2012-10-17",
              "Statement": [
                  {"Effect": "Allow", "Action": ["iot:CreateJob", "iot:DescribeJob"],
                   "Resource": "*"},
                  {"Effect": "Allow", "Action": "iotjobsdata:*",
                   "Resource": "arn:aws:iot:us-east-1:123456789012:thing/sim-0001",
                   "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}]}]}]}

Without a file the emulator knows one principal, `administrator(...)` (the ready line's key
pair) allowed everything: `{"Effect": "Allow", "Action": "*", "Resource": "*"}`.

Evaluation (evaluation.py): explicit Deny wins, then any Allow, else denied; Action/NotAction
(case-insensitive), Resource/NotResource (case-sensitive), `*` and `?`; the conditions of
conditions.py; policy variables (`${aws:username}`) in Version 2012-10-17. Actions are
`iot:<Operation>` for the control plane and `iotjobsdata:<Operation>` (or the older `iot:`
name) for the Jobs data plane; resources per operation in resources.py.

Errors (errors.py):

    IamError
    ├── PolicyDocumentError (also ValueError)   a policy IAM would refuse, or one the emulator
    │                                           cannot evaluate (unsupported condition operator)
    ├── PrincipalError (also ValueError)        a bad name or key, or one used twice
    └── PrincipalsFileError (also ValueError)   the principals file, naming file, principal and
                                                statement
A denied caller gets `AwsError("AccessDeniedException", ..., 403)`.
"""

from simfleet.emulator.iam.authorizer import IamAuthorizer
from simfleet.emulator.iam.document import (
    ALLOW_ALL,
    Effect,
    IamPolicy,
    IamStatement,
    Version,
    parse_iam_policy,
)
from simfleet.emulator.iam.errors import (
    IamError,
    PolicyDocumentError,
    PrincipalError,
    PrincipalsFileError,
)
from simfleet.emulator.iam.evaluation import Decision
from simfleet.emulator.iam.principals import (
    IamPrincipal,
    Principals,
    administrator,
    load_principals,
    parse_principals,
)
from simfleet.emulator.iam.resources import RequestedCall, requested_call

__all__ = [
    "ALLOW_ALL",
    "Decision",
    "Effect",
    "IamAuthorizer",
    "IamError",
    "IamPolicy",
    "IamPrincipal",
    "IamStatement",
    "PolicyDocumentError",
    "PrincipalError",
    "Principals",
    "PrincipalsFileError",
    "RequestedCall",
    "Version",
    "administrator",
    "load_principals",
    "parse_iam_policy",
    "parse_principals",
    "requested_call",
]
