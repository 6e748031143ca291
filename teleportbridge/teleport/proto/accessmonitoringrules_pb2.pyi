from teleportbridge.teleport.proto import header_pb2 as _header_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Notification(_message.Message):
    __slots__ = ("name", "recipients")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    recipients: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., recipients: _Optional[_Iterable[str]] = ...) -> None: ...

class AutomaticReview(_message.Message):
    __slots__ = ("integration", "decision")
    INTEGRATION_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    integration: str
    decision: str
    def __init__(self, integration: _Optional[str] = ..., decision: _Optional[str] = ...) -> None: ...

class AccessMonitoringRuleSpec(_message.Message):
    __slots__ = ("subjects", "states", "condition", "notification", "automatic_review", "desired_state")
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_REVIEW_FIELD_NUMBER: _ClassVar[int]
    DESIRED_STATE_FIELD_NUMBER: _ClassVar[int]
    subjects: _containers.RepeatedScalarFieldContainer[str]
    states: _containers.RepeatedScalarFieldContainer[str]
    condition: str
    notification: Notification
    automatic_review: AutomaticReview
    desired_state: str
    def __init__(self, subjects: _Optional[_Iterable[str]] = ..., states: _Optional[_Iterable[str]] = ..., condition: _Optional[str] = ..., notification: _Optional[_Union[Notification, _Mapping]] = ..., automatic_review: _Optional[_Union[AutomaticReview, _Mapping]] = ..., desired_state: _Optional[str] = ...) -> None: ...

class AccessMonitoringRule(_message.Message):
    __slots__ = ("metadata", "kind", "sub_kind", "version", "spec")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUB_KIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    metadata: _header_pb2.Metadata
    kind: str
    sub_kind: str
    version: str
    spec: AccessMonitoringRuleSpec
    def __init__(self, metadata: _Optional[_Union[_header_pb2.Metadata, _Mapping]] = ..., kind: _Optional[str] = ..., sub_kind: _Optional[str] = ..., version: _Optional[str] = ..., spec: _Optional[_Union[AccessMonitoringRuleSpec, _Mapping]] = ...) -> None: ...

class ListAccessMonitoringRulesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccessMonitoringRulesResponse(_message.Message):
    __slots__ = ("rules", "next_page_token")
    RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[AccessMonitoringRule]
    next_page_token: str
    def __init__(self, rules: _Optional[_Iterable[_Union[AccessMonitoringRule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListAccessMonitoringRulesWithFilterRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "subjects", "notification_name", "automatic_review_name")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_NAME_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_REVIEW_NAME_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    subjects: _containers.RepeatedScalarFieldContainer[str]
    notification_name: str
    automatic_review_name: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., subjects: _Optional[_Iterable[str]] = ..., notification_name: _Optional[str] = ..., automatic_review_name: _Optional[str] = ...) -> None: ...

class ListAccessMonitoringRulesWithFilterResponse(_message.Message):
    __slots__ = ("rules", "next_page_token")
    RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[AccessMonitoringRule]
    next_page_token: str
    def __init__(self, rules: _Optional[_Iterable[_Union[AccessMonitoringRule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
