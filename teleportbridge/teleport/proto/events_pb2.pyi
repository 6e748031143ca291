import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Metadata(_message.Message):
    __slots__ = ("Index", "Type", "ID", "Code", "Time", "ClusterName")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    CLUSTERNAME_FIELD_NUMBER: _ClassVar[int]
    Index: int
    Type: str
    ID: str
    Code: str
    Time: _timestamp_pb2.Timestamp
    ClusterName: str
    def __init__(self, Index: _Optional[int] = ..., Type: _Optional[str] = ..., ID: _Optional[str] = ..., Code: _Optional[str] = ..., Time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ClusterName: _Optional[str] = ...) -> None: ...

class UserMetadata(_message.Message):
    __slots__ = ("User", "Login", "Impersonator")
    USER_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATOR_FIELD_NUMBER: _ClassVar[int]
    User: str
    Login: str
    Impersonator: str
    def __init__(self, User: _Optional[str] = ..., Login: _Optional[str] = ..., Impersonator: _Optional[str] = ...) -> None: ...

class ResourceMetadata(_message.Message):
    __slots__ = ("Name", "Expires", "UpdatedBy", "TTL")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    UPDATEDBY_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    Name: str
    Expires: _timestamp_pb2.Timestamp
    UpdatedBy: str
    TTL: str
    def __init__(self, Name: _Optional[str] = ..., Expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., UpdatedBy: _Optional[str] = ..., TTL: _Optional[str] = ...) -> None: ...

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

class AccessRequestCreate(_message.Message):
    __slots__ = ("Metadata", "User", "Resource", "Roles", "RequestID", "RequestState", "Delegator", "Reason", "Annotations", "Reviewer", "ProposedState", "RequestedResourceIDs", "MaxDuration", "PromotedAccessListName", "AssumeStartTime", "SubmittedBy")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    REQUESTSTATE_FIELD_NUMBER: _ClassVar[int]
    DELEGATOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    REVIEWER_FIELD_NUMBER: _ClassVar[int]
    PROPOSEDSTATE_FIELD_NUMBER: _ClassVar[int]
    REQUESTEDRESOURCEIDS_FIELD_NUMBER: _ClassVar[int]
    MAXDURATION_FIELD_NUMBER: _ClassVar[int]
    PROMOTEDACCESSLISTNAME_FIELD_NUMBER: _ClassVar[int]
    ASSUMESTARTTIME_FIELD_NUMBER: _ClassVar[int]
    SUBMITTEDBY_FIELD_NUMBER: _ClassVar[int]
    Metadata: Metadata
    User: UserMetadata
    Resource: ResourceMetadata
    Roles: _containers.RepeatedScalarFieldContainer[str]
    RequestID: str
    RequestState: str
    Delegator: str
    Reason: str
    Annotations: _struct_pb2.Struct
    Reviewer: str
    ProposedState: str
    RequestedResourceIDs: _containers.RepeatedCompositeFieldContainer[ResourceID]
    MaxDuration: _timestamp_pb2.Timestamp
    PromotedAccessListName: str
    AssumeStartTime: _timestamp_pb2.Timestamp
    SubmittedBy: str
    def __init__(self, Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., User: _Optional[_Union[UserMetadata, _Mapping]] = ..., Resource: _Optional[_Union[ResourceMetadata, _Mapping]] = ..., Roles: _Optional[_Iterable[str]] = ..., RequestID: _Optional[str] = ..., RequestState: _Optional[str] = ..., Delegator: _Optional[str] = ..., Reason: _Optional[str] = ..., Annotations: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., Reviewer: _Optional[str] = ..., ProposedState: _Optional[str] = ..., RequestedResourceIDs: _Optional[_Iterable[_Union[ResourceID, _Mapping]]] = ..., MaxDuration: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., PromotedAccessListName: _Optional[str] = ..., AssumeStartTime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., SubmittedBy: _Optional[str] = ...) -> None: ...

class AccessRequestDelete(_message.Message):
    __slots__ = ("Metadata", "User", "RequestID")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    Metadata: Metadata
    User: UserMetadata
    RequestID: str
    def __init__(self, Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., User: _Optional[_Union[UserMetadata, _Mapping]] = ..., RequestID: _Optional[str] = ...) -> None: ...

class AccessRequestExpire(_message.Message):
    __slots__ = ("Metadata", "Resource", "RequestID", "ResourceExpiry")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    REQUESTID_FIELD_NUMBER: _ClassVar[int]
    RESOURCEEXPIRY_FIELD_NUMBER: _ClassVar[int]
    Metadata: Metadata
    Resource: ResourceMetadata
    RequestID: str
    ResourceExpiry: _timestamp_pb2.Timestamp
    def __init__(self, Metadata: _Optional[_Union[Metadata, _Mapping]] = ..., Resource: _Optional[_Union[ResourceMetadata, _Mapping]] = ..., RequestID: _Optional[str] = ..., ResourceExpiry: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OneOf(_message.Message):
    __slots__ = ("AccessRequestCreate", "AccessRequestDelete", "AccessRequestExpire")
    ACCESSREQUESTCREATE_FIELD_NUMBER: _ClassVar[int]
    ACCESSREQUESTDELETE_FIELD_NUMBER: _ClassVar[int]
    ACCESSREQUESTEXPIRE_FIELD_NUMBER: _ClassVar[int]
    AccessRequestCreate: AccessRequestCreate
    AccessRequestDelete: AccessRequestDelete
    AccessRequestExpire: AccessRequestExpire
    def __init__(self, AccessRequestCreate: _Optional[_Union[AccessRequestCreate, _Mapping]] = ..., AccessRequestDelete: _Optional[_Union[AccessRequestDelete, _Mapping]] = ..., AccessRequestExpire: _Optional[_Union[AccessRequestExpire, _Mapping]] = ...) -> None: ...
