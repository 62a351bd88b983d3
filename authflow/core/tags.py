"""User pool tags: TagResource, UntagResource, ListTagsForResource decided on a pool's
configuration.

Theory of operation
-------------------
A pool's tags are the `UserPoolTags` member of its configuration, the same map CreateUserPool
and UpdateUserPool set and DescribeUserPool shows, so the tag operations and the pool
operations can never disagree. The tag operations name the pool by its ARN, exactly as
DescribeUserPool returns it (`arn:<partition>:cognito-idp:<region>:<account>:userpool/<id>`):

* a string that is no user pool ARN (another service, another resource type, no pool id) is
  InvalidParameterException: the request is wrong whatever the store holds;
* a well-formed user pool ARN that names no pool here (unknown id, or another region or
  account) is ResourceNotFoundException.

TagResource merges (a key given again takes the new value), UntagResource removes the keys
named (a key the pool does not carry is no error), and a pool carries at most 50 tags. The
functions return a new configuration and never mutate their arguments; a refused request
raises and returns nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from authflow.errors import InvalidParameterException, ResourceNotFoundException

#: "A user pool can have as many as 50 tags." (TagResource, API reference)
MAX_TAGS = 50
TAGS = "UserPoolTags"
#: AWS reserves the `aws:` prefix for its own tags (AWS tagging rules); users may not set it.
RESERVED_PREFIX = "aws:"

_POOL_ARN = re.compile(
    r"arn:(?P<partition>[\w-]+):cognito-idp:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"userpool/(?P<pool_id>[\w-]+_[0-9a-zA-Z]+)"
)


def pool_id_of(arn: str) -> str:
    """The user pool id an ARN names; InvalidParameterException if it names no user pool."""
    match = _POOL_ARN.fullmatch(arn)
    if match is None:
        raise InvalidParameterException(
            f"{arn} is not the ARN of a user pool: arn:aws:cognito-idp:<region>:<account id>:userpool/<user pool id>.",
            member="ResourceArn",
        )
    return match["pool_id"]


def not_found(arn: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"User pool {arn} does not exist.")


def tags_of(config: Mapping[str, Any]) -> dict[str, str]:
    return dict(config.get(TAGS) or {})


def tagged(config: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
    """The configuration after TagResource: `tags` merged over the pool's."""
    reserved = sorted(key for key in tags if key.lower().startswith(RESERVED_PREFIX))
    if reserved:
        raise InvalidParameterException(
            f"Tag keys may not start with the reserved prefix {RESERVED_PREFIX}: {reserved[0]}.", member="Tags"
        )
    merged = {**tags_of(config), **tags}
    if len(merged) > MAX_TAGS:
        raise InvalidParameterException(
            f"A user pool can have at most {MAX_TAGS} tags; this request would give it {len(merged)}.",
            member="Tags",
        )
    return {**config, TAGS: merged}


def untagged(config: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The configuration after UntagResource: the keys named removed."""
    gone = set(keys)
    return {**config, TAGS: {k: v for k, v in tags_of(config).items() if k not in gone}}
