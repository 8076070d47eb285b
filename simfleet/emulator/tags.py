"""Resource tags by ARN (TagResource, UntagResource, ListTagsForResource; the `tags` members of
CreateThingGroup, CreatePolicy and RegisterCACertificate), in memory and in the store.

Bounds are AWS's tagging rules (botocore model and the AWS tagging guide): keys 1-128
characters, values 0-256, at most 50 tags per resource, and no key starting with "aws:"
(reserved). A tag set again takes the new value. Deleting a resource deletes its tags (the
control plane calls `forget`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from simfleet.emulator.errors import AwsError, invalid_request
from simfleet.emulator.store import Store

MAX_TAGS: Final = 50
_MAX_KEY: Final = 128
_MAX_VALUE: Final = 256


class Tags:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._tags: dict[str, dict[str, str]] = {}
        for arn, key, value in store.tags():
            self._tags.setdefault(arn, {})[key] = value

    def of(self, arn: str) -> dict[str, str]:
        return dict(self._tags.get(arn, {}))

    def put(self, arn: str, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            if not 1 <= len(key) <= _MAX_KEY or key.lower().startswith("aws:"):
                raise invalid_request(
                    f"Tag keys are 1-{_MAX_KEY} characters and do not start with aws:, not {key!r}"
                )
            if len(value) > _MAX_VALUE:
                raise invalid_request(f"The value of tag {key!r} exceeds {_MAX_VALUE} characters")
        merged = {**self._tags.get(arn, {}), **tags}
        if len(merged) > MAX_TAGS:
            raise AwsError(
                "LimitExceededException", f"A resource can have at most {MAX_TAGS} tags.", 410
            )
        if tags:
            self._store.put_tags(arn, tags)
            self._tags[arn] = merged

    def remove(self, arn: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        self._store.delete_tags(arn, keys)
        kept = {k: v for k, v in self._tags.get(arn, {}).items() if k not in keys}
        if kept:
            self._tags[arn] = kept
        else:
            self._tags.pop(arn, None)

    def forget(self, arn: str) -> None:
        if self._tags.pop(arn, None) is not None:
            self._store.delete_tags(arn)


def tag_map(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """A request's TagList ([{"Key": k, "Value": v}]) as a dict, checked; checking it before
    the resource is created keeps a bad tag from leaving an untagged resource behind."""
    checked: dict[str, str] = {}
    for tag in tags or ():
        key, value = tag.get("Key", ""), tag.get("Value", "")
        if not 1 <= len(key) <= _MAX_KEY or key.lower().startswith("aws:"):
            raise invalid_request(
                f"Tag keys are 1-{_MAX_KEY} characters and do not start with aws:, not {key!r}"
            )
        if len(value) > _MAX_VALUE:
            raise invalid_request(f"The value of tag {key!r} exceeds {_MAX_VALUE} characters")
        checked[key] = value
    if len(checked) > MAX_TAGS:
        raise AwsError(
            "LimitExceededException", f"A resource can have at most {MAX_TAGS} tags.", 410
        )
    return checked
