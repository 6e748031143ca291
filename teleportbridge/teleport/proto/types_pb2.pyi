import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from teleportbridge.teleport.proto import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RequestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NONE: _ClassVar[RequestState]
    PENDING: _ClassVar[RequestState]
    APPROVED: _ClassVar[RequestState]
    DENIED: _ClassVar[RequestState]
    PROMOTED: _ClassVar[RequestState]
NONE: RequestState
PENDING: RequestState
APPROVED: RequestState
DENIED: RequestState
PROMOTED: RequestState

class Metadata(_message.Message):
    __slots__ = ("Name", "Namespace", "Description", "Labels", "Expires", "Revision")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    Name: str
    Namespace: str
    Description: str
    Labels: _containers.ScalarMap[str, str]
    Expires: _timestamp_pb2.Timestamp
    Revision: str
    def __init__(self, Name: _Optional[str] = ..., Namespace: _Optional[str] = ..., Description: _Optional[str] = ..., Labels: _Optional[_Mapping[str, str]] = ..., Expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., Revision: _Optional[str] = ...) -> None: ...

class ResourceHeader(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ...) -> None: ...

class WatchKind(_message.Message):
    __slots__ = ("Kind", "LoadSecrets", "Name", "Filter", "SubKind", "Version")
    class FilterEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    LOADSECRETS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    LoadSecrets: bool
    Name: str
    Filter: _containers.ScalarMap[str, str]
    SubKind: str
    Version: str
    def __init__(self, Kind: _Optional[str] = ..., LoadSecrets: _Optional[bool] = ..., Name: _Optional[str] = ..., Filter: _Optional[_Mapping[str, str]] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ...) -> None: ...

class WatchStatusSpecV1(_message.Message):
    __slots__ = ("Kinds",)
    KINDS_FIELD_NUMBER: _ClassVar[int]
    Kinds: _containers.RepeatedCompositeFieldContainer[WatchKind]
    def __init__(self, Kinds: _Optional[_Iterable[_Union[WatchKind, _Mapping]]] = ...) -> None: ...

class WatchStatusV1(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata", "Spec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    Spec: WatchStatusSpecV1
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., Spec: _Optional[_Union[WatchStatusSpecV1, _Mapping]] = ...) -> None: ...

class ResourceID(_message.Message):
    __slots__ = ("ClusterName", "Kind", "Name", "SubResourceName")
    CLUSTERNAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUBRESOURCENAME_FIELD_NUMBER: _ClassVar[int]
    ClusterName: str
    Kind: str
    Name: str
    SubResourceName: str
    def __init__(self, ClusterName: _Optional[str] = ..., Kind: _Optional[str] = ..., Name: _Optional[str] = ..., SubResourceName: _Optional[str] = ...) -> None: ...

class ResourceAccessID(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: ResourceID
    def __init__(self, id: _Optional[_Union[ResourceID, _Mapping]] = ...) -> None: ...

class AccessReview(_message.Message):
    __slots__ = ("Author", "Roles", "ProposedState", "Reason", "Created", "Annotations", "AssumeStartTime")
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    PROPOSEDSTATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ASSUMESTARTTIME_FIELD_NUMBER: _ClassVar[int]
    Author: str
    Roles: _containers.RepeatedScalarFieldContainer[str]
    ProposedState: RequestState
    Reason: str
    Created: _timestamp_pb2.Timestamp
    Annotations: _wrappers_pb2.LabelValues
    AssumeStartTime: _timestamp_pb2.Timestamp
    def __init__(self, Author: _Optional[str] = ..., Roles: _Optional[_Iterable[str]] = ..., ProposedState: _Optional[_Union[RequestState, str]] = ..., Reason: _Optional[str] = ..., Created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., Annotations: _Optional[_Union[_wrappers_pb2.LabelValues, _Mapping]] = ..., AssumeStartTime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AccessRequestSpecV3(_message.Message):
    __slots__ = ("User", "Roles", "State", "Created", "Expires", "RequestReason", "ResolveReason", "ResolveAnnotations", "SystemAnnotations", "Reviews", "SuggestedReviewers", "RequestedResourceIDs", "LoginHint", "DryRun", "MaxDuration", "SessionTTL", "AssumeStartTime", "ResourceExpiry", "RequestedResourceAccessIDs")
    USER_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    REQUESTREASON_FIELD_NUMBER: _ClassVar[int]
    RESOLVEREASON_FIELD_NUMBER: _ClassVar[int]
    RESOLVEANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    SYSTEMANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    SUGGESTEDREVIEWERS_FIELD_NUMBER: _ClassVar[int]
    REQUESTEDRESOURCEIDS_FIELD_NUMBER: _ClassVar[int]
    LOGINHINT_FIELD_NUMBER: _ClassVar[int]
    DRYRUN_FIELD_NUMBER: _ClassVar[int]
    MAXDURATION_FIELD_NUMBER: _ClassVar[int]
    SESSIONTTL_FIELD_NUMBER: _ClassVar[int]
    ASSUMESTARTTIME_FIELD_NUMBER: _ClassVar[int]
    RESOURCEEXPIRY_FIELD_NUMBER: _ClassVar[int]
    REQUESTEDRESOURCEACCESSIDS_FIELD_NUMBER: _ClassVar[int]
    User: str
    Roles: _containers.RepeatedScalarFieldContainer[str]
    State: RequestState
    Created: _timestamp_pb2.Timestamp
    Expires: _timestamp_pb2.Timestamp
    RequestReason: str
    ResolveReason: str
    ResolveAnnotations: _wrappers_pb2.LabelValues
    SystemAnnotations: _wrappers_pb2.LabelValues
    Reviews: _containers.RepeatedCompositeFieldContainer[AccessReview]
    SuggestedReviewers: _containers.RepeatedScalarFieldContainer[str]
    RequestedResourceIDs: _containers.RepeatedCompositeFieldContainer[ResourceID]
    LoginHint: str
    DryRun: bool
    MaxDuration: _timestamp_pb2.Timestamp
    SessionTTL: _timestamp_pb2.Timestamp
    AssumeStartTime: _timestamp_pb2.Timestamp
    ResourceExpiry: _timestamp_pb2.Timestamp
    RequestedResourceAccessIDs: _containers.RepeatedCompositeFieldContainer[ResourceAccessID]
    def __init__(self, User: _Optional[str] = ..., Roles: _Optional[_Iterable[str]] = ..., State: _Optional[_Union[RequestState, str]] = ..., Created: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., Expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., RequestReason: _Optional[str] = ..., ResolveReason: _Optional[str] = ..., ResolveAnnotations: _Optional[_Union[_wrappers_pb2.LabelValues, _Mapping]] = ..., SystemAnnotations: _Optional[_Union[_wrappers_pb2.LabelValues, _Mapping]] = ..., Reviews: _Optional[_Iterable[_Union[AccessReview, _Mapping]]] = ..., SuggestedReviewers: _Optional[_Iterable[str]] = ..., RequestedResourceIDs: _Optional[_Iterable[_Union[ResourceID, _Mapping]]] = ..., LoginHint: _Optional[str] = ..., DryRun: _Optional[bool] = ..., MaxDuration: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., SessionTTL: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., AssumeStartTime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ResourceExpiry: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., RequestedResourceAccessIDs: _Optional[_Iterable[_Union[ResourceAccessID, _Mapping]]] = ...) -> None: ...

class AccessRequestV3(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata", "Spec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    Spec: AccessRequestSpecV3
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., Spec: _Optional[_Union[AccessRequestSpecV3, _Mapping]] = ...) -> None: ...

class AccessRequestFilter(_message.Message):
    __slots__ = ("ID", "User", "State", "SearchKeywords", "Scope", "Requester")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SEARCHKEYWORDS_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    ID: str
    User: str
    State: RequestState
    SearchKeywords: _containers.RepeatedScalarFieldContainer[str]
    Scope: int
    Requester: str
    def __init__(self, ID: _Optional[str] = ..., User: _Optional[str] = ..., State: _Optional[_Union[RequestState, str]] = ..., SearchKeywords: _Optional[_Iterable[str]] = ..., Scope: _Optional[int] = ..., Requester: _Optional[str] = ...) -> None: ...

class AccessReviewSubmission(_message.Message):
    __slots__ = ("RequestID", "Review")
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    REVIEW_FIELD_NUMBER: _ClassVar[int]
    RequestID: str
    Review: AccessReview
    def __init__(self, RequestID: _Optional[str] = ..., Review: _Optional[_Union[AccessReview, _Mapping]] = ...) -> None: ...

class PluginDataEntry(_message.Message):
    __slots__ = ("Data",)
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DATA_FIELD_NUMBER: _ClassVar[int]
    Data: _containers.ScalarMap[str, str]
    def __init__(self, Data: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PluginDataSpecV3(_message.Message):
    __slots__ = ("Entries",)
    class EntriesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: PluginDataEntry
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[PluginDataEntry, _Mapping]] = ...) -> None: ...
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    Entries: _containers.MessageMap[str, PluginDataEntry]
    def __init__(self, Entries: _Optional[_Mapping[str, PluginDataEntry]] = ...) -> None: ...

class PluginDataV3(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata", "Spec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    Spec: PluginDataSpecV3
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., Spec: _Optional[_Union[PluginDataSpecV3, _Mapping]] = ...) -> None: ...

class PluginDataFilter(_message.Message):
    __slots__ = ("Kind", "Resource", "Plugin")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    Resource: str
    Plugin: str
    def __init__(self, Kind: _Optional[str] = ..., Resource: _Optional[str] = ..., Plugin: _Optional[str] = ...) -> None: ...

class PluginDataUpdateParams(_message.Message):
    __slots__ = ("Kind", "Resource", "Plugin", "Set", "Expect")
    class SetEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ExpectEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    SET_FIELD_NUMBER: _ClassVar[int]
    EXPECT_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    Resource: str
    Plugin: str
    Set: _containers.ScalarMap[str, str]
    Expect: _containers.ScalarMap[str, str]
    def __init__(self, Kind: _Optional[str] = ..., Resource: _Optional[str] = ..., Plugin: _Optional[str] = ..., Set: _Optional[_Mapping[str, str]] = ..., Expect: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RoleConditions(_message.Message):
    __slots__ = ("Logins",)
    LOGINS_FIELD_NUMBER: _ClassVar[int]
    Logins: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, Logins: _Optional[_Iterable[str]] = ...) -> None: ...

class RoleSpecV6(_message.Message):
    __slots__ = ("Allow", "Deny")
    ALLOW_FIELD_NUMBER: _ClassVar[int]
    DENY_FIELD_NUMBER: _ClassVar[int]
    Allow: RoleConditions
    Deny: RoleConditions
    def __init__(self, Allow: _Optional[_Union[RoleConditions, _Mapping]] = ..., Deny: _Optional[_Union[RoleConditions, _Mapping]] = ...) -> None: ...

class RoleV6(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata", "Spec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    Spec: RoleSpecV6
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., Spec: _Optional[_Union[RoleSpecV6, _Mapping]] = ...) -> None: ...

class UserSpecV2(_message.Message):
    __slots__ = ("Roles", "Traits")
    ROLES_FIELD_NUMBER: _ClassVar[int]
    TRAITS_FIELD_NUMBER: _ClassVar[int]
    Roles: _containers.RepeatedScalarFieldContainer[str]
    Traits: _wrappers_pb2.LabelValues
    def __init__(self, Roles: _Optional[_Iterable[str]] = ..., Traits: _Optional[_Union[_wrappers_pb2.LabelValues, _Mapping]] = ...) -> None: ...

class UserV2(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata", "Spec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    Spec: UserSpecV2
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., Spec: _Optional[_Union[UserSpecV2, _Mapping]] = ...) -> None: ...

class ServerSpecV2(_message.Message):
    __slots__ = ("Addr", "Hostname")
    ADDR_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    Addr: str
    Hostname: str
    def __init__(self, Addr: _Optional[str] = ..., Hostname: _Optional[str] = ...) -> None: ...

class ServerV2(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata", "Spec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    Spec: ServerSpecV2
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., Spec: _Optional[_Union[ServerSpecV2, _Mapping]] = ...) -> None: ...

class UserGroupV1(_message.Message):
    __slots__ = ("Kind", "SubKind", "Version", "Metadata")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBKIND_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    Kind: str
    SubKind: str
    Version: str
    Metadata: Metadata
    def __init__(self, Kind: _Optional[str] = ..., SubKind: _Optional[str] = ..., Version: _Optional[str] = ..., Metadata: _Optional[_Union[Metadata, _Mapping]] = ...) -> None: ...
