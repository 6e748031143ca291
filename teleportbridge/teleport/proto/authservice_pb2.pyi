import datetime

from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from teleportbridge.teleport.proto import accessmonitoringrules_pb2 as _accessmonitoringrules_pb2
from teleportbridge.teleport.proto import events_pb2 as _events_pb2
from teleportbridge.teleport.proto import types_pb2 as _types_pb2
from teleportbridge.teleport.proto import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INIT: _ClassVar[Operation]
    PUT: _ClassVar[Operation]
    DELETE: _ClassVar[Operation]

class AccessRequestSort(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEFAULT: _ClassVar[AccessRequestSort]
    CREATED: _ClassVar[AccessRequestSort]
    STATE: _ClassVar[AccessRequestSort]
    USER: _ClassVar[AccessRequestSort]

class Order(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DESCENDING: _ClassVar[Order]
    ASCENDING: _ClassVar[Order]
INIT: Operation
PUT: Operation
DELETE: Operation
DEFAULT: AccessRequestSort
CREATED: AccessRequestSort
STATE: AccessRequestSort
USER: AccessRequestSort
DESCENDING: Order
ASCENDING: Order

class PingRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Features(_message.Message):
    __slots__ = ("AdvancedAccessWorkflows",)
    ADVANCEDACCESSWORKFLOWS_FIELD_NUMBER: _ClassVar[int]
    AdvancedAccessWorkflows: bool
    def __init__(self, AdvancedAccessWorkflows: _Optional[bool] = ...) -> None: ...

class PingResponse(_message.Message):
    __slots__ = ("ClusterName", "ServerVersion", "ServerFeatures", "ProxyPublicAddr", "IsBoring", "RemoteAddr", "LoadAllCAs", "LicenseExpiry")
    CLUSTERNAME_FIELD_NUMBER: _ClassVar[int]
    SERVERVERSION_FIELD_NUMBER: _ClassVar[int]
    SERVERFEATURES_FIELD_NUMBER: _ClassVar[int]
    PROXYPUBLICADDR_FIELD_NUMBER: _ClassVar[int]
    ISBORING_FIELD_NUMBER: _ClassVar[int]
    REMOTEADDR_FIELD_NUMBER: _ClassVar[int]
    LOADALLCAS_FIELD_NUMBER: _ClassVar[int]
    LICENSEEXPIRY_FIELD_NUMBER: _ClassVar[int]
    ClusterName: str
    ServerVersion: str
    ServerFeatures: Features
    ProxyPublicAddr: str
    IsBoring: bool
    RemoteAddr: str
    LoadAllCAs: bool
    LicenseExpiry: _timestamp_pb2.Timestamp
    def __init__(self, ClusterName: _Optional[str] = ..., ServerVersion: _Optional[str] = ..., ServerFeatures: _Optional[_Union[Features, _Mapping]] = ..., ProxyPublicAddr: _Optional[str] = ..., IsBoring: _Optional[bool] = ..., RemoteAddr: _Optional[str] = ..., LoadAllCAs: _Optional[bool] = ..., LicenseExpiry: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Watch(_message.Message):
    __slots__ = ("Kinds", "AllowPartialSuccess")
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ALLOWPARTIALSUCCESS_FIELD_NUMBER: _ClassVar[int]
    Kinds: _containers.RepeatedCompositeFieldContainer[_types_pb2.WatchKind]
    AllowPartialSuccess: bool
    def __init__(self, Kinds: _Optional[_Iterable[_Union[_types_pb2.WatchKind, _Mapping]]] = ..., AllowPartialSuccess: _Optional[bool] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("Type", "ResourceHeader", "AccessRequest", "WatchStatus", "AccessMonitoringRule")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RESOURCEHEADER_FIELD_NUMBER: _ClassVar[int]
    ACCESSREQUEST_FIELD_NUMBER: _ClassVar[int]
    WATCHSTATUS_FIELD_NUMBER: _ClassVar[int]
    ACCESSMONITORINGRULE_FIELD_NUMBER: _ClassVar[int]
    Type: Operation
    ResourceHeader: _types_pb2.ResourceHeader
    AccessRequest: _types_pb2.AccessRequestV3
    WatchStatus: _types_pb2.WatchStatusV1
    AccessMonitoringRule: _accessmonitoringrules_pb2.AccessMonitoringRule
    def __init__(self, Type: _Optional[_Union[Operation, str]] = ..., ResourceHeader: _Optional[_Union[_types_pb2.ResourceHeader, _Mapping]] = ..., AccessRequest: _Optional[_Union[_types_pb2.AccessRequestV3, _Mapping]] = ..., WatchStatus: _Optional[_Union[_types_pb2.WatchStatusV1, _Mapping]] = ..., AccessMonitoringRule: _Optional[_Union[_accessmonitoringrules_pb2.AccessMonitoringRule, _Mapping]] = ...) -> None: ...

class ListAccessRequestsRequest(_message.Message):
    __slots__ = ("Filter", "Sort", "Descending", "Limit", "StartKey")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SORT_FIELD_NUMBER: _ClassVar[int]
    DESCENDING_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STARTKEY_FIELD_NUMBER: _ClassVar[int]
    Filter: _types_pb2.AccessRequestFilter
    Sort: AccessRequestSort
    Descending: bool
    Limit: int
    StartKey: str
    def __init__(self, Filter: _Optional[_Union[_types_pb2.AccessRequestFilter, _Mapping]] = ..., Sort: _Optional[_Union[AccessRequestSort, str]] = ..., Descending: _Optional[bool] = ..., Limit: _Optional[int] = ..., StartKey: _Optional[str] = ...) -> None: ...

class ListAccessRequestsResponse(_message.Message):
    __slots__ = ("AccessRequests", "NextKey")
    ACCESSREQUESTS_FIELD_NUMBER: _ClassVar[int]
    NEXTKEY_FIELD_NUMBER: _ClassVar[int]
    AccessRequests: _containers.RepeatedCompositeFieldContainer[_types_pb2.AccessRequestV3]
    NextKey: str
    def __init__(self, AccessRequests: _Optional[_Iterable[_Union[_types_pb2.AccessRequestV3, _Mapping]]] = ..., NextKey: _Optional[str] = ...) -> None: ...

class RequestStateSetter(_message.Message):
    __slots__ = ("ID", "State", "Delegator", "Reason", "Annotations", "Roles", "AssumeStartTime")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DELEGATOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ANNOTATIONS_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    ASSUMESTARTTIME_FIELD_NUMBER: _ClassVar[int]
    ID: str
    State: _types_pb2.RequestState
    Delegator: str
    Reason: str
    Annotations: _wrappers_pb2.LabelValues
    Roles: _containers.RepeatedScalarFieldContainer[str]
    AssumeStartTime: _timestamp_pb2.Timestamp
    def __init__(self, ID: _Optional[str] = ..., State: _Optional[_Union[_types_pb2.RequestState, str]] = ..., Delegator: _Optional[str] = ..., Reason: _Optional[str] = ..., Annotations: _Optional[_Union[_wrappers_pb2.LabelValues, _Mapping]] = ..., Roles: _Optional[_Iterable[str]] = ..., AssumeStartTime: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PluginDataSeq(_message.Message):
    __slots__ = ("PluginData",)
    PLUGINDATA_FIELD_NUMBER: _ClassVar[int]
    PluginData: _containers.RepeatedCompositeFieldContainer[_types_pb2.PluginDataV3]
    def __init__(self, PluginData: _Optional[_Iterable[_Union[_types_pb2.PluginDataV3, _Mapping]]] = ...) -> None: ...

class GetEventsRequest(_message.Message):
    __slots__ = ("Namespace", "StartDate", "EndDate", "EventTypes", "Limit", "StartKey", "Order")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    STARTDATE_FIELD_NUMBER: _ClassVar[int]
    ENDDATE_FIELD_NUMBER: _ClassVar[int]
    EVENTTYPES_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STARTKEY_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    Namespace: str
    StartDate: _timestamp_pb2.Timestamp
    EndDate: _timestamp_pb2.Timestamp
    EventTypes: _containers.RepeatedScalarFieldContainer[str]
    Limit: int
    StartKey: str
    Order: Order
    def __init__(self, Namespace: _Optional[str] = ..., StartDate: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., EndDate: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., EventTypes: _Optional[_Iterable[str]] = ..., Limit: _Optional[int] = ..., StartKey: _Optional[str] = ..., Order: _Optional[_Union[Order, str]] = ...) -> None: ...

class Events(_message.Message):
    __slots__ = ("Items", "LastKey")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    LASTKEY_FIELD_NUMBER: _ClassVar[int]
    Items: _containers.RepeatedCompositeFieldContainer[_events_pb2.OneOf]
    LastKey: str
    def __init__(self, Items: _Optional[_Iterable[_Union[_events_pb2.OneOf, _Mapping]]] = ..., LastKey: _Optional[str] = ...) -> None: ...

class GetRoleRequest(_message.Message):
    __slots__ = ("Name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    Name: str
    def __init__(self, Name: _Optional[str] = ...) -> None: ...

class PaginatedResource(_message.Message):
    __slots__ = ("Node", "UserGroup")
    NODE_FIELD_NUMBER: _ClassVar[int]
    USERGROUP_FIELD_NUMBER: _ClassVar[int]
    Node: _types_pb2.ServerV2
    UserGroup: _types_pb2.UserGroupV1
    def __init__(self, Node: _Optional[_Union[_types_pb2.ServerV2, _Mapping]] = ..., UserGroup: _Optional[_Union[_types_pb2.UserGroupV1, _Mapping]] = ...) -> None: ...

class ListResourcesRequest(_message.Message):
    __slots__ = ("ResourceType", "Namespace", "Limit", "StartKey", "Labels", "PredicateExpression", "SearchKeywords", "NeedTotalCount", "UseSearchAsRoles", "UsePreviewAsRoles")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESOURCETYPE_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STARTKEY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PREDICATEEXPRESSION_FIELD_NUMBER: _ClassVar[int]
    SEARCHKEYWORDS_FIELD_NUMBER: _ClassVar[int]
    NEEDTOTALCOUNT_FIELD_NUMBER: _ClassVar[int]
    USESEARCHASROLES_FIELD_NUMBER: _ClassVar[int]
    USEPREVIEWASROLES_FIELD_NUMBER: _ClassVar[int]
    ResourceType: str
    Namespace: str
    Limit: int
    StartKey: str
    Labels: _containers.ScalarMap[str, str]
    PredicateExpression: str
    SearchKeywords: _containers.RepeatedScalarFieldContainer[str]
    NeedTotalCount: bool
    UseSearchAsRoles: bool
    UsePreviewAsRoles: bool
    def __init__(self, ResourceType: _Optional[str] = ..., Namespace: _Optional[str] = ..., Limit: _Optional[int] = ..., StartKey: _Optional[str] = ..., Labels: _Optional[_Mapping[str, str]] = ..., PredicateExpression: _Optional[str] = ..., SearchKeywords: _Optional[_Iterable[str]] = ..., NeedTotalCount: _Optional[bool] = ..., UseSearchAsRoles: _Optional[bool] = ..., UsePreviewAsRoles: _Optional[bool] = ...) -> None: ...

class ListResourcesResponse(_message.Message):
    __slots__ = ("Resources", "NextKey", "TotalCount")
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXTKEY_FIELD_NUMBER: _ClassVar[int]
    TOTALCOUNT_FIELD_NUMBER: _ClassVar[int]
    Resources: _containers.RepeatedCompositeFieldContainer[PaginatedResource]
    NextKey: str
    TotalCount: int
    def __init__(self, Resources: _Optional[_Iterable[_Union[PaginatedResource, _Mapping]]] = ..., NextKey: _Optional[str] = ..., TotalCount: _Optional[int] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("Name", "WithSecrets")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WITHSECRETS_FIELD_NUMBER: _ClassVar[int]
    Name: str
    WithSecrets: bool
    def __init__(self, Name: _Optional[str] = ..., WithSecrets: _Optional[bool] = ...) -> None: ...
